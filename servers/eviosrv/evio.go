package eviosrv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/evio"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "evio",
	Summary: "evio event loops (--loops) sharing one listener",
	Defects: []servers.Defect{
		{
			Case: "HalfCloseFlush",
			Reason: "evio closes a connection as soon as read returns 0, before any event runs, so the reply owed " +
				"only at end of input (a held-back incomplete UTF-8 sequence with raw framing, an unterminated " +
				"last line with line framing) is never sent; measured: \"abc\\xe2\\x82\" then half-close gets " +
				"\"ABC\" back, the 2 bytes are lost (complete replies are flushed: 6 MiB came back whole)",
			Upstream: "github.com/tidwall/evio@v1.0.8 evio_unix.go:431-436 (loopRead: n == 0 -> loopCloseConn)",
		},
		{
			Case: "WriterNotReading",
			Reason: "evio stops reading a connection while its output is pending but keeps EPOLLIN armed, so a " +
				"client that writes without reading makes epoll_wait return at once for as long as the client " +
				"stays (measured: a whole core on an otherwise idle machine, about 435,000 write calls a second, " +
				"each failing with EAGAIN); no Action can close the connection, since " +
				"actions run only once the output drained (memory stays bounded, other clients are served)",
			Upstream: "https://github.com/tidwall/evio/issues/61 (CPU 100%); evio@v1.0.8 evio_unix.go:239-242 " +
				"and :449-451 (ModReadWrite), internal/internal_linux.go:112-121",
		},
		{
			Case: "EMFILE",
			Reason: "an accept error returns from evio's loop, which ends the whole server and drops the error; " +
				"evio.Serve returns nil. Measured with RLIMIT_NOFILE 64: once anything else has used up the " +
				"descriptors, the next connection's accept fails with EMFILE and serving stops for good " +
				"(reported as servers.ErrStopped); evio has no hook to back off. Our own connections cannot " +
				"cause it: Opened closes one at once when the open connections reach the limit less the " +
				"descriptors in use at start and 32 (measured: 128 connections, 17 served, 111 refused, " +
				"serving went on)",
			Upstream: "github.com/tidwall/evio@v1.0.8 evio_unix.go:283-288 (loopAccept returns the error), " +
				":229 (loopRun drops it), evio_unix.go:118-158 (serve returns nil)",
		},
		{
			Case: "UDPZeroLength",
			Reason: "evio drops a zero-length datagram before any event (loopUDPRead returns when recvfrom " +
				"reads 0 bytes) and never sends an empty reply (only len(out) > 0 is sent), so a zero-length " +
				"request is never answered; measured: no reply within 4 s of 8 sends, while \"a\" after it is answered",
			Upstream: "github.com/tidwall/evio@v1.0.8 evio_unix.go:305-308 (n == 0 -> return nil), :331 (len(out) > 0)",
		},
	},
	New:      New,
	Networks: []string{"tcp", "tcp6", "unix", "udp", "udp6"},
}

func init() { servers.Register(Arch) }

// Tuning of the workarounds; see doc.go.
const (
	// reservedFDs are kept free below RLIMIT_NOFILE so that evio's accept
	// never meets EMFILE because of our own connections (Redis keeps 32).
	reservedFDs = 32
	// shutdownPoll is how often Shutdown looks whether every connection
	// has closed.
	shutdownPoll = 2 * time.Millisecond
	// bigOut: a reply buffer grown past this is not kept for the next read.
	bigOut = 256 << 10
)

// Server is the evio architecture.
type Server struct {
	servers.Core

	started   bool
	addr      net.Addr
	serving   chan struct{} // closed by the Serving event: addr is set
	ready     chan struct{} // closed when the control connection opened
	serveDone chan struct{} // closed when evio.Serve returned
	serveErr  error         // what evio.Serve returned; read after serveDone
	stopping  atomic.Bool   // Shutdown began
	stopReq   atomic.Bool   // the control connection is to stop evio
	budget    int           // most connections the descriptor limit allows (0: no check)
	wg        sync.WaitGroup

	ctrlName  atomic.Pointer[string] // remote address of the control connection, as evio reports it
	readyOnce sync.Once

	mu         sync.Mutex
	ctrl       evio.Conn // evio's end of the control connection, while open
	ctrlClient net.Conn  // our end
	served     bool      // evio.Serve returned
	conns      map[*conn]struct{}

	// network udp, udp6 (udp.go)
	udp         dgram.Counters
	udpToken    [16]byte       // the stop datagram's payload
	udpCtrl     *net.UDPConn   // sends it
	udpCtrlAddr netip.AddrPort // its address, as Data sees it
}

