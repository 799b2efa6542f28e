package eviosrv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.ChildMain(childEnv, childLimit, startServer)
	goleak.VerifyTestMain(m)
}

const testDeadline = 20 * time.Second

// logBuf collects a server's log for assertions.
type logBuf = testkit.LogBuf

func newServer(t *testing.T, tweak func(*servers.Config)) (servers.Server, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	cfg := servers.Config{Network: "tcp", Addr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := servers.New("evio", cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	require.NotNil(t, s.Addr())
	return s, logs
}

// start runs an evio server on 127.0.0.1:0 (after tweak) until the test ends.
func start(t *testing.T, tweak func(*servers.Config)) (servers.Server, *logBuf) {
	t.Helper()
	s, logs := newServer(t, tweak)
	t.Cleanup(func() {
		select {
		case <-s.Done():
			t.Errorf("server stopped on its own: %v", s.Err())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
		assert.NoError(t, s.Err())
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return s, logs
}

func dial(t *testing.T, a net.Addr, opts ...func(fd uintptr)) net.Conn {
	t.Helper()
	return testkit.Dial(t, a, 5*time.Second, testDeadline, opts...)
}

func owed(f protocol.Framing, in []byte) []byte {
	c := protocol.NewCodec(protocol.CodecConfig{Framing: f, MaxMsg: 64 << 20})
	out, _ := c.Feed(nil, in)
	out, _ = c.Finish(out)
	return out
}

func payload(n int) []byte {
	p := make([]byte, 0, n+4)
	for len(p) < n {
		p = append(p, "héllo wörld ıⱥɐ 0123456789 \xff\xfe abcdefghijklmnopqrstuvwxyz "...)
	}
	return p[:n]
}

func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	want := protocol.AppendUpper(nil, []byte(msg))
	got := make([]byte, len(want))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func TestEchoEveryFraming(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			s, _ := start(t, func(c *servers.Config) { c.Framing = f; c.Loops = 2 })
			c := dial(t, s.Addr())
			var req, want []byte
			for _, m := range []string{"hello", "héllo wörld", "ıⱥɐ straße", "\xff\xfe\x80"} {
				req = protocol.AppendRequest(req, f, []byte(m))
				want = protocol.AppendReply(want, f, []byte(m))
			}
			_, err := c.Write(req)
			require.NoError(t, err)
			got := make([]byte, len(want))
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.EqualValues(t, 1, s.Stats().Accepted, "the control connection is not counted")
		})
	}
}

func TestTransports(t *testing.T) {
	t.Run("tcp6", func(t *testing.T) {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		ln.Close()
		s, _ := start(t, func(c *servers.Config) { c.Network, c.Addr = "tcp6", "[::1]:0" })
		require.Contains(t, s.Addr().String(), "[::1]:")
		echo(t, dial(t, s.Addr()), "tcp6 ok")
	})
	t.Run("unix", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.sock")
		s, _ := start(t, func(c *servers.Config) { c.Network, c.Addr = "unix", path; c.Loops = 2 })
		require.Equal(t, path, s.Addr().String())
		echo(t, dial(t, s.Addr()), "unix ok")
		require.EqualValues(t, 1, s.Stats().Accepted)
	})
	t.Run("unix refuses a file that is not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "precious")
		require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
		s, err := servers.New("evio", servers.Config{Network: "unix", Addr: path})
		require.NoError(t, err)
		require.Error(t, s.Start())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "data", string(b))
	})
	t.Run("several loops", func(t *testing.T) {
		s, _ := start(t, func(c *servers.Config) { c.Loops = 4 })
		for i := range 16 {
			echo(t, dial(t, s.Addr()), strings.Repeat("x", i+1))
		}
	})
	t.Run("a port in use is refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		s, err := servers.New("evio", servers.Config{Addr: ln.Addr().String()})
		require.NoError(t, err)
		require.Error(t, s.Start())
	})
}

