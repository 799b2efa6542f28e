package evloop

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/loopgroup"
	"archbench/servers/internal/msgbatch"
)

const (
	// ReadBufSize is each loop's read buffer, shared by all its connections:
	// a connection holds no input buffer of its own between reads.
	ReadBufSize = 64 << 10
	// acceptBatch bounds the accepts per readiness of the listener, so that
	// with several loops a burst of connections is spread among them.
	acceptBatch = 16
)

// wakeValue is what an eventfd write adds to its counter.
var wakeValue = binary.NativeEndian.AppendUint64(nil, 1)

// conn is one connection; only its loop touches it (its job excepted,
// while the job is in the pool).
type conn struct {
	fd     int
	idx    int            // position in loop.list
	peer   unix.Sockaddr  // for logs
	codec  protocol.Codec // answers the input inline (no Pool)
	h      *handoff       // with a Pool: cuts the input and hands messages off; nil inline
	out    []byte         // out[off:] is pending output
	off    int
	watch  Events             // interest registered with the poller
	bp     loopgroup.OutState // backpressure: paused at OutCap or past OutTotal
	eof    bool               // input is over (EOF, protocol error, shutdown): close once all is answered and written
	closed bool               // closed by its loop (a job of it may still be in the pool)
	last   time.Time          // last progress, read or write, for IdleTimeout
}

func (c *conn) pending() int { return len(c.out) - c.off }

// owes reports whether the pool still owes replies to messages of c.
func (c *conn) owes() bool { return c.h != nil && c.h.owes() }

// compact moves pending output to the front of c.out before more is
// appended: each byte moves at most once per halving.
func (c *conn) compact() {
	if c.off > 0 && c.off >= len(c.out)/2 {
		c.out = c.out[:copy(c.out, c.out[c.off:])]
		c.off = 0
	}
}

// loop is one event loop: a goroutine, its poller, its wake eventfd and the
// connections it accepted.
type loop struct {
	s   *Server
	id  int
	p   Poller
	lfd int // the shared listener

	// Other goroutines (Shutdown, workers) reach the loop only through
	// notify, which mu guards.
	mu          sync.Mutex
	done        []*Job // jobs back from the pool, in completion order
	wakePending bool   // wake was written and the loop has not read it since
	wake        int    // eventfd, written to wake the loop
	wakeClosed  bool
	starved     atomic.Bool // found no free pool slot; the next freed slot wakes it

	pool      Pool    // nil: messages are answered inline
	single    bool    // a job is one message (Config.Work is nonzero), else all that wait
	taken     []*Job  // the loop's copy of done, swapped under mu
	ready     []*conn // connections whose messages wait for a pool slot, FIFO from readyHead
	readyHead int

	lnHeld    bool // still holding the group's listener
	lnWatched bool // listener registered with p

	rbuf  []byte
	wbuf  [8]byte
	evs   []Event
	conns []*conn // by fd
	list  []*conn // every open connection, for sweeps
	now   time.Time

	idle     time.Duration      // Config.IdleTimeout
	sched    loopgroup.Schedule // accept back-off and idle sweeps
	outCap   int
	tcp      bool
	codecCfg protocol.CodecConfig
	log      *slog.Logger
	draining bool

	// calls counts the loop's own system calls (its poller's aside) since
	// they were last added to the server's count (publish).
	calls     int64
	pollCalls int64 // the poller's count when last published
}

func newLoop(s *Server, id, lfd int) (*loop, error) {
	p, err := s.newPoller()
	if err != nil {
		return nil, err
	}
	l := &loop{
		s: s, id: id, p: p, lfd: lfd, wake: -1,
		pool:     s.pool,
		single:   !s.Cfg.Work.IsZero(),
		rbuf:     make([]byte, ReadBufSize),
		evs:      make([]Event, 0, 64),
		idle:     s.Cfg.IdleTimeout,
		outCap:   s.Cfg.OutCap,
		tcp:      s.Cfg.Network != "unix",
		codecCfg: s.Cfg.Codec(),
		log:      s.Log.With("loop", id, "poller", p.Name()),
		now:      time.Now(),
	}
	l.sched = loopgroup.NewSchedule(l.idle, l.now)
	l.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		l.wake = -1
		l.closeFDs()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := p.Add(l.wake, Readable); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("watch wake fd: %w", err)
	}
	if err := p.Add(lfd, Readable); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("watch listener fd: %w", err)
	}
	l.lnHeld, l.lnWatched = true, true
	return l, nil
}

// closeFDs closes the loop's own descriptors: poller and wake eventfd.
func (l *loop) closeFDs() {
	_ = l.p.Close()
	l.mu.Lock()
	if l.wake >= 0 && !l.wakeClosed {
		_ = unix.Close(l.wake)
	}
	l.wakeClosed = true
	l.mu.Unlock()
}

// notify queues a job back from the pool (nil: none, just wake up) and
// makes the loop's Wait return; any goroutine may call it. The eventfd is
// written only if the loop has read it since the last write, so a burst of
// completions costs one wakeup.
func (l *loop) notify(j *Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j != nil {
		l.done = append(l.done, j)
	}
	if !l.wakePending && !l.wakeClosed {
		l.wakePending = true
		_, _ = unix.Write(l.wake, wakeValue)
		l.s.CountSyscalls(1) // from another goroutine: counted at once
	}
}

