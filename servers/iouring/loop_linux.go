package iouring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/loopgroup"
	"archbench/servers/internal/msgbatch"
	"archbench/servers/internal/uring"
)

const (
	// sqEntries and cqEntries size each loop's ring. Multishot requests
	// post many completions per submission, hence the larger CQ; with
	// IORING_FEAT_NODROP an overflow is held by the kernel, not lost.
	sqEntries = 512
	cqEntries = 4096
	// bufCount buffers of bufSize bytes form each loop's provided-buffer
	// ring: 4 MiB of address space, touched as used. A buffer is handed
	// back as soon as its bytes went through the codec, so it takes more
	// receive completions than buffers in one batch to run out.
	bufCount = 256
	bufSize  = 16 << 10
	bufGroup = 0
	// exitWait bounds how long an exiting loop waits for the kernel to
	// finish its cancelled requests before it closes the ring.
	exitWait = time.Second
)

// Kinds of request, in the low byte of user_data.
const (
	kindAccept uint64 = iota + 1
	kindWake
	kindRecv
	kindSend
	kindCancel // of a connection's request(s)
	kindDone   // nothing to do on its completion: a close, a cancellation of accept or of everything
)

// user_data layout: kind in the low byte, the slot's generation in the
// next 24 bits, the slot in the high 32.
const (
	kindBits  = 8
	genBits   = 24
	slotShift = kindBits + genBits
	kindMask  = 1<<kindBits - 1
	genMask   = 1<<genBits - 1
)

// userData packs a request's kind and its connection's slot and generation:
// a completion can then be matched to its connection without a map, and one
// for a slot reused since is recognised.
func userData(kind uint64, slot, gen uint32) uint64 {
	return kind | uint64(gen&genMask)<<kindBits | uint64(slot)<<slotShift
}

func splitUserData(u uint64) (kind uint64, slot, gen uint32) {
	return u & kindMask, uint32(u >> slotShift), uint32(u>>kindBits) & genMask
}

// wakeSink receives the eventfd counter of every loop's wake read. Nobody
// reads it; being a global it outlives every ring, so the kernel can never
// write into memory reused for something else.
var wakeSink [8]byte

// wakeValue is what an eventfd write adds to its counter.
var wakeValue = binary.NativeEndian.AppendUint64(nil, 1)

// conn is one connection; only its loop touches it.
type conn struct {
	fd        int
	slot, gen uint32
	codec     protocol.Codec
	// sending[sent:] is being sent or waits to be: the kernel reads it
	// while a send is in flight, so nothing is appended to it then.
	// Replies made meanwhile go to out; the two swap when sending drains.
	sending []byte
	sent    int
	out     []byte

	recvArmed  bool // a receive is in flight (multishot: until a completion without CQEFMore)
	recvCancel bool // its cancellation was submitted
	sendBusy   bool
	bp         loopgroup.OutState // backpressure: not receiving at OutCap or past OutTotal
	eof        bool               // input is over (EOF, protocol error, shutdown): close once all is written
	closing    bool               // closing: the descriptor is closed once nothing of it is in flight
	inflight   int                // requests of this connection not yet completed
	last       time.Time
}

func (c *conn) pending() int { return len(c.sending) - c.sent + len(c.out) }

// loop is one ring, its goroutine (locked to its thread), its wake eventfd
// and the connections it accepted.
type loop struct {
	s   *Server
	id  int
	lfd int

	ring   *uring.Ring
	bufs   *uring.BufRing
	ringAt atomic.Pointer[uring.Ring] // for Syscalls from other goroutines
	other  atomic.Uint64              // system calls made outside the ring

	// Other goroutines (Shutdown) reach the loop only through notify,
	// which mu guards.
	mu          sync.Mutex
	wake        int // eventfd
	wakePending bool
	wakeClosed  bool

	acceptMulti  bool // multishot accept (Linux 5.19); else one accept per completion
	acceptArmed  bool
	acceptCancel bool
	recvMulti    bool // multishot receive (Linux 6.0); else one receive per completion
	lnHeld       bool // still holding the group's listener

	conns  []*conn // by slot; nil is free
	free   []uint32
	gens   []uint32 // generation of each slot, bumped when it is freed
	nconns int
	ops    int // requests in flight on the ring, every kind

	cqes     []uring.CQE
	now      time.Time
	idle     time.Duration      // Config.IdleTimeout
	sched    loopgroup.Schedule // accept back-off and idle sweeps
	outCap   int
	codecCfg protocol.CodecConfig
	log      *slog.Logger
	draining bool
}

