package epollpool

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
)

// The conformance suite's EMFILE case runs with raw framing only, which
// this package hands to the inline epoll server; this test runs the loop
// out of descriptors with line framing and the pool working.

// childLimit is the RLIMIT_NOFILE of the EMFILE child: the server runs out
// of descriptors after some 50 connections.
const childLimit = 64

// childReport is what the child answers to "stats".
type childReport struct {
	Stats servers.Stats
	CPU   time.Duration // the child's user+system CPU time
	Done  bool          // the server stopped on its own
}

// emfileChild serves line framing under a low RLIMIT_NOFILE and answers
// "stats" and "quit" on stdin. It returns the exit code.
func emfileChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fail(err)
	}
	rl.Cur = childLimit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fail(err)
	}
	cfg := servers.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Framing = protocol.Line
	cfg.Work = protocol.Work{CPU: time.Microsecond}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := NewServer(cfg)
	if err != nil {
		return fail(err)
	}
	if err := srv.Start(); err != nil {
		return fail(err)
	}
	fmt.Println(srv.Addr())
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		switch in.Text() {
		case "stats":
			var ru unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
			r := childReport{Stats: srv.Stats(), CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
			select {
			case <-srv.Done():
				r.Done = true
			default:
			}
			if err := enc.Encode(r); err != nil {
				return fail(err)
			}
		case "quit":
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				return fail(err)
			}
			return 0
		}
	}
	return fail(fmt.Errorf("stdin ended: %v", in.Err()))
}

// TestEMFILE runs a server out of descriptors in a child process: it must
// back off instead of spinning, keep running, and serve the waiting
// clients once descriptors are free again.
func TestEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	out := bufio.NewReader(stdout)
	addr, err := out.ReadString('\n')
	require.NoError(t, err)
	stats := func() childReport {
		_, err := io.WriteString(stdin, "stats\n")
		require.NoError(t, err)
		line, err := out.ReadBytes('\n')
		require.NoError(t, err)
		var r childReport
		require.NoError(t, json.Unmarshal(line, &r))
		return r
	}

	// More clients than the child has descriptors; the kernel completes
	// their handshakes in the backlog.
	const clients = childLimit + 16
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr[:len(addr)-1], testTimeout)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(testTimeout)))
		conns[i] = c
	}
	exchange(t, conns[0], protocol.Line, []byte("first"))
	require.Eventually(t, func() bool { return stats().Stats.AcceptErrors > 0 },
		testTimeout, 5*time.Millisecond, "the server never hit EMFILE")

	// Out of descriptors: the last client is not served, and the child
	// does not spin meanwhile.
	before := stats()
	last := conns[clients-1]
	_, err = last.Write([]byte("last\n"))
	require.NoError(t, err)
	const window = 300 * time.Millisecond
	require.NoError(t, last.SetReadDeadline(time.Now().Add(window)))
	_, err = last.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "a client beyond the descriptor limit was served")
	after := stats()
	t.Logf("accepted %d, accept errors %d, CPU in a %v window: %v",
		after.Stats.Accepted, after.Stats.AcceptErrors, window, after.CPU-before.CPU)
	require.Less(t, after.CPU-before.CPU, window/3, "the server spun on EMFILE")
	require.Less(t, after.Stats.AcceptErrors, int64(30), "accept was retried without back-off")
	require.False(t, after.Done, "the server stopped on EMFILE")

	// Free descriptors: the waiting clients get served.
	served := int(after.Stats.Accepted)
	for _, c := range conns[:served] {
		c.Close()
	}
	require.NoError(t, last.SetReadDeadline(time.Now().Add(testTimeout)))
	readReply(t, last, []byte("LAST\n"))
	exchange(t, conns[served], protocol.Line, []byte("again"))
	require.False(t, stats().Done)

	_, err = io.WriteString(stdin, "quit\n")
	require.NoError(t, err)
	exited = true
	require.NoError(t, cmd.Wait(), "the child did not stop cleanly")
}
