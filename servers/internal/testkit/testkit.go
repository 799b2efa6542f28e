package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
)

// Timeout bounds every dial and every client connection of a test, so no
// test can hang.
const Timeout = 20 * time.Second

// LogBuf is a concurrency-safe log sink tests can search.
type LogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Config is servers.DefaultConfig on 127.0.0.1:0 with framing f, logging at
// debug level into the returned buffer, which is shown if the test fails.
func Config(t testing.TB, f protocol.Framing) (servers.Config, *LogBuf) {
	t.Helper()
	logs := &LogBuf{}
	cfg := servers.DefaultConfig()
	cfg.Addr, cfg.Framing = "127.0.0.1:0", f
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return cfg, logs
}

// Start starts srv and shuts it down when the test ends. The test fails
// if the server stopped on its own or Shutdown fails; a server the test
// shut down itself is left alone.
func Start(t testing.TB, srv servers.Server) servers.Server {
	t.Helper()
	require.NoError(t, srv.Start())
	require.NotNil(t, srv.Addr())
	t.Cleanup(func() {
		select {
		case <-srv.Done():
			if err := srv.Err(); err != nil {
				t.Errorf("the server stopped on its own: %v", err)
			}
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := srv.Err(); err != nil {
			t.Errorf("Err after Shutdown: %v", err)
		}
	})
	return srv
}

// StartNew builds a server with newServer for cfg (made by Config, with
// tweak applied) and starts it with Start.
func StartNew(t testing.TB, newServer func(servers.Config) (servers.Server, error), f protocol.Framing, tweak func(*servers.Config)) (servers.Server, *LogBuf) {
	t.Helper()
	cfg, logs := Config(t, f)
	if tweak != nil {
		tweak(&cfg)
	}
	require.NoError(t, cfg.Validate())
	srv, err := newServer(cfg)
	require.NoError(t, err)
	return Start(t, srv), logs
}

// Dial connects to a, running opts on the socket before it connects; the
// connection carries a deadline of Timeout and is closed when the test
// ends.
func Dial(t testing.TB, a net.Addr, opts ...func(fd uintptr)) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: Timeout}
	if len(opts) > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				for _, o := range opts {
					o(fd)
				}
			})
		}
	}
	c, err := d.Dial(a.Network(), a.String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(Timeout)))
	return c
}

// SmallRcvBuf keeps a client's receive window small, so that replies pile
// up in the server rather than in the client's kernel.
func SmallRcvBuf(fd uintptr) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
}

// Exchange writes the requests for payloads in one write and checks the
// replies, in order.
func Exchange(t testing.TB, c net.Conn, f protocol.Framing, payloads ...[]byte) {
	t.Helper()
	var req, want []byte
	for _, p := range payloads {
		req = protocol.AppendRequest(req, f, p)
		want = protocol.AppendReply(want, f, p)
	}
	_, err := c.Write(req)
	require.NoError(t, err)
	ReadReply(t, c, want)
}

// Echo is Exchange of one raw message.
func Echo(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	Exchange(t, c, protocol.Raw, []byte(msg))
}

// ReadReply reads exactly len(want) bytes from c and requires them equal.
func ReadReply(t testing.TB, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	require.NoError(t, err, "read %d of %d reply bytes", n, len(want))
	require.True(t, bytes.Equal(want, got), "reply differs:\n got %.200q\nwant %.200q", got, want)
}

// ExpectEOF reads until the server closes c in order; nothing more may
// arrive.
func ExpectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Empty(t, rest)
}

// ExpectClosed requires that the server closed c without sending more: a
// read returns EOF or a connection reset.
func ExpectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "read: %v", err)
}

// CloseWrite shuts c's write side.
func CloseWrite(t testing.TB, c net.Conn) {
	t.Helper()
	cw, ok := c.(interface{ CloseWrite() error })
	require.True(t, ok, "%T cannot half-close", c)
	require.NoError(t, cw.CloseWrite())
}

// Owed is the server's complete answer to in followed by end of input.
func Owed(f protocol.Framing, in []byte) []byte {
	c := protocol.NewCodec(protocol.CodecConfig{Framing: f, MaxMsg: 64 << 20})
	out, _ := c.Feed(nil, in)
	out, _ = c.Finish(out)
	return out
}

// Payload is n bytes of mixed ASCII, multi-byte runes, runes whose upper
// case has another length, and invalid UTF-8.
func Payload(n int) []byte {
	p := make([]byte, 0, n+64)
	for len(p) < n {
		p = append(p, "héllo wörld ıⱥɐ 0123456789 \xff\xfe abcdefghijklmnopqrstuvwxyz "...)
	}
	return p[:n]
}

// ServerFD finds the server's end of c among this process's descriptors
// (the server runs in the test process), by its peer address.
func ServerFD(t testing.TB, c net.Conn) int {
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
			return fd
		}
	}
	t.Fatalf("no server socket with peer %v", local)
	return -1
}

