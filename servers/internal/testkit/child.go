// Package testkit is test support shared by the servers' tests: a server
// run in a child process (the test binary, re-executed) under a low
// RLIMIT_NOFILE, for the EMFILE tests. Only tests import it.
//
// The child talks to the parent over a line protocol:
//
//	child:  addr ADDR      listening
//	child:  stopped ERR    the server's Done was closed
//	child:  fatal ERR      starting failed; the child exits 1
//	parent: stats          child: stats JSON (a Report)
//	parent: quit, or stdin closed: the child shuts the server down and exits,
//	        non-zero if Shutdown failed
//
// A bare library run (no servers.Server) may print its own lines with say.
package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/servers"
)

// Report is the child's answer to "stats".
type Report struct {
	Stats servers.Stats
	CPU   time.Duration // the child's user+system CPU time
	Done  bool          // the server stopped on its own
}

// StartFunc starts the child's server in the given mode. It returns the
// server, or for a bare library run a nil server and the address it
// listens on. say prints one line to the parent.
type StartFunc func(mode string, say func(format string, args ...any)) (srv servers.Server, addr string, err error)

// ChildMain makes the test binary a child when env is set: it lowers
// RLIMIT_NOFILE to limit, starts the server and serves the protocol, then
// exits. When env is not set it returns at once. Call it first in TestMain.
func ChildMain(env string, limit uint64, start StartFunc) {
	mode := os.Getenv(env)
	if mode == "" {
		return
	}
	os.Exit(runChild(mode, limit, start))
}

func runChild(mode string, limit uint64, start StartFunc) int {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	fail := func(err error) int { say("fatal %v", err); mu.Lock(); return 1 }
	lim := unix.Rlimit{Cur: limit, Max: limit}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fail(fmt.Errorf("setrlimit: %w", err))
	}
	srv, addr, err := start(mode, say)
	if err != nil {
		return fail(err)
	}
	if srv != nil {
		addr = srv.Addr().String()
		go func() {
			<-srv.Done()
			say("stopped %v", srv.Err())
		}()
	}
	say("addr %s", addr)
	code := 0
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "quit" {
			break
		}
		if sc.Text() != "stats" || srv == nil {
			continue
		}
		var ru unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
		r := Report{Stats: srv.Stats(), CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
		select {
		case <-srv.Done():
			r.Done = true
		default:
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fail(err)
		}
		say("stats %s", b)
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "child: shutdown:", err)
			code = 1
		}
	}
	mu.Lock() // no line half written
	return code
}

// Hog opens /dev/null until the process is out of descriptors: something
// else in the process uses them up.
func Hog() {
	for {
		if _, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err != nil {
			return
		}
	}
}

// Child is the parent's handle on a child process.
type Child struct {
	Addr string

	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// StartChild runs the test binary as a child in mode (env=mode), waits for
// its address and stops it when the test ends.
func StartChild(t testing.TB, env, mode string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+mode)
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &Child{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 64), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		if err := c.stop(10 * time.Second); err == errNoExit {
			t.Errorf("child did not exit")
		}
	})
	l, ok := c.Next("addr", 10*time.Second)
	require.True(t, ok, "child did not report its address")
	c.Addr = l
	return c
}

var errNoExit = fmt.Errorf("the child did not exit")

// stop closes the child's stdin and waits up to d for it to exit (then
// kills it); it returns how the child exited.
func (c *Child) stop(d time.Duration) error {
	c.stdin.Close()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errNoExit
	}
}

// Quit tells the child to shut its server down and returns how it exited.
func (c *Child) Quit() error {
	_, err := io.WriteString(c.stdin, "quit\n")
	if err != nil {
		return err
	}
	return c.stop(10 * time.Second)
}

// Next waits up to d for a line starting with word and returns the rest.
func (c *Child) Next(word string, d time.Duration) (string, bool) {
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

// Stats asks the child for its server's stats.
func (c *Child) Stats() Report {
	c.t.Helper()
	_, err := io.WriteString(c.stdin, "stats\n")
	require.NoError(c.t, err)
	l, ok := c.Next("stats", 5*time.Second)
	require.True(c.t, ok, "no stats from child")
	var r Report
	require.NoError(c.t, json.Unmarshal([]byte(l), &r))
	return r
}

// Exhaust opens n connections to addr and keeps them until the test ends.
func Exhaust(t testing.TB, addr string, n int) (opened int, conns []net.Conn) {
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
