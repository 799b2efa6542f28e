package gnetsrv

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"archbench/protocol"
)

// conn is one connection's state, kept as its gnet context. Only the
// connection's event loop touches it, except lastActive (the idle sweep
// reads it from gnet's ticker goroutine) and gc (set once).
type conn struct {
	gc         gnet.Conn
	r          Replier
	lastActive atomic.Int64 // Unix ns of the last progress; kept only with an idle timeout
	lastOut    int          // OutboundBuffered when last looked at
	counted    int          // pending output last added to Server.outPending
	finishing  bool         // Shutdown began: replies owed were queued, input is ignored
	ending     bool         // a protocol error ended the input: close once nothing is owed
	flush      bool         // on close, give the peer time to take the pending output
	closed     bool
}

// handler is the gnet.EventHandler of a Server. Its methods run on the
// event loops, except OnBoot (Run's goroutine) and OnTick (gnet's ticker
// goroutine).
type handler struct{ s *Server }

var _ gnet.EventHandler = (*handler)(nil)

// OnBoot learns the bound address from a duplicate of the listener.
func (h *handler) OnBoot(e gnet.Engine) gnet.Action {
	s := h.s
	s.eng = e
	fd, err := e.Dup()
	if err != nil {
		s.Log.Error("gnet: duplicate the listener to learn its address", "err", err)
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		s.Log.Error("gnet: getsockname of the listener", "err", err)
		return gnet.Shutdown
	}
	s.addr = sockaddrToAddr(sa)
	return gnet.None
}

func (h *handler) OnShutdown(gnet.Engine) {}

// OnOpen admits the connection or closes it at once.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if fd := gc.Fd(); s.fdCeil > 0 && fd >= s.fdCeil {
		// Descriptors are allocated lowest first, so this one being high
		// means the table is nearly full: one more accept could meet
		// EMFILE, which ends gnet's event loop.
		s.Reject("file descriptors nearly exhausted", "fd", fd, "reserved_below_rlimit", reservedFDs)
		return nil, gnet.Close
	}
	if s.stopping.Load() || !s.Admit() {
		return nil, gnet.Close
	}
	c := &conn{gc: gc}
	if s.hooks.NewReplier != nil {
		c.r = s.hooks.NewReplier(gc, func() { s.progress(c) })
	} else {
		c.r = &inline{codec: protocol.NewCodec(s.Cfg.Codec())}
	}
	if s.Cfg.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
	gc.SetContext(c)
	s.track(c)
	return nil, gnet.None
}

// OnTraffic hands everything gnet read to the Replier and queues the
// replies it gives at once.
func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	s := h.s
	in, _ := gc.Next(-1) // all of it: nothing stays in gnet's inbound buffer
	c, _ := gc.Context().(*conn)
	if c == nil || c.finishing || c.ending || len(in) == 0 {
		return gnet.None
	}
	bp := s.outPool.Get().(*[]byte)
	out, perr := c.r.Feed((*bp)[:0], in)
	var werr error
	if len(out) > 0 {
		_, werr = gc.Write(out) // copies what the socket does not take
	}
	*bp = out[:0]
	s.outPool.Put(bp)
	if werr != nil {
		return gnet.Close // gnet has closed it already
	}
	if s.Cfg.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
	if perr != nil {
		s.Log.Warn("closing connection: protocol error", "remote", gc.RemoteAddr(), "err", perr)
		if c.r.Owed() > 0 {
			c.ending = true // progress closes it once the replies owed are written
			return gnet.None
		}
		c.flush = true
		return gnet.Close
	}
	return s.checkOutCap(c)
}

// outTotalHolding is what a connection must hold pending for the
// server-wide cap (Config.OutTotal) to close it: more than one read's
// replies, so a client that reads its replies is never closed for others'
// output.
const outTotalHolding = 64 << 10

// checkOutCap closes c if the replies it is owed, queued in gnet or still
// being made, pass Config.OutCap, or if the server's pending output is
// over Config.OutTotal and c holds more than outTotalHolding of it. gnet
// reads on whatever we do, so the only bound on a client that does not
// read is to close it (Redis: client-output-buffer-limit). The server's
// total adds each connection's pending output as last seen on its loop.
func (s *Server) checkOutCap(c *conn) gnet.Action {
	c.lastOut = c.gc.OutboundBuffered()
	owed := c.r.Owed()
	cur := c.lastOut + owed
	total := s.outPending.Add(int64(cur - c.counted))
	c.counted = cur
	if cur > s.Cfg.OutCap {
		s.Log.Warn("closing connection: pending output over out-cap; the client is not reading",
			"remote", c.gc.RemoteAddr(), "pending", c.lastOut, "owed", owed, "out_cap", s.Cfg.OutCap)
		return gnet.Close
	}
	if limit := s.Cfg.OutTotal; limit > 0 && total > int64(limit) && cur > outTotalHolding {
		s.Log.Warn("closing connection: the server's pending output is over out-total and this client is not reading",
			"remote", c.gc.RemoteAddr(), "pending", cur, "server_pending", total, "out_total", limit)
		return gnet.Close
	}
	return gnet.None
}

