package metrics_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/leadbox/leadbox/metrics"
)

const (
	dashboardFile = "../docs/grafana-dashboard.json"
	alertsFile    = "../docs/alerts.yml"
)

// metricName finds the names of Leadbox's, Go's and the process's metrics
// in a PromQL query.
var metricName = regexp.MustCompile(`\b(?:leadbox|go|process)_[a-z0-9_]+\b`)

// exposed is every sample name a scrape of a running Leadbox carries.
func exposed(t *testing.T) map[string]bool {
	t.Helper()
	m := newMetrics(t, metrics.Options{Forms: []string{"contact"}, Outbox: openStore(t)})
	m.Request("/contact", http.MethodPost, http.StatusCreated, time.Millisecond) // a histogram has series once observed
	return scrape(t, m).SampleNames()
}

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	Title      string
	UID        string
	Panels     []dashboardPanel
	Templating struct {
		List []struct {
			Name       string
			Type       string
			Definition string
		}
	}
}

type dashboardPanel struct {
	ID      int
	Type    string
	Title   string
	GridPos struct{ H, W, X, Y int }
	Targets []struct {
		RefID string
		Expr  string
	}
	Datasource *struct{ Type, UID string }
}

// TestDashboard: docs/grafana-dashboard.json is a dashboard Grafana can
// import, and every metric it queries is one Leadbox serves.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: title %q, uid %q, %d panels; want a titled dashboard with panels", dashboardFile, d.Title, d.UID, len(d.Panels))
	}
	have := exposed(t)
	var queries []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v is outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d queries; want Prometheus queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			if q.Expr == "" {
				t.Errorf("panel %q: query %s is empty", p.Title, q.RefID)
			}
			queries = append(queries, p.Title+": "+q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			queries = append(queries, "variable "+v.Name+": "+v.Definition)
		}
	}
	checkNames(t, dashboardFile, queries, have)
}

// TestAlertRulesQueryServedMetrics: every metric docs/alerts.yml names is
// one Leadbox serves. (promtool checks the rules themselves: see
// TestAlertRules.)
func TestAlertRulesQueryServedMetrics(t *testing.T) {
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, alertsFile, []string{string(raw)}, exposed(t))
}

func checkNames(t *testing.T, file string, queries []string, have map[string]bool) {
	t.Helper()
	found := 0
	for _, q := range queries {
		for _, name := range metricName.FindAllString(q, -1) {
			found++
			if !have[name] {
				names := make([]string, 0, len(have))
				for n := range have {
					names = append(names, n)
				}
				slices.Sort(names)
				t.Errorf("%s queries %s, which a scrape does not carry (it has %v)\nin: %s", file, name, names, q)
			}
		}
	}
	if found == 0 {
		t.Errorf("%s names no metric", file)
	}
}
