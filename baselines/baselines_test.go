package baselines_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/baselines"
	"archbench/servers/servertest"
)

// TestBaselinesConform builds and starts every baseline on 127.0.0.1:0 and
// runs the black-box conformance cases (go test -short's set) against it:
// each must pass all of them, then exit 0 on SIGTERM. To stay cheap,
// py-sequential skips the two bulk cases (Stream1MiB and the 6 MiB
// HalfCloseFlush; seconds each in Python), which c-epoll and py-poll, the
// designs with their own backpressure, run; py-threads and py-pool, whose
// connection handler is py-sequential's, run the cases their concurrency
// changes. The runner runs every case on every external server before
// timing it.
func TestBaselinesConform(t *testing.T) {
	cache := t.TempDir()
	for _, b := range baselines.All() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			command, err := b.Command(cache)
			if errors.Is(err, baselines.ErrUnavailable) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			addr, cmd, stderr := start(t, strings.NewReplacer("{host}", "127.0.0.1", "{port}", "0").Replace(command))
			r := servertest.Remote{Addr: addr, Framing: b.Framings[0], Sequential: b.Sequential, Short: true}
			switch b.Name {
			case "py-sequential":
				r.Match = func(name string) bool { return name != "Stream1MiB" && name != "HalfCloseFlush" }
			case "py-threads", "py-pool":
				// Their connection handler is py-sequential's (serve_blocking):
				// only what their concurrency changes.
				r.Match = regexp.MustCompile(`^(ASCII|Pipelined10k|Concurrent64|ResetMidReply)$`).MatchString
			}
			outs, err := servertest.Conform(context.Background(), r, nil)
			for _, o := range outs {
				t.Logf("%s %s %v: %s", o.Status, o.Case, o.Elapsed, o.Detail)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v, want status 0; stderr: %s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Errorf("no exit within 10s of SIGTERM")
			}
		})
	}
}

// start runs a baseline's command (host and port filled in) under sh and
// returns the address from its "listening on" line; the process is killed
// at the end of the test.
func start(t *testing.T, command string) (string, *exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
		for sc.Scan() {
		}
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "listening on ")
		if !ok {
			t.Fatalf("first line %q, want %q; stderr: %s", l, "listening on ADDR", stderr.String())
		}
		return addr, cmd, stderr
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line within 20s; stderr: %s", stderr.String())
	}
	return "", nil, nil
}

// Out of descriptors, c-epoll leaves its listener unwatched for a back-off
// instead of spinning on a level-triggered listener it cannot accept from:
// with 20 connections against a limit of 16 descriptors (11 connections),
// its CPU over the next second stays far from the whole second a spinning
// loop burns, the accepted connections are served, and once some close the
// ones waiting in the backlog are accepted and served too.
func TestCEpollBacksOffOnEMFILE(t *testing.T) {
	b, _ := baselines.Lookup("c-epoll")
	command, err := b.Command(t.TempDir())
	if errors.Is(err, baselines.ErrUnavailable) {
		t.Skip(err)
	}
	require.NoError(t, err)
	addr, cmd, _ := start(t, "ulimit -n 16 && "+strings.NewReplacer("{host}", "127.0.0.1", "{port}", "0").Replace(command))
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	echo := func(c net.Conn) {
		t.Helper()
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := c.Write([]byte("ab"))
		require.NoError(t, err)
		got := make([]byte, 2)
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		assert.Equal(t, "AB", string(got))
	}
	echo(conns[0]) // served, and by now the accepts have met EMFILE
	time.Sleep(100 * time.Millisecond)
	cpu0 := procCPU(t, cmd.Process.Pid)
	time.Sleep(time.Second)
	used := procCPU(t, cmd.Process.Pid) - cpu0
	t.Logf("server CPU over 1 s at EMFILE: %v", used)
	assert.Less(t, used, 300*time.Millisecond, "a loop spinning on EMFILE burns the whole second")
	for _, c := range conns[:10] {
		c.Close()
	}
	echo(conns[19]) // waited in the backlog, accepted after the back-off
}

// procCPU is process pid's user and system CPU time (/proc/PID/stat).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(b), ") ") // after the command name
	f := strings.Fields(rest)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	require.NoError(t, errors.Join(err1, err2))
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
