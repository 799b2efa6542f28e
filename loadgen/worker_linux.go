package loadgen

import (
	"context"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Tuning of the event loops.
const (
	tickNs        = int64(5 * time.Millisecond)   // timeout and reconnect checks
	backoffMinNs  = int64(10 * time.Millisecond)  // first reconnect delay
	backoffMaxNs  = int64(500 * time.Millisecond) // reconnect delay cap
	maxConnecting = 256                           // connects in progress per worker
	maxEvents     = 512                           // events per epoll_wait
	readBufSize   = 256 << 10                     // one per worker
	clockEvery    = 4                             // events between clock reads in a batch
	sendBudget    = 4096                          // open loop: sends per iteration at most
)

// Connection states.
const (
	stDown uint8 = iota
	stConnecting
	stUp
)

// conn is one connection's state, owned by one worker.
type conn struct {
	fd     int
	idx    int32  // position in worker.conns, the epoll event's key
	gen    int32  // bumped on every close; stale events carry an old one
	state  uint8  // stDown, stConnecting or stUp
	events uint32 // epoll interest currently registered
	dirty  bool   // open loop: in worker.dirty, to be flushed

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
}

// worker is one event loop, locked to its OS thread, owning every W-th
// connection.
type worker struct {
	recorder
	id       int
	cfg      Config
	msgs     *messageSet
	endpoint endpoint
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
	// worker's P (see takeRawSlot).
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
}

func run(ctx context.Context, cfg Config, target net.Addr, ms *messageSet) (*Result, error) {
	tm, series := newTiming(cfg), &seconds{cfg: cfg}
	var stop atomic.Bool
	ringCap := ringCapacity(cfg)

	ws := make([]*worker, cfg.Loops)
	for i := range ws {
		ep, err := newEndpoint(target)
		if err != nil {
			return nil, err
		}
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, w := range ws[:i] {
				unix.Close(w.epfd)
			}
			return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
		}
		w := &worker{
			recorder: newRecorder(cfg, tm, series),
			id:       i, cfg: cfg, msgs: ms, endpoint: ep, stop: &stop, epfd: epfd,
			evs: make([]unix.EpollEvent, maxEvents), buf: make([]byte, readBufSize),
			open: cfg.Rate > 0, ringMask: ringCap - 1,
		}
		n := (cfg.Conns - i + cfg.Loops - 1) / cfg.Loops
		w.conns = make([]conn, n)
		w.gidx = make([]int, n)
		slab := make([]int64, n*ringCap)
		for j := range w.conns {
			w.gidx[j] = i + j*cfg.Loops
			w.conns[j] = conn{fd: -1, idx: int32(j), backoff: backoffMinNs, ring: slab[j*ringCap : (j+1)*ringCap : (j+1)*ringCap]}
		}
		if w.open {
			w.dirty = make([]int32, 0, n)
			w.nsPerMsg = 1e9 / cfg.Rate
			w.nextSend = w.intended()
		}
		ws[i] = w
	}

	done := make(chan struct{})
	go watchStop(ctx, &stop, done)
	var wg sync.WaitGroup
	tm.base = time.Now()
	for _, w := range ws {
		wg.Go(w.loop)
	}
	wg.Wait()
	close(done)

	tallies := make([]*tally, len(ws))
	for i, w := range ws {
		tallies[i] = w.tally
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

func (w *worker) now() int64 { return w.timing.now() }

// rawSlots counts the workers of all runs in this process that block as
// raw system calls.
var rawSlots atomic.Int32

// takeRawSlot reports whether the calling worker may block in epoll_wait as
// a raw system call, which keeps its P: the runtime's syscall bookkeeping on
// every wait then costs nothing, which measurably helps against a fast
// server. It is allowed only while a P stays free for every other goroutine
// in the process (an in-process server, other runs); otherwise the worker
// blocks through the scheduler. Even when blocked raw, the worker is
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

func (w *worker) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if w.rawBlock = takeRawSlot(); w.rawBlock {
		defer rawSlots.Add(-1)
	}
	defer w.closeAll()

	now := w.now()
	w.tick(now)
	for {
		if now >= w.timing.end || w.stop.Load() {
			break
		}
		if now >= w.nextTick {
			w.tick(now)
		}
		if w.open && now >= w.nextSend {
			w.sendDue(now)
			now = w.now()
		}
		wake := min(w.nextTick, w.timing.end)
		if w.open {
			wake = min(wake, w.nextSend)
		}
		n := w.wait(wake - now)
		now = w.now()
		if now >= w.secEnd {
			w.roll(now)
		}
		for i := range n {
			if i%clockEvery == clockEvery-1 {
				now = w.now()
			}
			ev := &w.evs[i]
			c := &w.conns[ev.Fd]
			if c.gen != ev.Pad || c.state == stDown {
				continue
			}
			if c.state == stConnecting {
				w.finishConnect(c, now)
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				w.onReadable(c, now)
				if c.gen != ev.Pad {
					continue
				}
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				w.flush(c, now)
			}
		}
	}
	w.tally.stopped = min(now, w.timing.end)
	w.unanswered(w.tally.stopped)
	w.endSecond()
}

// unanswered counts the messages still in flight when the run ends. In the
// open loop each is also recorded at its age then, a lower bound of its
// latency: a server that stops answering must not look fast because its
// messages were never waited for (the closed loop always has Conns×Depth
// messages briefly in flight, so it only counts them).
func (w *worker) unanswered(end int64) {
	for i := range w.conns {
		c := &w.conns[i]
		if c.state != stUp {
			continue
		}
		w.tally.unanswered += int64(c.inflight)
		w.recordUnanswered(c, end)
	}
}

// recordUnanswered records, in the open loop, each message in flight on c
// at its age at now: a lower bound of a latency that never ended (messages
// abandoned with a failed connection, or unanswered at the end of the run).
func (w *worker) recordUnanswered(c *conn, now int64) {
	if !w.open {
		return
	}
	for j := range c.inflight {
		if t0 := c.ring[(c.head+j)&w.ringMask]; t0 < now {
			w.latency(t0, now)
		}
	}
}

// wait returns the number of ready events, waiting at most ns nanoseconds.
func (w *worker) wait(ns int64) int {
	var n int
	var e unix.Errno
	switch {
	case ns <= 0:
		n, e = pollNow(w.epfd, w.evs)
	case !w.noPwait2:
		w.waitFor = unix.NsecToTimespec(ns)
		if w.rawBlock {
			n, e = pollWaitRaw(w.epfd, w.evs, &w.waitFor)
		} else {
			n, e = pollWait(w.epfd, w.evs, &w.waitFor)
		}
		if e == unix.ENOSYS {
			w.noPwait2 = true
			return 0
		}
	default:
		ms := int((ns + 999_999) / 1_000_000)
		var err error
		n, err = unix.EpollWait(w.epfd, w.evs, ms)
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
func (w *worker) tick(now int64) {
	w.nextTick = now + tickNs
	to := w.timing.timeout
	for i := range w.conns[:w.fresh] {
		c := &w.conns[i]
		switch c.state {
		case stDown:
			if now >= c.retryAt && w.connecting < maxConnecting {
				w.connect(i, now)
			}
		case stConnecting:
			if now-c.since > to {
				w.fail(c, kConnect, now)
			}
		case stUp:
			if c.inflight > 0 && now-c.since > to {
				w.fail(c, kTimeout, now)
			}
		}
	}
	w.connectFresh(now)
}

// connectFresh opens connections never tried yet, keeping maxConnecting
// connects in progress, so the initial ramp runs as fast as the server
// accepts.
func (w *worker) connectFresh(now int64) {
	for w.fresh < len(w.conns) && w.connecting < maxConnecting {
		w.fresh++
		w.connect(w.fresh-1, now)
	}
}

// connect opens conns[i] towards the server.
func (w *worker) connect(i int, now int64) {
	c := &w.conns[i]
	fd, err := unix.Socket(w.endpoint.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		w.count(kConnect, now)
		w.down(c, now)
		return
	}
	if w.endpoint.tcp {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	err = unix.Connect(fd, w.endpoint.sa)
	state, events := stUp, uint32(unix.EPOLLIN)
	switch err {
	case nil:
	case unix.EINPROGRESS:
		state, events = stConnecting, unix.EPOLLOUT
	default: // refused, or a unix socket's backlog is full (EAGAIN)
		unix.Close(fd)
		w.count(kConnect, now)
		w.down(c, now)
		return
	}
	c.fd, c.state, c.events, c.since = fd, state, events, now
	ev := unix.EpollEvent{Events: events, Fd: c.idx, Pad: c.gen}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		w.count(kConnect, now)
		w.down(c, now)
		return
	}
	if state == stConnecting {
		w.connecting++
		return
	}
	w.established(c, now)
}

// finishConnect completes a non-blocking connect.
func (w *worker) finishConnect(c *conn, now int64) {
	w.connecting--
	c.state = stUp
	if w.fresh < len(w.conns) {
		w.connectFresh(now)
	}
	if soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		w.fail(c, kConnect, now)
		return
	}
	w.established(c, now)
}

// established starts traffic on a fresh connection: Depth messages in the
// closed loop; in the open loop, whatever was queued while connecting.
func (w *worker) established(c *conn, now int64) {
	w.tally.connects++
	c.since = now
	if w.open {
		for j := range c.inflight {
			w.recordLag(now, c.ring[(c.head+j)&w.ringMask])
		}
	} else {
		for range w.cfg.Depth {
			w.enqueue(c, now, now)
		}
	}
	w.flush(c, now)
}

// down marks c closed and schedules its reconnect.
func (w *worker) down(c *conn, now int64) {
	c.fd, c.state, c.events = -1, stDown, 0
	c.gen++
	c.inflight, c.head, c.roff, c.rmsg = 0, 0, 0, c.next
	c.wpos, c.wend = 0, 0
	c.retryAt = now + c.backoff
	c.backoff = min(2*c.backoff, backoffMaxNs)
}

// fail counts an error of kind, closes c and schedules its replacement; the
// messages in flight on it are abandoned.
func (w *worker) fail(c *conn, kind int, now int64) {
	w.count(kind, now)
	if now >= w.timing.measureStart {
		w.tally.abandoned += int64(c.inflight)
		w.recordUnanswered(c, now)
	}
	if c.state == stConnecting {
		w.connecting--
	}
	unix.Close(c.fd)
	w.down(c, now)
}

// enqueue appends the next message to c's unwritten requests, stamped t. It
// reports false when c has no room (ring full, or a whole message set
// unwritten).
func (w *worker) enqueue(c *conn, t, now int64) bool {
	if c.inflight > w.ringMask {
		return false
	}
	ms := w.msgs
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
	c.ring[(c.head+c.inflight)&w.ringMask] = t
	c.inflight++
	if c.next++; c.next == ms.n {
		c.next = 0
	}
	return true
}

// flush writes c's unwritten requests until done or the socket is full, and
// asks for EPOLLOUT only while something is left.
func (w *worker) flush(c *conn, now int64) {
	for c.wpos < c.wend {
		n, e := rawWrite(c.fd, w.msgs.req[c.wpos:c.wend])
		if e == unix.EAGAIN {
			break
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			w.fail(c, kWrite, now)
			return
		}
		c.wpos += n
	}
	if c.wpos >= w.msgs.reqLen {
		c.wpos -= w.msgs.reqLen
		c.wend -= w.msgs.reqLen
	}
	want := uint32(unix.EPOLLIN)
	if c.wpos < c.wend {
		want |= unix.EPOLLOUT
	}
	if want != c.events {
		c.events = want
		ev := unix.EpollEvent{Events: want, Fd: c.idx, Pad: c.gen}
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
			w.fail(c, kWrite, now)
		}
	}
}

// onReadable reads what the server sent and verifies it byte for byte
// against the replies owed, oldest first.
func (w *worker) onReadable(c *conn, now int64) {
	ms := w.msgs
	done := 0
	for {
		n, e := rawRead(c.fd, w.buf)
		if e == unix.EAGAIN {
			break
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			w.fail(c, kRead, now)
			return
		}
		if n == 0 {
			if c.inflight > 0 {
				w.fail(c, kShortRead, now)
			} else {
				w.fail(c, kRead, now) // closed while idle
			}
			return
		}
		c.since = now
		data := w.buf[:n]
		for len(data) > 0 {
			if c.inflight == 0 {
				w.fail(c, kMismatch, now) // bytes nobody asked for
				return
			}
			exp := ms.rep[ms.repOff[c.rmsg]+c.roff : ms.repOff[c.rmsg+1]]
			k := min(len(exp), len(data))
			if string(exp[:k]) != string(data[:k]) {
				w.fail(c, kMismatch, now)
				return
			}
			data = data[k:]
			if k < len(exp) {
				c.roff += k
				break
			}
			w.complete(c, now)
			done++
		}
		if n < len(w.buf) {
			break
		}
	}
	if done > 0 && !w.open {
		c.backoff = backoffMinNs
		for range done {
			w.enqueue(c, now, now)
		}
		w.flush(c, now)
	} else if done > 0 {
		c.backoff = backoffMinNs
	}
}

// complete records the reply to c's oldest message.
func (w *worker) complete(c *conn, now int64) {
	t0 := c.ring[c.head&w.ringMask]
	c.head = (c.head + 1) & w.ringMask
	c.inflight--
	c.roff = 0
	if c.rmsg++; c.rmsg == w.msgs.n {
		c.rmsg = 0
	}
	w.reply(t0, now)
}

func (w *worker) recordLag(now, intended int64) {
	if now < w.timing.measureStart {
		return
	}
	_ = w.tally.lag.RecordValue(min(max(0, now-intended+500)/1000, w.highestUS))
}

// intended is the scheduled time of the cursor's message: connection g's
// k-th message is due at (g + k*Conns) / Rate.
func (w *worker) intended() int64 {
	return int64(float64(int64(w.gidx[w.slot])+w.period*int64(w.cfg.Conns)) * w.nsPerMsg)
}

// sendDue sends every open-loop message whose time has come.
func (w *worker) sendDue(now int64) {
	for budget := sendBudget; budget > 0 && w.nextSend <= now; budget-- {
		c := &w.conns[w.slot]
		switch {
		case c.state == stDown || !w.enqueue(c, w.nextSend, now):
			if now >= w.timing.measureStart {
				w.tally.unsent++
			}
		case c.state == stUp:
			w.recordLag(now, w.nextSend)
			if !c.dirty {
				c.dirty = true
				w.dirty = append(w.dirty, c.idx)
			}
		}
		if w.slot++; w.slot == len(w.conns) {
			w.slot = 0
			w.period++
		}
		w.nextSend = w.intended()
	}
	// One write per connection, however many of its messages were due.
	for _, i := range w.dirty {
		c := &w.conns[i]
		c.dirty = false
		w.flush(c, now)
	}
	w.dirty = w.dirty[:0]
}

// closeAll closes every connection and the epoll instance.
func (w *worker) closeAll() {
	for i := range w.conns {
		if c := &w.conns[i]; c.fd >= 0 {
			unix.Close(c.fd)
			c.fd = -1
		}
	}
	unix.Close(w.epfd)
}
