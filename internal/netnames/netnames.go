// Package netnames resolves host names as archbench does everywhere: with
// the system's resolver, except that a name under the .invalid top-level
// domain fails at once as "no such host", without a query, as RFC 6761
// §6.4 asks of name resolution libraries. So a mistyped or test name under
// .invalid never sends a DNS query off the machine.
package netnames

import (
	"context"
	"net"
	"net/netip"
	"strings"
)

// Invalid reports whether host is under the .invalid top-level domain.
func Invalid(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "invalid" || strings.HasSuffix(h, ".invalid")
}

// LookupNetIP is net.DefaultResolver.LookupNetIP, but a name under
// .invalid is a *net.DNSError with IsNotFound set, without a query.
func LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if Invalid(host) {
		return nil, &net.DNSError{Err: "no such host (RFC 6761: .invalid never resolves; not looked up)", Name: host, IsNotFound: true}
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}
