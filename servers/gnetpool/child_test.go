package gnetpool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
)

// TestEMFILE measures gnet-pool's EMFILE defect with line framing (the
// conformance case runs with raw framing only, where gnet-pool is the gnet
// architecture). A child process (this test binary, re-executed) serves
// with RLIMIT_NOFILE 64 and reports on stdout, one line per event:
//
//	addr ADDR      listening
//	stopped ERR    Done was closed
//	stats A R X    answer to "stats" on stdin: accepted, rejected, active
const (
	childEnv   = "ARCHBENCH_GNETPOOL_TEST_CHILD"
	childLimit = 64
)

func TestEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Run("its own connections are refused near the limit and serving goes on", func(t *testing.T) {
		ch := startChild(t, "server")
		var conns []net.Conn
		for range 2 * childLimit {
			c, err := net.DialTimeout("tcp", ch.addr, 2*time.Second)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		accepted, rejected, _ := ch.stats()
		t.Logf("after %d connections: accepted %d, rejected %d", len(conns), accepted, rejected)
		require.Positive(t, rejected)
		for _, c := range conns {
			c.Close()
		}
		require.Eventually(t, func() bool { _, _, active := ch.stats(); return active == 0 },
			5*time.Second, 10*time.Millisecond, "connections still open in the child")
		a, err := net.ResolveTCPAddr("tcp", ch.addr)
		require.NoError(t, err)
		exchange(t, dial(t, a), protocol.Line, []byte("served after the storm"))
		_, stopped := ch.next("stopped", 100*time.Millisecond)
		require.False(t, stopped)
	})
	t.Run("descriptors used up by others end the engine", func(t *testing.T) {
		ch := startChild(t, "server-hog")
		// The connection only makes the server accept; it may be reset as
		// the dying loop closes the listener.
		if c, err := net.DialTimeout("tcp", ch.addr, 2*time.Second); err == nil {
			defer c.Close()
		}
		res, ok := ch.next("stopped", 10*time.Second)
		require.True(t, ok, "gnet-pool survived EMFILE: is the declared defect gone?")
		t.Logf("Err: %s", res)
		require.Contains(t, res, servers.ErrStopped.Error())
	})
}

// childMain runs instead of the tests when the binary is the child.
func childMain(mode string) {
	fail := func(err error) {
		fmt.Println("fatal", err)
		os.Exit(1)
	}
	lim := unix.Rlimit{Cur: childLimit, Max: childLimit}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fail(err)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	cfg := servers.DefaultConfig()
	cfg.Addr, cfg.Framing = "127.0.0.1:0", protocol.Line
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := servers.New("gnet-pool", cfg)
	if err != nil {
		fail(err)
	}
	if err := s.Start(); err != nil {
		fail(err)
	}
	switch mode {
	case "server":
	case "server-hog":
		// Something else in the process uses up the descriptors.
		for {
			if _, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err != nil {
				break
			}
		}
	default:
		fail(fmt.Errorf("unknown child mode %q", mode))
	}
	go func() {
		<-s.Done()
		say("stopped %v", s.Err())
	}()
	say("addr %v", s.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "stats" {
			st := s.Stats()
			say("stats %d %d %d", st.Accepted, st.Rejected, st.Active)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	mu.Lock() // no line half written
	os.Exit(0)
}

// child is the parent's handle on a child process.
type child struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan string
	addr  string
}

func startChild(t *testing.T, mode string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{t: t, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("child did not exit")
		}
	})
	l, ok := c.next("addr", 10*time.Second)
	require.True(t, ok, "child did not report its address")
	c.addr = l
	return c
}

// next waits up to d for a line starting with word and returns the rest.
func (c *child) next(word string, d time.Duration) (string, bool) {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", false
			}
			if rest, found := strings.CutPrefix(l, word+" "); found {
				return rest, true
			}
			if strings.HasPrefix(l, "fatal") {
				c.t.Fatalf("child: %s", l)
			}
		case <-timeout:
			return "", false
		}
	}
}

func (c *child) stats() (accepted, rejected, active int) {
	c.t.Helper()
	_, err := io.WriteString(c.stdin, "stats\n")
	require.NoError(c.t, err)
	l, ok := c.next("stats", 5*time.Second)
	require.True(c.t, ok, "no stats from child")
	f := strings.Fields(l)
	require.Len(c.t, f, 3)
	a, _ := strconv.Atoi(f[0])
	r, _ := strconv.Atoi(f[1])
	x, _ := strconv.Atoi(f[2])
	return a, r, x
}
