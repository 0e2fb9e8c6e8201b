package pdfform

import "math"

// Check boxes drawn as vector paths on the page: LibreOffice prints a Word
// FORMCHECKBOX as a stroked square with two diagonals, and people tick a
// printed box with a drawing tool (a cross or a check of two strokes). The
// walker records small squares and line segments painted on a page and,
// after the page, turns each square into a box mark: ticked when strokes lie
// inside it, empty otherwise.

// maxShapes bounds the squares and segments kept for one page.
const maxShapes = 20000

// rect is a painted rectangle in page coordinates.
type rect struct{ x0, y0, x1, y1 float64 }

// segment is a painted line or curve, from its start to its end point.
type segment struct{ x0, y0, x1, y1 float64 }

// pathState collects the current path until it is painted or dropped.
type pathState struct {
	cx, cy   float64 // current point, page coordinates
	sx, sy   float64 // start of the current subpath
	rects    []rect
	segs     []segment
	pageRect []rect    // painted squares on this page
	pageSegs []segment // painted segments on this page
}

// point transforms (x, y) by m.
func point(m matrix, x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// op applies one path operator; args are its operands.
func (p *pathState) op(op string, num func(int) float64, nargs int, ctm matrix) {
	switch op {
	case "m":
		if nargs == 2 {
			p.cx, p.cy = point(ctm, num(0), num(1))
			p.sx, p.sy = p.cx, p.cy
		}
	case "l":
		if nargs == 2 {
			x, y := point(ctm, num(0), num(1))
			p.addSeg(segment{p.cx, p.cy, x, y})
			p.cx, p.cy = x, y
		}
	case "c", "v", "y":
		if nargs >= 4 {
			x, y := point(ctm, num(nargs-2), num(nargs-1))
			p.addSeg(segment{p.cx, p.cy, x, y})
			p.cx, p.cy = x, y
		}
	case "h":
		p.cx, p.cy = p.sx, p.sy
	case "re":
		if nargs == 4 {
			x0, y0 := point(ctm, num(0), num(1))
			x1, y1 := point(ctm, num(0)+num(2), num(1)+num(3))
			r := rect{math.Min(x0, x1), math.Min(y0, y1), math.Max(x0, x1), math.Max(y0, y1)}
			w, h := r.x1-r.x0, r.y1-r.y0
			if w >= 4 && h >= 4 && w <= 30 && h <= 30 && w <= 1.5*h && h <= 1.5*w && len(p.rects) < maxShapes {
				p.rects = append(p.rects, r)
			}
			p.cx, p.cy = x0, y0
			p.sx, p.sy = x0, y0
		}
	case "S", "s", "f", "F", "f*", "B", "B*", "b", "b*":
		if len(p.pageRect) < maxShapes {
			p.pageRect = append(p.pageRect, p.rects...)
		}
		if len(p.pageSegs) < maxShapes {
			p.pageSegs = append(p.pageSegs, p.segs...)
		}
		p.rects, p.segs = p.rects[:0], p.segs[:0]
	case "n":
		// A clipping path or nothing at all: not drawn.
		p.rects, p.segs = p.rects[:0], p.segs[:0]
	}
}

func (p *pathState) addSeg(s segment) {
	if len(p.segs) < maxShapes {
		p.segs = append(p.segs, s)
	}
}

// drawnBoxes turns the page's painted squares into box-mark runs, skipping
// squares that already hold text (a typed "X", a ☐ glyph) or a mark from a
// form XObject: those are read as they are.
func (t *textReader) drawnBoxes(p *pathState, firstRun int) {
	if len(p.pageRect) == 0 {
		return
	}
	existing := t.collect[firstRun:]
	var added []run
	for _, r := range p.pageRect {
		if overlapsRun(r, existing) || overlapsRun(r, added) {
			continue
		}
		w, h := r.x1-r.x0, r.y1-r.y0
		strokes := 0
		for _, s := range p.pageSegs {
			if inside(r, s.x0, s.y0) && inside(r, s.x1, s.y1) && !onEdge(r, s) {
				strokes++
			}
		}
		mark := "☐"
		if strokes >= 2 {
			mark = "✔"
		}
		added = append(added, run{x0: r.x0, x1: r.x0 + w, y: r.y0 + 0.15*h, size: h, text: mark, dingbat: true, page: t.pageNo})
	}
	if len(t.collect)+len(added) <= maxGlyphRuns {
		t.collect = append(t.collect, added...)
	}
}

// overlapsRun reports whether any run's text lies over the square r.
func overlapsRun(r rect, runs []run) bool {
	for _, u := range runs {
		top := u.y + 0.8*u.size
		if u.x1 > r.x0+1 && u.x0 < r.x1-1 && top > r.y0+1 && u.y < r.y1-1 {
			return true
		}
	}
	return false
}

// inside reports whether (x, y) lies in r, with a little slack for line
// caps.
func inside(r rect, x, y float64) bool {
	const slack = 1.5
	return x >= r.x0-slack && x <= r.x1+slack && y >= r.y0-slack && y <= r.y1+slack
}

// onEdge reports whether s runs along one side of r (the box's own frame,
// drawn with lines rather than re).
func onEdge(r rect, s segment) bool {
	const tol = 1
	horiz := math.Abs(s.y0-s.y1) < tol && (math.Abs(s.y0-r.y0) < tol || math.Abs(s.y0-r.y1) < tol)
	vert := math.Abs(s.x0-s.x1) < tol && (math.Abs(s.x0-r.x0) < tol || math.Abs(s.x0-r.x1) < tol)
	return horiz || vert
}
