package udpreuseport_test

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/servertest"
	"archbench/servers/udpreuseport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformanceFourLoops runs the datagram suite with four sockets in the
// group, where the kernel's spreading is in play.
func TestConformanceFourLoops(t *testing.T) {
	servertest.RunUDP(t, servertest.TargetOf(udpreuseport.Arch), servers.Config{Loops: 4})
}

// TestSpreads: datagrams from many client ports reach more than one socket
// of the group (the kernel hashes the sender's address and port).
func TestSpreads(t *testing.T) {
	srv, err := udpreuseport.Arch.Build(servers.Config{Network: "udp", Addr: "127.0.0.1:0", Loops: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, srv)
	for i := range 64 {
		c, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("x"))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 8)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.Close()
	}
	used := 0
	for _, n := range srv.Stats().PerLoop {
		if n > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("64 client ports reached %d of 4 sockets (per loop %v)", used, srv.Stats().PerLoop)
	}
}

// TestRefusesTakenPort: a port another socket holds with SO_REUSEPORT is
// refused, not joined.
func TestRefusesTakenPort(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		_ = rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return serr
	}}
	other, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	srv, err := udpreuseport.Arch.Build(servers.Config{Network: "udp", Addr: other.LocalAddr().String(), Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil {
		shutdown(t, srv)
		t.Fatalf("Start on %v, held by another SO_REUSEPORT socket, succeeded", other.LocalAddr())
	}
	if !strings.Contains(err.Error(), "taken") {
		t.Fatalf("Start error %q does not say the address is taken", err)
	}
}

func shutdown(t *testing.T, srv servers.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
