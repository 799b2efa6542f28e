package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/testnet"
)

// A name under .invalid never resolves (RFC 6761): one line naming the
// host and the kind; exit 2 when the resolver says there is no such host,
// 1 when it failed (no resolver reachable here: a temporary failure).
func TestLoadUnresolvableHost(t *testing.T) {
	var errOut bytes.Buffer
	err := Run(context.Background(), []string{"load", "--addr", "archbench.invalid:7", "--duration", "100ms"}, io.Discard, &errOut)
	require.Error(t, err)
	assert.Regexp(t, `^load: host archbench\.invalid: resolve: [^\n]+$`, err.Error())
	assert.Empty(t, errOut.String(), "the error is the only line: no run announced")
	want := 1
	_, lerr := net.DefaultResolver.LookupHost(context.Background(), "archbench.invalid")
	if dns := (*net.DNSError)(nil); errors.As(lerr, &dns) && dns.IsNotFound {
		want = 2
	}
	assert.Equal(t, want, ExitCode(err))
}

// serve on an address it cannot listen on: one line, exit 2.
func TestServeBadAddressExit2(t *testing.T) {
	for name, args := range map[string][]string{
		"unix socket in a missing folder": {"--network", "unix", "--addr", filepath.Join(t.TempDir(), "missing", "s.sock")},
		"host that does not resolve":      {"--addr", "archbench.invalid:0"},
		"not an address of this machine":  {"--addr", "198.18.0.1:0"},
	} {
		t.Run(name, func(t *testing.T) {
			err := Run(context.Background(), append([]string{"serve", "--arch", "goroutine"}, args...), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Equal(t, 2, ExitCode(err), err.Error())
			assert.Regexp(t, `^serve: [^\n]+$`, err.Error())
		})
	}
}

// A run whose connects all fail says why on stderr, one line naming the
// host, the address and the cause, before the one-line failure.
func TestLoadNamesFailedAddress(t *testing.T) {
	addr := testnet.ClosedAddr(t)
	var errOut bytes.Buffer
	err := Run(context.Background(), []string{"load", "--addr", addr, "--duration", "100ms"}, io.Discard, &errOut)
	require.Error(t, err)
	assert.Equal(t, 1, ExitCode(err))
	assert.Contains(t, errOut.String(), "\nload: host 127.0.0.1, address "+addr+": refused: connection refused\n")
	assert.Regexp(t, `^load: no reply verified \(errors: refused [1-9][0-9]*\)$`, err.Error())
}

// A malformed address is the only line: no run is announced first.
func TestLoadBadAddressOnlyLine(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "[::1]:x"} {
		var errOut bytes.Buffer
		err := Run(context.Background(), []string{"load", "--addr", addr}, io.Discard, &errOut)
		assert.Equal(t, 2, ExitCode(err), addr)
		assert.Empty(t, errOut.String(), addr)
	}
}
