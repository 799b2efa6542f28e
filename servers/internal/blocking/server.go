package blocking

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"archbench/servers"
)

// Dispatch is how accepted connections reach the connection loop: the one
// thing the blocking architectures differ in.
type Dispatch struct {
	// Acceptors is how many goroutines loop Accept on each listener.
	Acceptors int
	// Spawn gives each connection its own goroutine; otherwise the acceptor
	// serves the connection itself before accepting the next.
	Spawn bool
	// ReusePort opens Acceptors listeners on the same port with
	// SO_REUSEPORT, one accept loop each, so the kernel spreads connections
	// across them; otherwise all acceptors share one listener.
	ReusePort bool
}

// Server is a blocking-I/O server.
type Server struct {
	servers.Core
	dispatch Dispatch
	lns      []net.Listener
	perLoop  []atomic.Int64 // connections accepted by each accept loop
	tracker  *Tracker
}

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted server for cfg (defaults applied).
func NewServer(cfg servers.Config, d Dispatch) *Server {
	d.Acceptors = max(1, d.Acceptors)
	s := &Server{dispatch: d, perLoop: make([]atomic.Int64, d.Acceptors)}
	s.InitCore(cfg)
	s.tracker = NewTracker(&s.Core)
	return s
}

// Start implements servers.Server.
func (s *Server) Start() error {
	if s.lns != nil {
		return servers.ErrClosed
	}
	lns, err := s.listen()
	if err != nil {
		return err
	}
	s.lns = lns
	handle := s.tracker.Serve
	if s.dispatch.Spawn {
		handle = func(c net.Conn) { s.tracker.Go(func() { s.tracker.Serve(c) }) }
	}
	for i := range s.dispatch.Acceptors {
		ln := lns[0]
		if s.dispatch.ReusePort {
			ln = lns[i]
		}
		count := &s.perLoop[i]
		s.tracker.Go(func() {
			s.tracker.AcceptLoop(ln, func(c net.Conn) { count.Add(1); handle(c) })
		})
	}
	return nil
}

func (s *Server) listen() ([]net.Listener, error) {
	if !s.dispatch.ReusePort {
		ln, err := servers.Listen(s.Cfg)
		if err != nil {
			return nil, err
		}
		return []net.Listener{ln}, nil
	}
	if s.Cfg.Network == "unix" {
		return nil, fmt.Errorf("servers: SO_REUSEPORT spreads TCP connections only; use --network tcp or tcp6: %w", errors.ErrUnsupported)
	}
	// SO_REUSEPORT would share a port with anyone else who set it: bind it
	// plainly first, which fails if anybody listens there (TIME_WAIT
	// connections do not count: Go sets SO_REUSEADDR), and take the port
	// the kernel chose if it was 0.
	probe, err := servers.Listen(s.Cfg)
	if err != nil {
		return nil, err
	}
	cfg := s.Cfg
	cfg.Addr = probe.Addr().String()
	probe.Close()
	// The first listener binds the probed port; the others join it.
	var lns []net.Listener
	for range s.dispatch.Acceptors {
		ln, err := servers.ListenReusePort(cfg)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
		cfg.Addr = ln.Addr().String()
	}
	return lns, nil
}

// PerLoop reports how many connections each accept loop has taken.
func (s *Server) PerLoop() []int64 {
	out := make([]int64, len(s.perLoop))
	for i := range s.perLoop {
		out[i] = s.perLoop[i].Load()
	}
	return out
}

// Stats implements servers.Server, with the per-loop counts.
func (s *Server) Stats() servers.Stats {
	st := s.Core.Stats()
	if s.dispatch.ReusePort {
		st.PerLoop = s.PerLoop()
	}
	return st
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr {
	if s.lns == nil {
		return nil
	}
	return s.lns[0].Addr()
}

// Shutdown implements servers.Server.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.lns == nil {
		return servers.ErrClosed
	}
	s.BeginStop()
	for _, ln := range s.lns {
		ln.Close()
	}
	err := s.tracker.Shutdown(ctx) // waits for the acceptors too
	if s.dispatch.ReusePort {
		s.Log.Info("connections per accept loop", "per_loop", s.PerLoop())
	}
	s.Stop(nil)
	return err
}
