package gnetpool

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/gnetsrv"
	"archbench/servers/internal/msgbatch"
)

// pool is Config.Workers goroutines answering jobs, taken from one FIFO of
// ready jobs. A connection has one job and hands it over at most once at a
// time, so the FIFO holds at most one live ticket per open connection (and
// stale ones of jobs taken back, which workers skip).
type pool struct {
	workers int
	framing protocol.Framing
	codec   protocol.CodecConfig
	work    func() // one message's handler cost
	single  bool   // a job is one message (there is work to spend), else all that wait
	// callerRuns: with no work to spend, a connection owed more than high
	// bytes is answered on its loop instead of through the pool.
	callerRuns bool
	high       int
	log        *slog.Logger

	mu      sync.Mutex
	cond    sync.Cond // signalled when a job is queued or the pool stops
	ring    []ticket  // FIFO: ring[head], ring[head+1], ... (mod len), n of them
	head, n int
	stopped bool
	wg      sync.WaitGroup
}

// ticket is one hand-over of a job; a job taken back or handed over again
// since has another seq, so its old ticket is skipped.
type ticket struct {
	j   *job
	seq uint64
}

func newPool(cfg servers.Config, work func()) *pool {
	p := &pool{
		workers: cfg.Workers,
		framing: cfg.Framing,
		codec:   cfg.Codec(),
		work:    work,
		single:  !cfg.Work.IsZero(),
		log:     cfg.Logger,
		ring:    make([]ticket, 64),
	}
	if p.workers <= 0 {
		p.workers = servers.DefaultWorkers
	}
	outCap := cfg.OutCap
	if outCap <= 0 {
		outCap = servers.DefaultOutCap
	}
	p.callerRuns, p.high = !p.single, outCap/8
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.cond.L = &p.mu
	return p
}

func (p *pool) start() {
	for range p.workers {
		p.wg.Go(p.worker)
	}
}

// stop ends the workers and waits for them. It runs once gnet.Run has
// returned: every connection is closed, so every job left is abandoned and
// nothing submits any more.
func (p *pool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// submit queues t; it never blocks on a worker.
func (p *pool) submit(t ticket) {
	p.mu.Lock()
	if p.n == len(p.ring) {
		ring := make([]ticket, 2*len(p.ring))
		for i := range p.n {
			ring[i] = p.ring[(p.head+i)%len(p.ring)]
		}
		p.ring, p.head = ring, 0
	}
	p.ring[(p.head+p.n)%len(p.ring)] = t
	p.n++
	p.mu.Unlock()
	p.cond.Signal()
}

// next waits for a ticket; ok false once the pool stopped.
func (p *pool) next() (t ticket, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n == 0 && !p.stopped {
		p.cond.Wait()
	}
	if p.stopped {
		return ticket{}, false
	}
	t = p.ring[p.head]
	p.ring[p.head] = ticket{}
	p.head = (p.head + 1) % len(p.ring)
	p.n--
	return t, true
}

func (p *pool) worker() {
	for t, ok := p.next(); ok; t, ok = p.next() {
		j := t.j
		if !j.begin(t.seq) {
			continue // taken back by its connection before it ran
		}
		j.finish(p.answer(j.out[:0], &j.in, &j.cancel), p.log)
	}
}

// answer spends the work on each message of b and appends its reply to
// dst, in order, until cancel is set (nil: never).
func (p *pool) answer(dst []byte, b *msgbatch.Batch, cancel *atomic.Bool) []byte {
	for i := range b.Len() {
		if cancel != nil && cancel.Load() {
			break
		}
		p.work()
		dst = protocol.AppendMessageReply(dst, p.framing, b.Msg(i))
	}
	return dst
}

// Job states.
const (
	idle    = iota // with its loop
	queued         // in the pool's FIFO
	running        // a worker answers it
	done           // answered: the loop has been asked to collect the replies
)

// job is one connection's messages in the pool. While the job is queued
// or running, its loop writes neither in nor out (it may read in); the
// worker hands it back under mu.
type job struct {
	r      *replier
	in     msgbatch.Batch
	out    []byte
	cancel atomic.Bool // the connection is closed: skip the remaining messages

	mu     sync.Mutex
	state  int
	seq    uint64        // of the current hand-over
	gone   bool          // the loop no longer wants the worker's result
	waiter chan struct{} // closed by the worker for a loop that waits for a running job
}

// begin is the worker's claim on the job of ticket seq: false if the loop
// took it back since.
func (j *job) begin(seq uint64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != queued || j.seq != seq {
		return false
	}
	j.state = running
	return true
}

// finish hands the answered job back: to the loop waiting for it, or by
// asking the connection's loop to collect it (a task on the loop, see
// replier.collect). The lock orders that request before the loop gives
// the job up in OnClose, which runs before gnet closes the loop's poller,
// so the loop asked is alive.
func (j *job) finish(out []byte, log *slog.Logger) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.out, j.state = out, done
	if j.gone {
		if j.waiter != nil {
			close(j.waiter)
		}
		return
	}
	if err := j.r.gc.EventLoop().Execute(context.Background(), j.r.collectFn); err != nil {
		// Only an event loop that is shut down refuses, and the lock
		// above rules that out; the connection would never be answered
		// again, so say so.
		log.Error("gnet-pool: cannot hand replies back to the event loop; the connection's replies are lost",
			"remote", j.r.gc.RemoteAddr(), "err", err)
	}
}

