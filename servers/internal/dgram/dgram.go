package dgram

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"archbench/protocol"
	"archbench/servers"
)

// BufSize is the receive buffer of every loop: larger than the largest UDP
// payload (65,527 bytes over IPv6, 65,507 over IPv4), so a datagram that
// UDP can carry is never truncated by the server.
const BufSize = 1 << 16

// Plan says how an architecture uses its sockets.
type Plan struct {
	// Sockets bound to the one address; more than one share it with
	// SO_REUSEPORT and the kernel spreads datagrams over them by the
	// sender's address and port.
	Sockets int
	// ReusePort binds with SO_REUSEPORT even a single socket (after the
	// exclusive probe), as udp-reuseport does with --loops 1.
	ReusePort bool
	// Readers is the number of goroutines reading each socket.
	Readers int
	// Serve is the loop each reader runs until the server stops; nil is
	// the textbook loop (Server.Simple).
	Serve func(s *Server, c *net.UDPConn, l *Loop)
}

// Loop is the counters of one reading goroutine; each has its own, so
// counting costs no shared cache line.
type Loop struct {
	Datagrams, Replies, Truncated, SendErrors atomic.Int64
	_                                         [32]byte // pad to a cache line
}

// Server serves the protocol over datagrams with a Plan.
type Server struct {
	servers.Core
	plan    Plan
	bufSize int // BufSize; smaller in tests of truncation

	conns   []*net.UDPConn
	loops   []*Loop
	closing atomic.Bool
	wg      sync.WaitGroup
	rcvbuf  int
	sndbuf  int

	mu         sync.Mutex
	closed     bool
	finalDrops *int64
	started    bool
}

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted datagram server for cfg (defaults applied).
func NewServer(cfg servers.Config, p Plan) *Server {
	p.Sockets, p.Readers = max(1, p.Sockets), max(1, p.Readers)
	if p.Serve == nil {
		p.Serve = (*Server).Simple
	}
	s := &Server{plan: p, bufSize: BufSize}
	s.InitCore(cfg)
	return s
}

// Start implements servers.Server.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return servers.ErrClosed
	}
	s.started = true
	conns, err := Listen(s.Cfg, s.plan.Sockets, s.plan.ReusePort || s.plan.Sockets > 1)
	if err != nil {
		s.closed = true
		s.Stop(nil)
		return err
	}
	s.conns = conns
	s.rcvbuf, s.sndbuf = Buffers(conns[0])
	for _, c := range conns {
		for range s.plan.Readers {
			l := &Loop{}
			s.loops = append(s.loops, l)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.plan.Serve(s, c, l)
			}()
		}
	}
	s.Log.Info("serving datagrams", "addr", conns[0].LocalAddr().String(), "sockets", len(conns),
		"readers", len(s.loops), "rcvbuf", s.rcvbuf, "sndbuf", s.sndbuf)
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return nil
	}
	return s.conns[0].LocalAddr()
}

// Stopping reports whether a loop that got err should return: the server
// is stopping (its read deadline passed) or its socket is closed.
func (s *Server) Stopping(err error) bool {
	return errors.Is(err, net.ErrClosed) || (s.closing.Load() && errors.Is(err, os.ErrDeadlineExceeded))
}

// ReadFailed handles a read error that is not a stop: it is logged (rate
// limited by the caller's backoff) and the loop waits out b's next delay,
// cut short by a stop. It reports false when the loop should return.
func (s *Server) ReadFailed(err error, b *servers.Backoff) bool {
	if s.Stopping(err) {
		return false
	}
	wait := b.Next()
	s.Log.Warn("datagram read failed; backing off", "err", err, "retry_in", wait)
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		if s.closing.Load() {
			return false
		}
		time.Sleep(min(time.Until(end), 10*time.Millisecond))
	}
	return true
}

// SendFailed counts a reply the kernel refused; the loop goes on unless the
// socket was closed by a stop.
func (s *Server) SendFailed(err error, to netip.AddrPort, l *Loop) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	l.SendErrors.Add(1)
	s.Log.Debug("reply not sent", "to", to.String(), "err", err)
	return true
}

