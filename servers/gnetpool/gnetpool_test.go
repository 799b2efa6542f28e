package gnetpool

// What the conformance suite (servers/all, which runs gnet-pool with line
// and length framing) cannot see: the pool's own paths, driven with handler
// work the test controls, and the declared EMFILE defect, pinned.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// start runs a gnet-pool server with line framing (after tweak) whose
// handler work is work (nil: cfg.Work.Do) until the test ends.
func start(t *testing.T, tweak func(*servers.Config), work func()) (servers.Server, *testkit.LogBuf) {
	t.Helper()
	cfg, logs := testkit.Config(t, protocol.Line)
	if tweak != nil {
		tweak(&cfg)
	}
	require.NoError(t, cfg.Validate())
	if work == nil {
		work = cfg.Work.Do
	}
	s, err := newServer(cfg, work)
	require.NoError(t, err)
	return testkit.Start(t, s), logs
}

// startGated is start with a testkit.Gate as the handler work, opened when
// the test ends before the server shuts down.
func startGated(t *testing.T, tweak func(*servers.Config)) (*testkit.Gate, servers.Server, *testkit.LogBuf) {
	t.Helper()
	g := testkit.NewGate()
	s, logs := start(t, func(c *servers.Config) {
		withWork(c)
		if tweak != nil {
			tweak(c)
		}
	}, g.Work)
	t.Cleanup(g.Open)
	return g, s, logs
}

// sendToWorker writes p to c and waits until a worker holds its first
// message.
func sendToWorker(t *testing.T, g *testkit.Gate, c net.Conn, p []byte) {
	t.Helper()
	_, err := c.Write(p)
	require.NoError(t, err)
	eventually(t, func() bool { return inGate(g) == 1 }, "no message reached a worker")
}

func inGate(g *testkit.Gate) int  { r, _, _ := g.Counts(); return r }
func entered(g *testkit.Gate) int { _, _, e := g.Counts(); return e }

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
				c := testkit.Dial(t, s.Addr())
				var ps [][]byte
				for range 150 {
					ps = append(ps, randPayload(r, r.IntN(300)))
				}
				wg.Go(func() { testkit.Exchange(t, c, f, ps...) })
			}
			wg.Wait()
		})
	}
}

// TestPoolBound: at most Workers messages are in the handler at once, a
// connection holds at most one worker, and the loop keeps accepting and
// closing connections while every worker is blocked.
func TestPoolBound(t *testing.T) {
	g, s, _ := startGated(t, func(c *servers.Config) { c.Workers = 2 })
	pipelined := testkit.Dial(t, s.Addr())
	sendToWorker(t, g, pipelined, []byte("a1\na2\na3\n"))
	var others []net.Conn
	for i := range 4 {
		c := testkit.Dial(t, s.Addr())
		_, err := fmt.Fprintf(c, "b%d\n", i)
		require.NoError(t, err)
		others = append(others, c)
	}
	eventually(t, func() bool { return inGate(g) == 2 }, "a second worker was never used")
	eventually(t, func() bool { return s.Stats().Active == 5 }, "connections not accepted while the workers are blocked")
	// The loop is not blocked: a client that leaves is closed at once.
	gone := testkit.Dial(t, s.Addr())
	eventually(t, func() bool { return s.Stats().Active == 6 }, "not accepted")
	gone.Close()
	eventually(t, func() bool { return s.Stats().Active == 5 }, "a closed client was not noticed while the workers are blocked")

	g.Let(7)
	testkit.ReadReply(t, pipelined, []byte("A1\nA2\nA3\n"))
	for i, c := range others {
		testkit.ReadReply(t, c, fmt.Appendf(nil, "B%d\n", i))
	}
	_, peak, _ := g.Counts()
	require.EqualValues(t, 2, peak, "more messages ran at once than there are workers")
	require.EqualValues(t, 7, entered(g))
}

// TestOneWorkerPerConnection: a pipelining client never has two messages
// in the handler, however many workers are idle.
func TestOneWorkerPerConnection(t *testing.T) {
	g, s, _ := startGated(t, func(c *servers.Config) { c.Workers = 4 })
	c := testkit.Dial(t, s.Addr())
	_, err := c.Write([]byte("1\n2\n3\n4\n"))
	require.NoError(t, err)
	for i := range 4 {
		eventually(t, func() bool { return entered(g) == i+1 }, "the next message never reached a worker")
		require.EqualValues(t, 1, inGate(g))
		g.Let(1)
		testkit.ReadReply(t, c, fmt.Appendf(nil, "%d\n", i+1))
	}
	_, peak, _ := g.Counts()
	require.EqualValues(t, 1, peak)
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
			c := testkit.Dial(t, s.Addr())
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
	g := testkit.NewGate()
	cfg, _ := testkit.Config(t, protocol.Line)
	withWork(&cfg)
	s, err := newServer(cfg, g.Work)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	c := testkit.Dial(t, s.Addr())
	idle := testkit.Dial(t, s.Addr())
	sendToWorker(t, g, c, []byte("one\ntwo\nthree"))

	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res <- s.Shutdown(ctx)
	}()
	testkit.ExpectClosed(t, idle) // nothing owed: closed at once, while a worker is still blocked
	g.Let(3)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "ONE\nTWO\nTHREE", string(got), "an unterminated line is answered at shutdown")
	require.NoError(t, <-res)
	require.NoError(t, s.Err())
}

