package epollpool

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// TestRawIsEpoll: raw framing has no messages to hand off, so New gives the
// epoll architecture's server, not this package's.
func TestRawIsEpoll(t *testing.T) {
	srv, err := New(testConfig(t, protocol.Raw))
	require.NoError(t, err)
	_, pooled := srv.(*Server)
	assert.False(t, pooled)
	srv, err = New(testConfig(t, protocol.Line))
	require.NoError(t, err)
	_, pooled = srv.(*Server)
	assert.True(t, pooled)
}

// TestOrderWhenWorkersFinishOutOfOrder: messages take random time, so
// workers finish in any order, and clients write message by message while
// their earlier ones are in the pool; every connection still gets its
// replies in request order, over several loops, with one message per job
// (handler work) and with batches (none).
func TestOrderWhenWorkersFinishOutOfOrder(t *testing.T) {
	for _, work := range []protocol.Work{{}, {Sleep: time.Nanosecond}} {
		for _, f := range []protocol.Framing{protocol.Line, protocol.Length} {
			t.Run(fmt.Sprintf("%s/single=%t", f, !work.IsZero()), func(t *testing.T) {
				srv := newServer(t, f, func(cfg *servers.Config) { cfg.Loops, cfg.Workers, cfg.Work = 2, 4, work })
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(1, 2))
				srv.pool.work = func() {
					mu.Lock()
					d := time.Duration(rng.IntN(300)) * time.Microsecond
					mu.Unlock()
					time.Sleep(d)
				}
				start(t, srv)
				var wg sync.WaitGroup
				for i := range 8 {
					c := dial(t, srv)
					var want []byte
					var reqs [][]byte
					for j := range 100 {
						p := fmt.Appendf(nil, "conn %d message %d ıɐ", i, j)
						reqs = append(reqs, protocol.AppendRequest(nil, f, p))
						want = protocol.AppendReply(want, f, p)
					}
					wg.Go(func() {
						for _, r := range reqs {
							if _, err := c.Write(r); err != nil {
								t.Error(err)
								return
							}
						}
					})
					wg.Go(func() { testkit.ReadReply(t, c, want) })
				}
				wg.Wait()
			})
		}
	}
}

// TestPoolBoundAndBackpressure: with one worker the pool holds two jobs
// (one running, one queued). Further connections' messages wait, and the
// loop keeps accepting and does not spin meanwhile; once the work goes
// through, every reply arrives.
func TestPoolBoundAndBackpressure(t *testing.T) {
	srv := newServer(t, protocol.Line, func(cfg *servers.Config) { cfg.Workers = 1 })
	g := startGated(t, srv)

	const clients = 5
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, srv)
		_, err := fmt.Fprintf(conns[i], "client %d\n", i)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return srv.Waiting() == clients-2 }, testTimeout, time.Millisecond,
		"waiting connections: %d, want %d", srv.Waiting(), clients-2)
	// The worker may not have begun its job yet when the others wait.
	require.Eventually(t, func() bool { r, _ := counts(g); return r == 1 }, testTimeout, time.Millisecond)

	// A waiting connection sends more: it is not read, the loop does not
	// spin on it, and still accepts.
	_, err := fmt.Fprintf(conns[clients-1], "more\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return serverUnread(t, conns[clients-1]) == 5 }, testTimeout, time.Millisecond)
	var ru0, ru1 syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru0))
	t0 := time.Now()
	late := dial(t, srv)
	require.Eventually(t, func() bool { return srv.Stats().Active == clients+1 }, testTimeout, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a window to measure CPU in, not synchronisation
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru1))
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	assert.Less(t, cpu, time.Since(t0)/2, "the process is busy while the pool is full: the loop spins")
	assert.Equal(t, 5, serverUnread(t, conns[clients-1]), "a connection waiting for the pool was read")

	g.Open()
	for i, c := range conns {
		want := fmt.Sprintf("CLIENT %d\n", i)
		if i == clients-1 {
			want += "MORE\n"
		}
		testkit.ReadReply(t, c, []byte(want))
	}
	testkit.Exchange(t, late, protocol.Line, []byte("late"))
	_, peak := counts(g)
	assert.Equal(t, 1, peak, "more messages ran at once than workers")
	assert.Zero(t, srv.Waiting())
}

// TestSeveralLoopsShareThePool: loops that find the pool full are woken
// when another loop's job frees a slot (no lost wakeup), and every
// connection is served.
func TestSeveralLoopsShareThePool(t *testing.T) {
	srv := start(t, newServer(t, protocol.Length, func(cfg *servers.Config) { cfg.Loops, cfg.Workers = 4, 1 }))
	var wg sync.WaitGroup
	for i := range 16 {
		c := dial(t, srv)
		wg.Go(func() {
			for j := range 50 {
				testkit.Exchange(t, c, protocol.Length, fmt.Appendf(nil, "%d/%d", i, j))
			}
		})
	}
	wg.Wait()
}

// TestHalfCloseFlushesPooledReplies: the client sends messages that take a
// while, and an unterminated last line, then half-closes at once; it gets
// every reply, the last line's too, then EOF.
func TestHalfCloseFlushesPooledReplies(t *testing.T) {
	srv := start(t, newServer(t, protocol.Line, func(cfg *servers.Config) { cfg.Work = protocol.Work{Sleep: 2 * time.Millisecond} }))
	c := dial(t, srv)
	var req, want []byte
	for i := range 20 {
		p := fmt.Appendf(nil, "message %d ıⱥɐ", i)
		req = protocol.AppendRequest(req, protocol.Line, p)
		want = protocol.AppendReply(want, protocol.Line, p)
	}
	req = append(req, "last ı"...)
	want = append(want, "LAST I"...)
	_, err := c.Write(req)
	require.NoError(t, err)
	testkit.CloseWrite(t, c)
	testkit.ReadReply(t, c, want)
	testkit.ExpectEOF(t, c)
}