// progress is a Replier's report, on c's loop, that it wrote replies made
// outside Feed.
func (s *Server) progress(c *conn) {
	if c.closed {
		return
	}
	if s.Cfg.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
	if c.ending && c.r.Owed() == 0 {
		c.flush = true
		_ = c.gc.EventLoop().Close(c.gc)
		return
	}
	if s.checkOutCap(c) == gnet.Close {
		_ = c.gc.EventLoop().Close(c.gc)
	}
}

// OnClose runs before gnet writes what is left in the outbound buffer and
// closes the socket (eventloop_unix.go, eventloop.close). That write is
// non-blocking and gives up at the first EAGAIN, which loses the replies
// owed to a client that half-closed. Where those bytes are owed, the socket
// is made blocking with a send timeout so that write waits for the peer.
func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	s := h.s
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	c.closed = true
	s.untrack(c)
	s.Release()
	s.outPending.Add(int64(-c.counted))
	c.counted = 0
	var tail []byte
	if errors.Is(err, io.EOF) {
		// The client shut its write side: everything is owed, including a
		// held-back partial rune or an unterminated last line, and the
		// replies still being made elsewhere.
		var perr error
		tail, perr = c.r.Finish(nil, true)
		if perr != nil {
			s.Log.Warn("closing connection: protocol error", "remote", gc.RemoteAddr(), "err", perr)
		}
		c.flush = true
	}
	c.r.Close()
	if !c.flush || gc.OutboundBuffered()+len(tail) == 0 {
		return gnet.None
	}
	t := s.flushTimeout()
	s.Log.Debug("flushing output owed at close", "remote", gc.RemoteAddr(),
		"pending", gc.OutboundBuffered()+len(tail), "write_timeout", t)
	if t > 0 {
		tv := unix.NsecToTimeval(t.Nanoseconds())
		fd := gc.Fd()
		if unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) == nil {
			_ = unix.SetNonblock(fd, false)
		}
	}
	if len(tail) > 0 {
		_, _ = gc.Write(tail)
	}
	return gnet.None
}

// flushTimeout is how long one blocking write of a closing connection may
// wait: closeFlushTimeout, or less with a shorter idle timeout or a
// Shutdown deadline nearer than that.
func (s *Server) flushTimeout() time.Duration {
	t := closeFlushTimeout
	if idle := s.Cfg.IdleTimeout; idle > 0 {
		t = min(t, idle)
	}
	if at := s.stopAt.Load(); at != 0 && s.stopping.Load() {
		t = min(t, time.Until(time.Unix(0, at)))
	}
	return t
}

// OnTick runs on gnet's ticker goroutine, which starts after every event
// loop: the first tick tells Start the server is up. With an idle timeout
// it then sweeps for idle connections.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	s := h.s
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
	idle := s.Cfg.IdleTimeout
	if idle <= 0 {
		return time.Hour, gnet.None
	}
	now := time.Now().UnixNano()
	s.forEachConn(func(c *conn) {
		if now-c.lastActive.Load() >= int64(idle) {
			s.onLoop(c, s.idleCheck)
		}
	})
	return min(max(idle/4, 5*time.Millisecond), time.Second), gnet.None
}

// idleCheck closes c if it made no progress either way for the idle
// timeout. Output progress is seen as gnet's outbound buffer shrinking; a
// connection still owed replies is not idle.
func (s *Server) idleCheck(c *conn) {
	if c.r.Owed() > 0 {
		return
	}
	now := time.Now()
	if out := c.gc.OutboundBuffered(); out < c.lastOut {
		c.lastOut = out
		c.lastActive.Store(now.UnixNano())
		return
	}
	if now.Sub(time.Unix(0, c.lastActive.Load())) < s.Cfg.IdleTimeout {
		return
	}
	s.Log.Info("closing idle connection", "remote", c.gc.RemoteAddr(), "idle_timeout", s.Cfg.IdleTimeout)
	_ = c.gc.EventLoop().Close(c.gc)
}

// finish is Shutdown's step for c, on c's loop: queue what is owed at end
// of input, then close c once it is owed nothing and gnet has written all.
func (s *Server) finish(c *conn) {
	if !c.finishing {
		c.finishing = true
		tail, perr := c.r.Finish(nil, false)
		if perr != nil {
			s.Log.Warn("closing connection: protocol error", "remote", c.gc.RemoteAddr(), "err", perr)
		}
		if len(tail) > 0 {
			if _, err := c.gc.Write(tail); err != nil {
				return // gnet closed it
			}
		}
	}
	if c.r.Owed() == 0 && c.gc.OutboundBuffered() == 0 {
		_ = c.gc.EventLoop().Close(c.gc)
	}
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *unix.SockaddrInet6:
		var zone string
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port, Zone: zone}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}
