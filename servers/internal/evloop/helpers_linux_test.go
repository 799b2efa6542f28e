package evloop

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// childEnv names the poller an EMFILE child process serves with.
const childEnv = "ARCHBENCH_EVLOOP_EMFILE_CHILD"

func TestMain(m *testing.M) {
	testkit.ChildMain(childEnv, childLimit, startServer)
	goleak.VerifyTestMain(m)
}

type pollerCase struct {
	name string
	new  func() (Poller, error)
}

var pollers = []pollerCase{
	{"select", NewSelect},
	{"poll", NewPoll},
	{"epoll", NewEpoll},
}

func pollerByName(name string) func() (Poller, error) {
	for _, p := range pollers {
		if p.name == name {
			return p.new
		}
	}
	return nil
}

// testTimeout bounds every client I/O of a test so no test can hang.
const testTimeout = 20 * time.Second

// logBuf collects a server's log for assertions.
type logBuf = testkit.LogBuf

// testConfig is a default config on a free loopback port (or a socket in
// a temporary directory) whose logs go to the returned buffer.
func testConfig(t testing.TB, network string) (servers.Config, *logBuf) {
	t.Helper()
	cfg := servers.DefaultConfig()
	cfg.Network = network
	switch network {
	case "tcp":
		cfg.Addr = "127.0.0.1:0"
	case "tcp6":
		cfg.Addr = "[::1]:0"
	case "unix":
		cfg.Addr = filepath.Join(t.TempDir(), "s.sock")
	}
	logs := &logBuf{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg, logs
}

// start runs a server for cfg and shuts it down at cleanup.
func start(t testing.TB, cfg servers.Config, newPoller func() (Poller, error)) servers.Server {
	t.Helper()
	require.NoError(t, cfg.Validate())
	srv, err := NewServer(cfg, newPoller)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, servers.ErrClosed) {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// dial connects to srv; the connection carries a deadline and is closed at
// cleanup.
func dial(t testing.TB, srv servers.Server) net.Conn {
	t.Helper()
	return testkit.Dial(t, srv.Addr(), testTimeout, testTimeout)
}

func closeWrite(t testing.TB, c net.Conn) {
	t.Helper()
	cw, ok := c.(interface{ CloseWrite() error })
	require.True(t, ok, "%T cannot half-close", c)
	require.NoError(t, cw.CloseWrite())
}

// expectEOF reads until the server closes c; nothing more may arrive.
func expectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Empty(t, rest)
}

func haveIPv6(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents) - 1 // ReadDir's own descriptor
}