// replier is gnet-pool's protocol side of one connection (a
// gnetsrv.Replier). Every method runs on the connection's event loop.
type replier struct {
	p         *pool
	gc        gnet.Conn
	progress  func()            // gnetsrv's report after replies were written outside Feed
	collectFn gnet.RunnableFunc // r.collect, made once
	split     protocol.Splitter
	wait      msgbatch.Batch // complete messages not yet handed to the pool
	job       *job           // a new one replaces a job left to its worker
	busy      bool           // job is handed over: queued, running or done
	jobSize   int            // job.in.Pending() when handed over
	scratch   []byte         // replies made on the loop outside Feed
	ended     bool           // input is over: Finish was called or the splitter failed
	closed    bool
}

func (p *pool) newReplier(gc gnet.Conn, progress func()) gnetsrv.Replier {
	r := &replier{p: p, gc: gc, progress: progress}
	r.collectFn = r.collect
	r.split.Reset(p.codec)
	r.job = &job{r: r}
	return r
}

// Feed cuts in into messages, queues them and hands the connection's job
// to the pool if it is not there already. Replies come later (collect);
// Feed gives some itself only when the loop answers (see dispatch).
func (r *replier) Feed(dst, in []byte) ([]byte, error) {
	if r.ended || r.closed {
		return dst, nil
	}
	for len(in) > 0 {
		msg, n, ok, err := r.split.Next(in)
		if err != nil {
			r.ended = true // the splitter must not be used again
			return r.dispatch(dst), err
		}
		in = in[n:]
		if ok {
			r.wait.Add(msg)
		}
	}
	return r.dispatch(dst), nil
}

// dispatch hands the waiting messages to the pool unless the job is out:
// one message when there is work to spend (each reply leaves as soon as
// its message is done), else all of them (the transform costs less than a
// hand-off).
//
// With no work to spend, a connection owed more than pool.high is answered
// here, on the loop, into dst (caller-runs, see answerHere): gnet cannot
// stop reading a connection, so a client that outruns the pool would
// otherwise only meet the OutCap close; answering it on the loop slows
// reading to the pace of the gnet architecture.
func (r *replier) dispatch(dst []byte) []byte {
	if r.closed {
		return dst
	}
	if r.p.callerRuns && r.Owed() > r.p.high {
		return r.answerHere(dst)
	}
	if r.busy || r.wait.Empty() {
		return dst
	}
	j := r.job
	if r.p.single {
		r.wait.MoveFirst(&j.in)
	} else {
		j.in, r.wait = r.wait, j.in
	}
	r.jobSize = j.in.Pending()
	r.busy = true
	j.mu.Lock()
	j.state = queued
	j.seq++
	t := ticket{j: j, seq: j.seq}
	j.mu.Unlock()
	r.p.submit(t)
	return dst
}

