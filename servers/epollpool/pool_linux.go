package epollpool

import (
	"sync"
	"sync/atomic"

	"archbench/protocol"
	"archbench/servers"
)

// queuePerWorker is how many jobs may wait in the pool's queue per worker,
// beyond the one each worker runs: a worker that finishes takes the next
// job at once instead of waiting for a loop to wake up and hand one over.
const queuePerWorker = 1

// batch is framed messages copied out of one connection's input, in order;
// messages before head have been taken.
type batch struct {
	data []byte // message bodies back to back
	ends []int  // ends[i] is where message i ends in data
	head int
}

func (b *batch) add(msg []byte) {
	b.data = append(b.data, msg...)
	b.ends = append(b.ends, len(b.data))
}

func (b *batch) empty() bool { return b.head == len(b.ends) }

// size is the memory b holds, its message index included, so that a flood
// of empty messages counts too.
func (b *batch) size() int { return len(b.data) + 8*len(b.ends) }

// msg returns message i.
func (b *batch) msg(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start:b.ends[i]]
}

// moveFirst moves b's first message to the end of dst.
func (b *batch) moveFirst(dst *batch) {
	dst.add(b.msg(b.head))
	if b.head++; b.empty() {
		b.reset()
	}
}

// reset empties b, dropping buffers a burst made large.
func (b *batch) reset() {
	b.data, b.ends, b.head = keep(b.data), b.ends[:0], 0
	if cap(b.ends) > keepCap/8 {
		b.ends = nil
	}
}

// keep returns p emptied, or nil if its capacity is over keepCap, so that
// one burst does not pin a large buffer to an idle connection.
func keep(p []byte) []byte {
	if cap(p) > keepCap {
		return nil
	}
	return p[:0]
}

// job is one connection's batch of messages in the pool. A connection owns
// exactly one job and hands it to the pool at most once at a time; while
// the job is out, the worker owns in and out, the loop touches neither,
// and the channel send and the loop's completion queue order the handover.
type job struct {
	l      *loop
	c      *conn
	in     batch
	out    []byte      // replies, built by the worker
	cancel atomic.Bool // the connection is gone: skip the remaining messages
}

// pool is Config.Workers goroutines running jobs. It holds at most cap
// jobs (running or queued): a loop takes a slot before it sends, so a send
// never blocks, and a loop that finds no slot marks itself starved, to be
// woken by the next release.
type pool struct {
	jobs    chan *job
	free    atomic.Int64 // free slots
	workers int
	framing protocol.Framing
	work    func()       // one message's handler cost
	force   *atomic.Bool // Server.force: abandon remaining messages
	loops   []*loop      // to wake the starved ones; set before start
	wg      sync.WaitGroup
}

func newPool(cfg servers.Config, work func(), force *atomic.Bool) *pool {
	n := cfg.Workers * (1 + queuePerWorker)
	p := &pool{jobs: make(chan *job, n), workers: cfg.Workers, framing: cfg.Framing, work: work, force: force}
	p.free.Store(int64(n))
	return p
}

func (p *pool) start() {
	for range p.workers {
		p.wg.Go(p.worker)
	}
}

// stop ends the workers once every queued job is done; only after the last
// loop has exited, so that nothing sends any more.
func (p *pool) stop() {
	close(p.jobs)
	p.wg.Wait()
}

func (p *pool) worker() {
	for j := range p.jobs {
		p.run(j)
		owner := j.l
		p.release(owner)
		owner.notify(j) // j belongs to the loop again from here on
	}
}

// run spends the work on each message of j and builds its reply, in order.
func (p *pool) run(j *job) {
	j.out = j.out[:0]
	for i := j.in.head; i < len(j.in.ends); i++ {
		if j.cancel.Load() || p.force.Load() {
			return
		}
		p.work()
		j.out = protocol.AppendMessageReply(j.out, p.framing, j.in.msg(i))
	}
}

// take claims a slot if one is free.
func (p *pool) take() bool {
	for {
		n := p.free.Load()
		if n <= 0 {
			return false
		}
		if p.free.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// acquire claims a slot for loop l, or marks l starved. The starved flag is
// set before the second try and a release frees its slot before it looks
// at the flags, so a slot freed in between is never missed.
func (p *pool) acquire(l *loop) bool {
	if p.take() {
		return true
	}
	l.starved.Store(true)
	if p.take() {
		l.starved.Store(false)
		return true
	}
	return false
}

// release frees a slot and wakes every starved loop; those that lose the
// race for it mark themselves starved again. Waking only one could pick a
// loop whose flag is stale (it got a slot since) and leave a loop that
// still waits asleep with a slot free. The owner of the finished job is
// woken by its completion anyway.
func (p *pool) release(owner *loop) {
	p.free.Add(1)
	for _, l := range p.loops {
		if l.starved.Load() && l.starved.CompareAndSwap(true, false) && l != owner {
			l.notify(nil)
		}
	}
}

// send hands j to a worker; the caller holds a slot, so it never blocks.
func (p *pool) send(j *job) { p.jobs <- j }
