package gnetpool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
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

// testConfig is line framing on 127.0.0.1:0 with every default filled in.
func testConfig(logs io.Writer) servers.Config {
	cfg := servers.DefaultConfig()
	cfg.Addr, cfg.Framing = "127.0.0.1:0", protocol.Line
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

// start runs a gnet-pool server (after tweak) whose handler work is work
// (nil: cfg.Work.Do) until the test ends.
func start(t *testing.T, tweak func(*servers.Config), work func()) (servers.Server, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	cfg := testConfig(logs)
	if tweak != nil {
		tweak(&cfg)
	}
	require.NoError(t, cfg.Validate())
	if work == nil {
		work = cfg.Work.Do
	}
	s, err := newServer(cfg, work)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() {
		select {
		case <-s.Done():
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			assert.NoError(t, s.Shutdown(ctx))
		}
		assert.NoError(t, s.Err())
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return s, logs
}

func dial(t *testing.T, a net.Addr) net.Conn {
	t.Helper()
	return testkit.Dial(t, a, 5*time.Second, testDeadline)
}

// exchange sends payloads as requests in one write and checks every reply.
func exchange(t *testing.T, c net.Conn, f protocol.Framing, payloads ...[]byte) {
	t.Helper()
	var req, want []byte
	for _, p := range payloads {
		req = protocol.AppendRequest(req, f, p)
		want = protocol.AppendReply(want, f, p)
	}
	_, err := c.Write(req)
	require.NoError(t, err)
	readExpect(t, c, want)
}

func readExpect(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	require.NoError(t, err, "read %d of %d reply bytes", n, len(want))
	require.True(t, bytes.Equal(want, got), "reply differs:\n got %q\nwant %q", got, want)
}

// expectClosed checks that the server closed c without sending more.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "read: %v", err)
}

// gate is handler work that blocks until released, counting how many
// workers are in it.
type gate struct {
	release chan struct{}
	running atomic.Int32
	most    atomic.Int32
	entered atomic.Int32
}

func newGate() *gate { return &gate{release: make(chan struct{}, 1024)} }

func (g *gate) work() {
	n := g.running.Add(1)
	g.entered.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-g.release
	g.running.Add(-1)
}

// open lets n messages through.
func (g *gate) open(n int) {
	for range n {
		g.release <- struct{}{}
	}
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, msg)
}

// withWork makes the pool hand over one message per job, as with any
// nonzero handler work; the test's work function does the rest.
func withWork(c *servers.Config) { c.Work = protocol.Work{Sleep: time.Nanosecond} }

func randPayload(r *rand.Rand, n int) []byte {
	const alphabet = "abcxyz ıⱥɐ straße 0123456789"
	p := make([]byte, 0, n+4)
	for len(p) < n {
		p = append(p, alphabet[r.IntN(len(alphabet))])
	}
	return p
}

func TestEveryFraming(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			s, err := servers.New("gnet-pool", servers.Config{Addr: "127.0.0.1:0", Framing: f, Loops: 2})
			require.NoError(t, err)
			require.NoError(t, s.Start())
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				assert.NoError(t, s.Shutdown(ctx))
			})
			exchange(t, dial(t, s.Addr()), f, []byte("hello"), []byte("héllo wörld"), []byte("ıⱥɐ straße"), []byte("\xff\xfe\x80"), nil)
		})
	}
}

// TestOrder: replies leave in request order on every connection while
// workers finish in random order.
func TestOrder(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Line, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			var mu sync.Mutex
			jitter := rand.New(rand.NewPCG(1, 2))
			work := func() {
				mu.Lock()
				d := time.Duration(jitter.IntN(200)) * time.Microsecond
				mu.Unlock()
				time.Sleep(d)
			}
			s, _ := start(t, func(c *servers.Config) { c.Framing = f; c.Loops = 2; withWork(c) }, work)
			var wg sync.WaitGroup
			for i := range 8 {
				r := rand.New(rand.NewPCG(uint64(i), 7))
				c := dial(t, s.Addr())
				var ps [][]byte
				for range 150 {
					ps = append(ps, randPayload(r, r.IntN(300)))
				}
				wg.Go(func() { exchange(t, c, f, ps...) })
			}
			wg.Wait()
		})
	}
}

