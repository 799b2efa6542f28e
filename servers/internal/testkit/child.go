// Package testkit is test support shared by the servers' tests: the one
// child-process harness (a server run by the test binary itself, re-run
// under a low RLIMIT_NOFILE, for the EMFILE tests of the conformance suite
// and of each library), a dialer and a log sink. Only tests import it.
//
// # The child process
//
// [StartChild] re-runs the test binary for the calling test alone
// (-test.run matching t.Name()) with ARCHBENCH_TESTKIT_CHILD set to that
// name. In the child the same test reaches the same StartChild call, which
// now lowers RLIMIT_NOFILE, runs the StartFunc the test gave it (a closure,
// so any constructor will do; nothing is looked up by name), serves the
// line protocol below on stdin and stdout, and exits. No TestMain hook is
// needed.
//
//	child:  addr ADDR        serving (the StartFunc returned)
//	child:  stopped ERR      the server's Done was closed (by itself, or at quit)
//	child:  fatal ERR        the StartFunc failed; the child exits 1
//	parent: stats            child: stats JSON (a Report)
//	parent: hog              child: hogged N (opened /dev/null until out of descriptors)
//	parent: release          child: released (closed them again)
//	parent: quit, or stdin closed: the child shuts the server down and exits,
//	        non-zero if it had stopped on its own or Shutdown failed
//
// A bare library run (no servers.Server) prints its own lines with say.
package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"archbench/servers"
)

// childEnv holds, in a child process, the name of the test it runs for.
const childEnv = "ARCHBENCH_TESTKIT_CHILD"

// Timeouts of the harness.
const (
	startTimeout    = 10 * time.Second // until the child reports its address
	replyTimeout    = 5 * time.Second  // for the answer to a command
	ShutdownTimeout = 5 * time.Second  // the child's Shutdown context
	exitTimeout     = 2 * ShutdownTimeout
)

// Report is the child's answer to "stats".
type Report struct {
	Stats servers.Stats
	CPU   time.Duration // the child's user+system CPU time
	Done  bool          // the server stopped on its own
	Err   string        // its Err, when Done
}

// StartFunc starts the child's server. It returns the server, or for a bare
// library run a nil server and the address it listens on. say prints one
// line to the parent.
type StartFunc func(say func(format string, args ...any)) (srv servers.Server, addr string, err error)

// Child is the parent's handle on a child process.
type Child struct {
	Addr string

	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *LogBuf
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// StartChild runs start in a child process with RLIMIT_NOFILE noFile (see
// the package doc), waits for its address and stops it when the test ends.
// In the child itself it does not return.
func StartChild(t testing.TB, noFile uint64, start StartFunc) *Child {
	t.Helper()
	if name, ok := os.LookupEnv(childEnv); ok {
		if name != t.Name() {
			t.Fatalf("testkit: the child for %q reached StartChild in %q", name, t.Name())
		}
		os.Exit(runChild(noFile, start))
	}
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	c := &Child{t: t, cmd: cmd, lines: make(chan string, 64), stderr: &LogBuf{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the child process: %v", err)
	}
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
		if err := c.stop(); errors.Is(err, errNoExit) {
			t.Errorf("the child process did not exit %v after its stdin closed; killed it", exitTimeout)
		}
		if t.Failed() {
			t.Logf("child stderr:\n%s", c.stderr)
		}
	})
	c.Addr = c.Expect("addr", startTimeout)
	return c
}

