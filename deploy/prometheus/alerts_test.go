// Package prometheus_test checks the alert rules shipped in alerts.yml
// against the metrics the service registers.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/ncl-icb/optout-intake/extract/pdfworker"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
)

type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type source struct{}

func (source) TriageStats(context.Context) (map[string]int, *time.Time, error) {
	return map[string]int{"invalid_form": 1}, new(time.Time), nil
}

func (source) TriageOverdue(context.Context, time.Time) (map[string]int, error) {
	return map[string]int{"complaint": 1}, nil
}

func (source) OutboxStats(context.Context) (map[store.OutboxState]int, *time.Time, error) {
	return map[store.OutboxState]int{}, nil, nil
}

type sendSource struct{}

func (sendSource) SendingStatus(context.Context, int) (store.SendStatus, error) {
	return store.SendStatus{}, nil
}

// registered returns every metric family name the service exposes.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CollectFrom(source{}, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.CollectSending(sendSource{}, 10000, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	m.MailboxQuota(1, 2)
	if err := m.CollectPDFWorkers(func() pdfworker.Stats { return pdfworker.Stats{} }); err != nil {
		t.Fatal(err)
	}
	m.Processed("processed", "forms", time.Second)
	m.Failed("process")
	m.Form("pdf-fields", "valid")
	m.SignIn("ok")
	m.Action("accept")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\b(optout_[a-z0-9_]+|process_[a-z0-9_]+|up)\b`)

func TestAlertsNameRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	names := registered(t)
	names["up"] = true // Prometheus's own
	want := map[string]bool{"OptoutMailboxNotPolled": false, "OptoutOAuthRefreshFailing": false, "OptoutOutboxFailures": false, "OptoutTriageNearingDeadline": false}
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			n++
			if rule.Alert == "" || strings.TrimSpace(rule.Expr) == "" || rule.Annotations["summary"] == "" || rule.Labels["severity"] == "" {
				t.Errorf("rule %q: needs alert, expr, a severity label and a summary", rule.Alert)
			}
			if _, ok := want[rule.Alert]; ok {
				want[rule.Alert] = true
			}
			found := metricName.FindAllString(rule.Expr, -1)
			if len(found) == 0 {
				t.Errorf("rule %s names no metric: %s", rule.Alert, rule.Expr)
			}
			for _, m := range found {
				if !names[m] {
					t.Errorf("rule %s uses %s, which the service does not register", rule.Alert, m)
				}
			}
		}
	}
	for a, ok := range want {
		if !ok {
			t.Errorf("alerts.yml has no %s rule", a)
		}
	}
	if n == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	// promtool checks the PromQL itself when it is installed (Debian's
	// "prometheus" package); the name check above runs either way.
	if path, err := exec.LookPath("promtool"); err == nil {
		for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
			out, err := exec.Command(path, args...).CombinedOutput()
			if err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	} else {
		t.Log("promtool not installed: PromQL syntax not checked (apt-get install prometheus)")
	}
}

func TestDashboardUsesRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile("../grafana/optout-intake.json")
	if err != nil {
		t.Fatal(err)
	}
	names := registered(t)
	found := metricName.FindAllString(string(b), -1)
	if len(found) < 10 {
		t.Fatalf("dashboard names %d metrics, want at least 10", len(found))
	}
	for _, m := range found {
		if m != "up" && !names[m] {
			t.Errorf("dashboard uses %s, which the service does not register", m)
		}
	}
}
