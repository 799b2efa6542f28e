package gnetsrv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "gnet",
	Summary: "gnet v2 event loops (--loops; SO_REUSEPORT listener per loop for TCP)",
	Defects: []servers.Defect{{
		Case: "EMFILE",
		Reason: "an accept error ends gnet's event loop and with it the engine, and gnet.Run returns nil; " +
			"measured with RLIMIT_NOFILE 64: once anything else has used up the descriptors, the next " +
			"connection's accept fails with EMFILE, every connection is closed and serving stops for good " +
			"(reported as servers.ErrStopped with gnet's last logged error); gnet has no hook to back off. " +
			"Our own connections cannot cause it: one whose fd is within 32 of the limit is closed at once " +
			"(measured: 128 connections, 21 served, 107 refused, serving went on)",
		Upstream: "https://github.com/panjf2000/gnet/issues/367 (closed as invalid); gnet/v2@v2.10.0 " +
			"acceptor_unix.go:91-93 (and :42-44), reactor_default.go:109-110, engine_unix.go:272-278",
	}},
	New:      New,
	Networks: []string{"tcp", "tcp6", "unix", "udp", "udp6"},
}

func init() { servers.Register(Arch) }

// Tuning of the workarounds; see doc.go.
const (
	// closeFlushTimeout bounds each blocking write of the flush that gnet
	// does while it closes a connection (SO_SNDTIMEO): the event loop waits
	// at most this long for a peer that reads nothing.
	closeFlushTimeout = time.Second
	// reservedFDs are kept free below RLIMIT_NOFILE so that gnet's accept
	// never meets EMFILE because of our own connections (Redis keeps 32).
	reservedFDs = 32
	// shutdownPoll is how often Shutdown looks for drained connections.
	shutdownPoll = 5 * time.Millisecond
)

// Server is the gnet architecture.
type Server struct {
	servers.Core

	started  bool
	addr     net.Addr
	eng      gnet.Engine   // set in OnBoot, before Start returns
	ready    chan struct{} // closed by the first OnTick: every loop runs
	runDone  chan struct{} // closed when gnet.Run returned
	runErr   error         // what gnet.Run returned; read after runDone
	log      *gnetLogger
	fdCeil   int // an accepted fd at or above this is closed at once (0: no check)
	stopping atomic.Bool
	stopAt   atomic.Int64 // Shutdown's deadline in Unix ns (0: none)
	// outPending is every connection's pending output as last seen on its
	// loop (conn.counted), for Config.OutTotal.
	outPending atomic.Int64
	stopOnce   sync.Once
	hooks      Hooks

	mu    sync.Mutex
	conns map[*conn]struct{}

	outPool sync.Pool // *[]byte reply scratch, shared by the loops

	udp dgram.Counters // network udp, udp6 (udp.go)
}

var _ servers.Server = (*Server)(nil)

// New returns an unstarted gnet server for cfg (defaults applied).
func New(cfg servers.Config) (servers.Server, error) { return NewWith(cfg, Hooks{}) }

// NewWith returns an unstarted gnet server for cfg (defaults applied) whose
// protocol side is h's (gnet-pool's); New is NewWith with the zero Hooks.
func NewWith(cfg servers.Config, h Hooks) (*Server, error) {
	s := &Server{
		ready:   make(chan struct{}),
		runDone: make(chan struct{}),
		conns:   map[*conn]struct{}{},
		hooks:   h,
	}
	s.InitCore(cfg)
	s.log = &gnetLogger{l: s.Log}
	s.outPool.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return s, nil
}

// Start implements servers.Server.
func (s *Server) Start() error {
	if s.started {
		return servers.ErrClosed
	}
	s.started = true
	var eh gnet.EventHandler = &handler{s}
	protoAddr, hold, err := "", -1, error(nil)
	if s.Cfg.IsDatagram() {
		eh = &udpHandler{handler{s}}
		protoAddr, err = s.udpAddr()
	} else {
		protoAddr, hold, err = s.bindAddr()
	}
	if err != nil {
		return err
	}
	if hold >= 0 {
		// The port stays ours until gnet's listeners share it.
		defer unix.Close(hold)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 1<<30 {
		s.fdCeil = max(int(lim.Cur)-reservedFDs, 1)
	}
	opts := []gnet.Option{
		gnet.WithNumEventLoop(s.Cfg.Loops),
		gnet.WithReusePort(s.Cfg.Network != "unix"),
		// Restart on a port with connections in TIME_WAIT, as net.Listen does.
		gnet.WithReuseAddr(s.Cfg.Network != "unix"),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), // inherited by accepted sockets
		gnet.WithTicker(true),
		gnet.WithLogger(s.log),
	}
	if s.Cfg.IsDatagram() {
		opts = append(opts, s.udpOptions()...)
	}
	if s.hooks.Start != nil {
		s.hooks.Start()
	}
	go func() {
		err := gnet.Run(eh, protoAddr, opts...)
		if s.hooks.Stopped != nil {
			s.hooks.Stopped()
		}
		s.runErr = err
		close(s.runDone)
		select {
		case <-s.ready:
		default:
			return // Start reports it
		}
		if !s.stopping.Load() {
			cause := s.log.lastError()
			s.Log.Error("gnet engine ended on its own", "run_err", err, "last_gnet_error", cause)
			s.Stop(fmt.Errorf("%w: gnet engine ended on its own (Run returned %v; last gnet error: %s)",
				servers.ErrStopped, err, cause))
		}
	}()
	select {
	case <-s.ready:
		return nil
	case <-s.runDone:
		if s.runErr != nil {
			return fmt.Errorf("gnetsrv: %w", s.runErr)
		}
		return fmt.Errorf("gnetsrv: engine stopped while starting: %s", s.log.lastError())
	}
}

