package eviosrv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/tidwall/evio"

	"archbench/protocol"
	"archbench/servers"
)

// stopResend is how often Shutdown sends the stop datagram again until
// evio stopped (a full receive queue may drop one).
const stopResend = 10 * time.Millisecond

// startUDP serves network udp or udp6. evio binds the socket itself (a
// plain bind, so a port someone holds is refused) and every loop polls it;
// a readable event reads one datagram (recvfrom into 64 KiB less one byte,
// more than UDP carries) and Data's return is sent back with sendto.
//
// Only an event's Action stops evio, and a datagram server gets no events
// of its own, so Shutdown sends a stop datagram from a control socket of
// ours: Data knows it by its source address and a random token.
func (s *Server) startUDP() error {
	if _, err := rand.Read(s.udpToken[:]); err != nil {
		return fmt.Errorf("eviosrv: stop token: %w", err)
	}
	ev := evio.Events{
		NumLoops: s.Cfg.Loops,
		Serving: func(srv evio.Server) evio.Action {
			s.addr = srv.Addrs[0]
			close(s.serving)
			return evio.None
		},
		Data: s.onDatagram,
	}
	go func() {
		// evio serves datagrams for the scheme "udp" only (udp4 and udp6
		// go to net.Listen, evio.go:159-170); the address picks the family.
		err := evio.Serve(ev, "udp://"+s.Cfg.Addr)
		s.serveErr = err
		close(s.serveDone)
		select {
		case <-s.ready:
		default:
			return // Start reports it
		}
		if !s.stopping.Load() {
			s.Log.Error("evio stopped serving on its own", "serve_err", err)
			s.Stop(fmt.Errorf("%w: evio's event loop ended on its own (Serve returned %v)", servers.ErrStopped, err))
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
	ua := s.addr.(*net.UDPAddr)
	rcvbuf, sndbuf, err := setDatagramBuffers(ua, s.Cfg.Rcvbuf, s.Cfg.Sndbuf)
	if err != nil {
		s.Log.Warn("evio: socket buffers", "err", err)
	}
	s.udp.Bound(ua.AddrPort(), rcvbuf, sndbuf)
	to := ua.AddrPort()
	if to.Addr().IsUnspecified() {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if s.Cfg.Network == "udp6" {
			lo = netip.IPv6Loopback()
		}
		to = netip.AddrPortFrom(lo, to.Port())
	}
	ctrl, err := net.DialUDP(s.Cfg.Network, nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		// evio runs on and only an event can stop it.
		s.Log.Error("evio: no control socket; Shutdown cannot stop evio", "err", err)
		return fmt.Errorf("eviosrv: control socket: %w", err)
	}
	s.udpCtrl = ctrl
	s.udpCtrlAddr = unmap(ctrl.LocalAddr().(*net.UDPAddr).AddrPort())
	close(s.ready)
	return nil
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// onDatagram answers one datagram, or stops evio on the stop datagram.
// evio never calls it for a zero-length datagram (a Defect).
func (s *Server) onDatagram(ec evio.Conn, in []byte) ([]byte, evio.Action) {
	if s.stopping.Load() && bytes.Equal(in, s.udpToken[:]) {
		if s.peer(ec.RemoteAddr()) == s.udpCtrlAddr {
			return nil, evio.Shutdown
		}
	}
	s.udp.Datagrams.Add(1)
	out := protocol.AppendUpper(nil, in)
	// evio ignores sendto's error: a reply that cannot be a datagram is
	// counted here and not handed over.
	limit := protocol.MaxDatagram4
	if s.Cfg.Network == "udp6" {
		limit = protocol.MaxDatagram6
	}
	if len(out) > limit {
		s.udp.SendErrors.Add(1)
		return nil, evio.None
	}
	s.udp.Replies.Add(1)
	return out, evio.None
}

// peer is a datagram's sender as evio reports it: a *net.TCPAddr, and an
// IPv4 sender with its 4 bytes at the end of 16 zero-led ones (::127.0.0.1,
// evio_unix.go:311-320 leaves out the ffff of a mapped address).
func (s *Server) peer(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	v4 := s.addr.(*net.UDPAddr).IP.To4() != nil // the socket's family
	if b := ap.Addr().As16(); v4 && ap.Addr().Is6() {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:])), ap.Port())
	}
	return unmap(ap)
}

// shutdownUDP stops evio with the stop datagram, sent again until evio
// stopped or ctx ends; then evio is left running, logged, and ctx.Err()
// returned.
func (s *Server) shutdownUDP(ctx context.Context) error {
	s.stopping.Store(true)
	s.udp.Closing()
	t := time.NewTicker(stopResend)
	defer t.Stop()
	for {
		_, _ = s.udpCtrl.Write(s.udpToken[:])
		select {
		case <-s.serveDone:
			s.udpCtrl.Close()
			return nil
		case <-ctx.Done():
			s.Log.Error("evio did not stop on the stop datagram; it is left running")
			return ctx.Err()
		case <-t.C:
		}
	}
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