// woken reads the wake eventfd and takes the jobs back from the pool.
func (l *loop) woken() {
	_, _ = unix.Read(l.wake, l.wbuf[:])
	l.calls++
	l.mu.Lock()
	l.taken, l.done = l.done, l.taken[:0]
	l.wakePending = false
	l.mu.Unlock()
	for i, j := range l.taken {
		l.taken[i] = nil
		l.completed(j)
	}
}

// run is the loop's goroutine (started by Group.Go).
func (l *loop) run() {
	defer l.exit()
	for {
		if l.s.group.Forced() {
			return
		}
		if !l.draining && l.s.group.Stopping() {
			l.drain()
		}
		if l.draining && len(l.list) == 0 {
			return
		}
		// Draining, only the wake fd and flushing connections matter:
		// the schedule has no timeout then.
		evs, err := l.p.Wait(l.evs[:0], l.sched.Timeout(time.Now()))
		l.evs = evs
		if err != nil {
			l.s.group.Fail(fmt.Errorf("%w: %s loop %d: %w", servers.ErrStopped, l.p.Name(), l.id, err))
			return
		}
		l.now = time.Now()
		for _, e := range evs {
			l.dispatch(e)
		}
		if l.pool != nil {
			l.pump()
		}
		l.timers()
		l.publish()
	}
}

// publish adds the system calls made since the last publish, the loop's
// and its poller's, to the server's count.
func (l *loop) publish() {
	pc := l.p.Calls()
	l.s.CountSyscalls(l.calls + pc - l.pollCalls)
	l.calls, l.pollCalls = 0, pc
}

// timers resumes watching the listener after an accept back-off and
// sweeps idle connections, when due.
func (l *loop) timers() {
	if l.sched.ResumeDue(l.now) {
		if err := l.p.Add(l.lfd, Readable); err != nil {
			d := l.sched.BackOff(l.now)
			l.log.Warn("cannot watch the listener again; retrying", "err", err, "retry_in", d)
		} else {
			l.lnWatched = true
		}
	}
	if l.sched.SweepDue(l.now) {
		for i := len(l.list) - 1; i >= 0; i-- {
			c := l.list[i]
			if c.owes() {
				// The server, not the client, is behind.
				c.last = l.now
				continue
			}
			if l.now.Sub(c.last) >= l.idle {
				l.log.Info("closing idle connection", "remote", loopgroup.Peer(c.peer), "idle_timeout", l.idle)
				l.close(c)
			}
		}
	}
}

func (l *loop) dispatch(e Event) {
	switch e.FD {
	case l.wake:
		l.woken()
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
	if e.Events&Writable != 0 && c.pending() > 0 && !l.flush(c) {
		return
	}
	if e.Events&Readable != 0 && c.watch&Readable != 0 && !l.read(c) {
		return
	}
	if e.Events&Hangup != 0 {
		// Both directions are gone (or the socket failed): nothing more
		// can be delivered.
		l.close(c)
		return
	}
	l.settle(c)
}

// accept takes up to acceptBatch connections from the listener. On EMFILE
// and the like the listener is unwatched for a back-off delay: with a
// level-triggered poller, watching it would report it ready at once again
// and spin.
func (l *loop) accept() {
	for range acceptBatch {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		l.calls++
		if err != nil {
			if err == unix.EAGAIN {
				return
			}
			if servers.IsRetryable(err) {
				continue // the peer gave up first (ECONNABORTED) and kin
			}
			d := l.sched.BackOff(l.now)
			l.s.AcceptFailed(fmt.Errorf("accept4: %w", err), d)
			l.unwatchListener()
			return
		}
		l.sched.Accepted()
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
	if fd > l.p.MaxFD() {
		// Count and log before the close, so that a client seeing the
		// close also sees the count.
		l.s.Reject("fd too high for "+l.p.Name(), "fd", fd, "max_fd", l.p.MaxFD(), "remote", loopgroup.Peer(sa))
		_ = unix.Close(fd)
		l.calls++
		return
	}
	if !l.s.Admit() {
		_ = unix.Close(fd)
		l.calls++
		return
	}
	if l.tcp {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		l.calls++
	}
	if err := l.p.Add(fd, Readable); err != nil {
		_ = unix.Close(fd)
		l.calls++
		l.s.Release()
		l.log.Warn("closing new connection: cannot watch it", "remote", loopgroup.Peer(sa), "err", err)
		return
	}
	c := &conn{fd: fd, peer: sa, watch: Readable, last: l.now, idx: len(l.list)}
	if l.pool != nil {
		c.h = newHandoff(l, c)
	} else {
		c.codec.Reset(l.codecCfg)
	}
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, fd+1-len(l.conns))...)
	}
	l.conns[fd] = c
	l.list = append(l.list, c)
}