// Simple is the textbook loop: receive one datagram, send its transform
// back to the sender, repeat. It uses recvmsg rather than recvfrom only to
// see MSG_TRUNC.
func (s *Server) Simple(c *net.UDPConn, l *Loop) {
	buf := make([]byte, s.bufSize)
	out := make([]byte, 0, 3*BufSize/2)
	var backoff servers.Backoff
	for {
		n, _, flags, from, err := c.ReadMsgUDPAddrPort(buf, nil)
		if err != nil {
			if !s.ReadFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff.Reset()
		l.Datagrams.Add(1)
		if flags&syscall.MSG_TRUNC != 0 {
			l.Truncated.Add(1)
			continue
		}
		out = protocol.AppendUpper(out[:0], buf[:n])
		if _, err := c.WriteToUDPAddrPort(out, from); err != nil {
			if !s.SendFailed(err, from, l) {
				return
			}
			continue
		}
		l.Replies.Add(1)
	}
}

// Shutdown implements servers.Server: stop reading, let every loop finish
// the reply it is writing, then close the sockets.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return servers.ErrClosed
	}
	s.closed = true
	conns := s.conns
	s.mu.Unlock()

	s.BeginStop()
	s.closing.Store(true)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now())
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if d, derr := s.drops(conns); derr == nil {
		s.mu.Lock()
		s.finalDrops = &d
		s.mu.Unlock()
	}
	for _, c := range conns {
		c.Close()
	}
	<-done
	s.Stop(nil)
	return err
}

// Stats implements servers.Server: Core's counters and the datagram ones.
func (s *Server) Stats() servers.Stats {
	st := s.Core.Stats()
	s.mu.Lock()
	loops, conns, closed, final := s.loops, s.conns, s.closed, s.finalDrops
	s.mu.Unlock()
	for _, l := range loops {
		d := l.Datagrams.Load()
		st.Datagrams += d
		st.Replies += l.Replies.Load()
		st.Truncated += l.Truncated.Load()
		st.SendErrors += l.SendErrors.Load()
		if len(loops) > 1 {
			st.PerLoop = append(st.PerLoop, d)
		}
	}
	st.Rcvbuf, st.Sndbuf = s.rcvbuf, s.sndbuf
	switch {
	case closed:
		st.Drops = final
	case len(conns) > 0:
		if d, err := s.drops(conns); err == nil {
			st.Drops = &d
		}
	}
	return st
}

func (s *Server) drops(conns []*net.UDPConn) (int64, error) {
	if len(conns) == 0 {
		return 0, errors.New("dgram: no socket")
	}
	return Drops(conns[0].LocalAddr().(*net.UDPAddr).AddrPort())
}

// Listen binds cfg's udp or udp6 address with n sockets: one plainly, or,
// with reusePort, n sharing the address with SO_REUSEPORT. Before a group binds, an exclusive
// bind of the same address proves nobody else holds it (a socket of
// another process with SO_REUSEPORT would otherwise let the group join it
// and share its datagrams); with port 0 that bind picks the port.
func Listen(cfg servers.Config, n int, reusePort bool) ([]*net.UDPConn, error) {
	addr := cfg.Addr
	if reusePort {
		probe, err := bind(cfg, addr, false)
		if err != nil {
			return nil, fmt.Errorf("servers: udp address %s is taken (refusing to share it with SO_REUSEPORT): %w", addr, err)
		}
		addr = probe.LocalAddr().String()
		probe.Close()
	}
	var conns []*net.UDPConn
	for range n {
		c, err := bind(cfg, addr, reusePort)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
		addr = c.LocalAddr().String()
	}
	return conns, nil
}

func bind(cfg servers.Config, addr string, reusePort bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setOptions(fd, cfg.Rcvbuf, cfg.Sndbuf, reusePort) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), cfg.Network, addr)
	if err != nil {
		return nil, fmt.Errorf("servers: listen: %w", err)
	}
	return pc.(*net.UDPConn), nil
}