func newLoop(s *Server, id, lfd int) *loop {
	l := &loop{
		s: s, id: id, lfd: lfd, wake: -1,
		acceptMulti: true,
		recvMulti:   !s.opts.SingleShotRecv,
		lnHeld:      true,
		cqes:        make([]uring.CQE, 0, cqEntries),
		idle:        s.Cfg.IdleTimeout,
		outCap:      s.Cfg.OutCap,
		codecCfg:    s.Cfg.Codec(),
		log:         s.Log.With("loop", id),
		now:         time.Now(),
	}
	l.sched = loopgroup.NewSchedule(l.idle, l.now)
	return l
}

func (l *loop) syscalls() uint64 {
	n := l.other.Load()
	if r := l.ringAt.Load(); r != nil {
		n += r.Syscalls()
	}
	return n
}

// run is the loop's goroutine (started by Group.Go). It sets the ring up, reports to Start on
// ready, waits for begin, and serves. The goroutine stays locked to its
// thread for good: with IORING_SETUP_SINGLE_ISSUER the kernel accepts
// submissions from the creating thread only, and the ring's task work runs
// on the submitting thread whatever the flags; when the goroutine ends, the
// Go runtime ends that thread too.
func (l *loop) run(ready chan<- error, begin <-chan struct{}) {
	runtime.LockOSThread()
	defer l.exit()
	err := l.setup()
	if err != nil {
		err = fmt.Errorf("iouring: loop %d: %w", l.id, err)
	}
	ready <- err
	if err != nil {
		return
	}
	<-begin
	if l.s.aborted.Load() {
		return
	}
	l.armWake()
	l.armAccept()
	l.serve()
}

// setupFlags are tried in order until the kernel takes one: deferred task
// work run only when the loop waits (Linux 6.1), cooperative task work
// (5.19), then none.
var setupFlags = []uring.SetupFlags{
	uring.SetupSingleIssuer | uring.SetupDeferTaskrun | uring.SetupSubmitAll,
	uring.SetupCoopTaskrun | uring.SetupTaskrunFlag | uring.SetupSubmitAll,
	0,
}

// setup makes the ring, checks what the kernel offers, registers the
// buffer ring and makes the wake eventfd.
func (l *loop) setup() error {
	var err error
	for _, f := range setupFlags {
		l.ring, err = uring.New(uring.Options{Entries: sqEntries, CQEntries: cqEntries, Flags: f, Setup: l.s.opts.RingSetup})
		if err == nil || !errors.Is(err, unix.EINVAL) {
			break
		}
	}
	if err != nil {
		return err
	}
	l.ringAt.Store(l.ring)
	if l.ring.Features()&uring.FeatExtArg == 0 {
		return errFeature("IORING_FEAT_EXT_ARG (a wait with a timeout, Linux 5.11)")
	}
	probe, err := l.ring.Probe()
	if err != nil {
		return fmt.Errorf("%w: %w", uring.ErrUnavailable, err)
	}
	for _, op := range []uring.Op{uring.OpAccept, uring.OpRecv, uring.OpSend, uring.OpRead, uring.OpAsyncCancel, uring.OpClose} {
		if !probe.Supports(op) {
			return errFeature("the " + op.String() + " opcode")
		}
	}
	if l.bufs, err = l.ring.NewBufRing(bufGroup, bufCount, bufSize); err != nil {
		return err
	}
	l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC)
	l.other.Add(1)
	if err != nil {
		l.wake = -1
		return fmt.Errorf("eventfd: %w", err)
	}
	if l.id == 0 {
		l.recordFeatures(probe)
	}
	return nil
}

