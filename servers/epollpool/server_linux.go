package epollpool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"archbench/servers"
)

// Server is the epoll-pool architecture with framed messages: Config.Loops
// epoll loops doing all socket I/O, and one pool of Config.Workers
// goroutines spending the handler work and building the replies.
type Server struct {
	servers.Core

	mu    sync.Mutex // guards state, ln and loops
	state int        // idle, running or stopped
	ln    *servers.RawListener
	loops []*loop
	pool  *pool
	work  func() // spends one message's handler cost: Cfg.Work.Do; tests replace it

	lnRefs   atomic.Int32  // loops still watching the listener; the last one closes it
	live     atomic.Int32  // loops still running; the last one stops the pool and closes exited
	paused   atomic.Int64  // connections not read because their output reached OutCap
	waiting  atomic.Int64  // connections whose messages wait for a pool slot
	stopping atomic.Bool   // Shutdown began: stop reading, finish the pooled work, flush, close
	force    atomic.Bool   // close every connection now, abandon pooled work, exit
	exited   chan struct{} // closed when every loop and worker has returned
}

const (
	idle = iota
	running
	stopped
)

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted epoll-pool server for cfg, which must
// have Line or Length framing (New sends Raw to the epoll architecture).
// cfg should have its defaults applied (servers.New does); zero Loops,
// Workers, OutCap and Logger are taken as their defaults anyway.
func NewServer(cfg servers.Config) (servers.Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = servers.DefaultLoops
	}
	if cfg.Workers <= 0 {
		cfg.Workers = servers.DefaultWorkers
	}
	if cfg.OutCap <= 0 {
		cfg.OutCap = servers.DefaultOutCap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := cfg.Codec().Validate(); err != nil {
		return nil, fmt.Errorf("epollpool: %w", err)
	}
	s := &Server{exited: make(chan struct{}), work: cfg.Work.Do}
	s.InitCore(cfg)
	return s, nil
}

// Start implements servers.Server: it binds the listener, starts
// Config.Loops loops watching it and Config.Workers workers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != idle {
		return servers.ErrClosed
	}
	ln, err := servers.ListenRaw(s.Cfg)
	if err != nil {
		return err
	}
	p := newPool(s.Cfg, s.work, &s.force)
	loops := make([]*loop, 0, s.Cfg.Loops)
	for i := range s.Cfg.Loops {
		l, err := newLoop(s, p, i, ln.FD)
		if err != nil {
			for _, l := range loops {
				l.closeFDs()
			}
			ln.Close()
			return fmt.Errorf("epollpool: start loop %d: %w", i, err)
		}
		loops = append(loops, l)
	}
	p.loops = loops
	s.ln, s.loops, s.pool, s.state = ln, loops, p, running
	s.lnRefs.Store(int32(len(loops)))
	s.live.Store(int32(len(loops)))
	p.start()
	for _, l := range loops {
		go l.run()
	}
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr
}

// Paused reports how many connections are not being read right now
// because their pending output reached Config.OutCap.
func (s *Server) Paused() int64 { return s.paused.Load() }

// Waiting reports how many connections have messages waiting for a free
// pool slot; none of them is read until its messages are in the pool.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// Shutdown implements servers.Server. The loops stop watching the listener
// (the last one closes it) and stop reading; each connection is closed once
// the replies to its pooled messages are written. When ctx ends first, the
// workers abandon their remaining messages and the loops close the rest at
// once. Shutdown returns when every loop and worker has returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	state := s.state
	s.state = stopped
	s.mu.Unlock()
	switch state {
	case idle:
		s.Stop(nil)
		return servers.ErrClosed
	case stopped:
		<-s.exited
		return servers.ErrClosed
	}
	s.stopping.Store(true)
	s.wakeAll()
	var err error
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.force.Store(true)
		s.wakeAll()
		<-s.exited
		err = ctx.Err()
	}
	s.Stop(nil)
	return err
}

// fail ends the server after a loop died of err: Done and Err report it,
// and the other loops close their connections and exit.
func (s *Server) fail(err error) {
	s.Log.Error("event loop failed; stopping the server", "err", err)
	s.Stop(err)
	s.force.Store(true)
	s.wakeAll()
}

func (s *Server) wakeAll() {
	for _, l := range s.loops {
		l.notify(nil)
	}
}

// releaseListener is called once by each loop when it stops watching the
// listener; the last one closes it.
func (s *Server) releaseListener() {
	if s.lnRefs.Add(-1) == 0 {
		if err := s.ln.Close(); err != nil {
			s.Log.Warn("closing listener", "err", err)
		}
	}
}

// loopExited is called by each loop as its last act. The last one stops
// the pool: no loop can hand it a job any more, and every worker ends
// once the jobs still queued are done (abandoned, if forced).
func (s *Server) loopExited() {
	if s.live.Add(-1) == 0 {
		s.pool.stop()
		close(s.exited)
	}
}