// read reads once into the loop's buffer and answers what it completes:
// inline, the replies are written at once; with a Pool, the messages go to
// the pool. It reports false when c was closed.
func (l *loop) read(c *conn) bool {
	n, err := unix.Read(c.fd, l.rbuf)
	l.calls++
	var perr error
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return true
	case err != nil: // ECONNRESET and the like: nobody is left to answer
		l.log.Debug("closing connection: read failed", "remote", loopgroup.Peer(c.peer), "err", err)
		l.close(c)
		return false
	case n == 0: // EOF: the client is done sending; answer what is owed
		perr = l.endInput(c)
	case c.h == nil: // inline: answer at once
		c.last = l.now
		c.compact()
		if c.out, perr = c.codec.Feed(c.out, l.rbuf[:n]); perr != nil {
			c.eof = true // flush the replies before the bad message, then close
		}
	default: // with a Pool: cut into messages for it
		c.last = l.now
		if perr = c.h.cut(l.rbuf[:n]); perr != nil {
			c.eof = true // answer the messages before the bad one, then close
		}
		l.submit(c)
	}
	if perr != nil {
		l.log.Warn("closing connection: protocol error", "remote", loopgroup.Peer(c.peer), "err", perr)
	}
	return l.flush(c)
}

// endInput marks c's input over. Inline, the codec answers what it holds;
// with a Pool, an unterminated last line becomes one more message, and the
// messages waiting go to the pool. It returns a protocol error (an
// incomplete frame).
func (l *loop) endInput(c *conn) error {
	c.eof = true
	if c.h != nil {
		err := c.h.finish()
		l.submit(c)
		return err
	}
	c.compact()
	var err error
	c.out, err = c.codec.Finish(c.out)
	return err
}

// flush writes pending output until the socket is full. It closes c once
// its input is over, all its messages are answered and all output is
// written, reporting false.
func (l *loop) flush(c *conn) bool {
	for c.off < len(c.out) {
		want := len(c.out) - c.off
		n, err := unix.Write(c.fd, c.out[c.off:])
		l.calls++
		if n > 0 {
			c.off += n
			c.last = l.now
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil && err != unix.EAGAIN { // EPIPE, ECONNRESET
			l.log.Debug("closing connection: write failed", "remote", loopgroup.Peer(c.peer), "err", err)
			l.close(c)
			return false
		}
		if n < want {
			break // the socket buffer is full
		}
	}
	if c.off == len(c.out) {
		c.out, c.off = msgbatch.Keep(c.out), 0
		if c.eof && !c.owes() {
			l.close(c)
			return false
		}
	}
	return true
}

// settle registers what c waits for now: readable unless its input is
// over, its pending output is at OutCap, or its messages wait for the pool
// (handoff.readable), so that the client's writes stall in the kernel
// (backpressure) and the loop does not spin; writable while output is
// pending.
func (l *loop) settle(c *conn) {
	p := c.pending()
	l.s.group.Backpressure(&c.bp, p, l.outCap)
	var want Events
	if !c.eof && !c.bp.Paused && (c.h == nil || c.h.readable()) {
		want |= Readable
	}
	if p > 0 {
		want |= Writable
	}
	if want == c.watch {
		return
	}
	if err := l.p.Mod(c.fd, want); err != nil {
		l.log.Warn("closing connection: cannot change its watch", "remote", loopgroup.Peer(c.peer), "err", err)
		l.close(c)
		return
	}
	c.watch = want
}

// close closes c at once. A job of c still in the pool is told to stop and
// its completion is dropped; a queued c stays in loop.ready until pump
// skips it.
func (l *loop) close(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	if c.h != nil {
		l.dropHandoff(c)
	}
	_ = l.p.Del(c.fd)
	_ = unix.Close(c.fd)
	l.calls++
	l.conns[c.fd] = nil
	l.s.group.Release(&c.bp)
	last := l.list[len(l.list)-1]
	last.idx = c.idx
	l.list[c.idx] = last
	l.list[len(l.list)-1] = nil
	l.list = l.list[:len(l.list)-1]
	l.s.Release()
}

// drain begins a graceful stop: the listener is released, every
// connection stops reading, and each closes once its messages are answered
// and its output is written.
func (l *loop) drain() {
	l.draining = true
	l.sched.Drain()
	l.releaseListener()
	for i := len(l.list) - 1; i >= 0; i-- {
		c := l.list[i]
		if !c.eof {
			if err := l.endInput(c); err != nil {
				l.log.Warn("closing connection: protocol error", "remote", loopgroup.Peer(c.peer), "err", err)
			}
		}
		if l.flush(c) {
			l.settle(c)
		}
	}
	if l.pool != nil {
		l.pump()
	}
}

func (l *loop) releaseListener() {
	l.unwatchListener()
	if l.lnHeld {
		l.lnHeld = false
		l.s.group.ReleaseListener()
	}
}

// exit closes whatever is still open: connections (their pending output
// and pooled messages are dropped), the listener reference, the poller and
// the wake fd.
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
		l.log.Warn("closed connections with unsent output or unanswered messages", "connections", unsent)
	}
	l.publish()
	l.releaseListener()
	l.closeFDs()
}
