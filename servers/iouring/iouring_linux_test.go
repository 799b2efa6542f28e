package iouring

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/internal/testkit"
	"archbench/servers/internal/uring"
	"archbench/servers/servertest"
)

// TestMain fails the run if a goroutine is left over.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformanceVariants runs the suite (which servers/all runs on the
// default io_uring) on the single-shot receive path and with two rings
// sharing the listener.
func TestConformanceVariants(t *testing.T) {
	skipIfUnavailable(t)
	if testing.Short() {
		t.Skip("the variants repeat the suite; -short runs the default one only")
	}
	singleShot := Arch
	singleShot.Name = "io_uring-single-recv"
	singleShot.New = func(cfg servers.Config) (servers.Server, error) {
		return NewServer(cfg, Options{SingleShotRecv: true})
	}
	for _, v := range []struct {
		name  string
		arch  servers.Arch
		loops int
	}{
		{name: "single-recv", arch: singleShot, loops: 1},
		{name: "loops=2", arch: Arch, loops: 2},
	} {
		t.Run(v.name, func(t *testing.T) {
			servertest.Run(t, servertest.TargetOf(v.arch), servers.Config{Loops: v.loops})
		})
	}
}

// TestForcedShutdown: a client that never reads holds pending output; a
// Shutdown whose context ends closes it anyway, returns the context's
// error soon after, and leaves no descriptor behind.
func TestForcedShutdown(t *testing.T) {
	skipIfUnavailable(t)
	// Let the runtime's poller exist before counting descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	fds0 := fdCount(t)
	cfg := servers.Config{Network: "tcp", Addr: "127.0.0.1:0", OutCap: 1 << 20}
	s, err := NewServer(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Write until the server stops reading (backpressure) for good: the
	// socket buffers are full both ways, and output is left pending.
	chunk := []byte(strings.Repeat("a", 64<<10))
	written, stalls := 0, 0
	for end := time.Now().Add(20 * time.Second); stalls < 3 || s.Paused() == 0; {
		if time.Now().After(end) {
			t.Fatalf("the server took %d KiB from a client that never reads and did not stop", written>>10)
		}
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Write(chunk)
		written += n
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writing at %d bytes: %v", written, err)
		}
		if n == 0 {
			stalls++
		} else {
			stalls = 0
		}
	}
	t.Logf("the server took %d KiB and paused the connection", written>>10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded (the client never reads)", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("forced Shutdown took %v", d)
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Shutdown = %v, want nil", err)
	}
	// The connection is gone: reading ends (EOF or reset) after the
	// replies the kernel still held.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("reading after a forced Shutdown: %v, want EOF or a reset", err)
	}
	if n := fdCount(t); n > fds0+1 { // +1: the client
		t.Errorf("%d descriptors open after Shutdown, %d before the server started (and 1 client)", n, fds0)
	}
}

func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("needs /proc: %v", err)
	}
	return len(ents)
}

// skipIfUnavailable skips a test on a machine where io_uring is off; the
// unavailable path itself is tested with an injected failure.
func skipIfUnavailable(t *testing.T) {
	t.Helper()
	r, err := uring.New(uring.Options{Entries: 1})
	if errors.Is(err, uring.ErrUnavailable) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatalf("io_uring setup: %v", err)
	}
	r.Close()
}

// start starts a server on 127.0.0.1:0 with testkit.Start, which shuts it
// down at cleanup.
func start(t *testing.T, cfg servers.Config, o Options) *Server {
	t.Helper()
	cfg.Network, cfg.Addr = "tcp", "127.0.0.1:0"
	s, err := NewServer(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, s)
	return s
}

// TestUnavailable forces io_uring_setup to fail as it does where io_uring
// is switched off: Start must return an error wrapping uring.ErrUnavailable,
// in one line, and leave nothing behind.
func TestUnavailable(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS} {
		cfg := servers.Config{Network: "tcp", Addr: "127.0.0.1:0", Loops: 2}
		s, err := NewServer(cfg, Options{RingSetup: func(uint32, *uring.Params) (int, error) { return -1, errno }})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		if !errors.Is(err, uring.ErrUnavailable) {
			t.Fatalf("Start with setup failing %v = %v, want uring.ErrUnavailable", errno, err)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, errno.Error()) {
			t.Errorf("error %q: want one line naming %q", msg, errno.Error())
		}
		t.Logf("%v", err)
		select {
		case <-s.Done():
		default:
			t.Errorf("Done not closed after a failed Start")
		}
		if err := s.Shutdown(context.Background()); !errors.Is(err, servers.ErrClosed) {
			t.Errorf("Shutdown after a failed Start = %v, want ErrClosed", err)
		}
	}
}

// TestFeatures: the server says what the kernel offered and what it uses.
func TestFeatures(t *testing.T) {
	skipIfUnavailable(t)
	s := start(t, servers.Config{}, Options{})
	f := s.Features()
	for _, want := range []string{"setup=", "features=", "single_mmap", "ops=", "accept=", "recv=", "bufring="} {
		if !strings.Contains(f, want) {
			t.Errorf("Features() = %q, missing %q", f, want)
		}
	}
	t.Logf("Features: %s", f)
}

// TestSingleShotRecv serves with one receive armed at a time, and counts
// system calls in both modes.
func TestSingleShotRecv(t *testing.T) {
	skipIfUnavailable(t)
	for _, single := range []bool{false, true} {
		s := start(t, servers.Config{}, Options{SingleShotRecv: single})
		if want := map[bool]string{false: "recv=multishot", true: "recv=single"}[single]; !strings.Contains(s.Features(), want) {
			t.Errorf("Features() = %q, want %s", s.Features(), want)
		}
		c := testkit.Dial(t, s.Addr())
		before := s.Syscalls()
		const msgs = 200
		for range msgs {
			testkit.Echo(t, c, "hello, io_uring ıⱥɐ")
		}
		calls := s.Syscalls() - before
		c.Close()
		if calls == 0 {
			t.Errorf("single=%v: Syscalls did not grow over %d exchanges", single, msgs)
		}
		t.Logf("single-shot recv %v: %d system calls for %d ping-pong messages (%.2f each)", single, calls, msgs, float64(calls)/msgs)
	}
}

// TestLoops serves with several rings sharing the listener.
func TestLoops(t *testing.T) {
	skipIfUnavailable(t)
	s := start(t, servers.Config{Loops: 3}, Options{})
	var conns []net.Conn
	for range 12 {
		conns = append(conns, testkit.Dial(t, s.Addr()))
	}
	for _, c := range conns {
		testkit.Echo(t, c, "several rings")
		c.Close()
	}
	if st := s.Stats(); st.Accepted != 12 {
		t.Errorf("Accepted = %d, want 12", st.Accepted)
	}
}