// CPUTime is this process's user+system CPU time.
func CPUTime(t testing.TB) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Gate is handler work that blocks each message until the test lets it
// through, and counts the messages in it. Open it in a cleanup registered
// after the server's start (cleanups run last first), so a failed test
// cannot leave a worker blocked and Shutdown waiting for it.
type Gate struct {
	mu                     sync.Mutex
	running, peak, entered int
	pass                   chan struct{}
	all                    chan struct{}
	once                   sync.Once
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{pass: make(chan struct{}, 1024), all: make(chan struct{})} }

// Work is one message's handler work.
func (g *Gate) Work() {
	g.mu.Lock()
	g.running++
	g.entered++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	select {
	case <-g.pass:
	case <-g.all:
	}
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
}

// Let lets n more messages through, now or when they come.
func (g *Gate) Let(n int) {
	for range n {
		g.pass <- struct{}{}
	}
}

// Open lets every message through from now on.
func (g *Gate) Open() { g.once.Do(func() { close(g.all) }) }

// Counts are the messages in the gate now, the most at once, and all that
// entered it.
func (g *Gate) Counts() (running, peak, entered int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, g.peak, g.entered
}

// CheckListeners checks what a library that binds its own sockets (gnet,
// evio) must be kept from doing: replacing a file that is not a socket at a
// unix path, or sharing a TCP port already in use; and that several loops
// serve one port.
func CheckListeners(t *testing.T, newServer func(servers.Config) (servers.Server, error)) {
	t.Run("unix refuses a file that is not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "precious")
		require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
		cfg, _ := Config(t, protocol.Raw)
		cfg.Network, cfg.Addr = "unix", path
		s, err := newServer(cfg)
		require.NoError(t, err)
		require.Error(t, s.Start())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "data", string(b))
	})
	t.Run("a port in use is refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		cfg, _ := Config(t, protocol.Raw)
		cfg.Addr = ln.Addr().String()
		s, err := newServer(cfg)
		require.NoError(t, err)
		require.Error(t, s.Start())
	})
	t.Run("several loops share one port", func(t *testing.T) {
		s, _ := StartNew(t, newServer, protocol.Raw, func(c *servers.Config) { c.Loops = 4 })
		for i := range 16 {
			Echo(t, Dial(t, s.Addr()), strings.Repeat("x", i+1))
		}
	})
}

// CheckClosedAtOutCap writes chunk to c over and over without reading, as
// a client that outruns the server, and requires that the server closes c
// (gnet cannot stop reading one connection, so archbench closes it once
// what it owes passes OutCap), logs why, and serves others with framing f.
func CheckClosedAtOutCap(t *testing.T, srv servers.Server, logs *LogBuf, c net.Conn, chunk []byte, f protocol.Framing) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
	}()
	select {
	case err := <-werr:
		require.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "write: %v", err)
	case <-time.After(Timeout):
		t.Fatal("the server never closed a client that outruns it without reading")
	}
	require.Contains(t, logs.String(), "pending output over out-cap")
	require.Eventually(t, func() bool { return srv.Stats().Active == 0 }, 5*time.Second, 2*time.Millisecond)
	Exchange(t, Dial(t, srv.Addr()), f, []byte("others are served"))
}

// StreamAll writes in to c in pieces of 100 KiB and then shuts c's write
// side, while reading all the server sends until it closes; it returns
// what was read.
func StreamAll(t testing.TB, c net.Conn, in []byte) []byte {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for p := in; len(p) > 0; {
			n := min(len(p), 100<<10)
			if _, err := c.Write(p[:n]); err != nil {
				errc <- err
				return
			}
			p = p[n:]
		}
		errc <- c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	return got
}

// RequireShutdownDeadline shuts srv down with a context of d, while a
// client keeps it owing output, and requires that Shutdown gives up at the
// deadline (closing what is left) within 2 s and leaves Err nil.
func RequireShutdownDeadline(t testing.TB, srv servers.Server, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	begin := time.Now()
	require.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	require.Less(t, time.Since(begin), 2*time.Second)
	require.NoError(t, srv.Err())
}

// PingPong sends msg on every connection and reads its upper-cased reply,
// b.N exchanges in all, spread evenly, one goroutine per connection: the
// benchmarks' ping-pong load. A wrong reply fails the benchmark.
func PingPong(b *testing.B, conns []net.Conn, msg []byte) {
	b.Helper()
	want := protocol.AppendUpper(nil, msg)
	var wg sync.WaitGroup
	for i, c := range conns {
		n := b.N / len(conns)
		if i < b.N%len(conns) {
			n++
		}
		wg.Go(func() {
			got := make([]byte, len(want))
			for range n {
				if _, err := c.Write(msg); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
					b.Errorf("reply %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
