package eviosrv

import (
	"context"
	"net"
	"testing"
	"time"

	"archbench/servers"
	"archbench/servers/servertest"
)

// TestUDPTwoLoops runs the datagram suite with two loops polling the one
// socket.
func TestUDPTwoLoops(t *testing.T) {
	servertest.RunUDP(t, servertest.TargetOf(Arch), servers.Config{Loops: 2})
}

// TestUDPZeroLength pins the UDPZeroLength defect: a zero-length datagram
// gets no reply, so the first reply is the next datagram's. When evio
// answers it, this test fails: drop the defect.
func TestUDPZeroLength(t *testing.T) {
	srv, err := Arch.Build(servers.Config{Network: "udp", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	c, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"", "a"} {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 8)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "A" {
		t.Fatalf("first reply %q, want %q (the zero-length datagram unanswered): has evio fixed it?", got, "A")
	}
	if st := srv.Stats(); st.Datagrams != 1 {
		t.Fatalf("Stats().Datagrams = %d, want 1: evio reported the zero-length datagram", st.Datagrams)
	}
}
