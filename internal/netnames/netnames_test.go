package netnames

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestInvalid(t *testing.T) {
	for host, want := range map[string]bool{
		"nosuchhost.invalid": true, "a.b.INVALID.": true, "invalid": true,
		"localhost": false, "invalid.example": false, "127.0.0.1": false, "notinvalid": false,
	} {
		if got := Invalid(host); got != want {
			t.Errorf("Invalid(%q) = %v, want %v", host, got, want)
		}
	}
}

// A .invalid name fails as not found (no query is made: the error comes
// from here, not from a resolver); localhost resolves from /etc/hosts.
func TestLookupNetIP(t *testing.T) {
	_, err := LookupNetIP(context.Background(), "ip", "nosuchhost.invalid")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("LookupNetIP(nosuchhost.invalid) = %v, want a not-found *net.DNSError", err)
	}
	ips, err := LookupNetIP(context.Background(), "ip", "localhost")
	if err != nil || len(ips) == 0 {
		t.Fatalf("LookupNetIP(localhost) = %v, %v", ips, err)
	}
}
