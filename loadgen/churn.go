package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// runChurn is the connection-churn load (Config.Churn): Conns goroutines,
// each in a blocking loop of connect, send one message, read and verify its
// reply, close. Connect and close dominate the cost here, so a goroutine
// per client is accurate enough and the event loops are not needed. Latency
// runs from the start of the connect to the last byte of the reply; rps is
// connections (= messages) per second.
//
// The client closes first, normally (FIN, no SO_LINGER 0 and no RST), so
// its side of each connection sits in TIME_WAIT for 60 s. On loopback Linux
// lets connect reuse such a port (net.ipv4.tcp_tw_reuse = 2, the default,
// means loopback only), so the 28,000 ports of the default ephemeral range
// do not run out: measured here, 8 clients against the goroutine server
// made 40,000 connections in 4.2 s (~9,500/s) without one connect error,
// leaving 32,600 sockets in TIME_WAIT, more than the range's 28,232 ports. Elsewhere a high rate would run
// out of ports, which shows as connect errors (EADDRNOTAVAIL).
func runChurn(ctx context.Context, cfg Config, target *targets, ms *messageSet) (*Result, error) {
	cfg.Loops = cfg.Conns // recorded in the result: one client goroutine per connection, no event loops
	tm, series := newTiming(cfg), newSeconds(ctx, cfg)
	cs := make([]*churner, cfg.Conns)
	for i := range cs {
		cs[i] = &churner{recorder: newRecorder(cfg, tm, series, 1), id: i, cfg: cfg, msgs: ms, target: target,
			buf: make([]byte, 0, ms.repOff[ms.n])}
	}
	return runClients(ctx, cfg, tm, series, cs)
}

// client is a load generator goroutine with a connection of its own at a
// time: a churn client or an XML-RPC connection. Its recorder holds what
// it measured.
type client interface {
	loop(ctx context.Context)
	recorded() *tally
}

func (r *recorder) recorded() *tally { return r.tally }

// runClients runs each client's loop on a goroutine of its own until the
// run's end (warm-up plus duration from now) and merges what they measured.
func runClients[C client](ctx context.Context, cfg Config, tm *timing, series *seconds, cs []C) (*Result, error) {
	tm.base = time.Now()
	rctx, cancel := context.WithDeadline(ctx, tm.base.Add(cfg.Warmup+cfg.Duration))
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.loop(rctx) })
	}
	wg.Wait()
	tallies := make([]*tally, len(cs))
	for i, c := range cs {
		tallies[i] = c.recorded()
	}
	return finish(ctx, cfg, tm, series, tallies)
}

// A client whose exchange failed waits 10 ms doubling to 500 ms before
// the next (reset by a verified reply), as the event loops' replacements do.
const (
	churnBackoffMin = 10 * time.Millisecond
	churnBackoffMax = 500 * time.Millisecond
)

// churner is one client of the churn load.
type churner struct {
	recorder
	id     int
	cfg    Config
	msgs   *messageSet
	target *targets
	buf    []byte
}

func (c *churner) loop(ctx context.Context) {
	d := net.Dialer{Timeout: c.cfg.Timeout} // per address tried
	backoff := churnBackoffMin
	msg := c.id % c.msgs.n
	cut := int64(-1) // start of an exchange cut by the end of the run
	for ctx.Err() == nil {
		t0 := c.timing.now()
		kind := c.exchange(ctx, &d, msg)
		now := c.timing.now()
		c.roll(now)
		if kind >= 0 {
			if ctx.Err() != nil {
				cut = t0 // by the end of the run, not the server's fault
				break
			}
			c.failed(kind, t0, now)
			// Back off as the event loops do, so that a dead server is
			// not hammered.
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, churnBackoffMax)
			continue
		}
		backoff = churnBackoffMin
		if msg++; msg == c.msgs.n {
			msg = 0
		}
		c.reply(0, t0, now)
	}
	now := c.timing.now()
	c.tally.stopped = min(now, c.timing.end)
	if end := c.tally.stopped; cut >= 0 && cut < end && end >= c.timing.measureStart {
		// Unanswered at the end: recorded at its age then, as the event
		// loops do, so that a server that never answers cannot look fast.
		c.tally.unanswered++
		c.latency(cut, end)
	}
	c.endSecond()
}

// exchange is one connection: connect, send message i, read and verify its
// reply, close. It returns the error kind, or -1 for a verified reply.
func (c *churner) exchange(ctx context.Context, d *net.Dialer, i int) int {
	conn, kind := c.target.dial(ctx, d)
	if conn == nil {
		return kind
	}
	defer conn.Close()
	c.tally.connects++
	// One deadline for the exchange; the run's end cuts it short too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	req := c.msgs.req[c.msgs.reqOff[i]:c.msgs.reqOff[i+1]]
	if _, err := conn.Write(req); err != nil {
		return ioKind(err, kWrite)
	}
	rep := c.msgs.rep[c.msgs.repOff[i]:c.msgs.repOff[i+1]]
	got := c.buf[:len(rep)]
	if _, err := io.ReadFull(conn, got); err != nil {
		return ioKind(err, kRead)
	}
	if !bytes.Equal(got, rep) {
		return kMismatch
	}
	return -1
}

// failed counts a failed exchange, started at t0, inside the measured window
// (an exchange cut by the end of the run is not the server's fault) and
// records it at its age, a lower bound of its latency, as the event loops
// record the messages they abandon: a server that fails or starves some
// clients must not look fast because their exchanges never completed.
func (c *churner) failed(kind int, t0, now int64) {
	if now < c.timing.measureStart || now >= c.timing.end {
		return
	}
	c.count(kind, now)
	c.latency(t0, now)
}