var _ servers.Server = (*Server)(nil)

// conn is one connection's state, its evio context. Only the connection's
// loop touches it, except lastActive (read by the idle sweep) and ec.
type conn struct {
	ec         evio.Conn
	codec      *protocol.Codec
	out        []byte
	lastActive atomic.Int64 // Unix ns of the last read; kept only with an idle timeout
	idleSeen   bool         // a wake found it idle; a second one in a later round closes it
}

// ctrlMark is the context of the control connection.
type ctrlMark struct{}

// New returns an unstarted evio server for cfg (defaults applied).
func New(cfg servers.Config) (servers.Server, error) {
	s := &Server{
		serving:   make(chan struct{}),
		ready:     make(chan struct{}),
		serveDone: make(chan struct{}),
		conns:     map[*conn]struct{}{},
	}
	s.InitCore(cfg)
	return s, nil
}

// Start implements servers.Server.
func (s *Server) Start() error {
	if s.started {
		return servers.ErrClosed
	}
	s.started = true
	cfg := s.Cfg
	if cfg.IsDatagram() {
		return s.startUDP()
	}
	if cfg.Network == "unix" {
		if strings.Contains(cfg.Addr, "?") {
			return fmt.Errorf("eviosrv: unix socket path %q: evio cannot take a path with '?'", cfg.Addr)
		}
		// servers.Listen refuses a live socket or a non-socket file at the
		// path (evio would delete it) and removes a stale one.
		ln, err := servers.Listen(cfg)
		if err != nil {
			return err
		}
		ln.Close()
	}
	ev := evio.Events{
		NumLoops: cfg.Loops,
		Serving:  s.onServing,
		Opened:   s.onOpened,
		Data:     s.onData,
		Closed:   s.onClosed,
	}
	go func() {
		err := evio.Serve(ev, cfg.Network+"://"+cfg.Addr)
		s.serveErr = err
		close(s.serveDone)
		s.mu.Lock()
		s.served = true
		if s.ctrlClient != nil {
			s.ctrlClient.Close()
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		default:
			return // Start reports it
		}
		if !s.stopping.Load() {
			s.Log.Error("evio stopped serving on its own", "serve_err", err)
			s.Stop(fmt.Errorf("%w: evio's event loop ended on its own (Serve returned %v; evio does not say "+
				"why: an accept error such as EMFILE ends it)", servers.ErrStopped, err))
		}
	}()
	select {
	case <-s.serving:
	case <-s.serveDone:
		if s.serveErr != nil {
			return fmt.Errorf("eviosrv: %w", s.serveErr)
		}
		return errors.New("eviosrv: evio stopped while starting")
	}
	if err := s.dialControl(); err != nil {
		// evio runs on and only an event can stop it; this leaves it to
		// serve until the process ends. It has not happened in practice.
		s.Log.Error("evio: no control connection; Shutdown cannot stop evio", "err", err)
		return err
	}
	select {
	case <-s.ready:
	case <-s.serveDone:
		return errors.New("eviosrv: evio stopped while starting")
	case <-time.After(10 * time.Second):
		return errors.New("eviosrv: the control connection was not accepted within 10 s")
	}
	if idle := cfg.IdleTimeout; idle > 0 {
		s.wg.Add(1)
		go s.sweepIdle(idle)
	}
	return nil
}