// recordFeatures tells the server (Features) and the debug log what the
// kernel offered and this loop uses; it is called again when a fallback
// changes that.
func (l *loop) recordFeatures(p *uring.Probe) {
	if p == nil {
		var err error
		if p, err = l.ring.Probe(); err != nil {
			return
		}
	}
	mode := func(multi bool) string {
		if multi {
			return "multishot"
		}
		return "single"
	}
	f := features(l.ring, p, mode(l.acceptMulti), mode(l.recvMulti), bufCount, bufSize)
	l.s.setFeatures(f)
	l.log.Debug("io_uring ready", "kernel", f)
}

// notify makes the loop's wait return; any goroutine may call it.
func (l *loop) notify() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.wakePending && !l.wakeClosed && l.wake >= 0 {
		l.wakePending = true
		_, _ = unix.Write(l.wake, wakeValue)
	}
}

// sqe returns a free SQE, submitting what is queued if the queue is full.
func (l *loop) sqe() *uring.SQE {
	for range 3 {
		if sqe := l.ring.GetSQE(); sqe != nil {
			l.ops++
			return sqe
		}
		if _, err := l.ring.Submit(); err != nil && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	return nil
}

// submitFailed ends the server when no SQE can be had: the kernel takes
// none, which nothing in the loop can repair.
func (l *loop) submitFailed() {
	l.s.group.Fail(fmt.Errorf("%w: io_uring loop %d: the submission queue stays full", servers.ErrStopped, l.id))
}

func (l *loop) armWake() {
	sqe := l.sqe()
	if sqe == nil {
		l.submitFailed()
		return
	}
	sqe.PrepRead(l.wake, wakeSink[:])
	sqe.UserData = userData(kindWake, 0, 0)
}

func (l *loop) armAccept() {
	sqe := l.sqe()
	if sqe == nil {
		l.submitFailed()
		return
	}
	sqe.PrepAccept(l.lfd, unix.SOCK_CLOEXEC, l.acceptMulti)
	sqe.UserData = userData(kindAccept, 0, 0)
	l.acceptArmed, l.acceptCancel = true, false
}

func (l *loop) serve() {
	for {
		if l.s.group.Forced() {
			return
		}
		if !l.draining && l.s.group.Stopping() {
			l.drain()
		}
		if l.draining && l.nconns == 0 && !l.acceptArmed {
			return
		}
		l.bufs.Publish()
		if l.ring.Ready() == 0 || l.ring.Pending() > 0 || l.ring.NeedsEnter() {
			wait := uint32(1)
			if l.ring.Ready() > 0 {
				wait = 0
			}
			if _, err := l.ring.SubmitAndWait(wait, l.sched.Timeout(time.Now())); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
				// EBUSY and EAGAIN: the kernel is short of room for
				// completions; reaping makes some.
				l.s.group.Fail(fmt.Errorf("%w: io_uring loop %d: %w", servers.ErrStopped, l.id, err))
				return
			}
		}
		l.now = time.Now()
		l.cqes = l.ring.Reap(l.cqes[:0])
		for _, c := range l.cqes {
			l.dispatch(c)
		}
		l.timers()
	}
}

// timers re-arms the accept after a back-off and sweeps idle
// connections, when due. Draining, the schedule has no wait timeout: only
// the wake read and flushing connections matter then.
func (l *loop) timers() {
	if l.sched.ResumeDue(l.now) {
		l.armAccept()
	}
	if l.sched.SweepDue(l.now) {
		for _, c := range l.conns {
			if c != nil && !c.closing && l.now.Sub(c.last) >= l.idle {
				l.log.Info("closing idle connection", "remote", l.peer(c), "idle_timeout", l.idle)
				l.close(c)
			}
		}
	}
}

