// Package scrapetest reads a Prometheus scrape (the text format of GET
// /metrics) for tests, with the parser Prometheus's own tools use, so that
// tests assert on what Prometheus would see rather than match strings.
package scrapetest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parsed scrape: its metric families by name.
type Scrape map[string]*dto.MetricFamily

// Parse reads a scrape in the Prometheus text format.
func Parse(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse scrape: %w", err)
	}
	return Scrape(mfs), nil
}

// Get scrapes url with client, failing the test unless it answers 200
// with a scrape in the text format.
func Get(t testing.TB, client *http.Client, url string) (Scrape, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200\n%s", url, res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); expfmt.ResponseFormat(res.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("GET %s: Content-Type %q, want the Prometheus text format", url, ct)
	}
	s, err := Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return s, body
}

// Value is the value of the counter or gauge name whose labels include
// labels (name, value, name, value...), summed over every such series,
// and whether there is any.
func (s Scrape) Value(name string, labels ...string) (float64, bool) {
	mf, ok := s[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

// Count is the number of observations of the histogram name in the
// series whose labels include labels, summed.
func (s Scrape) Count(name string, labels ...string) uint64 {
	var n uint64
	for _, m := range s[name].GetMetric() {
		if hasLabels(m, labels) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// LabelValues are the values label takes in the series of name, sorted.
func (s Scrape) LabelValues(name, label string) []string {
	var out []string
	for _, m := range s[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// SampleNames are the names of the samples as the text format writes them
// (a histogram's _bucket, _sum and _count, a summary's _sum and _count),
// which are the names a PromQL query selects.
func (s Scrape) SampleNames() map[string]bool {
	out := map[string]bool{}
	for name, mf := range s {
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
