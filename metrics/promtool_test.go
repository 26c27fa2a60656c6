//go:build promtool

// The alert rules are checked with Prometheus's own promtool, which
// Debian's prometheus package provides and .ci/run installs; so this test
// runs under the promtool build tag rather than in the plain
// `go test ./...` of the README:
//
//	go test -tags promtool -run AlertRules ./metrics
package metrics_test

import (
	"os/exec"
	"testing"
)

// TestAlertRules: docs/alerts.yml is valid for Prometheus, and each alert
// fires when it should and stays quiet when it should not
// (testdata/alerts_test.yml). Without promtool it fails: this test exists
// to be run where promtool is.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool: %v (install Debian's prometheus package; .ci/run does)", err)
	}
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"test", "rules", "testdata/alerts_test.yml"},
	} {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