// answerHere appends to dst every reply the connection is owed, in order,
// made on the loop, without waiting for a worker.
func (r *replier) answerHere(dst []byte) []byte {
	if r.busy {
		dst = r.reclaim(dst, false)
	}
	dst = r.p.answer(dst, &r.wait, nil)
	r.wait.Reset()
	return dst
}

// reclaim takes the job back from the pool and appends its replies to dst:
// a queued job is answered here (its ticket goes stale), a done one gives
// its replies, and a running one is waited for (wait) or answered here as
// well, its worker's result dropped (only with no handler work: a reply is
// then a pure function of its message, and the loop reads the messages
// the worker reads, writing neither).
func (r *replier) reclaim(dst []byte, wait bool) []byte {
	j := r.job
	r.busy = false
	j.mu.Lock()
	switch j.state {
	case queued:
		j.state = idle
		j.mu.Unlock()
		dst = r.p.answer(dst, &j.in, nil)
	case running:
		j.gone = true
		if !wait {
			j.mu.Unlock()
			dst = r.p.answer(dst, &j.in, nil)
			r.job = &job{r: r} // j stays with its worker until it is done
			return dst
		}
		ch := make(chan struct{})
		j.waiter = ch
		j.mu.Unlock()
		<-ch
		j.mu.Lock()
		j.gone, j.waiter, j.state = false, nil, idle
		j.mu.Unlock()
		dst = append(dst, j.out...)
	default: // done: collect, when it runs, finds nothing to do
		j.state = idle
		j.mu.Unlock()
		dst = append(dst, j.out...)
	}
	j.in.Reset()
	j.out = msgbatch.Keep(j.out)
	return dst
}

// collect runs on the loop once a worker is done with the connection's
// job: it writes the replies and hands over what waited meanwhile. It does
// nothing if the loop took the job back first.
func (r *replier) collect(context.Context) error {
	if r.closed || !r.busy {
		return nil
	}
	j := r.job
	j.mu.Lock()
	if j.state != done {
		j.mu.Unlock()
		return nil // a newer hand-over of j is still in the pool
	}
	j.state = idle
	j.mu.Unlock()
	r.busy = false
	_, err := r.gc.Write(j.out) // copies what the socket does not take
	j.in.Reset()
	j.out = msgbatch.Keep(j.out)
	if err != nil {
		return nil // gnet closed the connection (OnClose ran)
	}
	if out := r.dispatch(r.scratch[:0]); len(out) > 0 {
		_, err := r.gc.Write(out)
		r.scratch = msgbatch.Keep(out)
		if err != nil {
			return nil
		}
	}
	r.progress() // last: it may close the connection
	return nil
}

// Owed is the size of the messages handed over or waiting, which will
// become replies.
func (r *replier) Owed() int {
	n := r.wait.Pending()
	if r.busy {
		n += r.jobSize
	}
	return n
}

// Finish ends the input: an unterminated last line is one more message.
// Without wait (Shutdown) the rest is answered through the pool as usual.
// With wait gnet closes the socket right after the call, so every reply
// owed is made here (reclaim; a running job with handler work is waited
// for, and the loop with it).
func (r *replier) Finish(dst []byte, wait bool) ([]byte, error) {
	var err error
	if !r.ended {
		r.ended = true
		msg, ok, ferr := r.split.Finish()
		if ok {
			r.wait.Add(msg)
		}
		err = ferr
	}
	if !wait {
		return r.dispatch(dst), err
	}
	if r.busy {
		dst = r.reclaim(dst, !r.p.callerRuns)
	}
	dst = r.p.answer(dst, &r.wait, nil)
	r.wait.Reset()
	return dst, err
}

// Close drops what is owed: a job in the pool is abandoned (a running one
// stops before its next message) and never written.
func (r *replier) Close() {
	r.closed = true
	if !r.busy {
		return
	}
	j := r.job
	j.cancel.Store(true)
	j.mu.Lock()
	j.gone = true
	if j.state == queued {
		j.state = idle // its ticket is stale
	}
	j.mu.Unlock()
}
