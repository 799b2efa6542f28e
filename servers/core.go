package servers

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Core is the bookkeeping every architecture shares: counters, the
// MaxConns gate and the Done/Err life cycle. Embed it and call Admit,
// Release and Stop; it supplies Stats, Done and Err.
type Core struct {
	Cfg Config
	Log *slog.Logger

	accepted, rejected, active, acceptErrs atomic.Int64
	syscalls                               atomic.Int64

	rejectLog rateLog

	stopOnce sync.Once
	done     chan struct{}
	err      error
}

// InitCore prepares the Core for cfg (defaults already applied).
func (c *Core) InitCore(cfg Config) {
	c.Cfg = cfg
	c.Log = cfg.Logger
	c.done = make(chan struct{})
}

// Admit counts a newly accepted connection. It reports false, counting and
// logging a rejection, when MaxConns connections are already open; the
// caller then closes the connection at once.
func (c *Core) Admit() bool {
	n := c.active.Add(1)
	if max := c.Cfg.MaxConns; max > 0 && n > int64(max) {
		c.active.Add(-1)
		c.Reject("max-conns reached", "max_conns", max)
		return false
	}
	c.accepted.Add(1)
	return true
}

// Reject counts a connection closed at once for reason; logs are rate
// limited to one line a second, with the count since the last line.
func (c *Core) Reject(reason string, args ...any) {
	c.rejected.Add(1)
	c.rejectLog.log(c.Log, "connection rejected", append([]any{"reason", reason}, args...)...)
}

// Release counts a closed connection that Admit let in.
func (c *Core) Release() { c.active.Add(-1) }

// AcceptFailed counts a failed accept.
func (c *Core) AcceptFailed(err error, wait time.Duration) {
	c.acceptErrs.Add(1)
	c.Log.Warn("accept failed; backing off", "err", err, "retry_in", wait)
}

// CountSyscalls adds n system calls made by the server's own loops (see
// Stats.Syscalls). A loop counts in a plain variable and adds its count
// here once per wake-up, so the shared counter costs one atomic add per
// wake-up, not per call.
func (c *Core) CountSyscalls(n int64) {
	if n != 0 {
		c.syscalls.Add(n)
	}
}

// Stats implements Server.
func (c *Core) Stats() Stats {
	return Stats{
		Accepted:     c.accepted.Load(),
		Rejected:     c.rejected.Load(),
		Active:       c.active.Load(),
		AcceptErrors: c.acceptErrs.Load(),
		Syscalls:     c.syscalls.Load(),
	}
}

// BeginStop cancels the server's handler work, in progress and to come
// (Config.Stopping): a Shutdown calls it first, so that a stop never waits
// for modelled work. Safe to call more than once.
func (c *Core) BeginStop() { c.Cfg.stop.close() }

// Stop marks the server stopped with err (nil for a requested shutdown).
// Only the first call counts. It also cancels handler work (BeginStop).
func (c *Core) Stop(err error) {
	c.BeginStop()
	c.stopOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

// Done implements Server.
func (c *Core) Done() <-chan struct{} { return c.done }

// Err implements Server; meaningful once Done is closed.
func (c *Core) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// rateLog writes at most one line a second and says how many it held back.
type rateLog struct {
	mu      sync.Mutex
	last    time.Time
	dropped int
}

func (r *rateLog) log(l *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.dropped++
		r.mu.Unlock()
		return
	}
	dropped := r.dropped
	r.last, r.dropped = now, 0
	r.mu.Unlock()
	if dropped > 0 {
		args = append(args, "similar_since_last_line", dropped)
	}
	l.Warn(msg, args...)
}

// Backoff is the accept retry delay of net/http's Serve: 5 ms doubling to 1 s.
type Backoff struct{ d time.Duration }

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	if b.d == 0 {
		b.d = 5 * time.Millisecond
	} else {
		b.d = min(2*b.d, time.Second)
	}
	return b.d
}

// Reset starts the delays over after a successful accept.
func (b *Backoff) Reset() { b.d = 0 }

// IsRetryable reports accept errors after which the next accept may simply
// be tried: the peer gave up before we accepted (ECONNABORTED and kin).
func IsRetryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.ECONNABORTED, syscall.EINTR, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
