package epollpool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// childEnv makes the test binary an EMFILE child process (see emfile_linux_test.go).
const childEnv = "ARCHBENCH_EPOLLPOOL_EMFILE_CHILD"

func TestMain(m *testing.M) {
	testkit.ChildMain(childEnv, childLimit, startServer)
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every client I/O of a test so no test can hang.
const testTimeout = 20 * time.Second

// logBuf collects a server's log for assertions.
type logBuf = testkit.LogBuf

// testConfig is a default config with framing f on a free loopback port;
// the server's log is shown if the test fails.
func testConfig(t testing.TB, f protocol.Framing) servers.Config {
	t.Helper()
	cfg := servers.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Framing = f
	logs := &logBuf{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return cfg
}

// newServer builds an unstarted framed server for cfg.
func newServer(t testing.TB, cfg servers.Config) *Server {
	t.Helper()
	require.NoError(t, cfg.Validate())
	srv, err := NewServer(cfg)
	require.NoError(t, err)
	return srv.(*Server)
}

// start starts srv and shuts it down at cleanup.
func start(t testing.TB, srv *Server) *Server {
	t.Helper()
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

// gate is a handler cost that blocks each message until the test lets it
// through, and counts the messages running at once.
type gate struct {
	mu      sync.Mutex
	running int
	peak    int
	pass    chan struct{}
	once    sync.Once
}

// startGated starts srv with a gate as its handler cost. The gate opens at
// cleanup before the server shuts down, so a failed test cannot leave a
// worker blocked and Shutdown waiting for it.
func startGated(t testing.TB, srv *Server) *gate {
	t.Helper()
	g := &gate{pass: make(chan struct{})}
	srv.pool.work = g.work
	start(t, srv)
	t.Cleanup(g.open)
	return g
}

func (g *gate) work() {
	g.mu.Lock()
	g.running++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	<-g.pass
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
}

// step lets one message through.
func (g *gate) step() { g.pass <- struct{}{} }

// open lets every message through from now on.
func (g *gate) open() { g.once.Do(func() { close(g.pass) }) }

func (g *gate) counts() (running, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, g.peak
}

// exchange writes the requests for payloads in one write and checks the
// replies, in order.
func exchange(t testing.TB, c net.Conn, f protocol.Framing, payloads ...[]byte) {
	t.Helper()
	var req, want []byte
	for _, p := range payloads {
		req = protocol.AppendRequest(req, f, p)
		want = protocol.AppendReply(want, f, p)
	}
	_, err := c.Write(req)
	require.NoError(t, err)
	readReply(t, c, want)
}

func readReply(t testing.TB, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

// expectEOF reads until the server closes c; nothing more may arrive.
func expectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Empty(t, rest)
}

func closeWrite(t testing.TB, c net.Conn) {
	t.Helper()
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
}

// serverUnread is how many bytes c sent that the server's socket holds
// unread in the kernel (SIOCINQ), found by its peer address among this
// process's descriptors: it shows whether the server reads c, from outside.
func serverUnread(t testing.TB, c net.Conn) int {
	t.Helper()
	local := c.LocalAddr().(*net.TCPAddr)
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		if a, ok := sa.(*unix.SockaddrInet4); ok && a.Port == local.Port && net.IP(a.Addr[:]).Equal(local.IP) {
			n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no server socket with peer %v", local)
	return 0
}