func (l *loop) dispatch(cqe uring.CQE) {
	if !cqe.More() {
		l.ops--
	}
	kind, slot, gen := splitUserData(cqe.UserData)
	switch kind {
	case kindWake:
		l.woken(cqe)
		return
	case kindAccept:
		l.accepted(cqe)
		return
	case kindDone:
		return
	}
	var c *conn
	if int(slot) < len(l.conns) && l.gens[slot] == gen {
		c = l.conns[slot]
	}
	switch kind {
	case kindRecv:
		l.received(c, cqe)
	case kindSend:
		l.sent(c, cqe)
	case kindCancel:
		if c != nil {
			c.inflight--
			l.settle(c)
		}
	}
}

func (l *loop) woken(cqe uring.CQE) {
	l.mu.Lock()
	l.wakePending = false
	l.mu.Unlock()
	if cqe.Res == -int32(unix.ECANCELED) {
		return
	}
	l.armWake()
}

// accepted handles an accept completion: a new connection, or an error
// after which accepting backs off (EMFILE and the like) or goes on at once
// (the peer gave up first).
func (l *loop) accepted(cqe uring.CQE) {
	if !cqe.More() {
		l.acceptArmed = false
	}
	switch {
	case cqe.Res >= 0:
		l.sched.Accepted()
		l.open(int(cqe.Res))
	case cqe.Res == -int32(unix.ECANCELED):
	case cqe.Res == -int32(unix.EINVAL) && l.acceptMulti:
		l.acceptMulti = false
		l.log.Info("no multishot accept in this kernel (Linux 5.19); accepting one at a time")
		l.recordFeatures(nil)
	default:
		err := unix.Errno(-cqe.Res)
		if !servers.IsRetryable(err) {
			l.s.AcceptFailed(fmt.Errorf("accept: %w", err), l.sched.BackOff(l.now))
		}
	}
	switch {
	case l.acceptArmed:
	case l.draining:
		l.releaseListener()
	case !l.sched.AcceptPaused():
		l.armAccept()
	}
}

func (l *loop) open(fd int) {
	if l.draining || !l.s.Admit() {
		l.closeFD(fd)
		return
	}
	var slot uint32
	if n := len(l.free); n > 0 {
		slot, l.free = l.free[n-1], l.free[:n-1]
	} else {
		slot = uint32(len(l.conns))
		l.conns = append(l.conns, nil)
		l.gens = append(l.gens, 0)
	}
	c := &conn{fd: fd, slot: slot, gen: l.gens[slot], last: l.now}
	c.codec.Reset(l.codecCfg)
	l.conns[slot] = c
	l.nconns++
	l.settle(c)
}

// closeFD closes a descriptor that no request uses.
func (l *loop) closeFD(fd int) {
	sqe := l.sqe()
	if sqe == nil {
		_ = unix.Close(fd)
		l.other.Add(1)
		return
	}
	sqe.PrepClose(fd)
	sqe.UserData = userData(kindDone, 0, 0)
}

// received handles a receive completion: bytes for the codec, EOF, or an
// error. The provided buffer goes back to the kernel in any case.
func (l *loop) received(c *conn, cqe uring.CQE) {
	var data []byte
	if id, ok := cqe.BufferID(); ok {
		defer l.bufs.Recycle(id)
		if cqe.Res > 0 {
			data = l.bufs.Buf(id, int(cqe.Res))
		}
	}
	if c == nil {
		return // a completion for a connection gone since: cannot happen while inflight counts it
	}
	if !cqe.More() {
		c.recvArmed = false
		c.inflight--
	}
	var perr error
	switch res := cqe.Res; {
	case res > 0:
		if c.eof || c.closing {
			break // input after a protocol error or shutdown: dropped
		}
		c.last = l.now
		if c.out, perr = c.codec.Feed(c.out, data); perr != nil {
			c.eof = true // flush the replies before the bad message, then close
		}
	case res == 0: // EOF: the client is done sending; answer what is owed
		if !c.eof {
			perr = l.endInput(c)
		}
	case res == -int32(unix.ECANCELED), res == -int32(unix.ENOBUFS):
		// Cancelled (paused, closing) or no buffer left this batch: settle
		// re-arms it if the connection still wants input.
	case res == -int32(unix.EINVAL) && l.recvMulti:
		l.recvMulti = false
		l.log.Info("no multishot receive in this kernel (Linux 6.0); receiving one at a time")
		l.recordFeatures(nil)
	default: // ECONNRESET and the like: nobody is left to answer
		l.log.Debug("closing connection: receive failed", "remote", l.peerIf(slog.LevelDebug, c), "err", unix.Errno(-res))
		l.close(c)
		return
	}
	if perr != nil {
		l.log.Warn("closing connection: protocol error", "remote", l.peer(c), "err", perr)
	}
	l.settle(c)
}

