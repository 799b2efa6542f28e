package loadgen

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// Tuning of the event loops.
const (
	tickNs        = int64(5 * time.Millisecond)   // timeout and reconnect checks
	backoffMinNs  = int64(10 * time.Millisecond)  // first reconnect delay
	backoffMaxNs  = int64(500 * time.Millisecond) // reconnect delay cap
	maxConnecting = 256                           // connects in progress per eventLoop
	maxEvents     = 512                           // events per epoll_wait
	readBufSize   = 256 << 10                     // one per eventLoop
	clockEvery    = 4                             // events between clock reads in a batch
	sendBudget    = 4096                          // open loop: sends per iteration at most
)

// Connection states.
const (
	stDown uint8 = iota
	stConnecting
	stUp
)

// conn is one connection's state, owned by one eventLoop.
type conn struct {
	fd     int
	idx    int32  // position in eventLoop.conns, the epoll event's key
	gen    int32  // bumped on every close; stale events carry an old one
	state  uint8  // stDown, stConnecting or stUp
	events uint32 // epoll interest currently registered
	dirty  bool   // open loop: in eventLoop.dirty, to be flushed

	next     int     // index of the next message to queue
	rmsg     int     // index of the oldest message in flight (its reply comes next)
	roff     int     // bytes of rmsg's reply received
	inflight int     // queued or sent, reply not complete
	head     int     // ring slot of rmsg's time stamp
	wpos     int     // unwritten requests: ms.req[wpos:wend], wpos < ms.reqLen
	wend     int     // (the requests are stored twice, so a run never wraps)
	ring     []int64 // per message in flight: send time (closed) or intended time (open), ns

	// since is when the connect started or, while up, when the oldest
	// message in flight last saw its reply progress (or was enqueued onto an
	// idle connection): write progress does not count, so a server that
	// takes requests but never answers times out (ns).
	since   int64
	retryAt int64 // stDown: reconnect at
	backoff int64 // next reconnect delay

	// Dialling: the address being tried (an index into the event loop's
	// endpoints), when the first address was tried, the kind of the first
	// failure (counted if every address fails, as net.Dialer returns its
	// first error) and, until any connection of the run got through, each
	// failure as a line for Result.Target.
	addr      int32
	kind0     int32
	dialStart int64
	failed    []string
}

// eventLoop is one event loop, locked to its OS thread, owning every W-th
// connection.
type eventLoop struct {
	recorder
	id       int
	cfg      Config
	msgs     *messageSet
	target   *targets
	eps      []endpoint // target's addresses in dialling order (each loop its own: unix.Connect writes into them)
	stop     *atomic.Bool
	epfd     int
	conns    []conn
	gidx     []int   // global connection number of conns[i]
	dirty    []int32 // open loop: connections with messages queued by sendDue
	evs      []unix.EpollEvent
	buf      []byte
	waitFor  unix.Timespec // epoll_pwait2's timeout, kept so it does not escape per call
	noPwait2 bool          // epoll_pwait2 unavailable: epoll_wait with ms timeouts
	// rawBlock: block in epoll_pwait2 as a raw system call, keeping this
	// eventLoop's P (see takeRawSlot).
	rawBlock bool

	connecting int
	fresh      int // conns[fresh:] have never been connected
	nextTick   int64
	ringMask   int // each conn.ring holds ringMask+1 time stamps

	// Open loop: the schedule cursor (the period and the slot in it: the
	// next message due is connection gidx[slot]'s period-th) and its time.
	open     bool
	nsPerMsg float64
	period   int64
	slot     int
	nextSend int64
	// unsentAge holds each unsent message (after the warm-up) at its age at
	// the scheduled end of the run, µs: recorded when it becomes unsent, so
	// no time stamp is kept per message; merged into the latency when the
	// loop stops (shifted if it stopped early).
	unsentAge *hdr.Histogram
}

