// Package testnet holds network helpers that tests of several packages
// share.
package testnet

import (
	"net"
	"testing"
)

// ClosedAddr is an address on 127.0.0.1 where nothing listens any more: a
// port just bound and freed, so a connect to it is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	return addr
}
