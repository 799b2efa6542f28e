package evloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/loopgroup"
)

// Server is the event-loop server behind the select, poll and epoll
// architectures, which differ only in the Poller each loop runs on, and
// behind epoll-pool, whose loops hand their messages to a Pool.
type Server struct {
	servers.Core
	newPoller func() (Poller, error)
	pool      Pool // nil: the loops answer messages inline

	// group is the loops' life cycle: state, listener, Shutdown; its
	// Start sets loops, under its lock, before any loop runs.
	group   loopgroup.Group
	loops   []*loop
	waiting atomic.Int64 // connections whose messages wait for a pool slot
}

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
	s := &Server{newPoller: o.NewPoller, pool: o.Pool}
	s.InitCore(loopgroup.Defaults(cfg))
	h := loopgroup.Hooks{Wake: s.wakeAll}
	if o.Pool != nil {
		// No loop can hand the pool a job any more; its workers end once
		// the jobs still in it are done (abandoned, if forced).
		h.Stopped = o.Pool.Stop
	}
	s.group.Init(&s.Core, "event loop", h)
	return s, nil
}

// Start implements servers.Server: it binds the listener and starts
// Config.Loops loops, each watching it.
func (s *Server) Start() error {
	return s.group.Start(func(ln *servers.RawListener) error {
		loops := make([]*loop, 0, s.Cfg.Loops)
		for i := range s.Cfg.Loops {
			l, err := newLoop(s, i, ln.FD)
			if err != nil {
				for _, l := range loops {
					l.closeFDs()
				}
				return fmt.Errorf("evloop: start loop %d: %w", i, err)
			}
			loops = append(loops, l)
		}
		s.loops = loops
		if s.pool != nil {
			s.pool.Start()
		}
		for _, l := range loops {
			s.group.Go(l.run)
		}
		return nil
	})
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.group.Addr() }

// Paused reports how many connections are not being read right now
// because their pending output reached Config.OutCap (backpressure).
func (s *Server) Paused() int64 { return s.group.Paused() }

// Waiting reports how many connections have messages waiting for a free
// pool slot; none of them is read until its messages are in the pool.
// Without a Pool it is 0.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// Shutdown implements servers.Server. The loops stop watching the listener
// (the last one closes it), stop reading, and close each connection once its
// messages are answered and its output is flushed; when ctx ends first the
// pool abandons the messages left and the loops close the rest at once.
// Shutdown returns when every loop (and the pool) has.
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx) }

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