func run(ctx context.Context, cfg Config, target *targets, ms *messageSet) (*Result, error) {
	tm, series := newTiming(cfg), newSeconds(ctx, cfg)
	var stop atomic.Bool
	ringCap := ringCapacity(cfg)

	loops := make([]*eventLoop, cfg.Loops)
	for i := range loops {
		eps := make([]endpoint, len(target.addrs))
		for j, a := range target.addrs {
			ep, err := newEndpoint(a)
			if err != nil {
				return nil, err
			}
			eps[j] = ep
		}
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, lp := range loops[:i] {
				unix.Close(lp.epfd)
			}
			return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
		}
		n := (cfg.Conns - i + cfg.Loops - 1) / cfg.Loops
		lp := &eventLoop{
			recorder: newRecorder(cfg, tm, series, n),
			id:       i, cfg: cfg, msgs: ms, target: target, eps: eps, stop: &stop, epfd: epfd,
			evs: make([]unix.EpollEvent, maxEvents), buf: make([]byte, readBufSize),
			open: cfg.Rate > 0, ringMask: ringCap - 1,
		}
		lp.conns = make([]conn, n)
		lp.gidx = make([]int, n)
		slab := make([]int64, n*ringCap)
		for j := range lp.conns {
			lp.gidx[j] = i + j*cfg.Loops
			lp.conns[j] = conn{fd: -1, idx: int32(j), backoff: backoffMinNs, ring: slab[j*ringCap : (j+1)*ringCap : (j+1)*ringCap]}
		}
		if lp.open {
			lp.dirty = make([]int32, 0, n)
			lp.nsPerMsg = 1e9 / cfg.Rate
			lp.nextSend = lp.intended()
			lp.unsentAge = newHist(cfg, 3)
		}
		loops[i] = lp
	}

	done := make(chan struct{})
	go watchStop(ctx, &stop, done)
	var wg sync.WaitGroup
	tm.base = time.Now()
	for _, lp := range loops {
		wg.Go(lp.loop)
	}
	wg.Wait()
	close(done)

	tallies := make([]*tally, len(loops))
	for i, lp := range loops {
		tallies[i] = lp.tally
	}
	return finish(ctx, cfg, tm, series, tallies)
}

// ringCapacity is how many messages a connection may have in flight (a
// power of two): Depth in the closed loop; in the open loop enough for twice
// the timeout at the connection's share of the rate, at least 16, at most
// 65536 and at most 2^24 over all connections.
func ringCapacity(cfg Config) int {
	want := cfg.Depth
	if cfg.Rate > 0 {
		perConn := cfg.Rate / float64(cfg.Conns)
		limit := max(16, min(65536, (1<<24)/cfg.Conns))
		want = int(math.Min(float64(limit), perConn*cfg.Timeout.Seconds()*2+16))
	}
	c := 1
	for c*2 <= want {
		c <<= 1
	}
	if c < want && cfg.Rate == 0 {
		c <<= 1 // the closed loop needs all of Depth
	}
	return c
}

func (lp *eventLoop) now() int64 { return lp.timing.now() }

// rawSlots counts the event loops of all runs in this process that block as
// raw system calls.
var rawSlots atomic.Int32