// runPattern is the -test.run pattern that selects exactly the test name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func runChild(noFile uint64, start StartFunc) int {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	fail := func(err error) int { say("fatal %v", err); mu.Lock(); return 1 }
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fail(fmt.Errorf("getrlimit: %w", err))
	}
	lim.Cur = noFile
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fail(fmt.Errorf("setrlimit: %w", err))
	}
	srv, addr, err := start(say)
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
	var hog []int
	release := func() {
		for _, fd := range hog {
			unix.Close(fd)
		}
		hog = hog[:0]
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() && sc.Text() != "quit" {
		switch sc.Text() {
		case "hog":
			for {
				fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					break
				}
				hog = append(hog, fd)
			}
			say("hogged %d", len(hog))
		case "release":
			release()
			say("released")
		case "stats":
			if srv == nil {
				continue
			}
			b, err := json.Marshal(report(srv))
			if err != nil {
				return fail(err)
			}
			say("stats %s", b)
		}
	}
	release()
	code := 0
	if srv != nil {
		if r := report(srv); r.Done {
			fmt.Fprintln(os.Stderr, "child: the server stopped on its own:", r.Err)
			code = 1
		} else if err := shutdown(srv); err != nil {
			fmt.Fprintln(os.Stderr, "child: shutdown:", err)
			code = 1
		}
	}
	mu.Lock() // no line half written
	return code
}

func report(srv servers.Server) Report {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	r := Report{Stats: srv.Stats(), CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	select {
	case <-srv.Done():
		r.Done = true
		if err := srv.Err(); err != nil {
			r.Err = err.Error()
		}
	default:
	}
	return r
}

// shutdown shuts srv down within ShutdownTimeout and checks that Done is
// closed and Err nil afterwards.
func shutdown(srv servers.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	select {
	case <-srv.Done():
	default:
		return errors.New("Done is not closed after Shutdown returned")
	}
	if err := srv.Err(); err != nil {
		return fmt.Errorf("Err after Shutdown = %v, want nil", err)
	}
	return nil
}

var errNoExit = errors.New("the child did not exit")

// stop closes the child's stdin and waits for it to exit (killing it after
// exitTimeout); it returns how the child exited.
func (c *Child) stop() error {
	c.stdin.Close()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(exitTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errNoExit
	}
}

// Quit tells the child to shut its server down and returns how it exited:
// nil if Shutdown worked and the server had not stopped on its own.
func (c *Child) Quit() error {
	if _, err := io.WriteString(c.stdin, "quit\n"); err != nil {
		return err
	}
	if err := c.stop(); err != nil {
		return fmt.Errorf("%w; stderr:\n%s", err, c.stderr)
	}
	return nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Next waits up to d for a line starting with word and returns the rest;
// false if none came (or the child exited). A fatal line fails the test.
func (c *Child) Next(word string, d time.Duration) (string, bool) {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", false
			}
			if rest, found := strings.CutPrefix(l, word+" "); found || l == word {
				return rest, true
			}
			if strings.HasPrefix(l, "fatal ") {
				c.t.Fatalf("child: %s", l)
			}
		case <-timeout:
			return "", false
		}
	}
}

// Expect is Next that fails the test when no such line comes.
func (c *Child) Expect(word string, d time.Duration) string {
	c.t.Helper()
	rest, ok := c.Next(word, d)
	if !ok {
		select {
		case <-c.exited:
			c.t.Fatalf("the child process exited (%v) while we waited for %q; stderr:\n%s", c.err, word, c.stderr)
		default:
			c.t.Fatalf("no %q from the child process within %v", word, d)
		}
	}
	return rest
}

// Send writes one command to the child.
func (c *Child) Send(cmd string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatalf("telling the child %q: %v", cmd, err)
	}
}

// Stats asks the child for its server's stats.
func (c *Child) Stats() Report {
	c.t.Helper()
	c.Send("stats")
	var r Report
	if err := json.Unmarshal([]byte(c.Expect("stats", replyTimeout)), &r); err != nil {
		c.t.Fatalf("child stats: %v", err)
	}
	return r
}

// Hog makes the child open /dev/null until it is out of descriptors.
func (c *Child) Hog() {
	c.t.Helper()
	c.Send("hog")
	c.Expect("hogged", startTimeout)
}

// Release makes the child close what Hog opened.
func (c *Child) Release() {
	c.t.Helper()
	c.Send("release")
	c.Expect("released", replyTimeout)
}

// Exited is closed once the child process has exited.
func (c *Child) Exited() <-chan struct{} { return c.exited }
