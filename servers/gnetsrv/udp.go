package gnetsrv

import (
	"fmt"
	"net"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// udpHandler is the gnet.EventHandler of a Server on network udp or udp6:
// gnet reads one datagram per readiness event (recvfrom into its 64 KiB
// loop buffer, so nothing UDP carries is cut) and calls OnTraffic with a
// Conn standing for the sender; Write sends to it at once (sendto). There
// are no connections: OnOpen and OnClose are never called.
type udpHandler struct{ handler }

// udpAddr checks a udp or udp6 address and returns it in gnet's form. A
// plain bind proves that nobody holds the port (gnet binds each loop's
// socket with SO_REUSEPORT, which would join another SO_REUSEPORT group)
// and picks port 0's port; it is closed before gnet binds.
func (s *Server) udpAddr() (string, error) {
	pc, err := net.ListenPacket(s.Cfg.Network, s.Cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("gnetsrv: udp address %s is taken or invalid: %w", s.Cfg.Addr, err)
	}
	a := pc.LocalAddr().(*net.UDPAddr)
	pc.Close()
	return s.Cfg.Network + "://" + a.String(), nil
}

// udpOptions are the gnet options of the datagram side.
func (s *Server) udpOptions() []gnet.Option {
	var opts []gnet.Option
	if s.Cfg.Rcvbuf > 0 {
		opts = append(opts, gnet.WithSocketRecvBuffer(s.Cfg.Rcvbuf))
	}
	if s.Cfg.Sndbuf > 0 {
		opts = append(opts, gnet.WithSocketSendBuffer(s.Cfg.Sndbuf))
	}
	return opts
}

// OnBoot learns the bound address and the granted buffer sizes from a
// duplicate of one loop's socket.
func (h *udpHandler) OnBoot(e gnet.Engine) gnet.Action {
	s := h.s
	s.eng = e
	fd, err := e.Dup()
	if err != nil {
		s.Log.Error("gnet: duplicate the socket to learn its address", "err", err)
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		s.Log.Error("gnet: getsockname of the socket", "err", err)
		return gnet.Shutdown
	}
	a := sockaddrToAddr(sa).(*net.TCPAddr)
	ua := &net.UDPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}
	s.addr = ua
	rcvbuf, sndbuf := dgram.BuffersFD(fd)
	s.udp.Bound(ua.AddrPort(), rcvbuf, sndbuf)
	return gnet.None
}

// OnTraffic answers one datagram with its transform.
func (h *udpHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	s := h.s
	in, _ := gc.Next(-1)
	s.udp.Datagrams.Add(1)
	bp := s.outPool.Get().(*[]byte)
	out := protocol.AppendUpper((*bp)[:0], in)
	if _, err := gc.Write(out); err != nil {
		s.udp.SendErrors.Add(1)
		s.Log.Debug("reply not sent", "to", gc.RemoteAddr(), "err", err)
	} else {
		s.udp.Replies.Add(1)
	}
	*bp = out[:0]
	s.outPool.Put(bp)
	return gnet.None
}

// Stats implements servers.Server: Core's counters, and on udp the
// datagram ones.
func (s *Server) Stats() servers.Stats {
	st := s.Core.Stats()
	if s.Cfg.IsDatagram() {
		s.udp.Fill(&st)
	}
	return st
}