// takeRawSlot reports whether the calling eventLoop may block in epoll_wait as
// a raw system call, which keeps its P: the runtime's syscall bookkeeping on
// every wait then costs nothing, which measurably helps against a fast
// server. It is allowed only while a P stays free for every other goroutine
// in the process (an in-process server, other runs); otherwise the eventLoop
// blocks through the scheduler. Even when blocked raw, the eventLoop is
// preempted by a signal (ending the wait with EINTR) when the runtime needs
// to stop the world.
func takeRawSlot() bool {
	for {
		n := rawSlots.Load()
		if int(n)+1 >= runtime.GOMAXPROCS(0) {
			return false
		}
		if rawSlots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (lp *eventLoop) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if lp.rawBlock = takeRawSlot(); lp.rawBlock {
		defer rawSlots.Add(-1)
	}
	defer lp.closeAll()

	now := lp.now()
	lp.tick(now)
	for {
		if now >= lp.timing.end || lp.stop.Load() {
			break
		}
		if now >= lp.nextTick {
			lp.tick(now)
		}
		if lp.open && now >= lp.nextSend {
			lp.sendDue(now)
			now = lp.now()
		}
		wake := min(lp.nextTick, lp.timing.end)
		if lp.open {
			wake = min(wake, lp.nextSend)
		}
		n := lp.wait(wake - now)
		now = lp.now()
		if now >= lp.secEnd {
			lp.roll(now)
		}
		for i := range n {
			if i%clockEvery == clockEvery-1 {
				now = lp.now()
			}
			ev := &lp.evs[i]
			c := &lp.conns[ev.Fd]
			if c.gen != ev.Pad || c.state == stDown {
				continue
			}
			if c.state == stConnecting {
				lp.finishConnect(c, now)
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				lp.onReadable(c, now)
				if c.gen != ev.Pad {
					continue
				}
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				lp.flush(c, now)
			}
		}
	}
	lp.tally.stopped = min(now, lp.timing.end)
	lp.unanswered(lp.tally.stopped)
	lp.unsentLatency(lp.tally.stopped)
	lp.endSecond()
}

// unsentLatency records the open loop's unsent messages in the latency at
// their age when the run ended, a lower bound like the unanswered ones: a
// server that closes connections must not look fast because the messages
// due while they were down were never sent. Their ages were kept relative to
// the scheduled end; a run stopped early shifts them back by the difference.
// They count in the last second of the series.
func (lp *eventLoop) unsentLatency(end int64) {
	if lp.unsentAge == nil || lp.unsentAge.TotalCount() == 0 {
		return
	}
	early := (lp.timing.end - end + 500) / 1000
	if early <= 0 {
		lp.secHist.Merge(lp.unsentAge)
		return
	}
	for _, b := range lp.unsentAge.Distribution() {
		if b.Count > 0 {
			_ = lp.secHist.RecordValues(max(0, b.From-early), b.Count)
		}
	}
}

// unanswered counts the messages still in flight when the run ends (in the
// open loop, those queued on a connection still connecting too) and
// records each at its age then, a lower bound of its latency: a server that
// stops answering, or never answers some connections, must not look fast
// because their messages were never waited for. Messages sent at or after
// the end (by the last batch of replies) are not measured; a run cut short
// inside the warm-up measures nothing.
func (lp *eventLoop) unanswered(end int64) {
	if end < lp.timing.measureStart {
		return
	}
	for i := range lp.conns {
		c := &lp.conns[i] // a connection that is down has nothing in flight
		for j := range c.inflight {
			if t0 := c.ring[(c.head+j)&lp.ringMask]; t0 < end {
				lp.tally.unanswered++
				lp.latency(t0, end)
			}
		}
	}
}

// abandon counts the messages in flight on c, which is failing, and records
// each at its age at now, a lower bound of a latency that never ended. The
// age runs from the time stamp a reply would have been measured from: the
// send in the closed loop, the intended send in the open loop.
func (lp *eventLoop) abandon(c *conn, now int64) {
	lp.tally.abandoned += int64(c.inflight)
	for j := range c.inflight {
		lp.latency(c.ring[(c.head+j)&lp.ringMask], now)
	}
}

// wait returns the number of ready events, waiting at most ns nanoseconds.
func (lp *eventLoop) wait(ns int64) int {
	var n int
	var e unix.Errno
	switch {
	case ns <= 0:
		n, e = pollNow(lp.epfd, lp.evs)
	case !lp.noPwait2:
		lp.waitFor = unix.NsecToTimespec(ns)
		if lp.rawBlock {
			n, e = pollWaitRaw(lp.epfd, lp.evs, &lp.waitFor)
		} else {
			n, e = pollWait(lp.epfd, lp.evs, &lp.waitFor)
		}
		if e == unix.ENOSYS {
			lp.noPwait2 = true
			return 0
		}
	default:
		ms := int((ns + 999_999) / 1_000_000)
		var err error
		n, err = unix.EpollWait(lp.epfd, lp.evs, ms)
		if err != nil {
			return 0
		}
	}
	if e != 0 || n < 0 {
		return 0 // EINTR (the runtime's preemption signal) and the like
	}
	return n
}

// tick reconnects connections whose back-off has passed and drops those
// whose connect, read or write has waited longer than the timeout.
func (lp *eventLoop) tick(now int64) {
	lp.nextTick = now + tickNs
	to := lp.timing.timeout
	for i := range lp.conns[:lp.fresh] {
		c := &lp.conns[i]
		switch c.state {
		case stDown:
			if now >= c.retryAt && lp.connecting < maxConnecting {
				lp.connect(i, now)
			}
		case stConnecting:
			if now-c.since > to {
				lp.connecting--
				lp.retry(c, kConnectTimeout, fmt.Errorf("no answer within %v", time.Duration(to)), now)
			}
		case stUp:
			if c.inflight > 0 && now-c.since > to {
				lp.fail(c, kTimeout, now)
			}
		}
	}
	lp.connectFresh(now)
}

// connectFresh opens connections never tried yet, keeping maxConnecting
// connects in progress, so the initial ramp runs as fast as the server
// accepts.
func (lp *eventLoop) connectFresh(now int64) {
	for lp.fresh < len(lp.conns) && lp.connecting < maxConnecting {
		lp.fresh++
		lp.connect(lp.fresh-1, now)
	}
}

// connect opens conns[i] towards the server, trying the target's
// addresses in order from the first that worked for any connection.
func (lp *eventLoop) connect(i int, now int64) {
	c := &lp.conns[i]
	c.addr, c.kind0, c.dialStart = int32(lp.target.first()), -1, now
	lp.dial(c, now)
}

// dial starts a connect of c (which has no socket) to its address, moving
// on to the next address at once while a connect fails immediately.
func (lp *eventLoop) dial(c *conn, now int64) {
	for {
		ep := &lp.eps[c.addr]
		fd, err := unix.Socket(ep.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			if lp.nextAddr(c, kConnect, err, now) {
				continue
			}
			return
		}
		if ep.tcp {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		err = unix.Connect(fd, ep.sa)
		state, events := stUp, uint32(unix.EPOLLIN)
		switch err {
		case nil:
		case unix.EINPROGRESS:
			state, events = stConnecting, unix.EPOLLOUT
		default: // refused, unreachable, or a unix socket's backlog is full (EAGAIN)
			unix.Close(fd)
			if lp.nextAddr(c, connectKind(err), err, now) {
				continue
			}
			return
		}
		c.fd, c.state, c.events, c.since = fd, state, events, now
		ev := unix.EpollEvent{Events: events, Fd: c.idx, Pad: c.gen}
		if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(fd)
			c.fd, c.state = -1, stDown
			if lp.nextAddr(c, kConnect, err, now) {
				continue
			}
			return
		}
		if state == stConnecting {
			lp.connecting++
			return
		}
		lp.established(c, now)
		return
	}
}

// nextAddr takes note of c's failed connect (of kind, for err) and reports
// whether another address is left to try. If none is, it counts the first
// failure's kind, gives up what was queued on c, and marks c down.
func (lp *eventLoop) nextAddr(c *conn, kind int, err error, now int64) bool {
	if c.kind0 < 0 {
		c.kind0 = int32(kind)
	}
	if !lp.target.worked.Load() {
		c.failed = append(c.failed, lp.target.failure(int(c.addr), kind, err))
	}
	if int(c.addr)+1 < len(lp.eps) {
		c.addr++
		return true
	}
	lp.target.gaveUp(c.failed)
	c.failed = nil
	lp.count(int(c.kind0), now)
	if now >= lp.timing.measureStart {
		lp.abandon(c, now) // open loop: messages queued while connecting
	}
	lp.down(c, now)
	return false
}

// retry closes c's connecting socket, whose connect failed (kind, err),
// and dials the next address if there is one. Nothing was written yet, so
// messages queued while connecting stay queued.
func (lp *eventLoop) retry(c *conn, kind int, err error, now int64) {
	unix.Close(c.fd)
	c.fd, c.state, c.events = -1, stDown, 0
	c.gen++ // events of the closed socket are stale
	if lp.nextAddr(c, kind, err, now) {
		lp.dial(c, now)
	}
}

// finishConnect completes a non-blocking connect.
func (lp *eventLoop) finishConnect(c *conn, now int64) {
	lp.connecting--
	c.state = stUp
	if lp.fresh < len(lp.conns) {
		lp.connectFresh(now)
	}
	if soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		if err == nil {
			err = unix.Errno(soerr)
		}
		lp.retry(c, connectKind(err), err, now)
		return
	}
	lp.established(c, now)
}

