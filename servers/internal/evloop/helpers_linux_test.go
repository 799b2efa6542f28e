package evloop

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

type pollerCase struct {
	name string
	new  func() (Poller, error)
}

var pollers = []pollerCase{
	{"select", NewSelect},
	{"poll", NewPoll},
	{"epoll", NewEpoll},
}

// testTimeout bounds every wait of a test so no test can hang.
const testTimeout = testkit.Timeout

// testConfig is a default config on a free loopback port (or a socket in
// a temporary directory) whose logs go to the returned buffer.
func testConfig(t testing.TB, network string) (servers.Config, *testkit.LogBuf) {
	t.Helper()
	cfg, logs := testkit.Config(t, protocol.Raw)
	if network == "unix" {
		cfg.Network, cfg.Addr = "unix", filepath.Join(t.TempDir(), "s.sock")
	}
	return cfg, logs
}

// start runs a server for cfg and shuts it down at cleanup.
func start(t testing.TB, cfg servers.Config, newPoller func() (Poller, error)) servers.Server {
	t.Helper()
	require.NoError(t, cfg.Validate())
	srv, err := NewServer(cfg, newPoller)
	require.NoError(t, err)
	return testkit.Start(t, srv)
}

// dial connects to srv; the connection carries a deadline and is closed at
// cleanup.
func dial(t testing.TB, srv servers.Server) net.Conn {
	t.Helper()
	return testkit.Dial(t, srv.Addr())
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents) - 1 // ReadDir's own descriptor
}