// TestPoolBound: at most Workers messages are in the handler at once, a
// connection holds at most one worker, and the loop keeps accepting and
// closing connections while every worker is blocked.
func TestPoolBound(t *testing.T) {
	g := newGate()
	s, _ := start(t, func(c *servers.Config) { c.Workers = 2; withWork(c) }, g.work)
	pipelined := dial(t, s.Addr())
	_, err := pipelined.Write([]byte("a1\na2\na3\n"))
	require.NoError(t, err)
	eventually(t, func() bool { return g.running.Load() == 1 }, "the first message never reached a worker")
	var others []net.Conn
	for i := range 4 {
		c := dial(t, s.Addr())
		_, err := fmt.Fprintf(c, "b%d\n", i)
		require.NoError(t, err)
		others = append(others, c)
	}
	eventually(t, func() bool { return g.running.Load() == 2 }, "a second worker was never used")
	eventually(t, func() bool { return s.Stats().Active == 5 }, "connections not accepted while the workers are blocked")
	// The loop is not blocked: a client that leaves is closed at once.
	gone := dial(t, s.Addr())
	eventually(t, func() bool { return s.Stats().Active == 6 }, "not accepted")
	gone.Close()
	eventually(t, func() bool { return s.Stats().Active == 5 }, "a closed client was not noticed while the workers are blocked")

	g.open(7)
	readExpect(t, pipelined, []byte("A1\nA2\nA3\n"))
	for i, c := range others {
		readExpect(t, c, fmt.Appendf(nil, "B%d\n", i))
	}
	require.EqualValues(t, 2, g.most.Load(), "more messages ran at once than there are workers")
	require.EqualValues(t, 7, g.entered.Load())
}

// TestOneWorkerPerConnection: a pipelining client never has two messages
// in the handler, however many workers are idle.
func TestOneWorkerPerConnection(t *testing.T) {
	g := newGate()
	s, _ := start(t, func(c *servers.Config) { c.Workers = 4; withWork(c) }, g.work)
	c := dial(t, s.Addr())
	_, err := c.Write([]byte("1\n2\n3\n4\n"))
	require.NoError(t, err)
	for i := range 4 {
		eventually(t, func() bool { return g.entered.Load() == int32(i+1) }, "the next message never reached a worker")
		require.EqualValues(t, 1, g.running.Load())
		g.open(1)
		readExpect(t, c, fmt.Appendf(nil, "%d\n", i+1))
	}
	require.EqualValues(t, 1, g.most.Load())
}

// TestHalfClose: a client that shuts its write side with messages still
// in the pool, queued or waiting gets every reply, the end-of-input one
// included, then EOF.
func TestHalfClose(t *testing.T) {
	for _, f := range []protocol.Framing{protocol.Line, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			s, _ := start(t, func(c *servers.Config) {
				c.Framing = f
				c.Workers = 2
				c.Work = protocol.Work{Sleep: 2 * time.Millisecond}
			}, nil)
			// Other connections keep the pool's queue busy, so some jobs
			// are taken back from it and some are waited for.
			for range 3 {
				go func() {
					c, err := net.Dial("tcp", s.Addr().String())
					if err != nil {
						return
					}
					defer c.Close()
					_, _ = c.Write(bytes.Repeat(protocol.AppendRequest(nil, f, []byte("busy")), 20))
					_, _ = io.Copy(io.Discard, c)
				}()
			}
			r := rand.New(rand.NewPCG(3, 4))
			var req, want []byte
			for range 30 {
				p := randPayload(r, r.IntN(100))
				req = protocol.AppendRequest(req, f, p)
				want = protocol.AppendReply(want, f, p)
			}
			switch f {
			case protocol.Line:
				req = append(req, "unterminated ıⱥɐ"...)
				want = append(want, "UNTERMINATED IȺⱯ"...)
			case protocol.Length:
				req = append(req, 0, 0, 0, 9, 'c', 'u', 't') // cut short: not answered
			}
			c := dial(t, s.Addr())
			_, err := c.Write(req)
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestShutdownAnswersPooled: Shutdown waits for the messages in the pool
// and the ones waiting behind them, then closes.
func TestShutdownAnswersPooled(t *testing.T) {
	g := newGate()
	logs := &logBuf{}
	cfg := testConfig(logs)
	withWork(&cfg)
	s, err := newServer(cfg, g.work)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	c := dial(t, s.Addr())
	idle := dial(t, s.Addr())
	_, err = c.Write([]byte("one\ntwo\nthree"))
	require.NoError(t, err)
	eventually(t, func() bool { return g.running.Load() == 1 }, "no message reached a worker")

	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res <- s.Shutdown(ctx)
	}()
	expectClosed(t, idle) // nothing owed: closed at once, while a worker is still blocked
	g.open(3)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "ONE\nTWO\nTHREE", string(got), "an unterminated line is answered at shutdown")
	require.NoError(t, <-res)
	require.NoError(t, s.Err())
}