// bindAddr checks the configured address and returns it in gnet's form.
// For TCP port 0 it picks the port with a socket that holds it (with
// SO_REUSEPORT, not listening) until gnet's listeners join it: every loop
// binds its own listener to the same port. hold is that socket, or -1.
func (s *Server) bindAddr() (protoAddr string, hold int, err error) {
	cfg := s.Cfg
	if cfg.Network == "unix" {
		if strings.ContainsAny(cfg.Addr, "?#%") {
			return "", -1, fmt.Errorf("gnetsrv: unix socket path %q: gnet parses it as a URL; avoid '?', '#' and '%%'", cfg.Addr)
		}
		// servers.Listen refuses a live socket or a non-socket file at the
		// path (gnet would delete it) and removes a stale one.
		ln, err := servers.Listen(cfg)
		if err != nil {
			return "", -1, err
		}
		ln.Close()
		return "unix://" + cfg.Addr, -1, nil
	}
	ta, err := net.ResolveTCPAddr(cfg.Network, cfg.Addr)
	if err != nil {
		return "", -1, fmt.Errorf("gnetsrv: address %q: %w", cfg.Addr, err)
	}
	ip := ta.IP
	if ip == nil {
		ip = net.IPv4zero
		if cfg.Network == "tcp6" {
			ip = net.IPv6unspecified
		}
	}
	hold = -1
	if ta.Port == 0 {
		hold, ta.Port, err = holdPort(ip, cfg.Network == "tcp6" || ip.To4() == nil)
		if err != nil {
			return "", -1, err
		}
	} else {
		// gnet binds with SO_REUSEPORT, which would share the port with
		// another SO_REUSEPORT server of ours; a plain bind refuses that.
		ln, err := servers.Listen(cfg)
		if err != nil {
			return "", -1, err
		}
		ln.Close()
	}
	return cfg.Network + "://" + net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port)), hold, nil
}

// holdPort binds a SO_REUSEPORT socket to ip port 0 and returns it with
// the port the kernel chose.
func holdPort(ip net.IP, v6 bool) (fd, port int, err error) {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{}
		copy(a.Addr[:], ip.To16())
		sa = a
	} else {
		a := &unix.SockaddrInet4{}
		copy(a.Addr[:], ip.To4())
		sa = a
	}
	// Close-on-exec set under ForkLock, as package net does where socket
	// flags are not portable (darwin has no SOCK_CLOEXEC): no exec between
	// the two calls inherits the descriptor.
	syscall.ForkLock.RLock()
	fd, err = unix.Socket(family, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, 0, fmt.Errorf("gnetsrv: pick a port: %w", err)
	}
	fail := func(what string, err error) (int, int, error) {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("gnetsrv: pick a port: %s: %w", what, err)
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("SO_REUSEPORT", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return fd, a.Port, nil
	case *unix.SockaddrInet6:
		return fd, a.Port, nil
	}
	return fail("getsockname", errors.New("not an inet address"))
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.addr }

// Shutdown implements servers.Server: new connections are closed at once,
// every open one is asked to send what it owes and closes once gnet has
// written it all; at ctx's end the engine stops and closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started {
		return servers.ErrClosed
	}
	if dl, ok := ctx.Deadline(); ok {
		s.stopAt.Store(dl.UnixNano())
	}
	s.BeginStop()
	s.stopping.Store(true)
	err := s.drain(ctx)
	s.udp.Closing() // datagram servers: the drop count before the sockets close
	s.stopEngine()
	<-s.runDone
	s.Stop(nil)
	return err
}

// drain asks every open connection to finish, again each shutdownPoll for
// those that still have output queued or were opened meanwhile, until none
// is left, the engine ended or ctx ends.
func (s *Server) drain(ctx context.Context) error {
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	for {
		select {
		case <-s.runDone:
			return nil
		default:
		}
		if s.openConns() == 0 {
			return nil
		}
		s.forEachConn(func(c *conn) { s.onLoop(c, s.finish) })
		select {
		case <-t.C:
		case <-s.runDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stopEngine asks gnet to stop without waiting: Engine.Stop polls every
// 500 ms, so it gets a context that is already over and Shutdown waits for
// Run to return instead.
func (s *Server) stopEngine() {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.eng.Stop(ctx)
	})
}

// track and untrack keep the set of open connections for the idle sweep
// and Shutdown. A connection is in the set from OnOpen to OnClose, so its
// event loop is alive while it is there (gnet closes every connection
// before it closes a poller).
func (s *Server) track(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// forEachConn calls fn for every open connection with the set locked; fn
// may only queue work to the connection's loop.
func (s *Server) forEachConn(fn func(*conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		fn(c)
	}
}

// onLoop runs fn(c) on c's event loop, where c's state may be touched.
func (s *Server) onLoop(c *conn, fn func(*conn)) {
	_ = c.gc.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if !c.closed {
			fn(c)
		}
		return nil
	}))
}

// gnetLogger sends gnet's logs to slog and remembers the last error, which
// is all gnet says when an event loop dies (Run itself returns nil).
type gnetLogger struct {
	l    *slog.Logger
	last atomic.Pointer[string]
}

func (g *gnetLogger) lastError() string {
	if p := g.last.Load(); p != nil {
		return *p
	}
	return "none logged"
}

func (g *gnetLogger) Debugf(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g *gnetLogger) Infof(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g *gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (g *gnetLogger) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	g.last.Store(&msg)
	g.l.Error("gnet: " + msg)
}

// Fatalf must not end the process; gnet calls it only on kqueue set-up.
func (g *gnetLogger) Fatalf(format string, args ...any) { g.Errorf(format, args...) }
