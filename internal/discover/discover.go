// Package discover is the broadcast client of archbench discover: one
// request sent with SO_BROADCAST to a segment's broadcast address, and
// every server that answers listed with its address and round-trip time,
// each reply checked against the protocol's transform.
//
// Only IPv4 has broadcast (IPv6 uses multicast). The request is
// "archbench discover " and 16 random hex digits, lower case, so that an
// echo that does not upper-case fails the check and a stale reply to an
// earlier run does not match.
package discover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"archbench/protocol"
)

// ErrNoAnswer: no server answered within the timeout.
var ErrNoAnswer = errors.New("discover: no server answered")

// Answer is one server's reply.
type Answer struct {
	Addr netip.AddrPort // the reply's source
	RTT  time.Duration  // from the send to the first reply from Addr
	// Mismatch says how the reply differs from the transform of the
	// request; "" when it is the transform.
	Mismatch string
	// Duplicates counts further replies from the same address.
	Duplicates int
}

// Result is what one discovery found.
type Result struct {
	Request []byte
	Answers []Answer // sorted by address
}

// Run sends one request to the broadcast address to (IPv4) from one socket
// with SO_BROADCAST and collects replies for timeout (or until ctx ends).
func Run(ctx context.Context, to netip.AddrPort, timeout time.Duration) (Result, error) {
	if !to.Addr().Is4() {
		return Result{}, fmt.Errorf("discover: %v: broadcast needs an IPv4 address", to)
	}
	var token [8]byte
	if _, err := rand.Read(token[:]); err != nil {
		return Result{}, err
	}
	req := []byte("archbench discover " + hex.EncodeToString(token[:]))
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return Result{}, fmt.Errorf("discover: socket: %w", err)
	}
	defer pc.Close()
	c := pc.(*net.UDPConn)
	res := Result{Request: req}
	end := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	_ = c.SetReadDeadline(end)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	sent := time.Now()
	if _, err := c.WriteToUDPAddrPort(req, to); err != nil {
		return res, fmt.Errorf("discover: send to %v: %w", to, err)
	}
	want := protocol.AppendUpper(nil, req)
	buf := make([]byte, 1<<16)
	seen := map[netip.AddrPort]int{}
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("discover: receive: %w", err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if i, ok := seen[from]; ok {
			res.Answers[i].Duplicates++
			continue
		}
		a := Answer{Addr: from, RTT: time.Since(sent)}
		if got := buf[:n]; !bytes.Equal(got, want) {
			a.Mismatch = fmt.Sprintf("got %d bytes %.40q, want %q", n, got, want)
		}
		seen[from] = len(res.Answers)
		res.Answers = append(res.Answers, a)
	}
	slices.SortFunc(res.Answers, func(a, b Answer) int { return a.Addr.Compare(b.Addr) })
	if len(res.Answers) == 0 {
		return res, fmt.Errorf("%w within %v (request to %v)", ErrNoAnswer, timeout, to)
	}
	return res, nil
}
