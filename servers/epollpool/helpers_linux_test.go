package epollpool

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// testTimeout bounds every wait of a test so no test can hang.
const testTimeout = testkit.Timeout

// testConfig is a default config with framing f on a free loopback port;
// the server's log is shown if the test fails.
func testConfig(t testing.TB, f protocol.Framing) servers.Config {
	t.Helper()
	cfg, _ := testkit.Config(t, f)
	return cfg
}

// newServer builds an unstarted framed server for testConfig(t, f) after
// tweak.
func newServer(t testing.TB, f protocol.Framing, tweak func(*servers.Config)) *Server {
	t.Helper()
	cfg := testConfig(t, f)
	if tweak != nil {
		tweak(&cfg)
	}
	require.NoError(t, cfg.Validate())
	srv, err := NewServer(cfg)
	require.NoError(t, err)
	return srv.(*Server)
}

// start starts srv and shuts it down at cleanup.
func start(t testing.TB, srv *Server) *Server {
	t.Helper()
	testkit.Start(t, srv)
	return srv
}

// startGated starts srv with a testkit.Gate as its handler work, opened at
// cleanup before the server shuts down.
func startGated(t testing.TB, srv *Server) *testkit.Gate {
	t.Helper()
	g := testkit.NewGate()
	srv.pool.work = g.Work
	start(t, srv)
	t.Cleanup(g.Open)
	return g
}

// counts are the messages in g now and the most at once.
func counts(g *testkit.Gate) (running, peak int) {
	running, peak, _ = g.Counts()
	return running, peak
}

// dial connects to srv; the connection carries a deadline and is closed at
// cleanup.
func dial(t testing.TB, srv servers.Server) net.Conn {
	t.Helper()
	return testkit.Dial(t, srv.Addr())
}

// serverUnread is how many bytes c sent that the server's socket holds
// unread in the kernel (SIOCINQ): it shows whether the server reads c,
// from outside.
func serverUnread(t testing.TB, c net.Conn) int {
	t.Helper()
	n, err := unix.IoctlGetInt(testkit.ServerFD(t, c), unix.SIOCINQ)
	require.NoError(t, err)
	return n
}
