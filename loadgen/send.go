package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"archbench/protocol"
)

// Errors of Exchange.
var (
	// ErrGaveUp: no reply came within the retry policy's give-up time.
	ErrGaveUp = errors.New("server seems down")
	// ErrWrongReply: the reply is not the transform of the request.
	ErrWrongReply = errors.New("wrong reply")
)

// Exchange is the textbook client: one request, one verified reply.
// Over udp or udp6 it sends payload as one datagram on a connected socket
// and, with a non-zero retry, sends it again each time a wait passes (the
// waits growing by retry's factor) until a reply comes or retry's give-up
// time has passed since the first send (ErrGaveUp); with a zero retry
// it waits timeout once. Over tcp, tcp6 and unix it sends payload framed,
// half-closes (raw framing) and reads the reply, timeout bounding the
// whole exchange. The reply must be the transform of payload
// (ErrWrongReply otherwise); sends counts the datagrams sent.
func Exchange(ctx context.Context, network, addr string, framing protocol.Framing, payload []byte, retry Retry, timeout time.Duration) (reply []byte, rtt time.Duration, sends int, err error) {
	// The one resolution path of the load generator: names, services,
	// .invalid never looked up, addresses of the family in order.
	tg, err := resolveTarget(ctx, Config{Network: network, Addr: addr})
	if err != nil {
		return nil, 0, 0, err
	}
	if isUDP(network) {
		return exchangeUDP(ctx, network, tg.addrs[0].(*net.UDPAddr), payload, retry, timeout)
	}
	start := time.Now()
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var c net.Conn
	for _, a := range tg.addrs { // in order, the first error reported, as net.Dialer does
		var derr error
		if c, derr = d.DialContext(dctx, network, a.String()); derr == nil {
			break
		}
		if err == nil {
			err = derr
		}
	}
	if c == nil {
		return nil, 0, 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(timeout))
	if _, err := c.Write(protocol.AppendRequest(nil, framing, payload)); err != nil {
		return nil, 0, 1, err
	}
	want := protocol.AppendReply(nil, framing, payload)
	if framing == protocol.Raw {
		// The server owes a held-back partial rune only at end of input.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		reply, err = io.ReadAll(io.LimitReader(c, int64(len(want))+1))
	} else {
		reply = make([]byte, len(want))
		var n int
		n, err = io.ReadFull(c, reply)
		reply = reply[:n]
	}
	rtt = time.Since(start)
	if err != nil {
		return reply, rtt, 1, err
	}
	if !bytes.Equal(reply, want) {
		return reply, rtt, 1, fmt.Errorf("%w: got %d bytes %q, want %d bytes %q", ErrWrongReply, len(reply), clip(reply), len(want), clip(want))
	}
	return unframe(reply, framing), rtt, 1, nil
}

// unframe is the payload of a framed reply.
func unframe(b []byte, f protocol.Framing) []byte {
	switch f {
	case protocol.Line:
		return b[:len(b)-1]
	case protocol.Length:
		return b[4:]
	}
	return b
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func exchangeUDP(ctx context.Context, network string, ra *net.UDPAddr, payload []byte, retry Retry, timeout time.Duration) ([]byte, time.Duration, int, error) {
	c, err := net.DialUDP(network, nil, ra)
	if err != nil {
		return nil, 0, 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	waits := []int64{int64(timeout)}
	if !retry.IsZero() {
		waits = retry.waits()
	}
	want := protocol.AppendUpper(nil, payload)
	buf := make([]byte, MaxUDPSize6+1)
	start := time.Now()
	sends := 0
	for _, w := range waits {
		if _, err := c.Write(payload); err != nil {
			return nil, 0, sends, err
		}
		sends++
		_ = c.SetReadDeadline(time.Now().Add(time.Duration(w)))
		n, err := c.Read(buf)
		if ctx.Err() != nil {
			return nil, 0, sends, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue // the wait passed: send again
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, 0, sends, fmt.Errorf("nothing listens at %s (ICMP port unreachable): %w", ra, err)
		}
		if err != nil {
			return nil, 0, sends, err
		}
		rtt := time.Since(start)
		if !bytes.Equal(buf[:n], want) {
			return buf[:n], rtt, sends, fmt.Errorf("%w: got %d bytes %q, want %d bytes %q", ErrWrongReply, n, clip(buf[:n]), len(want), clip(want))
		}
		return buf[:n], rtt, sends, nil
	}
	return nil, time.Since(start), sends, fmt.Errorf("%w: no reply from %s in %s (%d sends)", ErrGaveUp, ra, time.Since(start).Round(time.Millisecond), sends)
}
