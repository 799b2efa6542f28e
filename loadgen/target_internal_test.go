package loadgen

import (
	"context"
	"errors"
	"net"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A port may be a service name of the system's services database, as
// getservbyname reads it: echo (7) is in /etc/services but not in the Go
// net package's own small table, so this proves the database is read.
func TestResolveServiceName(t *testing.T) {
	b, err := os.ReadFile("/etc/services")
	if err != nil || !regexp.MustCompile(`(?m)^echo\s+7/tcp`).Match(b) {
		t.Skip("/etc/services has no 'echo 7/tcp' line here")
	}
	for _, addr := range []string{"127.0.0.1:echo", "[::1]:echo"} {
		tg, err := resolveTarget(context.Background(), Config{Network: "tcp", Addr: addr})
		require.NoError(t, err, addr)
		assert.Equal(t, 7, tg.t.Port, addr)
		require.Len(t, tg.addrs, 1)
		assert.Equal(t, 7, tg.addrs[0].(*net.TCPAddr).Port)
	}
}

func TestResolveMalformed(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "[::1]:x", "127.0.0.1", ":7", "127.0.0.1:0", "[::1:7"} {
		_, err := resolveTarget(context.Background(), Config{Network: "tcp", Addr: addr})
		assert.ErrorIs(t, err, ErrConfig, addr)
	}
}

// A name under .invalid never resolves (RFC 6761); an IP literal of the
// wrong family has no address of it.
func TestResolveKinds(t *testing.T) {
	_, err := resolveTarget(context.Background(), Config{Network: "tcp", Addr: "archbench.invalid:7"})
	var ne *NetError
	require.True(t, errors.As(err, &ne), "%v", err)
	assert.Equal(t, ErrResolve, ne.Kind)
	assert.Regexp(t, `^host archbench\.invalid: resolve: `, err.Error())

	_, err = resolveTarget(context.Background(), Config{Network: "tcp6", Addr: "127.0.0.1:7"})
	require.True(t, errors.As(err, &ne), "%v", err)
	assert.Equal(t, ErrNoAddress, ne.Kind)
	assert.True(t, ne.BadAddr())
	assert.Equal(t, "host 127.0.0.1: no_address: none of its addresses [127.0.0.1] is tcp6 (IPv6)", err.Error())
}