// TestShutdownDeadline: at Shutdown's deadline the messages still waiting
// are dropped; Shutdown returns once the running one is done.
func TestShutdownDeadline(t *testing.T) {
	cfg, _ := testkit.Config(t, protocol.Line)
	cfg.Work = protocol.Work{Sleep: 300 * time.Millisecond}
	var entered atomic.Int32
	s, err := newServer(cfg, func() { entered.Add(1); cfg.Work.Do() })
	require.NoError(t, err)
	require.NoError(t, s.Start())
	c := testkit.Dial(t, s.Addr())
	_, err = c.Write(bytes.Repeat([]byte("slow\n"), 10))
	require.NoError(t, err)
	eventually(t, func() bool { return entered.Load() == 1 }, "no message reached a worker")
	testkit.RequireShutdownDeadline(t, s, 100*time.Millisecond)
	got, _ := io.ReadAll(c)
	require.Less(t, len(got), 10*len("SLOW\n"), "every message was answered: the deadline did not cut anything")
}

// TestResetMidJob: a connection reset while its message is in the
// handler is closed at once; its reply is dropped and others are served.
func TestResetMidJob(t *testing.T) {
	g, s, _ := startGated(t, func(c *servers.Config) { c.Workers = 1 })
	c := testkit.Dial(t, s.Addr())
	sendToWorker(t, g, c, []byte("doomed\nmore\n"))
	require.NoError(t, c.(*net.TCPConn).SetLinger(0))
	c.Close()
	eventually(t, func() bool { return s.Stats().Active == 0 }, "the reset connection was not closed")
	g.Let(1)
	other := testkit.Dial(t, s.Addr())
	g.Let(1)
	testkit.Exchange(t, other, protocol.Line, []byte("alive"))
	require.EqualValues(t, 2, entered(g), "the reset connection's waiting message was run")
}

// TestFloodWithWorkClosedAtOutCap: gnet cannot stop reading a connection,
// so one that outruns a pool with handler work is closed when what it is
// owed passes OutCap; others are served.
func TestFloodWithWorkClosedAtOutCap(t *testing.T) {
	s, logs := start(t, func(c *servers.Config) {
		c.OutCap = 64 << 10
		c.Work = protocol.Work{Sleep: time.Millisecond}
	}, nil)
	c := testkit.Dial(t, s.Addr())
	testkit.CheckClosedAtOutCap(t, s, logs, c, bytes.Repeat([]byte("flood\n"), 10<<10), protocol.Line)
}

// TestCallerRuns: with no handler work, a client that streams faster than
// the pool answers is answered on the loop instead, so it is not closed
// even with a small OutCap while it reads.
func TestCallerRuns(t *testing.T) {
	s, logs := start(t, func(c *servers.Config) { c.OutCap = 64 << 10; c.Workers = 1 }, nil)
	c := testkit.Dial(t, s.Addr())
	r := rand.New(rand.NewPCG(5, 6))
	var req, want []byte
	for len(req) < 4<<20 {
		p := randPayload(r, r.IntN(2000))
		req = protocol.AppendRequest(req, protocol.Line, p)
		want = protocol.AppendReply(want, protocol.Line, p)
	}
	got := testkit.StreamAll(t, c, req)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "reply differs")
	require.NotContains(t, logs.String(), "out-cap")
}

// TestProtocolError: the messages before an oversized one are answered,
// then the connection is closed.
func TestProtocolError(t *testing.T) {
	g, s, logs := startGated(t, func(c *servers.Config) { c.MaxMsg = 64 })
	c := testkit.Dial(t, s.Addr())
	sendToWorker(t, g, c, append([]byte("a\nb\nc\n"), bytes.Repeat([]byte("x"), 100)...))
	eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("protocol error")) }, "no protocol error")
	g.Let(3)
	testkit.ReadReply(t, c, []byte("A\nB\nC\n"))
	testkit.ExpectClosed(t, c)
}

// TestIdleSparesOwed: a connection whose reply is still being made is not
// idle; once answered and quiet it is closed.
func TestIdleSparesOwed(t *testing.T) {
	const idle = 100 * time.Millisecond
	g, s, _ := startGated(t, func(c *servers.Config) { c.IdleTimeout = idle })
	c := testkit.Dial(t, s.Addr())
	sendToWorker(t, g, c, []byte("patience\n"))
	time.Sleep(3 * idle) // the idle timeout passes while the reply is owed (not synchronisation)
	g.Let(1)
	testkit.ReadReply(t, c, []byte("PATIENCE\n"))
	begin := time.Now()
	testkit.ExpectClosed(t, c)
	require.GreaterOrEqual(t, time.Since(begin), idle/2)
}

// TestEMFILE pins gnet-pool's declared EMFILE defect, with line framing
// and the pool running (see testkit.CheckLibraryEMFILE).
func TestEMFILE(t *testing.T) {
	testkit.CheckLibraryEMFILE(t, testkit.LibraryEMFILE{Library: "gnet-pool", New: Arch.Build, Framing: protocol.Line})
}
