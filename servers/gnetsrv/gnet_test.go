package gnetsrv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.ChildMain(childEnv, childLimit, startServer)
	var opts []goleak.Option
	for _, f := range testkit.GnetLeakIgnores {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

const testDeadline = 20 * time.Second

// logBuf collects a server's log for assertions.
type logBuf = testkit.LogBuf

// start runs a gnet server on 127.0.0.1:0 (after tweak) until the test ends.
func start(t *testing.T, tweak func(*servers.Config)) (servers.Server, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	cfg := servers.Config{Network: "tcp", Addr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := servers.New("gnet", cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	require.NotNil(t, s.Addr())
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

// owed is the server's complete answer to in followed by end of input.
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
		require.Equal(t, "tcp", s.Addr().Network())
		require.Contains(t, s.Addr().String(), "[::1]:")
		echo(t, dial(t, s.Addr()), "tcp6 ok")
	})
	t.Run("unix", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.sock")
		s, _ := start(t, func(c *servers.Config) { c.Network, c.Addr = "unix", path; c.Loops = 2 })
		require.Equal(t, path, s.Addr().String())
		echo(t, dial(t, s.Addr()), "unix ok")
	})
	t.Run("unix refuses a file that is not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "precious")
		require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
		s, err := servers.New("gnet", servers.Config{Network: "unix", Addr: path})
		require.NoError(t, err)
		require.Error(t, s.Start())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "data", string(b))
	})
	t.Run("several loops share one port", func(t *testing.T) {
		s, _ := start(t, func(c *servers.Config) { c.Loops = 4 })
		for i := range 16 {
			echo(t, dial(t, s.Addr()), strings.Repeat("x", i+1))
		}
	})
	t.Run("a port in use is refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		s, err := servers.New("gnet", servers.Config{Addr: ln.Addr().String()})
		require.NoError(t, err)
		require.Error(t, s.Start())
	})
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

// halfClose sends in, shuts the write side, waits until closing (the server
// has seen end of input), and only then reads everything the server sends
// until it closes.
func halfClose(t *testing.T, c net.Conn, in []byte, closing func() bool) []byte {
	t.Helper()
	_, err := c.Write(in) // the server reads it all, whether we read or not
	require.NoError(t, err)
	require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
	if closing != nil {
		require.Eventually(t, closing, 10*time.Second, time.Millisecond)
	}
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return got
}

// TestLibraryHalfCloseDropsOutput measures the defect the workaround is for:
// plain gnet loses the replies still queued when the client half-closes.
// If this fails, gnet fixed it and OnClose's workaround can go.
func TestLibraryHalfCloseDropsOutput(t *testing.T) {
	h, addr := runBare(t)
	a, err := net.ResolveTCPAddr("tcp", addr)
	require.NoError(t, err)
	in := payload(6 << 20)
	got := halfClose(t, dial(t, a, testkit.SmallRcvBuf), in, func() bool { return h.closed.Load() > 0 })
	t.Logf("plain gnet: sent %d bytes, got %d back; %d were queued in gnet at most", len(in), len(got), h.maxOut.Load())
	require.Positive(t, h.maxOut.Load(), "nothing was queued: the test did not exercise the defect")
	require.Less(t, len(got), len(in), "plain gnet now flushes on half-close: drop the OnClose workaround")
}

func TestHalfCloseFlush(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line} {
		t.Run(f.String(), func(t *testing.T) {
			s, logs := start(t, func(c *servers.Config) { c.Framing = f; c.OutCap = 64 << 20; c.MaxMsg = 16 << 20 })
			// 8 MiB, then what is owed only at end of input: a partial
			// rune (raw) or an unterminated line.
			in := append(bytes.ReplaceAll(payload(6<<20), []byte("\n"), nil), "tail \xe2\x82"...)
			if f == protocol.Line {
				for i := 1000; i < len(in)-100; i += 1000 {
					in[i] = '\n'
				}
			}
			want := owed(f, in)
			got := halfClose(t, dial(t, s.Addr(), testkit.SmallRcvBuf), in, func() bool {
				return strings.Contains(logs.String(), "flushing output owed at close")
			})
			require.Equal(t, len(want), len(got))
			require.True(t, bytes.Equal(want, got), "reply differs")
			m := regexp.MustCompile(`flushing output owed at close.*pending=(\d+)`).FindStringSubmatch(logs.String())
			require.NotNil(t, m, "no flush at close")
			pending, _ := strconv.Atoi(m[1])
			t.Logf("%d bytes were pending in gnet when the client half-closed", pending)
			require.Greater(t, pending, 1<<20, "little was pending at close: the test did not exercise the workaround")
		})
	}
	t.Run("length frame cut short", func(t *testing.T) {
		s, _ := start(t, func(c *servers.Config) { c.Framing = protocol.Length })
		in := protocol.AppendRequest(nil, protocol.Length, []byte("whole"))
		in = append(in, 0, 0, 0, 9, 'c', 'u', 't')
		got := halfClose(t, dial(t, s.Addr()), in, nil)
		require.Equal(t, protocol.AppendReply(nil, protocol.Length, []byte("whole")), got)
	})
}

