package gnetsrv

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/servers"
)

// The EMFILE tests run a server in a child process (this test binary,
// re-executed) whose RLIMIT_NOFILE is low, talk to it from the parent and
// read what it reports on stdout, one line per event:
//
//	addr ADDR          listening
//	ended ERR          (bare) gnet.Run returned
//	stopped ERR        (server) Done was closed
//	stats A R X        (server) answer to "stats" on stdin: accepted, rejected, active
const (
	childEnv   = "ARCHBENCH_GNET_TEST_CHILD"
	childLimit = 64 // RLIMIT_NOFILE of the child
)

// childMain runs instead of the tests when the binary is the child.
func childMain(mode string) {
	fail := func(err error) {
		fmt.Println("fatal", err) // before any other goroutine prints
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
	var srv servers.Server
	switch mode {
	case "bare":
		// gnet as its own documentation shows it, to measure gnet itself.
		h := &bareHandler{addr: make(chan net.Addr, 1)}
		go func() {
			err := gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
			say("ended %v", err)
		}()
		say("addr %v", <-h.addr)
	case "server", "server-hog":
		s, err := New(servers.Config{Network: "tcp", Addr: "127.0.0.1:0", OutCap: servers.DefaultOutCap, MaxMsg: 1 << 20, Loops: 1,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			fail(err)
		}
		if err := s.Start(); err != nil {
			fail(err)
		}
		srv = s
		if mode == "server-hog" {
			// Something else in the process uses up the descriptors.
			for {
				if _, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err != nil {
					break
				}
			}
		}
		go func() {
			<-s.Done()
			say("stopped %v", s.Err())
		}()
		say("addr %v", s.Addr())
	default:
		fail(fmt.Errorf("unknown child mode %q", mode))
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "stats" && srv != nil {
			st := srv.Stats()
			say("stats %d %d %d", st.Accepted, st.Rejected, st.Active)
		}
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
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

// exhaust opens n connections to addr and keeps them until the test ends.
func exhaust(t *testing.T, addr string, n int) (opened int, conns []net.Conn) {
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return len(conns), conns
}

// bareHandler is a plain gnet echo, for measuring gnet without our
// workarounds.
type bareHandler struct {
	gnet.BuiltinEventEngine
	addr   chan net.Addr
	eng    gnet.Engine
	maxOut atomic.Int64 // most output gnet held for one connection
	closed atomic.Int64 // connections closed
}

func (h *bareHandler) OnClose(gnet.Conn, error) gnet.Action {
	h.closed.Add(1)
	return gnet.None
}

func (h *bareHandler) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = e
	fd, err := e.Dup()
	if err != nil {
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		return gnet.Shutdown
	}
	h.addr <- sockaddrToAddr(sa)
	return gnet.None
}

func (h *bareHandler) OnTraffic(c gnet.Conn) gnet.Action {
	p, _ := c.Next(-1)
	_, _ = c.Write(p)
	if n := int64(c.OutboundBuffered()); n > h.maxOut.Load() {
		h.maxOut.Store(n) // only the one loop writes
	}
	return gnet.None
}

// runBare runs bareHandler on 127.0.0.1:0 until the test ends.
func runBare(t *testing.T) (*bareHandler, string) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
	}()
	var addr string
	select {
	case a := <-h.addr:
		addr = a.String()
	case err := <-done:
		t.Fatalf("gnet.Run: %v", err)
	}
	t.Cleanup(func() {
		// Engine.Stop polls every 500 ms; a context that is over makes it
		// only ask, and Run's return is what we wait for.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = h.eng.Stop(ctx)
		<-done
	})
	return h, addr
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
