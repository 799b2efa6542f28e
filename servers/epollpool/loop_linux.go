package epollpool

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

const (
	// acceptBatch bounds the accepts per readiness of the listener, so that
	// with several loops a burst of connections is spread among them.
	acceptBatch = 16
	// keepCap: a drained buffer larger than this is dropped rather than
	// kept, so a once-busy idle connection does not pin megabytes.
	keepCap = 256 << 10
	// waitCap bounds the messages a connection holds behind its own job in
	// the pool: at this size it is not read until they go to the pool.
	waitCap = 256 << 10
)

// wakeValue is what an eventfd write adds to its counter.
var wakeValue = binary.NativeEndian.AppendUint64(nil, 1)

// conn is one connection; only its loop touches it (its job excepted,
// while the job is in the pool).
type conn struct {
	fd     int
	idx    int           // position in loop.list
	peer   unix.Sockaddr // for logs
	split  protocol.Splitter
	wait   batch // complete messages not yet handed to the pool
	job    *job  // allocated at the first hand-off
	busy   bool  // job is in the pool
	queued bool  // in loop.ready, waiting for a pool slot
	closed bool
	out    []byte // out[off:] is pending output
	off    int
	watch  evloop.Events // interest registered with the poller
	paused bool          // pending output reached OutCap: not reading until it halves
	eof    bool          // input is over (EOF, protocol error, shutdown): close once all is answered
	last   time.Time     // last progress, for IdleTimeout
}

func (c *conn) pending() int { return len(c.out) - c.off }

// owes reports whether messages of c are still to be answered.
func (c *conn) owes() bool { return c.busy || !c.wait.empty() }

// appendOut adds replies to the pending output.
func (c *conn) appendOut(p []byte) {
	if c.off > 0 && c.off >= len(c.out)/2 {
		// Compact before appending: each byte moves at most once per halving.
		c.out = c.out[:copy(c.out, c.out[c.off:])]
		c.off = 0
	}
	c.out = append(c.out, p...)
}

// loop is one event loop: a goroutine, its epoll instance, its wake
// eventfd and the connections it accepted.
type loop struct {
	s    *Server
	pool *pool
	id   int
	p    evloop.Poller
	lfd  int // the shared listener

	// Workers and Shutdown reach the loop only through notify.
	mu          sync.Mutex
	done        []*job // completed jobs, in completion order
	wakePending bool   // wake was written and the loop has not taken done since
	wake        int    // eventfd
	wakeClosed  bool
	starved     atomic.Bool // found no free pool slot; the next release wakes it

	taken     []*job  // the loop's copy of done, swapped under mu
	ready     []*conn // connections whose messages wait for a pool slot, FIFO from readyHead
	readyHead int

	lnHeld    bool      // still counted in Server.lnRefs
	lnWatched bool      // listener registered with p
	resumeAt  time.Time // accept paused after an error until then (zero: not paused)
	backoff   servers.Backoff

	rbuf  []byte
	wbuf  [8]byte
	evs   []evloop.Event
	conns []*conn // by fd
	list  []*conn // every open connection, for sweeps
	now   time.Time

	idle      time.Duration // Config.IdleTimeout
	sweepIvl  time.Duration
	nextSweep time.Time
	outCap    int
	tcp       bool
	codecCfg  protocol.CodecConfig
	single    bool // a job is one message (Config.Work is nonzero), else all that wait
	log       *slog.Logger
	draining  bool
}

func newLoop(s *Server, pl *pool, id, lfd int) (*loop, error) {
	p, err := evloop.NewEpoll()
	if err != nil {
		return nil, err
	}
	l := &loop{
		s: s, pool: pl, id: id, p: p, lfd: lfd, wake: -1,
		rbuf:     make([]byte, evloop.ReadBufSize),
		evs:      make([]evloop.Event, 0, 64),
		idle:     s.Cfg.IdleTimeout,
		outCap:   s.Cfg.OutCap,
		tcp:      s.Cfg.Network != "unix",
		codecCfg: s.Cfg.Codec(),
		single:   !s.Cfg.Work.IsZero(),
		log:      s.Log.With("loop", id),
		now:      time.Now(),
	}
	if l.idle > 0 {
		l.sweepIvl = min(max(l.idle/4, time.Millisecond), time.Second)
		l.nextSweep = l.now.Add(l.sweepIvl)
	}
	l.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		l.wake = -1
		l.closeFDs()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := p.Add(l.wake, evloop.Readable); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("watch wake fd: %w", err)
	}
	if err := p.Add(lfd, evloop.Readable); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("watch listener fd: %w", err)
	}
	l.lnHeld, l.lnWatched = true, true
	return l, nil
}