// onServing runs once evio listens, before its loops start.
func (s *Server) onServing(srv evio.Server) evio.Action {
	s.addr = srv.Addrs[0]
	if ta, ok := s.addr.(*net.TCPAddr); ok && s.Cfg.Network != "unix" {
		// Accepted sockets inherit TCP_NODELAY from the listener on Linux;
		// evio sets it on neither.
		if err := setListenerNoDelay(ta); err != nil {
			s.Log.Warn("evio: TCP_NODELAY on the listener", "err", err)
		}
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 1<<30 {
		if open, err := openFDs(); err == nil {
			// Each loop adds an epoll fd and an eventfd; the control
			// connection takes two.
			s.budget = max(int(lim.Cur)-open-2*s.Cfg.Loops-2-reservedFDs, 1)
		}
	}
	close(s.serving)
	return evio.None
}

// dialControl opens the control connection: an idle connection of our own
// through which Shutdown reaches an event loop, the only place an Action
// can stop evio. It binds its local address before connecting, so Opened
// recognises it.
func (s *Server) dialControl() error {
	var d net.Dialer
	network, raddr := s.addr.Network(), s.addr.String()
	switch a := s.addr.(type) {
	case *net.UnixAddr:
		name := fmt.Sprintf("@archbench-evio-ctrl-%d-%p", os.Getpid(), s)
		s.ctrlName.Store(&name)
		d.LocalAddr = &net.UnixAddr{Name: name, Net: "unix"}
	case *net.TCPAddr:
		ip := a.IP
		if ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
			if a.IP.To4() == nil {
				ip = net.IPv6loopback
			}
		}
		raddr = net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var (
				name string
				err  error
			)
			cerr := rc.Control(func(fd uintptr) { name, err = bindAny(int(fd), ip) })
			s.ctrlName.Store(&name)
			return errors.Join(cerr, err)
		}
	}
	c, err := d.Dial(network, raddr)
	if err != nil {
		return fmt.Errorf("eviosrv: dial the control connection: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		c.Close()
	} else {
		s.ctrlClient = c
	}
	return nil
}

// bindAny binds fd to ip, port 0, and returns the address as evio will
// report it as a peer.
func bindAny(fd int, ip net.IP) (string, error) {
	var sa unix.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		a := &unix.SockaddrInet4{}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		a := &unix.SockaddrInet6{}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	if err := unix.Bind(fd, sa); err != nil {
		return "", err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return (&net.TCPAddr{IP: a.Addr[:], Port: a.Port}).String(), nil
	case *unix.SockaddrInet6:
		return (&net.TCPAddr{IP: a.Addr[:], Port: a.Port}).String(), nil
	}
	return "", errors.New("not an inet address")
}

func (s *Server) onOpened(ec evio.Conn) ([]byte, evio.Options, evio.Action) {
	opts := evio.Options{ReuseInputBuffer: true} // Data never keeps in
	if name := s.ctrlName.Load(); name != nil && ec.RemoteAddr() != nil && ec.RemoteAddr().String() == *name {
		ec.SetContext(ctrlMark{})
		s.mu.Lock()
		s.ctrl = ec
		s.mu.Unlock()
		s.readyOnce.Do(func() { close(s.ready) })
		return nil, opts, evio.None
	}
	if s.budget > 0 && s.Stats().Active >= int64(s.budget) {
		// One more accept could meet EMFILE, which ends evio's loop.
		s.Reject("file descriptors nearly exhausted", "open_conns", s.budget, "reserved_below_rlimit", reservedFDs)
		return nil, opts, evio.Close
	}
	if s.stopping.Load() || !s.Admit() {
		return nil, opts, evio.Close
	}
	c := &conn{ec: ec, codec: protocol.NewCodec(s.Cfg.Codec())}
	if s.Cfg.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
	ec.SetContext(c)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return nil, opts, evio.None
}