// established starts traffic on a fresh connection: Depth messages in the
// closed loop; in the open loop, whatever was queued while connecting.
func (lp *eventLoop) established(c *conn, now int64) {
	lp.tally.connects++
	if !lp.target.worked.Load() {
		lp.target.established(int(c.addr), now-c.dialStart, c.failed)
		c.failed = nil
	}
	c.since = now
	if lp.open {
		for j := range c.inflight {
			lp.recordLag(now, c.ring[(c.head+j)&lp.ringMask])
		}
	} else {
		for range lp.cfg.Depth {
			lp.enqueue(c, now, now)
		}
	}
	lp.flush(c, now)
}

// down marks c closed and schedules its reconnect.
func (lp *eventLoop) down(c *conn, now int64) {
	c.fd, c.state, c.events = -1, stDown, 0
	c.gen++
	c.inflight, c.head, c.roff, c.rmsg = 0, 0, 0, c.next
	c.wpos, c.wend = 0, 0
	c.retryAt = now + c.backoff
	c.backoff = min(2*c.backoff, backoffMaxNs)
}

// fail counts an error of kind, closes c and schedules its replacement; the
// messages in flight on it are abandoned.
func (lp *eventLoop) fail(c *conn, kind int, now int64) {
	lp.count(kind, now)
	if now >= lp.timing.measureStart {
		lp.abandon(c, now)
	}
	if c.state == stConnecting {
		lp.connecting--
	}
	unix.Close(c.fd)
	lp.down(c, now)
}