// closeFDs closes the loop's own descriptors: epoll and wake eventfd.
func (l *loop) closeFDs() {
	_ = l.p.Close()
	l.mu.Lock()
	if l.wake >= 0 && !l.wakeClosed {
		_ = unix.Close(l.wake)
	}
	l.wakeClosed = true
	l.mu.Unlock()
}

// notify queues a completed job (nil: none, just wake up) and wakes the
// loop; any goroutine may call it. The eventfd is written only if the loop
// has taken the queue since the last write, so a burst of completions costs
// one wakeup.
func (l *loop) notify(j *job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j != nil {
		l.done = append(l.done, j)
	}
	if !l.wakePending && !l.wakeClosed {
		l.wakePending = true
		_, _ = unix.Write(l.wake, wakeValue)
	}
}

func (l *loop) run() {
	defer l.s.loopExited()
	defer l.exit()
	for {
		if l.s.force.Load() {
			return
		}
		if !l.draining && l.s.stopping.Load() {
			l.drain()
		}
		if l.draining && len(l.list) == 0 {
			return
		}
		evs, err := l.p.Wait(l.evs[:0], l.timeout())
		l.evs = evs

		if err != nil {
			l.s.fail(fmt.Errorf("%w: epoll-pool loop %d: %w", servers.ErrStopped, l.id, err))
			return
		}
		l.now = time.Now()
		for _, e := range evs {
			l.dispatch(e)
		}
		l.pump()
		l.timers()
	}
}

// timeout is how long Wait may block: until accepting resumes or the next
// idle sweep, or forever.
func (l *loop) timeout() time.Duration {
	if l.draining {
		return -1 // only the wake fd and flushing connections matter now
	}
	d := time.Duration(-1)
	now := time.Now()
	if !l.resumeAt.IsZero() {
		d = max(l.resumeAt.Sub(now), 0)
	}
	if l.idle > 0 {
		if s := max(l.nextSweep.Sub(now), 0); d < 0 || s < d {
			d = s
		}
	}
	return d
}

func (l *loop) timers() {
	if !l.resumeAt.IsZero() && !l.now.Before(l.resumeAt) && !l.draining {
		l.resumeAt = time.Time{}
		if err := l.p.Add(l.lfd, evloop.Readable); err != nil {
			d := l.backoff.Next()
			l.log.Warn("cannot watch the listener again; retrying", "err", err, "retry_in", d)
			l.resumeAt = l.now.Add(d)
		} else {
			l.lnWatched = true
		}
	}
	if l.idle > 0 && !l.now.Before(l.nextSweep) {
		l.nextSweep = l.now.Add(l.sweepIvl)
		for i := len(l.list) - 1; i >= 0; i-- {
			c := l.list[i]
			if c.owes() {
				// The server, not the client, is behind.
				c.last = l.now
				continue
			}
			if l.now.Sub(c.last) >= l.idle {
				l.log.Info("closing idle connection", "remote", peer(c.peer), "idle_timeout", l.idle)
				l.close(c)
			}
		}
	}
}

func (l *loop) dispatch(e evloop.Event) {
	switch e.FD {
	case l.wake:
		l.completions()
		return
	case l.lfd:
		if l.lnWatched {
			l.accept()
		}
		return
	}
	if e.FD < 0 || e.FD >= len(l.conns) || l.conns[e.FD] == nil {
		return // closed earlier in this batch
	}
	c := l.conns[e.FD]
	if e.Events&evloop.Writable != 0 && c.pending() > 0 && !l.flush(c) {
		return
	}
	if e.Events&evloop.Readable != 0 && c.watch&evloop.Readable != 0 && !l.read(c) {
		return
	}
	if e.Events&evloop.Hangup != 0 {
		// Both directions are gone (or the socket failed): nothing more
		// can be delivered.
		l.close(c)
		return
	}
	l.settle(c)
}

// completions takes the jobs the workers finished and writes their replies.
func (l *loop) completions() {
	_, _ = unix.Read(l.wake, l.wbuf[:])
	l.mu.Lock()
	l.taken, l.done = l.done, l.taken[:0]
	l.wakePending = false
	l.mu.Unlock()
	for i, j := range l.taken {
		l.taken[i] = nil
		l.completed(j)
	}
}