// TestNoDelay finds the server's end of a connection among this process's
// descriptors and checks TCP_NODELAY on it.
func TestNoDelay(t *testing.T) {
	s, _ := start(t, nil)
	c := dial(t, s.Addr())
	echo(t, c, "x") // accepted and opened
	local := c.LocalAddr().(*net.TCPAddr)
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	found := false
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		peer, err := unix.Getpeername(fd)
		if err != nil || !sameAddr(peer, local) {
			continue
		}
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		require.NoError(t, err)
		require.Equal(t, 1, v, "TCP_NODELAY on the accepted socket")
		found = true
	}
	require.True(t, found, "server end of the connection not found")
}

func TestHalfCloseFlush(t *testing.T) {
	t.Run("complete replies are flushed", func(t *testing.T) {
		s, _ := start(t, nil)
		c := dial(t, s.Addr(), testkit.SmallRcvBuf)
		in := payload(6 << 20)
		// evio does not read while output is pending, so the writes need a
		// reader at the same time.
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(in)
			werr <- errors.Join(err, c.(*net.TCPConn).CloseWrite())
		}()
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		require.NoError(t, <-werr)
		require.True(t, bytes.Equal(protocol.AppendUpper(nil, in), got), "reply differs")
	})
	// The defect declared for HalfCloseFlush: what is owed only at end of
	// input is lost. If this fails, evio changed and the Defect can go.
	for _, tc := range []struct {
		f        protocol.Framing
		in, want string
	}{
		{protocol.Raw, "abc\xe2\x82", "ABC"},
		{protocol.Line, "one\ntwo", "ONE\n"},
	} {
		t.Run("the tail owed at end of input is lost/"+tc.f.String(), func(t *testing.T) {
			s, _ := start(t, func(c *servers.Config) { c.Framing = tc.f })
			c := dial(t, s.Addr())
			_, err := c.Write([]byte(tc.in))
			require.NoError(t, err)
			got := make([]byte, len(tc.want))
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			rest, err := io.ReadAll(c)
			require.NoError(t, err)
			t.Logf("sent %q, got %q, owed %q", tc.in, string(got)+string(rest), owed(tc.f, []byte(tc.in)))
			require.Empty(t, rest, "evio now sends the tail: remove the HalfCloseFlush defect")
		})
	}
}

// cpuTime is this process's user+system CPU time.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure reports, over d, the CPU the process used as a fraction of d,
// and how many write system calls it made (/proc/self/io syscw, which
// counts failed ones too). CPU time depends on how busy the machine is; a
// loop that retries a write that cannot succeed shows in either.
func measure(t *testing.T, d time.Duration) (used float64, writes int64) {
	cpu0, w0, wall0 := cpuTime(t), writeCalls(t), time.Now()
	time.Sleep(d) // the measurement interval
	return float64(cpuTime(t)-cpu0) / float64(time.Since(wall0)), writeCalls(t) - w0
}

func writeCalls(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// TestWriterNotReading measures the defect declared for WriterNotReading:
// evio's loop spins while a client writes without reading. Memory stays
// bounded and other clients are served; Shutdown still ends it.
func TestWriterNotReading(t *testing.T) {
	// One 8 MiB line makes an 8 MiB reply, more than the kernel buffers
	// hold, so the output stays pending for as long as the client does not
	// read.
	s, logs := newServer(t, func(c *servers.Config) { c.Framing = protocol.Line; c.MaxMsg = 16 << 20 })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	c := dial(t, s.Addr(), testkit.SmallRcvBuf)
	idleUsed, idleWrites := measure(t, 500*time.Millisecond)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(append(bytes.Repeat([]byte("a"), 8<<20), '\n'))
		werr <- err
	}()
	// The first reply byte means the reply is queued in evio.
	_, err := io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)
	require.NoError(t, <-werr)
	// More input while the output is stuck: from now on the socket is
	// readable and not writable, and evio neither reads nor waits.
	_, err = c.Write(bytes.Repeat([]byte("b"), 64<<10))
	require.NoError(t, err)

	used, writes := measure(t, 500*time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("with an 8 MiB reply pending and more input waiting, over 500 ms the process used %.0f%% of a core "+
		"and made %d write calls (idle server: %.0f%%, %d calls); heap in use %d MiB",
		100*used, writes, 100*idleUsed, idleWrites, ms.HeapInuse>>20)
	assert.Greater(t, writes, 10*idleWrites+10000, "evio no longer spins on a writer that does not read: remove the defect")
	assert.Less(t, ms.HeapInuse, uint64(256<<20))

	o := dial(t, s.Addr())
	_, err = o.Write([]byte("others are served\n"))
	require.NoError(t, err)
	got := make([]byte, 18)
	_, err = io.ReadFull(o, got)
	require.NoError(t, err)
	require.Equal(t, "OTHERS ARE SERVED\n", string(got))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded, "the stuck connection closed")
	require.Less(t, time.Since(begin), 2*time.Second)
	require.NoError(t, s.Err())
}