// TestShutdownDeadline: at Shutdown's deadline the messages still waiting
// are dropped; Shutdown returns once the running one is done.
func TestShutdownDeadline(t *testing.T) {
	cfg := testConfig(io.Discard)
	cfg.Work = protocol.Work{Sleep: 300 * time.Millisecond}
	var entered atomic.Int32
	s, err := newServer(cfg, func() { entered.Add(1); cfg.Work.Do() })
	require.NoError(t, err)
	require.NoError(t, s.Start())
	c := dial(t, s.Addr())
	_, err = c.Write(bytes.Repeat([]byte("slow\n"), 10))
	require.NoError(t, err)
	eventually(t, func() bool { return entered.Load() == 1 }, "no message reached a worker")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	require.Less(t, time.Since(begin), 2*time.Second)
	require.NoError(t, s.Err())
	got, _ := io.ReadAll(c)
	require.Less(t, len(got), 10*len("SLOW\n"), "every message was answered: the deadline did not cut anything")
}

// TestResetMidJob: a connection reset while its message is in the
// handler is closed at once; its reply is dropped and others are served.
func TestResetMidJob(t *testing.T) {
	g := newGate()
	s, _ := start(t, func(c *servers.Config) { c.Workers = 1; withWork(c) }, g.work)
	c := dial(t, s.Addr())
	_, err := c.Write([]byte("doomed\nmore\n"))
	require.NoError(t, err)
	eventually(t, func() bool { return g.running.Load() == 1 }, "no message reached a worker")
	require.NoError(t, c.(*net.TCPConn).SetLinger(0))
	c.Close()
	eventually(t, func() bool { return s.Stats().Active == 0 }, "the reset connection was not closed")
	g.open(1)
	other := dial(t, s.Addr())
	g.open(1)
	exchange(t, other, protocol.Line, []byte("alive"))
	require.EqualValues(t, 2, g.entered.Load(), "the reset connection's waiting message was run")
}

// TestFloodWithWorkClosedAtOutCap: gnet cannot stop reading a connection,
// so one that outruns a pool with handler work is closed when what it is
// owed passes OutCap; others are served.
func TestFloodWithWorkClosedAtOutCap(t *testing.T) {
	s, logs := start(t, func(c *servers.Config) {
		c.OutCap = 64 << 10
		c.Work = protocol.Work{Sleep: time.Millisecond}
	}, nil)
	c := dial(t, s.Addr())
	werr := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("flood\n"), 10<<10)
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
		t.Fatal("the server never closed a client that outruns the pool")
	}
	require.Contains(t, logs.String(), "pending output over out-cap")
	eventually(t, func() bool { return s.Stats().Active == 0 }, "still open")
	exchange(t, dial(t, s.Addr()), protocol.Line, []byte("others are served"))
}

// TestCallerRuns: with no handler work, a client that streams faster than
// the pool answers is answered on the loop instead, so it is not closed
// even with a small OutCap while it reads.
func TestCallerRuns(t *testing.T) {
	s, logs := start(t, func(c *servers.Config) { c.OutCap = 64 << 10; c.Workers = 1 }, nil)
	c := dial(t, s.Addr())
	r := rand.New(rand.NewPCG(5, 6))
	var req, want []byte
	for len(req) < 4<<20 {
		p := randPayload(r, r.IntN(2000))
		req = protocol.AppendRequest(req, protocol.Line, p)
		want = protocol.AppendReply(want, protocol.Line, p)
	}
	errc := make(chan error, 1)
	go func() {
		for p := req; len(p) > 0; {
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
	require.NoError(t, err, "log:\n%s", logs)
	require.NoError(t, <-errc)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "reply differs")
	require.NotContains(t, logs.String(), "out-cap")
}

// TestProtocolError: the messages before an oversized one are answered,
// then the connection is closed.
func TestProtocolError(t *testing.T) {
	g := newGate()
	s, logs := start(t, func(c *servers.Config) { c.MaxMsg = 64; withWork(c) }, g.work)
	c := dial(t, s.Addr())
	_, err := c.Write(append([]byte("a\nb\nc\n"), bytes.Repeat([]byte("x"), 100)...))
	require.NoError(t, err)
	eventually(t, func() bool { return g.running.Load() == 1 }, "no message reached a worker")
	eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("protocol error")) }, "no protocol error")
	g.open(3)
	readExpect(t, c, []byte("A\nB\nC\n"))
	expectClosed(t, c)
}

// TestIdleSparesOwed: a connection whose reply is still being made is not
// idle; once answered and quiet it is closed.
func TestIdleSparesOwed(t *testing.T) {
	const idle = 100 * time.Millisecond
	g := newGate()
	s, _ := start(t, func(c *servers.Config) { c.IdleTimeout = idle; withWork(c) }, g.work)
	c := dial(t, s.Addr())
	_, err := c.Write([]byte("patience\n"))
	require.NoError(t, err)
	eventually(t, func() bool { return g.running.Load() == 1 }, "no message reached a worker")
	time.Sleep(3 * idle) // the idle timeout passes while the reply is owed (not synchronisation)
	g.open(1)
	readExpect(t, c, []byte("PATIENCE\n"))
	begin := time.Now()
	expectClosed(t, c)
	require.GreaterOrEqual(t, time.Since(begin), idle/2)
}