// TestProtocolErrorAfterPooledMessages: the replies to the messages before
// an oversized one are sent, then the connection closes.
func TestProtocolErrorAfterPooledMessages(t *testing.T) {
	srv := newServer(t, protocol.Length, func(cfg *servers.Config) { cfg.MaxMsg = 16 })
	g := startGated(t, srv)
	c := dial(t, srv)
	req := protocol.AppendRequest(nil, protocol.Length, []byte("fine"))
	req = protocol.AppendRequest(req, protocol.Length, make([]byte, 17))
	_, err := c.Write(req)
	require.NoError(t, err)
	require.Eventually(t, func() bool { r, _ := counts(g); return r == 1 }, testTimeout, time.Millisecond)
	g.Open()
	testkit.ReadReply(t, c, protocol.AppendReply(nil, protocol.Length, []byte("fine")))
	testkit.ExpectEOF(t, c)
}

// TestIdleTimeoutSparesOwedConnections: a connection waiting for a reply
// the server owes is not idle, however long the work takes.
func TestIdleTimeoutSparesOwedConnections(t *testing.T) {
	srv := start(t, newServer(t, protocol.Line, func(cfg *servers.Config) {
		cfg.IdleTimeout = 50 * time.Millisecond
		cfg.Work = protocol.Work{Sleep: 250 * time.Millisecond}
	}))
	c := dial(t, srv)
	testkit.Exchange(t, c, protocol.Line, []byte("slow"))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testTimeout)))
	testkit.ExpectEOF(t, c) // and now it is idle
}

// TestGracefulShutdownAnswersPooledMessages: Shutdown while messages are in
// the pool and queued behind it: every reply is written, then EOF.
func TestGracefulShutdownAnswersPooledMessages(t *testing.T) {
	srv := newServer(t, protocol.Line, func(cfg *servers.Config) { cfg.Workers = 1 })
	g := startGated(t, srv)
	var conns []net.Conn
	for i := range 4 {
		c := dial(t, srv)
		_, err := fmt.Fprintf(c, "a%d\nb%d\n", i, i)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return srv.Waiting() == 2 }, testTimeout, time.Millisecond)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	g.Open()
	for i, c := range conns {
		testkit.ReadReply(t, c, fmt.Appendf(nil, "A%d\nB%d\n", i, i))
		testkit.ExpectEOF(t, c)
	}
	require.NoError(t, <-done)
	assert.Zero(t, srv.Stats().Active)
}

// TestShutdownDeadlineAbandonsWork: when Shutdown's context ends, a worker
// skips the messages left in its batch and everything stops at once.
func TestShutdownDeadlineAbandonsWork(t *testing.T) {
	srv := newServer(t, protocol.Line, nil) // no Work: a job is every waiting message
	var started atomic.Int64
	srv.pool.work = func() { started.Add(1); time.Sleep(20 * time.Millisecond) }
	require.NoError(t, srv.Start())
	c := dial(t, srv)
	_, err := c.Write(bytes.Repeat([]byte("x\n"), 1000)) // 20 s of work, one batch
	require.NoError(t, err)
	require.Eventually(t, func() bool { return started.Load() > 0 }, testTimeout, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	require.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.Less(t, started.Load(), int64(500), "the batch was not abandoned")
	require.NoError(t, srv.Err())
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err, "the connection is closed without replies")
}

// TestRepliesLeaveAsWorkFinishes: with handler work a job is one message,
// so a pipelining client gets each reply as soon as its message is done,
// not when the last one is.
func TestRepliesLeaveAsWorkFinishes(t *testing.T) {
	srv := newServer(t, protocol.Length, func(cfg *servers.Config) {
		cfg.Work = protocol.Work{Sleep: time.Nanosecond} // nonzero: one message per job
	})
	g := startGated(t, srv)
	c := dial(t, srv)
	var req []byte
	for _, p := range []string{"one", "two", "three"} {
		req = protocol.AppendRequest(req, protocol.Length, []byte(p))
	}
	_, err := c.Write(req)
	require.NoError(t, err)
	for _, p := range []string{"ONE", "TWO", "THREE"} {
		g.Let(1)
		testkit.ReadReply(t, c, protocol.AppendRequest(nil, protocol.Length, []byte(p)))
	}
	_, peak := counts(g)
	assert.Equal(t, 1, peak, "one connection's messages ran in parallel")
}

// TestClosedWhileInPool: a client that resets while its messages are in
// the pool does not disturb the server, whose worker drops the job.
func TestClosedWhileInPool(t *testing.T) {
	srv := newServer(t, protocol.Line, func(cfg *servers.Config) { cfg.Workers = 1 })
	g := startGated(t, srv)
	a := dial(t, srv)
	_, err := a.Write([]byte("doomed\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { r, _ := counts(g); return r == 1 }, testTimeout, time.Millisecond)
	require.NoError(t, a.(*net.TCPConn).SetLinger(0))
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { return srv.Stats().Active == 0 }, testTimeout, time.Millisecond)
	g.Open()
	b := dial(t, srv)
	testkit.Exchange(t, b, protocol.Line, []byte("next"))
}

// TestNewValidates: a config New cannot serve is refused.
func TestNewValidates(t *testing.T) {
	cfg := testConfig(t, protocol.Line)
	cfg.MaxMsg = -1
	_, err := NewServer(cfg)
	require.Error(t, err)
	srv := newServer(t, protocol.Line, nil)
	require.ErrorIs(t, srv.Shutdown(context.Background()), servers.ErrClosed)
	require.ErrorIs(t, srv.Start(), servers.ErrClosed)
}
