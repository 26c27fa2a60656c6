package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"

	"github.com/leadbox/leadbox/models"
)

// AccountKey is the key under which failed sign-ins for an email are
// counted: "account:" and a keyed hash (HMAC-SHA256 under secret, a secret
// of the installation) of the normalised address. What people type into
// the email field is not always an address, or theirs (a password typed
// one field too early, a stranger's address), so it is not kept as typed;
// keyed, so that a list of addresses cannot be hashed to read it back.
func AccountKey(secret []byte, email string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(models.NormalizeEmail(email)))
	return "account:" + hex.EncodeToString(m.Sum(nil))
}

// ClientKey is whom a per-client limit counts (failed sign-ins, and the
// submissions' rate limit): "ip:" and an IPv4 address, or the /64 of an IPv6 one, the block
// a single host is given and may pick any address from (RFC 7934 §6);
// counted per address, one host would have 2^64 budgets. A client behind
// a NAT64 gateway (RFC 6052's well-known prefix) is its IPv4 address. A
// value that is not an IP address is counted as it is.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "ip:" + ip
	}
	if a = a.Unmap(); a.Is4() {
		return "ip:" + a.String()
	}
	if netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
		b := a.As16()
		return "ip:" + netip.AddrFrom4([4]byte(b[12:])).String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return "ip:" + p.String()
}
