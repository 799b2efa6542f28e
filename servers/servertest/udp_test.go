package servertest_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/servertest"
)

// TestFakeUDPSuite runs the datagram suite against the fake datagram
// server; it only runs as a child of TestUDPSuiteCatchesBugs.
func TestFakeUDPSuite(t *testing.T) {
	if _, ok := os.LookupEnv(fakeBugEnv); !ok {
		t.Skip("runs as a child of TestUDPSuiteCatchesBugs")
	}
	servertest.RunUDP(t, servertest.Target{Name: "servertest-fake-udp", New: newFakeUDP, Networks: []string{"udp", "udp6"}}, servers.Config{})
}

// TestUDPSuiteCatchesBugs proves that the datagram cases can fail: each
// deliberate bug of the fake datagram server fails the case written to
// catch it, while the correct fake passes them.
func TestUDPSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct{ bug, kase string }{
		{"lower", "UDPASCII"},
		{"carry", "UDPNoCarry"},
		{"drop-empty", "UDPZeroLength"},
		{"small-buffer", "UDPMaxSize"},
		{"last-peer", "UDPConcurrent64"},
		{"leak", "UDPGracefulStop"},
		{"uncounted", "UDPStats"},
	}
	run := func(t *testing.T, bug, pattern string) (string, bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFakeUDPSuite$/"+pattern, "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), fakeBugEnv+"="+bug)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("running the child: %v", err)
		}
		return string(out), err == nil
	}
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		var cases []string
		for _, tt := range tests {
			cases = append(cases, tt.kase)
		}
		out, ok := run(t, "", "^("+strings.Join(cases, "|")+")$")
		assert.True(t, ok, "the correct fake fails the suite:\n%s", out)
	})
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			t.Parallel()
			out, ok := run(t, tt.bug, "^"+tt.kase+"$")
			assert.False(t, ok, "bug %q passed %s:\n%s", tt.bug, tt.kase, out)
			assert.Contains(t, out, "--- FAIL: TestFakeUDPSuite/"+tt.kase, "bug %q did not fail %s:\n%s", tt.bug, tt.kase, out)
		})
	}
}

// fakeUDP is a textbook datagram server with one deliberate bug, chosen by
// fakeBugEnv:
//
//	lower         echoes without transforming
//	carry         transforms the datagrams as one stream (carries a cut rune)
//	drop-empty    does not answer zero-length datagrams
//	small-buffer  receives into 1,500 bytes
//	last-peer     answers the sender before last
//	leak          Shutdown neither stops the loop nor closes the socket
//	uncounted     counts nothing in Stats
type fakeUDP struct {
	servers.Core
	bug string
	c   *net.UDPConn
	wg  sync.WaitGroup
	got servers.Stats
	mu  sync.Mutex
}

func newFakeUDP(cfg servers.Config) (servers.Server, error) {
	f := &fakeUDP{bug: os.Getenv(fakeBugEnv)}
	f.InitCore(cfg)
	return f, nil
}

func (f *fakeUDP) Start() error {
	if f.c != nil {
		return servers.ErrClosed
	}
	pc, err := net.ListenPacket(f.Cfg.Network, f.Cfg.Addr)
	if err != nil {
		return err
	}
	f.c = pc.(*net.UDPConn)
	if f.Cfg.Rcvbuf > 0 {
		_ = f.c.SetReadBuffer(f.Cfg.Rcvbuf)
	}
	if f.Cfg.Sndbuf > 0 {
		_ = f.c.SetWriteBuffer(f.Cfg.Sndbuf)
	}
	f.wg.Add(1)
	go f.loop()
	return nil
}

func (f *fakeUDP) loop() {
	defer f.wg.Done()
	size := 1 << 16
	if f.bug == "small-buffer" {
		size = 1500
	}
	buf := make([]byte, size)
	var up protocol.Upper
	var prev, last net.Addr
	for {
		n, from, err := f.c.ReadFrom(buf)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.got.Datagrams++
		f.mu.Unlock()
		prev, last = last, from
		to := from
		if f.bug == "last-peer" && prev != nil {
			to = prev
		}
		var out []byte
		switch f.bug {
		case "lower":
			out = append(out, buf[:n]...)
		case "carry":
			out = up.Append(nil, buf[:n])
		default:
			out = protocol.AppendUpper(nil, buf[:n])
		}
		if n == 0 && f.bug == "drop-empty" {
			continue
		}
		if _, err := f.c.WriteTo(out, to); err == nil {
			f.mu.Lock()
			f.got.Replies++
			f.mu.Unlock()
		}
	}
}

func (f *fakeUDP) Addr() net.Addr { return f.c.LocalAddr() }

func (f *fakeUDP) Shutdown(ctx context.Context) error {
	if f.bug != "leak" {
		f.c.Close()
		f.wg.Wait()
	}
	f.Stop(nil)
	return nil
}

func (f *fakeUDP) Stats() servers.Stats {
	st := f.Core.Stats()
	if f.bug == "uncounted" {
		return st
	}
	f.mu.Lock()
	st.Datagrams, st.Replies = f.got.Datagrams, f.got.Replies
	f.mu.Unlock()
	var zero int64
	st.Drops = &zero
	st.Rcvbuf, st.Sndbuf = bufSizes(f.c)
	return st
}

// bufSizes reads the buffer sizes the kernel granted c.
func bufSizes(c *net.UDPConn) (rcvbuf, sndbuf int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0
	}
	_ = rc.Control(func(fd uintptr) {
		rcvbuf, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		sndbuf, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	})
	return rcvbuf, sndbuf
}