// enqueue appends the next message to c's unwritten requests, stamped t. It
// reports false when c has no room (ring full, or a whole message set
// unwritten).
func (lp *eventLoop) enqueue(c *conn, t, now int64) bool {
	if c.inflight > lp.ringMask {
		return false
	}
	ms := lp.msgs
	i := c.next
	l := ms.reqOff[i+1] - ms.reqOff[i]
	if c.wpos == c.wend {
		c.wpos, c.wend = ms.reqOff[i], ms.reqOff[i]
	} else if c.wend+l-c.wpos > ms.reqLen {
		return false
	}
	c.wend += l
	if c.inflight == 0 {
		c.since = now
	}
	c.ring[(c.head+c.inflight)&lp.ringMask] = t
	c.inflight++
	if c.next++; c.next == ms.n {
		c.next = 0
	}
	return true
}

// flush writes c's unwritten requests until done or the socket is full, and
// asks for EPOLLOUT only while something is left.
func (lp *eventLoop) flush(c *conn, now int64) {
	for c.wpos < c.wend {
		n, e := rawWrite(c.fd, lp.msgs.req[c.wpos:c.wend])
		if e == unix.EAGAIN {
			break
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			lp.fail(c, errnoKind(e, kWrite), now)
			return
		}
		c.wpos += n
	}
	if c.wpos >= lp.msgs.reqLen {
		c.wpos -= lp.msgs.reqLen
		c.wend -= lp.msgs.reqLen
	}
	want := uint32(unix.EPOLLIN)
	if c.wpos < c.wend {
		want |= unix.EPOLLOUT
	}
	if want != c.events {
		c.events = want
		ev := unix.EpollEvent{Events: want, Fd: c.idx, Pad: c.gen}
		if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
			lp.fail(c, kWrite, now)
		}
	}
}