// completed appends j's replies to its connection's output, queues the
// messages that arrived meanwhile, and writes.
func (l *loop) completed(j *job) {
	c := j.c
	c.busy = false
	j.in.reset()
	if c.closed {
		return
	}
	if c.pending() == 0 {
		c.out, j.out, c.off = j.out, keep(c.out), 0 // hand the buffer over, no copy
	} else {
		c.appendOut(j.out)
		j.out = keep(j.out)
	}
	c.last = l.now
	l.submit(c)
	if l.flush(c) {
		l.settle(c)
	}
}

// accept takes up to acceptBatch connections from the listener. On EMFILE
// and the like the listener is unwatched for a back-off delay: with a
// level-triggered poller, watching it would report it ready at once again
// and spin.
func (l *loop) accept() {
	for range acceptBatch {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if err == unix.EAGAIN {
				return
			}
			if servers.IsRetryable(err) {
				continue // the peer gave up first (ECONNABORTED) and kin
			}
			d := l.backoff.Next()
			l.s.AcceptFailed(fmt.Errorf("accept4: %w", err), d)
			l.unwatchListener()
			l.resumeAt = l.now.Add(d)
			return
		}
		l.backoff.Reset()
		l.open(fd, sa)
	}
}

func (l *loop) unwatchListener() {
	if l.lnWatched {
		_ = l.p.Del(l.lfd)
		l.lnWatched = false
	}
}

func (l *loop) open(fd int, sa unix.Sockaddr) {
	if !l.s.Admit() {
		_ = unix.Close(fd)
		return
	}
	if l.tcp {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err := l.p.Add(fd, evloop.Readable); err != nil {
		_ = unix.Close(fd)
		l.s.Release()
		l.log.Warn("closing new connection: cannot watch it", "remote", peer(sa), "err", err)
		return
	}
	c := &conn{fd: fd, peer: sa, watch: evloop.Readable, last: l.now, idx: len(l.list)}
	c.split.Reset(l.codecCfg)
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, fd+1-len(l.conns))...)
	}
	l.conns[fd] = c
	l.list = append(l.list, c)
}

// read reads once into the loop's buffer and cuts it into messages, which
// wait in c.wait for the pool. It reports false when c was closed.
func (l *loop) read(c *conn) bool {
	n, err := unix.Read(c.fd, l.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return true
	case err != nil: // ECONNRESET and the like: nobody is left to answer
		l.log.Debug("closing connection: read failed", "remote", peer(c.peer), "err", err)
		l.close(c)
		return false
	case n == 0: // EOF: the client is done sending; answer what is owed
		l.endInput(c)
	default:
		c.last = l.now
		if err := l.cut(c, l.rbuf[:n]); err != nil {
			c.eof = true // answer the messages before the bad one, then close
			l.log.Warn("closing connection: protocol error", "remote", peer(c.peer), "err", err)
		}
	}
	l.submit(c)
	return l.flush(c)
}

// cut copies every message src completes into c.wait.
func (l *loop) cut(c *conn, src []byte) error {
	for len(src) > 0 {
		msg, n, ok, err := c.split.Next(src)
		if err != nil {
			return err
		}
		src = src[n:]
		if ok {
			c.wait.add(msg)
		}
	}
	return nil
}

// endInput marks c's input over; an unterminated last line becomes one
// more message, an incomplete frame is logged.
func (l *loop) endInput(c *conn) {
	c.eof = true
	msg, ok, err := c.split.Finish()
	if ok {
		c.wait.add(msg)
	}
	if err != nil {
		l.log.Warn("closing connection: protocol error", "remote", peer(c.peer), "err", err)
	}
}

// submit hands c's waiting messages to the pool if it has none there (one
// job per connection at a time keeps its replies in order): at once when
// no connection is queued ahead and a slot is free, otherwise through
// loop.ready.
func (l *loop) submit(c *conn) {
	if c.busy || c.queued || c.wait.empty() {
		return
	}
	if l.readyHead == len(l.ready) && l.pool.acquire(l) {
		l.handOff(c)
		return
	}
	c.queued = true
	l.s.waiting.Add(1)
	l.ready = append(l.ready, c)
}

// handOff sends c's first waiting message to the pool as its job, or all
// of them when there is no handler work; the caller holds a slot.
func (l *loop) handOff(c *conn) {
	if c.job == nil {
		c.job = &job{l: l, c: c}
	}
	j := c.job
	if l.single {
		c.wait.moveFirst(&j.in)
	} else {
		j.in, c.wait = c.wait, j.in
	}
	c.busy = true
	l.pool.send(j)
}

