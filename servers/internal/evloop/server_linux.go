package evloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"archbench/protocol"
	"archbench/servers"
)

// Server is the event-loop server behind the select, poll and epoll
// architectures, which differ only in the Poller each loop runs on, and
// behind epoll-pool, whose loops hand their messages to a Pool.
type Server struct {
	servers.Core
	newPoller func() (Poller, error)
	pool      Pool // nil: the loops answer messages inline

	mu    sync.Mutex // guards state, ln and loops
	state int        // idle, running or stopped
	ln    *servers.RawListener
	loops []*loop

	lnRefs   atomic.Int32  // loops still watching the listener; the last one closes it
	live     atomic.Int32  // loops still running; the last one closes exited
	paused   atomic.Int64  // connections not read because of backpressure
	waiting  atomic.Int64  // connections whose messages wait for a pool slot
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

// Options says what a Server's loops run on and who answers the messages.
type Options struct {
	// NewPoller gives each loop its poller: NewSelect, NewPoll or NewEpoll.
	NewPoller func() (Poller, error)
	// Pool, if not nil, answers the messages off the loops: a loop cuts each
	// connection's input into framed messages (Line or Length framing),
	// hands them to Pool, one job per connection at a time, and writes the
	// replies when the job comes back. Nil: the loop answers inline.
	Pool Pool
}

// NewServer returns an unstarted server for cfg whose loops each run on a
// poller from newPoller (NewSelect, NewPoll or NewEpoll) and answer
// messages inline. cfg should have its defaults applied (servers.New
// does); zero Loops, OutCap and Logger are taken as their defaults anyway.
func NewServer(cfg servers.Config, newPoller func() (Poller, error)) (servers.Server, error) {
	return New(cfg, Options{NewPoller: newPoller})
}

// New returns an unstarted server for cfg as o says; see NewServer.
func New(cfg servers.Config, o Options) (*Server, error) {
	if o.NewPoller == nil {
		return nil, errors.New("evloop: no poller")
	}
	if o.Pool != nil && cfg.Framing == protocol.Raw {
		return nil, errors.New("evloop: a pool needs framed messages (line or length), raw has none")
	}
	if cfg.Loops <= 0 {
		cfg.Loops = servers.DefaultLoops
	}
	if cfg.OutCap <= 0 {
		cfg.OutCap = servers.DefaultOutCap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{newPoller: o.NewPoller, pool: o.Pool, exited: make(chan struct{})}
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
	if s.pool != nil {
		s.pool.Start()
	}
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

// Waiting reports how many connections have messages waiting for a free
// pool slot; none of them is read until its messages are in the pool.
// Without a Pool it is 0.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// Shutdown implements servers.Server. The loops stop watching the listener
// (the last one closes it), stop reading, and close each connection once its
// messages are answered and its output is flushed; when ctx ends first the
// pool abandons the messages left and the loops close the rest at once.
// Shutdown returns when every loop (and the pool) has.
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

// slotFreed is called after the pool freed a slot of owner's job: it wakes
// every loop starved of slots, and those that lose the race for it mark
// themselves starved again. Waking only one could pick a loop whose flag is
// stale (it got a slot since) and leave a loop that still waits asleep with
// a slot free. The owner is woken by the job's completion anyway.
func (s *Server) slotFreed(owner *loop) {
	for _, l := range s.loops {
		if l.starved.Load() && l.starved.CompareAndSwap(true, false) && l != owner {
			l.notify(nil)
		}
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
// the pool: no loop can hand it a job any more, and its workers end once
// the jobs still in it are done (abandoned, if forced).
func (s *Server) loopExited() {
	if s.live.Add(-1) == 0 {
		if s.pool != nil {
			s.pool.Stop()
		}
		close(s.exited)
	}
}
