package epollpool

import (
	"sync"
	"sync/atomic"

	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// queuePerWorker is how many jobs may wait in the pool's queue per worker,
// beyond the one each worker runs: a worker that finishes takes the next
// job at once instead of waiting for a loop to wake up and hand one over.
const queuePerWorker = 1

// pool is Config.Workers goroutines running the jobs evloop's loops hand
// off (it is their evloop.Pool). It holds at most cap(jobs) jobs, running
// or queued: a loop takes a slot before it sends, so a send never blocks.
type pool struct {
	jobs    chan *evloop.Job
	free    atomic.Int64 // free slots
	workers int
	work    func() // one message's handler cost: Config.Work, cancelled on stop; tests replace it before Start
	wg      sync.WaitGroup
}

var _ evloop.Pool = (*pool)(nil)

func newPool(cfg servers.Config) *pool {
	n := cfg.Workers * (1 + queuePerWorker)
	p := &pool{jobs: make(chan *evloop.Job, n), workers: cfg.Workers, work: func() { cfg.Work.DoUntil(cfg.Stopping()) }}
	p.free.Store(int64(n))
	return p
}

// Start implements evloop.Pool.
func (p *pool) Start() {
	for range p.workers {
		p.wg.Go(p.worker)
	}
}

// Stop implements evloop.Pool: it ends the workers once every queued job is
// done (abandoned, if the server was forced to stop).
func (p *pool) Stop() {
	close(p.jobs)
	p.wg.Wait()
}

func (p *pool) worker() {
	for j := range p.jobs {
		j.Run(p.work)
		p.free.Add(1)
		j.Done() // after the slot is free, as evloop.Pool requires
	}
}

// TryAcquire implements evloop.Pool.
func (p *pool) TryAcquire() bool {
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

// Send implements evloop.Pool; the caller holds a slot, so it never blocks.
func (p *pool) Send(j *evloop.Job) { p.jobs <- j }
