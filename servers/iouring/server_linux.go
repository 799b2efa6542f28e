package iouring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/internal/loopgroup"
	"archbench/servers/internal/uring"
)

// Server is the io_uring architecture: Config.Loops loops, each on its own
// ring, sharing one listening socket.
type Server struct {
	servers.Core
	opts Options

	// group is the loops' life cycle: state, listener, Shutdown.
	group loopgroup.Group
	mu    sync.Mutex // guards loops, set in Start
	loops []*loop

	featMu sync.Mutex // guards feats, set by loop 0 while Start holds mu
	feats  string     // what the kernel offered and the loops use; see Features

	aborted atomic.Bool // Start failed: loops that set up exit at once
}

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted io_uring server for cfg as o says. cfg
// should have its defaults applied (servers.New does); zero Loops, OutCap
// and Logger are taken as their defaults anyway. Whether io_uring can be
// used here is known only at Start, which sets the rings up.
func NewServer(cfg servers.Config, o Options) (*Server, error) {
	s := &Server{opts: o}
	s.InitCore(loopgroup.Defaults(cfg))
	s.group.Init(&s.Core, "io_uring loop", loopgroup.Hooks{Wake: s.wakeAll})
	return s, nil
}

// Start implements servers.Server: it binds the listener and starts
// Config.Loops loops, each of which sets its ring up on its own thread.
// When io_uring cannot be used here the error wraps uring.ErrUnavailable
// and says why in one line.
func (s *Server) Start() error {
	return s.group.Start(s.launch)
}

// launch starts the loops on ln, for Group.Start, and waits until each has
// set its ring up. If one could not, they all exit (Start waits for them)
// and the error wraps servers.ErrUnavailable where io_uring is the cause.
func (s *Server) launch(ln *servers.RawListener) error {
	if s.Cfg.Network != "unix" {
		// Accepted sockets inherit TCP_NODELAY from the listener on Linux:
		// one system call here instead of one per connection.
		if err := unix.SetsockoptInt(ln.FD, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fmt.Errorf("iouring: TCP_NODELAY on the listener: %w", err)
		}
	}
	loops := make([]*loop, s.Cfg.Loops)
	s.mu.Lock()
	s.loops = loops
	s.mu.Unlock()
	ready := make(chan error, len(loops))
	begin := make(chan struct{})
	for i := range loops {
		loops[i] = newLoop(s, i, ln.FD)
		s.group.Go(func() { loops[i].run(ready, begin) })
	}
	var errs []error
	for range loops {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		s.aborted.Store(true)
		close(begin)
		if errors.Is(errs[0], uring.ErrUnavailable) {
			return fmt.Errorf("%w: %w", servers.ErrUnavailable, errs[0])
		}
		return errs[0]
	}
	close(begin)
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.group.Addr() }

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
	st.Features = s.Features()
	return st
}

// Paused reports how many connections are not being read right now
// because their pending output reached Config.OutCap (backpressure).
func (s *Server) Paused() int64 { return s.group.Paused() }

// Shutdown implements servers.Server. The loops stop accepting (the last
// one closes the listener) and reading, and close each connection once its
// replies are written; when ctx ends first they close the rest at once.
// Shutdown returns when every loop has.
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx) }

func (s *Server) wakeAll() {
	for _, l := range s.loops {
		l.notify()
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
