package dgram

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"archbench/servers"
)

func startSmall(t *testing.T, bufSize int) *Server {
	t.Helper()
	cfg := servers.DefaultConfig()
	cfg.Network, cfg.Addr = "udp", "127.0.0.1:0"
	s := NewServer(cfg, Plan{})
	s.bufSize = bufSize
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// TestTruncatedCounted: a datagram larger than the loop's buffer is counted
// as truncated and answered with nothing; the next one is answered. Servers
// read into BufSize bytes, more than UDP carries, so this cannot happen to
// them: the test shrinks the buffer to see the counter work.
func TestTruncatedCounted(t *testing.T) {
	s := startSmall(t, 16)
	c, err := net.DialUDP("udp4", nil, s.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("short")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "SHORT" {
		t.Fatalf("first reply %q, want %q (the truncated datagram is not answered)", got, "SHORT")
	}
	st := s.Stats()
	if st.Truncated != 1 || st.Datagrams != 2 || st.Replies != 1 {
		t.Fatalf("Stats truncated %d, datagrams %d, replies %d; want 1, 2, 1", st.Truncated, st.Datagrams, st.Replies)
	}
}

// TestDropsCounted: datagrams sent to a socket nobody reads overflow its
// receive queue, and Drops reads the kernel's count of them.
func TestDropsCounted(t *testing.T) {
	cfg := servers.DefaultConfig()
	cfg.Network, cfg.Addr, cfg.Rcvbuf = "udp", "127.0.0.1:0", 4096
	conns, err := Listen(cfg, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer conns[0].Close()
	addr := conns[0].LocalAddr().(*net.UDPAddr)
	d0, err := Drops(addr.AddrPort())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no /proc/net/udp here")
	}
	if err != nil {
		t.Fatal(err)
	}
	if d0 != 0 {
		t.Fatalf("a new socket has %d drops", d0)
	}
	c, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 200
	for range sent {
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	// Count what the queue held: the rest was dropped.
	queued := 0
	buf := make([]byte, 2000)
	for {
		_ = conns[0].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := conns[0].Read(buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
		queued++
	}
	d, err := Drops(addr.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if d == 0 || int(d)+queued != sent {
		t.Fatalf("drops %d + queued %d, want %d sent with some dropped", d, queued, sent)
	}
}
