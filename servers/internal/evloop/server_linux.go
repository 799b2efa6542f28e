package evloop

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

// Server is the event-loop server behind the select, poll and epoll
// architectures; they differ only in the Poller each loop runs on.
type Server struct {
	servers.Core
	newPoller func() (Poller, error)

	mu    sync.Mutex // guards state, ln and loops
	state int        // idle, running or stopped
	ln    *servers.RawListener
	loops []*loop

	lnRefs   atomic.Int32  // loops still watching the listener; the last one closes it
	live     atomic.Int32  // loops still running; the last one closes exited
	paused   atomic.Int64  // connections not read because of backpressure
	stopping atomic.Bool   // Shutdown began: stop reading, flush, close
	force    atomic.Bool   // close every connection now and exit
	exited   chan struct{} // closed when every loop has returned
}

const (
	idle = iota
	running
	stopped
)

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted server for cfg whose loops each run on a
// poller from newPoller (NewSelect, NewPoll or NewEpoll). cfg should have
// its defaults applied (servers.New does); zero Loops, OutCap and Logger
// are taken as their defaults anyway.
func NewServer(cfg servers.Config, newPoller func() (Poller, error)) (servers.Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = servers.DefaultLoops
	}
	if cfg.OutCap <= 0 {
		cfg.OutCap = servers.DefaultOutCap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{newPoller: newPoller, exited: make(chan struct{})}
	s.InitCore(cfg)
	return s, nil
}

// Start implements servers.Server: it binds the listener and starts
// Config.Loops loops, each watching it.
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
	loops := make([]*loop, 0, s.Cfg.Loops)
	for i := range s.Cfg.Loops {
		l, err := newLoop(s, i, ln.FD)
		if err != nil {
			for _, l := range loops {
				l.closeFDs()
			}
			ln.Close()
			return fmt.Errorf("evloop: start loop %d: %w", i, err)
		}
		loops = append(loops, l)
	}
	s.ln, s.loops, s.state = ln, loops, running
	s.lnRefs.Store(int32(len(loops)))
	s.live.Store(int32(len(loops)))
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
// because their pending output reached Config.OutCap (backpressure).
func (s *Server) Paused() int64 { return s.paused.Load() }

// Shutdown implements servers.Server. The loops stop watching the listener
// (the last one closes it), stop reading, and close each connection once its
// output is flushed; when ctx ends first they close the rest at once.
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
		l.wakeUp()
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

// loopExited is called by each loop as its last act.
func (s *Server) loopExited() {
	if s.live.Add(-1) == 0 {
		close(s.exited)
	}
}
