package udpmmsg

import (
	"fmt"
	"net"
	"testing"
	"time"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// TestBatch: datagrams queued on the socket are taken by one recvmmsg and
// answered by one sendmmsg, each reply to its own sender.
func TestBatch(t *testing.T) {
	cfg := servers.DefaultConfig()
	cfg.Network, cfg.Addr = "udp", "127.0.0.1:0"
	s := dgram.NewServer(cfg, dgram.Plan{})
	conns, err := dgram.Listen(cfg, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer conns[0].Close()
	var clients []*net.UDPConn
	const n = 10
	for i := range n {
		c, err := net.DialUDP("udp4", nil, conns[0].LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(fmt.Appendf(nil, "datagram ä %d", i)); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	// Loopback delivers each datagram before the sender's write returns:
	// all n are queued now.
	rc, err := conns[0].SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch()
	got, err := b.receive(rc)
	if err != nil || got != n {
		t.Fatalf("receive = %d, %v; want all %d queued datagrams in one call", got, err, n)
	}
	var l dgram.Loop
	k := b.transform(got, &l)
	ok, calls := b.send(rc, k, s, &l)
	if !ok || calls != 1 || l.Replies.Load() != n {
		t.Fatalf("send: ok %v, %d calls, %d replies; want one call sending %d", ok, calls, l.Replies.Load(), n)
	}
	buf := make([]byte, 64)
	for i, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, err := c.Read(buf)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if want := protocol.AppendUpper(nil, fmt.Appendf(nil, "datagram ä %d", i)); string(buf[:m]) != string(want) {
			t.Fatalf("client %d got %q, want %q", i, buf[:m], want)
		}
	}
}

// TestBatchAllocations: a batch cycle (receive, transform, send) allocates
// nothing once the loop's memory exists: the reason this loop is written
// by hand rather than on golang.org/x/net/ipv4, whose ReadBatch takes
// []ipv4.Message with a net.Addr per message.
func TestBatchAllocations(t *testing.T) {
	cfg := servers.DefaultConfig()
	cfg.Network, cfg.Addr = "udp", "127.0.0.1:0"
	s := dgram.NewServer(cfg, dgram.Plan{})
	conns, err := dgram.Listen(cfg, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer conns[0].Close()
	c, err := net.DialUDP("udp4", nil, conns[0].LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := conns[0].SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch()
	var l dgram.Loop
	p := []byte("datagram ä")
	reply := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		for range 8 {
			_, _ = c.Write(p)
		}
		n, err := b.receive(rc)
		if err != nil {
			t.Fatal(err)
		}
		k := b.transform(n, &l)
		b.send(rc, k, s, &l)
		for range k {
			_, _ = c.Read(reply)
		}
	})
	// The client's own Write and Read allocate nothing either on a
	// connected socket. (Measured before the system calls became fields
	// of the batch: 7 allocations per cycle, the closures.)
	if allocs > 0 {
		t.Fatalf("%.1f allocations per batch cycle, want 0", allocs)
	}
}