// TestLibraryBuffersWithoutBound measures the second defect: plain gnet
// queues any amount of output for a client that does not read.
func TestLibraryBuffersWithoutBound(t *testing.T) {
	h, addr := runBare(t)
	a, err := net.ResolveTCPAddr("tcp", addr)
	require.NoError(t, err)
	c := dial(t, a, testkit.SmallRcvBuf)
	_, err = c.Write(make([]byte, 48<<20))
	require.NoError(t, err)
	// The write returned, so gnet read it all; close so the loop is idle
	// when we read maxOut (the close happens-before Stop in Cleanup).
	c.Close()
	t.Cleanup(func() {
		t.Logf("plain gnet queued up to %d bytes for a client that reads nothing", h.maxOut.Load())
		assert.Greater(t, h.maxOut.Load(), int64(32<<20), "plain gnet bounds its output buffer now")
	})
}

func TestWriterNotReading(t *testing.T) {
	const outCap = 1 << 20
	s, logs := start(t, func(c *servers.Config) { c.OutCap = outCap })
	c := dial(t, s.Addr(), testkit.SmallRcvBuf)
	werr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 256<<10)
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
	case <-time.After(testDeadline):
		t.Fatal("the server never closed a client that does not read")
	}
	require.Contains(t, logs.String(), "pending output over out-cap")
	require.Eventually(t, func() bool { return s.Stats().Active == 0 }, 5*time.Second, 2*time.Millisecond)
	echo(t, dial(t, s.Addr()), "others are served")
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
	s, _ := start(t, func(c *servers.Config) { c.IdleTimeout = idle })
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
	logs := &logBuf{}
	s, err := servers.New("gnet", servers.Config{Addr: "127.0.0.1:0", Loops: 2,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	idle := dial(t, s.Addr())
	held := dial(t, s.Addr()) // owed a held-back partial rune at shutdown
	_, err = held.Write([]byte("abc\xe2\x82"))
	require.NoError(t, err)
	got := make([]byte, 3)
	_, err = io.ReadFull(held, got)
	require.NoError(t, err)
	require.Equal(t, "ABC", string(got))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	require.NoError(t, s.Shutdown(ctx))
	t.Logf("Shutdown took %v", time.Since(begin))
	<-s.Done()
	require.NoError(t, s.Err())

	rest, err := io.ReadAll(held)
	require.NoError(t, err)
	require.Equal(t, "\xe2\x82", string(rest))
	n, err := idle.Read(make([]byte, 1))
	require.Zero(t, n)
	require.ErrorIs(t, err, io.EOF)
	_, err = net.DialTimeout("tcp", s.Addr().String(), time.Second)
	require.Error(t, err, "still accepting after Shutdown")
	require.Equal(t, servers.ErrClosed, s.Start())
}

func TestShutdownDeadline(t *testing.T) {
	s, err := servers.New("gnet", servers.Config{Addr: "127.0.0.1:0", OutCap: 64 << 20})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	// A client that reads nothing keeps owing output: Shutdown must give up
	// at its deadline and still leave nothing running.
	c := dial(t, s.Addr(), testkit.SmallRcvBuf)
	_, err = c.Write(make([]byte, 16<<20))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	took := time.Since(begin)
	require.Less(t, took, 2*time.Second)
	require.NoError(t, s.Err())
}

// TestEMFILE runs plain gnet and this server in a child process with
// RLIMIT_NOFILE 64 and opens more connections than that.
func TestEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Run("plain gnet ends its loop and Run returns nil", func(t *testing.T) {
		ch := testkit.StartChild(t, childEnv, "bare")
		opened, _ := testkit.Exhaust(t, ch.Addr, 2*childLimit)
		res, ok := ch.Next("ended", 10*time.Second)
		require.True(t, ok, "gnet survived EMFILE (%d connections opened): drop the fd budget workaround?", opened)
		t.Logf("plain gnet after %d connections: gnet.Run returned %q", opened, res)
		require.Equal(t, "<nil>", res)
	})
	t.Run("the fd budget keeps serving", func(t *testing.T) {
		testkit.CheckGuardKeepsServing(t, childEnv, childLimit, func(t *testing.T, a *net.TCPAddr) {
			echo(t, dial(t, a), "served after the storm")
		})
	})
	t.Run("a loop ended by EMFILE is reported", func(t *testing.T) {
		testkit.CheckHogStopReported(t, childEnv, "Done was not closed after gnet's loop ended")
	})
}

// TestStreamWhileReading: a client that reads while it writes is not closed
// for its output; the out-cap close is only for clients that do not read.
func TestStreamWhileReading(t *testing.T) {
	s, _ := start(t, func(c *servers.Config) { c.Loops = 2; c.OutCap = 1 << 20 })
	c := dial(t, s.Addr())
	in := payload(8 << 20)
	want := owed(protocol.Raw, in)
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
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "reply differs")
}
