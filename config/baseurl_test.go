package config_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/config"
)

// TestBaseURL: without LEADBOX_BASE_URL the links follow LEADBOX_LISTEN,
// and the operator is told so; a set base URL on this machine that cannot
// reach the server is warned about, not refused.
func TestBaseURL(t *testing.T) {
	const (
		derived  = "base URL derived from LEADBOX_LISTEN"
		mismatch = "links in emails will not reach this server"
	)
	tests := []struct {
		name, listen, base string
		wantURL            string
		wantDerived        bool
		// wantNotice is the level and a piece of the text of the one
		// notice expected; an empty text expects none.
		wantLevel  slog.Level
		wantNotice string
	}{
		{"defaults", "", "", "http://localhost:8080", true, slog.LevelInfo, derived},
		{"loopback IPv4", "127.0.0.1:18100", "", "http://localhost:18100", true, slog.LevelInfo, "links in emails start with http://localhost:18100"},
		{"all IPv4 addresses", "0.0.0.0:9000", "", "http://localhost:9000", true, slog.LevelInfo, derived},
		{"all IPv6 addresses", "[::]:9000", "", "http://localhost:9000", true, slog.LevelInfo, derived},
		{"loopback IPv6", "[::1]:8080", "", "http://localhost:8080", true, slog.LevelInfo, derived},
		{"localhost in capitals", "LocalHost:8081", "", "http://localhost:8081", true, slog.LevelInfo, derived},
		{"other loopback address", "127.0.0.2:8080", "", "http://127.0.0.2:8080", true, slog.LevelInfo, derived},
		{"LAN address", "192.0.2.10:8080", "", "http://192.0.2.10:8080", true, slog.LevelInfo, derived},
		{"IPv6 address", "[2001:db8::1]:8080", "", "http://[2001:db8::1]:8080", true, slog.LevelInfo, derived},
		{"host name", "leads.internal:9000", "", "http://leads.internal:9000", true, slog.LevelInfo, derived},
		{"service name", ":http", "", "http://localhost:80", true, slog.LevelInfo, derived},
		{"any free port", "127.0.0.1:0", "", "http://localhost:0", true, slog.LevelInfo, "the port chosen at start-up"},
		{"public server", ":9000", "https://leads.example.com/", "https://leads.example.com", false, 0, ""},
		{"localhost on the listen port", ":8080", "http://localhost:8080", "http://localhost:8080", false, 0, ""},
		{"https default port", "127.0.0.1:443", "https://localhost", "https://localhost", false, 0, ""},
		{"other loopback address on the listen port", ":9000", "http://127.0.0.5:9000", "http://127.0.0.5:9000", false, 0, ""},
		{"old default after changing the port", "127.0.0.1:18100", "http://localhost:8080", "http://localhost:8080", false, slog.LevelWarn, "port 8080 of this machine, but LEADBOX_LISTEN 127.0.0.1:18100 listens on port 18100"},
		{"http default port", ":8080", "http://localhost", "http://localhost", false, slog.LevelWarn, "port 80 of this machine"},
		{"loopback IPv6 elsewhere", ":9000", "http://[::1]:8080", "http://[::1]:8080", false, slog.LevelWarn, mismatch},
		{"localhost subdomain elsewhere", ":9000", "http://app.localhost:8080", "http://app.localhost:8080", false, slog.LevelWarn, mismatch},
		{"loopback, listening on a LAN address only", "192.0.2.10:8080", "http://localhost:8080", "http://localhost:8080", false, slog.LevelWarn, "listens on 192.0.2.10 only"},
		{"any free port cannot be compared", "127.0.0.1:0", "http://localhost:8080", "http://localhost:8080", false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{"LEADBOX_LISTEN": tt.listen, "LEADBOX_BASE_URL": tt.base}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.BaseURL.String(); got != tt.wantURL || c.BaseURLDerived != tt.wantDerived {
				t.Errorf("BaseURL = %s (derived %v), want %s (derived %v)", got, c.BaseURLDerived, tt.wantURL, tt.wantDerived)
			}
			ns := c.Notices()
			if tt.wantNotice == "" {
				if len(ns) != 0 {
					t.Errorf("Notices() = %+v, want none", ns)
				}
				return
			}
			if len(ns) != 1 || ns[0].Level != tt.wantLevel || ns[0].Setting != "LEADBOX_BASE_URL" || !strings.Contains(ns[0].Text, tt.wantNotice) {
				t.Fatalf("Notices() = %+v, want one %v notice about LEADBOX_BASE_URL containing %q", ns, tt.wantLevel, tt.wantNotice)
			}
			if tt.wantDerived && !strings.Contains(ns[0].Text, "a public server must set LEADBOX_BASE_URL") {
				t.Errorf("notice %q does not say a public server must set LEADBOX_BASE_URL", ns[0].Text)
			}
		})
	}
}

// TestBoundNamesTheChosenPort: with LEADBOX_LISTEN on port 0 only binding
// tells the port, and a derived base URL must name it; a set one stays.
func TestBoundNamesTheChosenPort(t *testing.T) {
	for _, tt := range []struct {
		listen, base string
		port         int // the port binding gave
		want         string
	}{
		{"127.0.0.1:0", "", 43210, "http://localhost:43210"},
		{"192.0.2.10:0", "", 43210, "http://192.0.2.10:43210"},
		{":8080", "", 8080, "http://localhost:8080"},
		{"127.0.0.1:0", "https://leads.example.com", 43210, "https://leads.example.com"},
	} {
		c, err := config.Load(env(map[string]string{"LEADBOX_LISTEN": tt.listen, "LEADBOX_BASE_URL": tt.base}))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		c.Bound(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tt.port})
		if got := c.BaseURL.String(); got != tt.want {
			t.Errorf("listen %q, base %q, bound to port %d: BaseURL = %s, want %s", tt.listen, tt.base, tt.port, got, tt.want)
		}
		for _, n := range c.Notices() {
			if strings.Contains(n.Text, "chosen at start-up") {
				t.Errorf("after Bound the notice still says the port is unknown: %q", n.Text)
			}
		}
	}
}
