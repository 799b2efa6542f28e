package evloop

import (
	"sync/atomic"

	"archbench/protocol"
	"archbench/servers/internal/msgbatch"
)

// waitCap bounds the messages a connection holds behind its own job in the
// pool: at this size it is not read until they go to the pool.
const waitCap = 256 << 10

// Pool runs the jobs a Server's loops hand off (Options.Pool) on goroutines
// of its own, a bounded number at a time. The loops call TryAcquire and
// Send; Start and Stop come from Server.Start and the last loop's exit.
type Pool interface {
	// Start starts the workers; Server.Start calls it once, before any
	// loop runs.
	Start()
	// TryAcquire claims a slot for one job if one is free; it must not
	// block. A loop that finds none is woken by the next Job.Done.
	TryAcquire() bool
	// Send hands over j; the caller holds a slot, so Send must not block.
	// The pool runs j (Job.Run), frees the slot, then calls j.Done: in that
	// order, or a loop waiting for a slot could sleep through a free one.
	Send(j *Job)
	// Stop is called once, after the last loop has exited, so that nothing
	// is sent any more; it returns when every worker has.
	Stop()
}

// Job is one connection's messages on their way through the pool. A
// connection owns one Job and hands it off at most once at a time; while
// it is out, the pool owns its messages and replies and the loop touches
// neither. Pool.Send and the loop's completion queue order the handovers.
type Job struct {
	l      *loop
	c      *conn
	in     msgbatch.Batch
	out    []byte      // replies, built by Run
	cancel atomic.Bool // the connection is gone: skip the remaining messages
}

// Run spends work (the handler cost) on each of j's messages and builds
// their replies, in order. It stops early once the connection is closed or
// the server stops at once (Shutdown's context ended); the replies are then
// dropped. The pool calls it on its own goroutine.
func (j *Job) Run(work func()) {
	framing := j.l.codecCfg.Framing
	j.out = j.out[:0]
	for i := range j.in.Len() {
		if j.cancel.Load() || j.l.s.group.Forced() {
			j.out = j.out[:0] // abandoned: not one reply of it goes out
			return
		}
		work()
		j.out = protocol.AppendMessageReply(j.out, framing, j.in.Msg(i))
	}
}

// Done gives j back to its loop, which writes the replies; any goroutine
// may call it, once the pool has freed j's slot. j belongs to the loop
// again from here on.
func (j *Job) Done() {
	j.l.s.slotFreed(j.l)
	j.l.notify(j)
}

// handoff is a connection's side of the hand-off to the pool: its input is
// cut into messages here, which wait here and go to the pool one job at a
// time, so that its replies leave in request order.
type handoff struct {
	split  protocol.Splitter
	wait   msgbatch.Batch // complete messages not yet handed to the pool
	job    Job
	busy   bool // job is in the pool
	queued bool // in loop.ready, waiting for a pool slot
}

func newHandoff(l *loop, c *conn) *handoff {
	h := &handoff{job: Job{l: l, c: c}}
	h.split.Reset(l.codecCfg)
	return h
}

// owes reports whether messages are still to be answered.
func (h *handoff) owes() bool { return h.busy || !h.wait.Empty() }

// readable reports whether the connection may be read: not while its
// messages wait for a pool slot, nor while those waiting behind its own job
// reach waitCap.
func (h *handoff) readable() bool { return !h.queued && h.wait.Size() < waitCap }

// cut copies every message src completes into h.wait.
func (h *handoff) cut(src []byte) error {
	for len(src) > 0 {
		msg, n, ok, err := h.split.Next(src)
		if err != nil {
			return err
		}
		src = src[n:]
		if ok {
			h.wait.Add(msg)
		}
	}
	return nil
}

// finish ends the input: an unterminated last line becomes one more
// message; an incomplete frame is an error.
func (h *handoff) finish() error {
	msg, ok, err := h.split.Finish()
	if ok {
		h.wait.Add(msg)
	}
	return err
}

// submit hands c's waiting messages to the pool if it has none there (one
// job per connection at a time keeps its replies in order): at once when
// no connection is queued ahead and a slot is free, otherwise through
// loop.ready.
func (l *loop) submit(c *conn) {
	h := c.h
	if h.busy || h.queued || h.wait.Empty() {
		return
	}
	if l.readyHead == len(l.ready) && l.acquire() {
		l.handOff(c)
		return
	}
	h.queued = true
	l.s.waiting.Add(1)
	l.ready = append(l.ready, c)
}

// acquire claims a pool slot, or marks the loop starved. The flag is set
// before the second try, and Job.Done looks at the flags only after the
// pool freed its slot, so a slot freed in between is never missed.
func (l *loop) acquire() bool {
	if l.pool.TryAcquire() {
		return true
	}
	l.starved.Store(true)
	if l.pool.TryAcquire() {
		l.starved.Store(false)
		return true
	}
	return false
}

// handOff sends c's first waiting message to the pool as its job, or all
// of them when there is no handler work (the transform costs less than a
// hand-off); the caller holds a slot.
func (l *loop) handOff(c *conn) {
	h := c.h
	if l.single {
		h.wait.MoveFirst(&h.job.in)
	} else {
		h.job.in, h.wait = h.wait, h.job.in
	}
	h.busy = true
	l.pool.Send(&h.job)
}

// pump hands queued connections' messages to the pool, first come first
// served, while it has free slots.
func (l *loop) pump() {
	for l.readyHead < len(l.ready) {
		c := l.ready[l.readyHead]
		if !c.closed {
			if !l.acquire() {
				break // a freed slot wakes this loop
			}
			c.h.queued = false
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

// completed appends j's replies to its connection's output, submits the
// messages that arrived meanwhile, and writes.
func (l *loop) completed(j *Job) {
	c := j.c
	c.h.busy = false
	j.in.Reset()
	if c.closed {
		return
	}
	if c.pending() == 0 {
		c.out, j.out, c.off = j.out, msgbatch.Keep(c.out), 0 // hand the buffer over, no copy
	} else {
		c.compact()
		c.out = append(c.out, j.out...)
		j.out = msgbatch.Keep(j.out)
	}
	c.last = l.now
	l.submit(c)
	if l.flush(c) {
		l.settle(c)
	}
}

// dropHandoff is close's part for a connection with a pool: a job in the
// pool is told to stop, and a queued connection no longer counts as
// waiting.
func (l *loop) dropHandoff(c *conn) {
	if c.h.busy {
		c.h.job.cancel.Store(true)
	}
	if c.h.queued {
		l.s.waiting.Add(-1)
	}
}
