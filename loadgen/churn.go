package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
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
func runChurn(ctx context.Context, cfg Config, target net.Addr, ms *messageSet) (*Result, error) {
	cfg.Loops = cfg.Conns
	tm := &timing{
		measureStart: int64(cfg.Warmup),
		end:          int64(cfg.Warmup + cfg.Duration),
		timeout:      int64(cfg.Timeout),
	}
	nsec := int((cfg.Duration + time.Second - 1) / time.Second)
	secs := &seconds{cfg: cfg}
	cs := make([]*churner, cfg.Conns)
	for i := range cs {
		cs[i] = &churner{id: i, cfg: cfg, tm: tm, ms: ms, secs: secs, target: target,
			t: newTally(cfg, nsec), secHist: newHist(cfg, 3), highestUS: highestUS(cfg),
			buf: make([]byte, 0, ms.repOff[ms.n])}
	}
	tm.base = time.Now()
	rctx, cancel := context.WithDeadline(ctx, tm.base.Add(cfg.Warmup+cfg.Duration))
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cs {
		c.secEnd = tm.measureStart + int64(time.Second)
		wg.Go(func() { c.loop(rctx) })
	}
	wg.Wait()
	ts := make([]*tally, len(cs))
	for i, c := range cs {
		ts[i] = c.t
	}
	return finish(ctx, cfg, tm, secs, ts)
}

// A client whose exchange failed waits 10 ms doubling to 500 ms before
// the next (reset by a verified reply), as the event loops' replacements do.
const (
	churnBackoffMin = 10 * time.Millisecond
	churnBackoffMax = 500 * time.Millisecond
)

// churner is one client of the churn load.
type churner struct {
	id        int
	cfg       Config
	tm        *timing
	ms        *messageSet
	secs      *seconds
	target    net.Addr
	t         *tally
	secIdx    int
	secEnd    int64
	secHist   *hdr.Histogram
	highestUS int64
	buf       []byte
}

func (c *churner) loop(ctx context.Context) {
	d := net.Dialer{}
	backoff := churnBackoffMin
	msg := c.id % c.ms.n
	for ctx.Err() == nil {
		t0 := c.tm.now()
		kind := c.exchange(ctx, &d, msg)
		now := c.tm.now()
		c.roll(now)
		if kind >= 0 {
			if ctx.Err() != nil {
				break // cut by the end of the run, not the server's fault
			}
			c.count(kind, now)
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
		if msg++; msg == c.ms.n {
			msg = 0
		}
		if now < c.tm.measureStart {
			continue
		}
		_ = c.secHist.RecordValue(min((now-t0+500)/1000, c.highestUS))
		c.t.requests++
		if c.secIdx < len(c.t.secReqs) {
			c.t.secReqs[c.secIdx]++
		}
	}
	now := c.tm.now()
	c.t.stopped = min(now, c.tm.end)
	c.t.hist.Merge(c.secHist)
	c.secs.merge(c.secIdx, c.secHist)
}

// exchange is one connection: connect, send message i, read and verify its
// reply, close. It returns the error kind, or -1 for a verified reply.
func (c *churner) exchange(ctx context.Context, d *net.Dialer, i int) int {
	d.Deadline = time.Now().Add(c.cfg.Timeout)
	conn, err := d.DialContext(ctx, c.target.Network(), c.target.String())
	if err != nil {
		return kConnect
	}
	defer conn.Close()
	c.t.connects++
	// One deadline for the exchange; the run's end cuts it short too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	req := c.ms.req[c.ms.reqOff[i]:c.ms.reqOff[i+1]]
	if _, err := conn.Write(req); err != nil {
		return ioKind(err, kWrite)
	}
	rep := c.ms.rep[c.ms.repOff[i]:c.ms.repOff[i+1]]
	got := c.buf[:len(rep)]
	if _, err := io.ReadFull(conn, got); err != nil {
		return ioKind(err, kRead)
	}
	if !bytes.Equal(got, rep) {
		return kMismatch
	}
	return -1
}

// roll hands the current second's latencies over once now has passed it.
func (c *churner) roll(now int64) {
	for now >= c.secEnd {
		c.t.hist.Merge(c.secHist)
		c.secs.merge(c.secIdx, c.secHist)
		c.secHist.Reset()
		c.secIdx++
		c.secEnd += int64(time.Second)
	}
}

func (c *churner) count(kind int, now int64) {
	if now < c.tm.measureStart || now >= c.tm.end {
		return
	}
	c.t.errors[kind]++
	if s := int((now - c.tm.measureStart) / int64(time.Second)); s >= 0 && s < len(c.t.secErrs) {
		c.t.secErrs[s]++
	}
}