// endInput marks c's input over and lets the codec answer what it holds;
// it returns a protocol error (an incomplete frame).
func (l *loop) endInput(c *conn) error {
	c.eof = true
	var err error
	c.out, err = c.codec.Finish(c.out)
	return err
}

func (l *loop) sent(c *conn, cqe uring.CQE) {
	if c == nil {
		return
	}
	c.sendBusy = false
	c.inflight--
	switch res := cqe.Res; {
	case res > 0:
		c.sent += int(res)
		c.last = l.now
	case res == -int32(unix.ECANCELED), res == 0:
	default: // EPIPE, ECONNRESET
		l.log.Debug("closing connection: send failed", "remote", l.peerIf(slog.LevelDebug, c), "err", unix.Errno(-res))
		l.close(c)
		return
	}
	l.settle(c)
}

// settle submits what c needs next: the next send while output is pending,
// a receive unless its input is over or its pending output is at OutCap
// (then the client's writes stall in the kernel: backpressure), the
// cancellation of a receive it no longer wants, and its close once
// everything is written.
func (l *loop) settle(c *conn) {
	if c.closing {
		l.finishClose(c)
		return
	}
	if !c.sendBusy {
		if c.sent == len(c.sending) {
			c.sending, c.out, c.sent = c.out, msgbatch.Keep(c.sending), 0
		}
		if c.sent < len(c.sending) {
			sqe := l.sqe()
			if sqe == nil {
				l.submitFailed()
				return
			}
			sqe.PrepSend(c.fd, c.sending[c.sent:], unix.MSG_NOSIGNAL)
			sqe.UserData = userData(kindSend, c.slot, c.gen)
			c.sendBusy = true
			c.inflight++
		}
	}
	p := c.pending()
	l.s.group.Backpressure(&c.bp, p, l.outCap)
	want := !c.eof && !c.bp.Paused
	switch {
	case want && !c.recvArmed:
		sqe := l.sqe()
		if sqe == nil {
			l.submitFailed()
			return
		}
		sqe.PrepRecvSelect(c.fd, l.bufs.Group(), l.recvMulti)
		sqe.UserData = userData(kindRecv, c.slot, c.gen)
		c.recvArmed, c.recvCancel = true, false
		c.inflight++
	case !want && c.recvArmed && !c.recvCancel:
		sqe := l.sqe()
		if sqe == nil {
			l.submitFailed()
			return
		}
		sqe.PrepCancel(userData(kindRecv, c.slot, c.gen))
		sqe.UserData = userData(kindCancel, c.slot, c.gen)
		c.recvCancel = true
		c.inflight++
	}
	if c.eof && p == 0 && !c.sendBusy {
		l.close(c)
	}
}

// close begins closing c: every request of it is cancelled, and its
// descriptor is closed when the last one has completed (finishClose), so
// that no request holds the socket open after the close.
func (l *loop) close(c *conn) {
	if c.closing {
		return
	}
	c.closing = true
	if c.inflight > 0 {
		if sqe := l.sqe(); sqe != nil {
			sqe.PrepCancelFD(c.fd)
			sqe.UserData = userData(kindCancel, c.slot, c.gen)
			c.inflight++
		}
	}
	l.finishClose(c)
}

// finishClose closes c's descriptor and frees its slot once no request of
// it is in flight.
func (l *loop) finishClose(c *conn) {
	if c.inflight > 0 {
		return
	}
	l.closeFD(c.fd)
	l.s.group.Release(&c.bp)
	l.conns[c.slot] = nil
	l.gens[c.slot] = (l.gens[c.slot] + 1) & genMask
	l.free = append(l.free, c.slot)
	l.nconns--
	l.s.Release()
}

