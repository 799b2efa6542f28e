package gnetsrv

// What the conformance suite (servers/all) cannot see: gnet's defects,
// pinned on plain gnet so that an upstream fix is noticed, and the
// workarounds archbench has for them, checked where they act.

import (
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// halfClose sends in, shuts the write side, waits until closing (the server
// has seen end of input), and only then reads everything the server sends
// until it closes.
func halfClose(t *testing.T, c net.Conn, in []byte, closing func() bool) []byte {
	t.Helper()
	_, err := c.Write(in) // the server reads it all, whether we read or not
	require.NoError(t, err)
	testkit.CloseWrite(t, c)
	require.Eventually(t, closing, 10*time.Second, time.Millisecond)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return got
}

// TestLibraryHalfCloseDropsOutput measures the defect the workaround is for:
// plain gnet loses the replies still queued when the client half-closes.
// If this fails, gnet fixed it and OnClose's workaround can go.
func TestLibraryHalfCloseDropsOutput(t *testing.T) {
	h, addr := runBare(t)
	in := testkit.Payload(6 << 20)
	got := halfClose(t, testkit.Dial(t, addr, testkit.SmallRcvBuf), in, func() bool { return h.closed.Load() > 0 })
	t.Logf("plain gnet: sent %d bytes, got %d back; %d were queued in gnet at most", len(in), len(got), h.maxOut.Load())
	require.Positive(t, h.maxOut.Load(), "nothing was queued: the test did not exercise the defect")
	require.Less(t, len(got), len(in), "plain gnet now flushes on half-close: drop the OnClose workaround")
}

// TestHalfCloseFlush: the workaround flushes what gnet held when the
// client half-closed, more than a MiB here, and what is owed only at end of
// input.
func TestHalfCloseFlush(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line} {
		t.Run(f.String(), func(t *testing.T) {
			s, logs := testkit.StartNew(t, Arch.Build, f, func(c *servers.Config) { c.OutCap = 64 << 20; c.MaxMsg = 16 << 20 })
			// 6 MiB, then what is owed only at end of input: a partial
			// rune (raw) or an unterminated line.
			in := append(bytes.ReplaceAll(testkit.Payload(6<<20), []byte("\n"), nil), "tail \xe2\x82"...)
			if f == protocol.Line {
				for i := 1000; i < len(in)-100; i += 1000 {
					in[i] = '\n'
				}
			}
			want := testkit.Owed(f, in)
			got := halfClose(t, testkit.Dial(t, s.Addr(), testkit.SmallRcvBuf), in, func() bool {
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
}

// TestLibraryBuffersWithoutBound measures the second defect: plain gnet
// queues any amount of output for a client that does not read.
func TestLibraryBuffersWithoutBound(t *testing.T) {
	h, addr := runBare(t)
	c := testkit.Dial(t, addr, testkit.SmallRcvBuf)
	_, err := c.Write(make([]byte, 48<<20))
	require.NoError(t, err)
	// The write returned, so gnet read it all; close so the loop is idle
	// when we read maxOut (the close happens-before Stop in Cleanup).
	c.Close()
	t.Cleanup(func() {
		t.Logf("plain gnet queued up to %d bytes for a client that reads nothing", h.maxOut.Load())
		if h.maxOut.Load() <= 32<<20 {
			t.Errorf("plain gnet queued at most %d bytes: it bounds its output buffer now", h.maxOut.Load())
		}
	})
}

// TestWriterNotReading: the workaround for the second defect closes a
// client that does not read once its output passes OutCap (gnet cannot
// stop reading one connection), and serves the others.
func TestWriterNotReading(t *testing.T) {
	s, logs := testkit.StartNew(t, Arch.Build, protocol.Raw, func(c *servers.Config) { c.OutCap = 1 << 20 })
	c := testkit.Dial(t, s.Addr(), testkit.SmallRcvBuf)
	testkit.CheckClosedAtOutCap(t, s, logs, c, make([]byte, 256<<10), protocol.Raw)
}

// TestStreamWhileReading: a client that reads while it writes is not closed
// for its output; the out-cap close is only for clients that do not read.
func TestStreamWhileReading(t *testing.T) {
	s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, func(c *servers.Config) { c.Loops = 2; c.OutCap = 1 << 20 })
	c := testkit.Dial(t, s.Addr())
	in := testkit.Payload(8 << 20)
	want := testkit.Owed(protocol.Raw, in)
	got := testkit.StreamAll(t, c, in)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "reply differs")
}

// TestShutdownHeldRune: a partial rune held back from a raw stream is sent
// at Shutdown, the workaround's flush at close.
func TestShutdownHeldRune(t *testing.T) {
	s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, func(c *servers.Config) { c.Loops = 2 })
	held := testkit.Dial(t, s.Addr())
	_, err := held.Write([]byte("abc\xe2\x82"))
	require.NoError(t, err)
	testkit.ReadReply(t, held, []byte("ABC"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	rest, err := io.ReadAll(held)
	require.NoError(t, err)
	require.Equal(t, "\xe2\x82", string(rest))
}

// TestShutdownDeadline: a client that reads nothing keeps owing output (up
// to a large OutCap): Shutdown must give up at its deadline, closing it,
// and still leave nothing running.
func TestShutdownDeadline(t *testing.T) {
	s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, func(c *servers.Config) { c.OutCap = 64 << 20 })
	c := testkit.Dial(t, s.Addr(), testkit.SmallRcvBuf)
	_, err := c.Write(make([]byte, 16<<20))
	require.NoError(t, err)
	testkit.RequireShutdownDeadline(t, s, 300*time.Millisecond)
}

// TestListeners: gnet binds its own sockets; archbench keeps it from
// replacing a file at a unix path and from sharing a port in use
// (SO_REUSEPORT), and its loops share one port.
func TestListeners(t *testing.T) { testkit.CheckListeners(t, Arch.Build) }

// TestEMFILE pins gnet's EMFILE defect and checks the fd budget that
// works around it (see testkit.CheckLibraryEMFILE).
func TestEMFILE(t *testing.T) {
	testkit.CheckLibraryEMFILE(t, testkit.LibraryEMFILE{Library: "gnet", Bare: startBare, New: Arch.Build, Framing: protocol.Raw})
}

// bareHandler is a plain gnet echo, gnet as its own documentation shows it,
// for measuring gnet without our workarounds.
type bareHandler struct {
	gnet.BuiltinEventEngine
	addr   chan net.Addr
	eng    gnet.Engine
	maxOut atomic.Int64 // most output gnet held for one connection
	closed atomic.Int64 // connections closed
}

func (h *bareHandler) OnClose(gnet.Conn, error) gnet.Action {
	h.closed.Add(1)
	return gnet.None
}

func (h *bareHandler) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = e
	fd, err := e.Dup()
	if err != nil {
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		return gnet.Shutdown
	}
	h.addr <- sockaddrToAddr(sa)
	return gnet.None
}

func (h *bareHandler) OnTraffic(c gnet.Conn) gnet.Action {
	p, _ := c.Next(-1)
	_, _ = c.Write(p)
	if n := int64(c.OutboundBuffered()); n > h.maxOut.Load() {
		h.maxOut.Store(n) // only the one loop writes
	}
	return gnet.None
}

// runBare runs bareHandler on 127.0.0.1:0 until the test ends.
func runBare(t *testing.T) (*bareHandler, net.Addr) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
	}()
	var addr net.Addr
	select {
	case addr = <-h.addr:
	case err := <-done:
		t.Fatalf("gnet.Run: %v", err)
	}
	t.Cleanup(func() {
		// Engine.Stop polls every 500 ms; a context that is over makes it
		// only ask, and Run's return is what we wait for.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = h.eng.Stop(ctx)
		<-done
	})
	return h, addr
}

// startBare runs bareHandler in an EMFILE child; it prints "ended ERR"
// when gnet.Run returns.
func startBare(say func(string, ...any)) (servers.Server, string, error) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	go func() {
		err := gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
		say("ended %v", err)
	}()
	return nil, (<-h.addr).String(), nil
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