func TestMaxConns(t *testing.T) {
	s, logs := start(t, func(c *servers.Config) { c.MaxConns = 2 })
	a, b := dial(t, s.Addr()), dial(t, s.Addr())
	echo(t, a, "a")
	echo(t, b, "b")
	c := dial(t, s.Addr())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "read: %v", err)
	require.EqualValues(t, 1, s.Stats().Rejected)
	require.Contains(t, logs.String(), "max-conns reached")
	a.Close()
	require.Eventually(t, func() bool { return s.Stats().Active == 1 }, 5*time.Second, 2*time.Millisecond)
	echo(t, dial(t, s.Addr()), "room again")
}

func TestIdleTimeout(t *testing.T) {
	// Generous against a loaded machine: the busy client must never pause
	// for the idle timeout between two echoes.
	const idle = 400 * time.Millisecond
	s, _ := start(t, func(c *servers.Config) { c.IdleTimeout = idle; c.Loops = 2 })
	quiet, busy := dial(t, s.Addr()), dial(t, s.Addr())
	begin := time.Now()
	stop := time.Now().Add(2 * idle)
	for time.Now().Before(stop) {
		echo(t, busy, "ping")
		time.Sleep(idle / 20) // pacing the busy client, not synchronisation
	}
	n, err := quiet.Read(make([]byte, 1))
	require.Zero(t, n)
	require.ErrorIs(t, err, io.EOF)
	require.GreaterOrEqual(t, time.Since(begin), idle)
	echo(t, busy, "still open")
}

func TestGracefulStop(t *testing.T) {
	s, _ := newServer(t, func(c *servers.Config) { c.Loops = 2 })
	idle := dial(t, s.Addr())
	busy := dial(t, s.Addr())
	echo(t, busy, "abc")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	require.NoError(t, s.Shutdown(ctx))
	t.Logf("Shutdown took %v", time.Since(begin))
	<-s.Done()
	require.NoError(t, s.Err())
	for _, c := range []net.Conn{idle, busy} {
		n, err := c.Read(make([]byte, 1))
		require.Zero(t, n)
		require.ErrorIs(t, err, io.EOF)
	}
	_, err := net.DialTimeout("tcp", s.Addr().String(), time.Second)
	require.Error(t, err, "still accepting after Shutdown")
	require.Equal(t, servers.ErrClosed, s.Start())
}

// TestEMFILE runs plain evio and this server in a child process with
// RLIMIT_NOFILE 64 and opens more connections than that.
func TestEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Run("plain evio ends its loop and Serve returns nil", func(t *testing.T) {
		ch := testkit.StartChild(t, childEnv, "bare")
		opened, _ := testkit.Exhaust(t, ch.Addr, 2*childLimit)
		res, ok := ch.Next("ended", 10*time.Second)
		require.True(t, ok, "evio survived EMFILE (%d connections opened): drop the fd budget workaround?", opened)
		t.Logf("plain evio after %d connections: evio.Serve returned %q", opened, res)
		require.Equal(t, "<nil>", res)
	})
	t.Run("the fd budget keeps serving", func(t *testing.T) {
		testkit.CheckGuardKeepsServing(t, childEnv, childLimit, func(t *testing.T, a *net.TCPAddr) {
			echo(t, dial(t, a), "served after the storm")
		})
	})
	t.Run("a loop ended by EMFILE is reported", func(t *testing.T) {
		testkit.CheckHogStopReported(t, childEnv, "Done was not closed after evio's loop ended")
	})
}