// drain begins a graceful stop: accepting is cancelled, every connection
// stops reading, and each closes once its replies are written.
func (l *loop) drain() {
	l.draining = true
	l.sched.Drain()
	if l.acceptArmed && !l.acceptCancel {
		if sqe := l.sqe(); sqe != nil {
			sqe.PrepCancel(userData(kindAccept, 0, 0))
			sqe.UserData = userData(kindDone, 0, 0)
			l.acceptCancel = true
		}
	}
	if !l.acceptArmed {
		l.releaseListener()
	}
	for _, c := range l.conns {
		if c == nil || c.closing {
			continue
		}
		if !c.eof {
			if err := l.endInput(c); err != nil {
				l.log.Warn("closing connection: protocol error", "remote", l.peer(c), "err", err)
			}
		}
		l.settle(c)
	}
}

func (l *loop) releaseListener() {
	if l.lnHeld {
		l.lnHeld = false
		l.s.group.ReleaseListener()
	}
}

// exit closes whatever is still open. Every request still in flight is
// cancelled and reaped first (for at most exitWait): until its completion
// the kernel may read a send's buffer or hold a socket open. Then the
// connections, the buffer ring, the ring, the wake eventfd and the
// listener reference go.
func (l *loop) exit() {
	if l.ring != nil && l.ops > 0 {
		if sqe := l.ring.GetSQE(); sqe != nil {
			sqe.PrepCancelAny()
			sqe.UserData = userData(kindDone, 0, 0)
			l.ops++
		}
		deadline := time.Now().Add(exitWait)
		for l.ops > 0 && time.Now().Before(deadline) {
			if _, err := l.ring.SubmitAndWait(1, time.Until(deadline)); err != nil && !errors.Is(err, unix.EBUSY) {
				break
			}
			l.cqes = l.ring.Reap(l.cqes[:0])
			for _, c := range l.cqes {
				if !c.More() {
					l.ops--
				}
			}
		}
		if l.ops > 0 {
			l.log.Warn("requests still in flight when the ring closed; keeping their buffers", "requests", l.ops)
			abandoned.keep(l.conns)
		}
	}
	unsent := 0
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		if c.pending() > 0 {
			unsent++
		}
		l.s.group.Release(&c.bp)
		_ = unix.Close(c.fd)
		l.other.Add(1)
		l.s.Release()
	}
	if unsent > 0 {
		l.log.Warn("closed connections with unsent output", "connections", unsent)
	}
	l.conns, l.nconns = nil, 0
	if l.bufs != nil {
		if err := l.bufs.Close(); err != nil {
			l.log.Warn("buffer ring", "err", err)
		}
	}
	if l.ring != nil {
		_ = l.ring.Close()
		l.log.Debug("io_uring loop stopped", "syscalls", l.syscalls())
	}
	l.mu.Lock()
	if l.wake >= 0 {
		_ = unix.Close(l.wake)
	}
	l.wakeClosed = true
	l.mu.Unlock()
	l.releaseListener()
}

// abandoned keeps the connections (and so the send buffers) of rings
// closed with requests still in flight, for the life of the process.
var abandoned keeper

type keeper struct {
	sync.Mutex
	conns [][]*conn
}

func (a *keeper) keep(cs []*conn) {
	a.Lock()
	a.conns = append(a.conns, cs)
	a.Unlock()
}

// peer is c's remote address, for a log line (one getpeername).
func (l *loop) peer(c *conn) string {
	l.other.Add(1)
	sa, err := unix.Getpeername(c.fd)
	if err != nil {
		return "unknown"
	}
	return loopgroup.Peer(sa)
}

// peerIf is peer when the log is enabled at level, so that a disabled
// debug line costs no system call.
func (l *loop) peerIf(level slog.Level, c *conn) string {
	if !l.log.Enabled(context.Background(), level) {
		return ""
	}
	return l.peer(c)
}