// pump hands queued connections' messages to the pool, first come first
// served, while it has free slots.
func (l *loop) pump() {
	for l.readyHead < len(l.ready) {
		c := l.ready[l.readyHead]
		if !c.closed {
			if !l.pool.acquire(l) {
				break // a release wakes this loop
			}
			c.queued = false
			l.s.waiting.Add(-1)
			l.handOff(c)
			l.settle(c) // its messages are in the pool: read it again
		}
		l.ready[l.readyHead] = nil
		l.readyHead++
	}
	switch {
	case l.readyHead == len(l.ready):
		l.ready, l.readyHead = l.ready[:0], 0
		l.starved.Store(false) // nothing waits: spare the workers a wakeup
	case l.readyHead > 64 && l.readyHead > len(l.ready)/2:
		l.ready = l.ready[:copy(l.ready, l.ready[l.readyHead:])]
		l.readyHead = 0
	}
}

// flush writes pending output until the socket is full. It closes c once
// its input is over, all its messages are answered and all output is
// written, reporting false.
func (l *loop) flush(c *conn) bool {
	for c.off < len(c.out) {
		want := len(c.out) - c.off
		n, err := unix.Write(c.fd, c.out[c.off:])
		if n > 0 {
			c.off += n
			c.last = l.now
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil && err != unix.EAGAIN { // EPIPE, ECONNRESET
			l.log.Debug("closing connection: write failed", "remote", peer(c.peer), "err", err)
			l.close(c)
			return false
		}
		if n < want {
			break // the socket buffer is full
		}
	}
	if c.off == len(c.out) {
		c.out, c.off = keep(c.out), 0
		if c.eof && !c.owes() {
			l.close(c)
			return false
		}
	}
	return true
}

// settle registers what c waits for now. It reads c unless its input is
// over, its pending output is at OutCap, its messages wait for a pool slot,
// or those waiting behind its own job reach waitCap (backpressure: the
// client's writes stall in the kernel and the loop does not spin); it
// watches for writability while output is pending.
func (l *loop) settle(c *conn) {
	if c.closed {
		return
	}
	p := c.pending()
	if p >= l.outCap && !c.paused {
		c.paused = true
		l.s.paused.Add(1)
	} else if c.paused && p <= l.outCap/2 {
		c.paused = false
		l.s.paused.Add(-1)
	}
	var want evloop.Events
	if !c.eof && !c.paused && !c.queued && c.wait.size() < waitCap {
		want |= evloop.Readable
	}
	if p > 0 {
		want |= evloop.Writable
	}
	if want == c.watch {
		return
	}
	if err := l.p.Mod(c.fd, want); err != nil {
		l.log.Warn("closing connection: cannot change its watch", "remote", peer(c.peer), "err", err)
		l.close(c)
		return
	}
	c.watch = want
}

// close closes c at once. A job of c still in the pool is told to stop;
// its completion is then dropped. A queued c stays in loop.ready until
// pump skips it.
func (l *loop) close(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	if c.busy {
		c.job.cancel.Store(true)
	}
	if c.queued {
		l.s.waiting.Add(-1)
	}
	_ = l.p.Del(c.fd)
	_ = unix.Close(c.fd)
	l.conns[c.fd] = nil
	if c.paused {
		l.s.paused.Add(-1)
	}
	last := l.list[len(l.list)-1]
	last.idx = c.idx
	l.list[c.idx] = last
	l.list[len(l.list)-1] = nil
	l.list = l.list[:len(l.list)-1]
	l.s.Release()
}

// drain begins a graceful stop: the listener is released, every
// connection stops reading, and each closes once its pooled messages are
// answered and its output is written.
func (l *loop) drain() {
	l.draining = true
	l.resumeAt = time.Time{}
	l.releaseListener()
	for i := len(l.list) - 1; i >= 0; i-- {
		c := l.list[i]
		if !c.eof {
			l.endInput(c)
			l.submit(c)
		}
		if l.flush(c) {
			l.settle(c)
		}
	}
	l.pump()
}

func (l *loop) releaseListener() {
	l.unwatchListener()
	if l.lnHeld {
		l.lnHeld = false
		l.s.releaseListener()
	}
}

// exit closes whatever is still open: connections (their pending output
// and pooled messages are dropped), the listener reference, epoll and the
// wake fd.
func (l *loop) exit() {
	unsent := 0
	for len(l.list) > 0 {
		c := l.list[len(l.list)-1]
		if c.pending() > 0 || c.owes() {
			unsent++
		}
		l.close(c)
	}
	if unsent > 0 {
		l.log.Warn("closed connections with unanswered messages or unsent output", "connections", unsent)
	}
	l.releaseListener()
	l.closeFDs()
}

// peer formats a socket address for logs.
func peer(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		if a.Name == "" {
			return "unix"
		}
		return a.Name
	}
	return "unknown"
}
