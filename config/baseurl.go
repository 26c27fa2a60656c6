package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Notice is something about the settings that the operator should hear of,
// in the start-up log and from check-config, but that does not stop the
// server the way Load's errors do.
type Notice struct {
	// Level is slog.LevelInfo for a fact worth knowing, slog.LevelWarn for
	// a likely mistake.
	Level slog.Level
	// Setting names the variable the notice is about.
	Setting string
	// Text says what is the matter and what to do, in one sentence. It
	// holds settings, never a secret.
	Text string
}

// Notices returns what the operator should hear about these settings:
// that the base URL was derived rather than set, or that a base URL on
// this machine names another port than the server listens on (a common
// slip when LEADBOX_LISTEN is changed and LEADBOX_BASE_URL is not, which
// leaves every link in every email pointing nowhere).
func (c Config) Notices() []Notice {
	var ns []Notice
	if c.BaseURLDerived {
		ns = append(ns, Notice{Level: slog.LevelInfo, Setting: "LEADBOX_BASE_URL", Text: c.derivedNote()})
	}
	if w := c.baseURLMismatch(); w != "" {
		ns = append(ns, Notice{Level: slog.LevelWarn, Setting: "LEADBOX_BASE_URL", Text: w})
	}
	return ns
}

func (c Config) derivedNote() string {
	links := "links in emails start with " + c.BaseURL.String()
	if c.BaseURL.Port() == "0" {
		// Before Bound: check-config cannot know the port.
		links = fmt.Sprintf("links in emails will start with %s://%s and the port chosen at start-up (LEADBOX_LISTEN asks for any free port)",
			c.BaseURL.Scheme, c.BaseURL.Hostname())
	}
	return "base URL derived from LEADBOX_LISTEN: " + links +
		"; a public server must set LEADBOX_BASE_URL to its public URL, such as https://leads.example.com"
}

// baseURLMismatch returns a warning when a set base URL points at this
// machine's loopback interface, where the links can only work if they reach
// this very server, and yet they cannot: the port differs from the listen
// port, or the server listens on one other address only. It returns "" for
// a public host name (a proxy's business) and for listen port 0 (only
// binding tells the port).
func (c Config) baseURLMismatch() string {
	if c.BaseURLDerived || c.BaseURL == nil || !isLoopbackHost(c.BaseURL.Hostname()) {
		return ""
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return ""
	}
	port = numericPort(port)
	if port == "0" {
		return ""
	}
	basePort := c.BaseURL.Port()
	if basePort == "" {
		basePort = map[string]string{"http": "80", "https": "443"}[c.BaseURL.Scheme]
	}
	if basePort != port {
		return fmt.Sprintf("LEADBOX_BASE_URL %s points at port %s of this machine, but LEADBOX_LISTEN %s listens on port %s: "+
			"links in emails will not reach this server unless something forwards port %s to it; set LEADBOX_BASE_URL to the URL people use",
			c.BaseURL, basePort, c.Listen, port, basePort)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() && !ip.Unmap().IsLoopback() {
		return fmt.Sprintf("LEADBOX_BASE_URL %s points at this machine's loopback interface, but LEADBOX_LISTEN %s listens on %s only: "+
			"links in emails will not reach this server; set LEADBOX_BASE_URL to the URL people use",
			c.BaseURL, c.Listen, host)
	}
	return ""
}

// Bound completes c with the port the server was given when LEADBOX_LISTEN
// asks for any free port (port 0): a derived BaseURL must name the port
// that binding chose. Call it after binding and before handing c to
// anything that builds links.
func (c *Config) Bound(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !c.BaseURLDerived {
		return
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return
	}
	c.BaseURL = derivedBaseURL(net.JoinHostPort(host, strconv.Itoa(tcp.Port)))
}

// derivedBaseURL is the base URL a server listening on listen can be
// reached at from the same machine: http://localhost:PORT, or the listen
// host itself when that is one particular address or name (the server is
// not on localhost then). listen has been checked already; an unparseable
// one gives the default's URL, and Load reports the error.
func derivedBaseURL(listen string) *url.URL {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = "", "8080"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(linkHost(host), numericPort(port))}
}

// linkHost is the host a link to a server listening on host should name.
// "All addresses" (":8080", "0.0.0.0:8080", "[::]:8080") is reachable as
// localhost, and so are the two addresses localhost names; another address
// (127.0.0.2, a LAN address) or name only as itself.
func linkHost(host string) string {
	if host == "" || strings.EqualFold(host, "localhost") {
		return "localhost"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback() {
		return "localhost"
	}
	return ip.String()
}

// numericPort turns a service name that net.Listen accepts ("http") into
// its number, for URLs and comparisons; an unknown name stays as it is
// (binding will fail on it and say so).
func numericPort(port string) string {
	if _, err := strconv.Atoi(port); err == nil {
		return port
	}
	if n, err := net.LookupPort("tcp", port); err == nil {
		return strconv.Itoa(n)
	}
	return port
}

// isLoopbackHost reports whether a URL's host name means this machine:
// localhost and its subdomains (RFC 6761 §6.3), 127.0.0.0/8 and ::1.
func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