// onReadable reads what the server sent and verifies it byte for byte
// against the replies owed, oldest first.
func (lp *eventLoop) onReadable(c *conn, now int64) {
	ms := lp.msgs
	done := 0
	for {
		n, e := rawRead(c.fd, lp.buf)
		if e == unix.EAGAIN {
			break
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			lp.fail(c, errnoKind(e, kRead), now)
			return
		}
		if n == 0 {
			if c.inflight > 0 {
				lp.fail(c, kShortRead, now)
			} else {
				lp.fail(c, kRead, now) // closed while idle
			}
			return
		}
		c.since = now
		data := lp.buf[:n]
		for len(data) > 0 {
			if c.inflight == 0 {
				lp.fail(c, kMismatch, now) // bytes nobody asked for
				return
			}
			exp := ms.rep[ms.repOff[c.rmsg]+c.roff : ms.repOff[c.rmsg+1]]
			k := min(len(exp), len(data))
			if string(exp[:k]) != string(data[:k]) {
				lp.fail(c, kMismatch, now)
				return
			}
			data = data[k:]
			if k < len(exp) {
				c.roff += k
				break
			}
			lp.complete(c, now)
			done++
		}
		if n < len(lp.buf) {
			break
		}
	}
	if done > 0 && !lp.open {
		c.backoff = backoffMinNs
		for range done {
			lp.enqueue(c, now, now)
		}
		lp.flush(c, now)
	} else if done > 0 {
		c.backoff = backoffMinNs
	}
}

// complete records the reply to c's oldest message.
func (lp *eventLoop) complete(c *conn, now int64) {
	t0 := c.ring[c.head&lp.ringMask]
	c.head = (c.head + 1) & lp.ringMask
	c.inflight--
	c.roff = 0
	if c.rmsg++; c.rmsg == lp.msgs.n {
		c.rmsg = 0
	}
	lp.reply(int(c.idx), t0, now)
}

func (lp *eventLoop) recordLag(now, intended int64) {
	if now < lp.timing.measureStart {
		return
	}
	_ = lp.tally.lag.RecordValue(min(max(0, now-intended+500)/1000, lp.highestUS))
}

// intended is the scheduled time of the cursor's message: connection g's
// k-th message is due at (g + k*Conns) / Rate.
func (lp *eventLoop) intended() int64 {
	return int64(float64(int64(lp.gidx[lp.slot])+lp.period*int64(lp.cfg.Conns)) * lp.nsPerMsg)
}

// sendDue sends every open-loop message whose time has come.
func (lp *eventLoop) sendDue(now int64) {
	for budget := sendBudget; budget > 0 && lp.nextSend <= now; budget-- {
		c := &lp.conns[lp.slot]
		switch {
		case c.state == stDown || !lp.enqueue(c, lp.nextSend, now):
			if now >= lp.timing.measureStart {
				lp.tally.unsent++
				_ = lp.unsentAge.RecordValue(min((lp.timing.end-lp.nextSend+500)/1000, lp.highestUS))
			}
		case c.state == stUp:
			lp.recordLag(now, lp.nextSend)
			if !c.dirty {
				c.dirty = true
				lp.dirty = append(lp.dirty, c.idx)
			}
		}
		if lp.slot++; lp.slot == len(lp.conns) {
			lp.slot = 0
			lp.period++
		}
		lp.nextSend = lp.intended()
	}
	// One write per connection, however many of its messages were due.
	for _, i := range lp.dirty {
		c := &lp.conns[i]
		c.dirty = false
		lp.flush(c, now)
	}
	lp.dirty = lp.dirty[:0]
}

// closeAll closes every connection and the epoll instance.
func (lp *eventLoop) closeAll() {
	for i := range lp.conns {
		if c := &lp.conns[i]; c.fd >= 0 {
			unix.Close(c.fd)
			c.fd = -1
		}
	}
	unix.Close(lp.epfd)
}

// errnoKind classifies a failed read or write: a reset (or a write to a
// connection the server closed) is a reset, anything else def.
func errnoKind(e unix.Errno, def int) int {
	if e == unix.ECONNRESET || e == unix.EPIPE {
		return kReset
	}
	return def
}
