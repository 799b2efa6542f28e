package iouring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/internal/uring"
)

// Server is the io_uring architecture: Config.Loops loops, each on its own
// ring, sharing one listening socket.
type Server struct {
	servers.Core
	opts Options

	mu    sync.Mutex // guards state, ln and loops
	state int        // idle, running or stopped
	ln    *servers.RawListener
	loops []*loop

	featMu sync.Mutex // guards feats, set by loop 0 while Start holds mu
	feats  string     // what the kernel offered and the loops use; see Features

	lnRefs   atomic.Int32  // loops still accepting; the last one closes the listener
	live     atomic.Int32  // loops still running; the last one closes exited
	paused   atomic.Int64  // connections not read because of backpressure
	stopping atomic.Bool   // Shutdown began: stop accepting and reading, flush, close
	force    atomic.Bool   // close every connection now and exit
	aborted  atomic.Bool   // Start failed: loops that set up exit at once
	exited   chan struct{} // closed when every loop has returned
}

const (
	idle = iota
	running
	stopped
)

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted io_uring server for cfg as o says. cfg
// should have its defaults applied (servers.New does); zero Loops, OutCap
// and Logger are taken as their defaults anyway. Whether io_uring can be
// used here is known only at Start, which sets the rings up.
func NewServer(cfg servers.Config, o Options) (*Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = servers.DefaultLoops
	}
	if cfg.OutCap <= 0 {
		cfg.OutCap = servers.DefaultOutCap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: o, exited: make(chan struct{})}
	s.InitCore(cfg)
	return s, nil
}

// Start implements servers.Server: it binds the listener and starts
// Config.Loops loops, each of which sets its ring up on its own thread.
// When io_uring cannot be used here the error wraps uring.ErrUnavailable
// and says why in one line.
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
	if s.Cfg.Network != "unix" {
		// Accepted sockets inherit TCP_NODELAY from the listener on Linux:
		// one system call here instead of one per connection.
		if err := unix.SetsockoptInt(ln.FD, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			ln.Close()
			return fmt.Errorf("iouring: TCP_NODELAY on the listener: %w", err)
		}
	}
	s.ln = ln
	s.loops = make([]*loop, s.Cfg.Loops)
	s.lnRefs.Store(int32(len(s.loops)))
	s.live.Store(int32(len(s.loops)))
	ready := make(chan error, len(s.loops))
	begin := make(chan struct{})
	for i := range s.loops {
		s.loops[i] = newLoop(s, i, ln.FD)
		go s.loops[i].run(ready, begin)
	}
	var errs []error
	for range s.loops {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		s.aborted.Store(true)
		close(begin)
		<-s.exited // the loops release the listener; the last closes it
		s.state = stopped
		s.Stop(nil)
		if errors.Is(errs[0], uring.ErrUnavailable) {
			return fmt.Errorf("%w: %w", servers.ErrUnavailable, errs[0])
		}
		return errs[0]
	}
	s.state = running
	close(begin)
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

// Features says what the kernel offered and what the server uses, in one
// line: setup flags, kernel feature flags, the opcodes probed, and the
// accept and receive modes. Empty before Start.
func (s *Server) Features() string {
	s.featMu.Lock()
	defer s.featMu.Unlock()
	return s.feats
}

// setFeatures records loop 0's view of the kernel.
func (s *Server) setFeatures(f string) {
	s.featMu.Lock()
	s.feats = f
	s.featMu.Unlock()
}

// Syscalls counts the system calls the loops made: io_uring_enter and
// io_uring_register on their rings, and the few others (getpeername for a
// log line). Divided by the messages served it is the architecture's
// system calls per message.
func (s *Server) Syscalls() uint64 {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	var n uint64
	for _, l := range loops {
		n += l.syscalls()
	}
	return n
}

// Stats implements servers.Server, with Syscalls from the rings' counts.
func (s *Server) Stats() servers.Stats {
	st := s.Core.Stats()
	st.Syscalls = int64(s.Syscalls())
	return st
}

// Paused reports how many connections are not being read right now
// because their pending output reached Config.OutCap (backpressure).
func (s *Server) Paused() int64 { return s.paused.Load() }

// Shutdown implements servers.Server. The loops stop accepting (the last
// one closes the listener) and reading, and close each connection once its
// replies are written; when ctx ends first they close the rest at once.
// Shutdown returns when every loop has.
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
	s.Log.Error("io_uring loop failed; stopping the server", "err", err)
	s.Stop(err)
	s.force.Store(true)
	s.wakeAll()
}

func (s *Server) wakeAll() {
	for _, l := range s.loops {
		l.notify()
	}
}

// releaseListener is called once by each loop when it no longer accepts;
// the last one closes the listener.
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

// features formats what a loop found, for Features and the debug log.
func features(r *uring.Ring, p *uring.Probe, acceptMode, recvMode string, bufs, bufSize int) string {
	sq, cq := r.Entries()
	var b strings.Builder
	fmt.Fprintf(&b, "setup=%v features=%v ops=%v", r.Flags(), r.Features(), p)
	fmt.Fprintf(&b, " ring=%d/%d accept=%s recv=%s bufring=%dx%dKiB", sq, cq, acceptMode, recvMode, bufs, bufSize>>10)
	return b.String()
}

// errFeature makes a missing facility an ErrUnavailable error.
func errFeature(what string) error {
	return fmt.Errorf("%w: the kernel lacks %s", uring.ErrUnavailable, what)
}
