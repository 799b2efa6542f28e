package discover_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"archbench/internal/cli"
	"archbench/internal/discover"
	"archbench/servers"
	"archbench/servers/udploop"
)

// TestLoopback: a request sent to one server's own address (no broadcast
// needed) is answered once, with the transform.
func TestLoopback(t *testing.T) {
	srv, err := udploop.Arch.Build(servers.Config{Network: "udp", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	to := srv.Addr().(*net.UDPAddr).AddrPort()
	res, err := discover.Run(context.Background(), netip.AddrPortFrom(to.Addr().Unmap(), to.Port()), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Answers) != 1 || res.Answers[0].Mismatch != "" || res.Answers[0].RTT <= 0 {
		t.Fatalf("answers %+v, want one matching answer with an RTT", res.Answers)
	}
}

// TestMismatch: a server that echoes without upper-casing is listed as a
// mismatch and discover exits 1.
func TestMismatch(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	var stdout, stderr bytes.Buffer
	err = cli.Run(context.Background(), []string{"discover", "--broadcast", pc.LocalAddr().String(), "--timeout", "300ms"}, &stdout, &stderr)
	if cli.ExitCode(err) != 1 || !strings.Contains(stdout.String(), "MISMATCH") {
		t.Fatalf("exit %d (%v), stdout %q: want exit 1 and a MISMATCH line", cli.ExitCode(err), err, &stdout)
	}
}

// TestNoAnswer: nothing answers: ErrNoAnswer.
func TestNoAnswer(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, err = discover.Run(context.Background(), netip.MustParseAddrPort(pc.LocalAddr().String()), 100*time.Millisecond)
	if !errors.Is(err, discover.ErrNoAnswer) {
		t.Fatalf("err = %v, want ErrNoAnswer", err)
	}
}

// TestUsage: bad flags are one line and exit 2.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"discover"},
		{"discover", "--broadcast", "198.18.0.255"},
		{"discover", "--broadcast", "[::1]:7000"},
		{"discover", "--broadcast", "198.18.0.255:0"},
		{"discover", "--broadcast", "198.18.0.255:7000", "--timeout", "0s"},
		{"discover", "--broadcast", "198.18.0.255:7000", "--timeout", "2h"},
	} {
		var stdout, stderr bytes.Buffer
		err := cli.Run(context.Background(), args, &stdout, &stderr)
		if cli.ExitCode(err) != 2 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: exit %d, %v; want exit 2 with one line", args, cli.ExitCode(err), err)
		}
	}
}
