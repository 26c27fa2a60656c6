package config_test

import (
	"strings"
	"testing"

	"github.com/leadbox/leadbox/config"
)

// TestMetricsNetworks: LEADBOX_METRICS_NETWORKS is a list of ranges, or off;
// what check-config prints can be set again and means the same.
func TestMetricsNetworks(t *testing.T) {
	tests := []struct {
		value string
		want  string // as check-config prints it
	}{
		{"", "127.0.0.1/32,::1/128"},
		{"off", "off"},
		{"OFF", "off"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{" 10.0.0.0/8 , 192.0.2.7 ,2001:db8::/32", "10.0.0.0/8,192.0.2.7/32,2001:db8::/32"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
	}
	for _, tt := range tests {
		c, err := config.Load(env(map[string]string{"LEADBOX_METRICS_NETWORKS": tt.value}))
		if err != nil {
			t.Errorf("LEADBOX_METRICS_NETWORKS=%q: %v, want it accepted", tt.value, err)
			continue
		}
		got := printed(c, "LEADBOX_METRICS_NETWORKS")
		if got != tt.want {
			t.Errorf("LEADBOX_METRICS_NETWORKS=%q: check-config prints %q, want %q", tt.value, got, tt.want)
		}
		again, err := config.Load(env(map[string]string{"LEADBOX_METRICS_NETWORKS": got}))
		if err != nil || printed(again, "LEADBOX_METRICS_NETWORKS") != got {
			t.Errorf("LEADBOX_METRICS_NETWORKS=%q (as printed): %v, prints %q; want the same setting", got, err, printed(again, "LEADBOX_METRICS_NETWORKS"))
		}
	}
	if c, _ := config.Load(env(map[string]string{"LEADBOX_METRICS_NETWORKS": "off"})); len(c.MetricsNetworks) != 0 {
		t.Errorf("off: MetricsNetworks = %v, want none", c.MetricsNetworks)
	}
}

func TestMetricsNetworksErrors(t *testing.T) {
	for _, value := range []string{"localhost", "10.0.0.0/8,10.0.0.0/33", "10.0.0.0/8, nope", ","} {
		_, err := config.Load(env(map[string]string{"LEADBOX_METRICS_NETWORKS": value}))
		if err == nil || !strings.Contains(err.Error(), "LEADBOX_METRICS_NETWORKS") {
			t.Errorf("LEADBOX_METRICS_NETWORKS=%q: error %v, want one naming the variable", value, err)
		}
	}
}

// printed is the value check-config prints for the setting name.
func printed(c config.Config, name string) string {
	for _, line := range strings.Split(c.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	return "(not printed)"
}
