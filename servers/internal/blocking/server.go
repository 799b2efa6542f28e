package blocking

import (
	"context"
	"net"

	"archbench/servers"
)

// Dispatch is how accepted connections reach the connection loop: the one
// thing the blocking architectures differ in.
type Dispatch struct {
	// Acceptors is how many goroutines loop Accept on the one listener.
	Acceptors int
	// Spawn gives each connection its own goroutine; otherwise the acceptor
	// serves the connection itself before accepting the next.
	Spawn bool
}

// Server is a blocking-I/O server with one listener.
type Server struct {
	servers.Core
	dispatch Dispatch
	ln       net.Listener
	tracker  *Tracker
}

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted server for cfg (defaults applied).
func NewServer(cfg servers.Config, d Dispatch) *Server {
	s := &Server{dispatch: d}
	s.InitCore(cfg)
	s.tracker = NewTracker(&s.Core)
	return s
}

// Start implements servers.Server.
func (s *Server) Start() error {
	if s.ln != nil {
		return servers.ErrClosed
	}
	ln, err := servers.Listen(s.Cfg)
	if err != nil {
		return err
	}
	s.ln = ln
	handle := s.tracker.Serve
	if s.dispatch.Spawn {
		handle = func(c net.Conn) { s.tracker.Go(func() { s.tracker.Serve(c) }) }
	}
	for range max(1, s.dispatch.Acceptors) {
		s.tracker.Go(func() { s.tracker.AcceptLoop(ln, handle) })
	}
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown implements servers.Server.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return servers.ErrClosed
	}
	s.ln.Close()
	err := s.tracker.Shutdown(ctx) // waits for the acceptors too
	s.Stop(nil)
	return err
}