// onData transforms a read (in != nil) or handles a Wake (in == nil). A
// Wake must return no output: evio would put it in place of output still
// pending (evio_unix.go:418-422).
func (s *Server) onData(ec evio.Conn, in []byte) ([]byte, evio.Action) {
	switch c := ec.Context().(type) {
	case ctrlMark:
		if in == nil && s.stopReq.Load() {
			return nil, evio.Shutdown
		}
		return nil, evio.None
	case *conn:
		if in == nil {
			if s.stopping.Load() {
				return nil, evio.Close // after the pending output is written
			}
			idle := s.Cfg.IdleTimeout
			if idle <= 0 || time.Since(time.Unix(0, c.lastActive.Load())) < idle {
				c.idleSeen = false
				return nil, evio.None
			}
			if !c.idleSeen {
				// evio runs wakes before the round's I/O events, so after a
				// stalled loop input may be waiting: look again next round.
				c.idleSeen = true
				ec.Wake()
				return nil, evio.None
			}
			s.Log.Info("closing idle connection", "remote", ec.RemoteAddr(), "idle_timeout", idle)
			return nil, evio.Close
		}
		if cap(c.out) > bigOut {
			c.out = nil
		}
		out, perr := c.codec.Feed(c.out[:0], in)
		c.out = out // evio copies it
		c.idleSeen = false
		if s.Cfg.IdleTimeout > 0 {
			c.lastActive.Store(time.Now().UnixNano())
		}
		if perr != nil {
			s.Log.Warn("closing connection: protocol error", "remote", ec.RemoteAddr(), "err", perr)
			return out, evio.Close // evio writes out first
		}
		return out, evio.None
	}
	return nil, evio.Close
}

func (s *Server) onClosed(ec evio.Conn, err error) evio.Action {
	switch c := ec.Context().(type) {
	case ctrlMark:
		s.mu.Lock()
		s.ctrl = nil
		s.mu.Unlock()
	case *conn:
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.Release()
		if err != nil {
			s.Log.Debug("connection closed", "remote", ec.RemoteAddr(), "err", err)
		}
	}
	return evio.None
}

// wakeAll wakes every open connection whose idle test passes. Waking
// happens with the set locked: a connection is in the set until its Closed
// event, and evio closes a loop's poller only after that, so the wake
// never writes to a closed (or reused) eventfd.
func (s *Server) wakeAll(test func(*conn) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if test == nil || test(c) {
			c.ec.Wake()
		}
	}
}

func (s *Server) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// sweepIdle wakes the connections that read nothing for idle; onData
// closes them. evio's own Tick is not used: its goroutine outlives Serve.
func (s *Server) sweepIdle(idle time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(min(max(idle/4, 5*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.serveDone:
			return
		}
		if s.stopping.Load() {
			return
		}
		now := time.Now().UnixNano()
		s.wakeAll(func(c *conn) bool { return now-c.lastActive.Load() >= int64(idle) })
	}
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.addr }

// Shutdown implements servers.Server: new connections are closed at once;
// every open one is woken and closed once evio wrote its pending output;
// then, or when ctx ends, the control connection stops evio, which closes
// whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started {
		return servers.ErrClosed
	}
	s.BeginStop()
	if s.Cfg.IsDatagram() {
		var err error
		select {
		case <-s.ready:
			err = s.shutdownUDP(ctx)
		default: // Start failed
		}
		s.Stop(nil)
		return err
	}
	s.stopping.Store(true)
	err := s.drain(ctx)
	s.stopReq.Store(true)
	s.mu.Lock()
	ctrl := s.ctrl
	if ctrl != nil {
		ctrl.Wake()
	}
	s.mu.Unlock()
	if ctrl == nil {
		select {
		case <-s.serveDone:
		default:
			// Start failed before the control connection opened.
			return errors.New("eviosrv: evio cannot be stopped: it has no control connection")
		}
	}
	<-s.serveDone
	s.wg.Wait()
	s.Stop(nil)
	return err
}

// drain wakes every connection, again for those opened meanwhile, until
// none is left, evio stopped or ctx ends.
func (s *Server) drain(ctx context.Context) error {
	select {
	case <-s.ready:
	default:
		return nil // Start failed: nothing to drain, and no control connection
	}
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	woken := map[*conn]bool{}
	for {
		if s.openConns() == 0 {
			return nil
		}
		s.wakeAll(func(c *conn) bool {
			if woken[c] {
				return false
			}
			woken[c] = true
			return true
		})
		select {
		case <-t.C:
		case <-s.serveDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
