package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/store"
)

// dashboardWeeks is how far back the dashboard looks.
const dashboardWeeks = 26

// The chart's size in SVG units (it scales to the page's width).
const (
	chartW, chartH         = 960.0, 320.0
	chartLeft, chartRight  = 56.0, 40.0
	chartTop, chartBottom  = 16.0, 40.0
	chartPlotW, chartPlotH = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	chartLabelEvery        = 4 // weeks between labels on the time axis
	chartGridLines         = 4
)

// chartSeries is one line of the chart. Dash tells the lines apart
// without colour.
type chartSeries struct {
	Name, Colour, Dash string
	Points             string // SVG polyline points
	Dots               []chartPoint
	Total              int
}

type chartPoint struct{ X, Y float64 }

type chartLabel struct {
	X, Y float64
	Text string
}

type dashboardData struct {
	Weeks  []store.WeekCounts
	Series []chartSeries
	YGrid  []chartLabel
	XAxis  []chartLabel
	W, H   float64
	Left   float64
	Right  float64
	Bottom float64
	From   string
	To     string
}

// niceMax is the top of the chart's scale for a largest value v: four
// grid steps, each 1, 2 or 5 times a power of ten.
func niceMax(v int) int {
	need := max(1, (v+chartGridLines-1)/chartGridLines)
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= need {
				return m * p * chartGridLines
			}
		}
	}
}

// dashboard shows the last 26 weeks of intake as a server-drawn SVG chart
// and the same numbers in a table. No personal data, no script.
func (s *server) dashboard(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	weeks, err := s.d.Store.WeeklyCounts(r.Context(), dashboardWeeks, s.d.Now())
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	d := dashboardData{Weeks: weeks, W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight, Bottom: chartH - chartBottom}
	if len(weeks) > 0 {
		d.From, d.To = weeks[0].Week.In(s.london).Format("2 Jan 2006"), weeks[len(weeks)-1].Week.In(s.london).Format("2 Jan 2006")
	}
	defs := []struct {
		name, colour, dash string
		get                func(store.WeekCounts) int
	}{
		{"Received", "#005eb8", "", func(c store.WeekCounts) int { return c.Received }},
		{"Accepted", "#007f3b", "8 4", func(c store.WeekCounts) int { return c.Accepted }},
		{"Sent to triage", "#330072", "2 3", func(c store.WeekCounts) int { return c.Triaged }},
		{"Overdue", "#d5281b", "12 4 2 4", func(c store.WeekCounts) int { return c.Overdue }},
		{"Opted back in", "#7c2855", "4 4", func(c store.WeekCounts) int { return c.OptedBack }},
	}
	top := 0
	for _, c := range weeks {
		for _, def := range defs {
			top = max(top, def.get(c))
		}
	}
	ymax := niceMax(top)
	step := chartPlotW / float64(max(len(weeks)-1, 1))
	x := func(i int) float64 { return chartLeft + float64(i)*step }
	y := func(v int) float64 { return chartTop + chartPlotH - float64(v)/float64(ymax)*chartPlotH }
	for i := 0; i <= chartGridLines; i++ {
		v := ymax * i / chartGridLines
		d.YGrid = append(d.YGrid, chartLabel{X: chartLeft - 8, Y: y(v), Text: strconv.Itoa(v)})
	}
	for i, c := range weeks {
		if (len(weeks)-1-i)%chartLabelEvery == 0 {
			d.XAxis = append(d.XAxis, chartLabel{X: x(i), Y: chartH - chartBottom + 22, Text: c.Week.In(s.london).Format("2 Jan")})
		}
	}
	for _, def := range defs {
		sr := chartSeries{Name: def.name, Colour: def.colour, Dash: def.dash}
		var pts []string
		for i, c := range weeks {
			v := def.get(c)
			sr.Total += v
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			sr.Dots = append(sr.Dots, chartPoint{X: x(i), Y: y(v)})
		}
		sr.Points = strings.Join(pts, " ")
		d.Series = append(d.Series, sr)
	}
	s.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", Nav: "dashboard", Session: sess, Data: d})
}
