package servertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"archbench/servers"
)

// The EMFILE case runs the server in a child process (the test binary
// itself, re-executed) whose RLIMIT_NOFILE is low, and talks to it over a
// line protocol on the child's stdin and stdout:
//
//	child:  listening on ADDR         once serving
//	parent: hog      child: hogged N  opens /dev/null until out of descriptors
//	parent: release  child: released  closes them again
//	parent: status   child: status done=BOOL accept_errors=N active=N err=...
//
// When stdin closes the child shuts the server down and exits; a server that
// stopped on its own or a failed Shutdown makes it exit non-zero.
const (
	childEnv    = "ARCHBENCH_SERVERTEST_CHILD"
	childNoFile = 64
)

type childSpec struct {
	Arch   string         `json:"arch"`
	Config servers.Config `json:"config"`
	NoFile uint64         `json:"nofile"`
}

// HelperProcess is the child process of the EMFILE case. Call it from a
// test named TestHelperProcess in every test binary that calls Run; it
// returns at once unless the suite started the binary as its child.
func HelperProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	if err := runChild(spec, os.Stdin, os.Stdout, os.Stderr); err != nil {
		t.Fatalf("servertest child: %v", err)
	}
}

func runChild(spec string, in io.Reader, out, logw io.Writer) error {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return fmt.Errorf("bad %s: %w", childEnv, err)
	}
	cfg := s.Config
	cfg.Logger = newLogger(logw)
	srv, err := servers.New(s.Arch, cfg)
	if err != nil {
		return err
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	lim.Cur = s.NoFile
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", srv.Addr())
	var hog []int
	release := func() {
		for _, fd := range hog {
			syscall.Close(fd)
		}
		hog = hog[:0]
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "hog":
			for {
				fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
				if err != nil {
					break
				}
				hog = append(hog, fd)
			}
			fmt.Fprintf(out, "hogged %d\n", len(hog))
		case "release":
			release()
			fmt.Fprintln(out, "released")
		case "status":
			st := srv.Stats()
			fmt.Fprintf(out, "status done=%t accept_errors=%d active=%d err=%v\n",
				isDone(srv), st.AcceptErrors, st.Active, srv.Err())
		}
	}
	release()
	if isDone(srv) {
		return fmt.Errorf("the server stopped on its own: %v", srv.Err())
	}
	return shutdownWithin(srv, shutdownTimeout)
}

func isDone(s servers.Server) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

// child is the parent's handle on a running child process.
type child struct {
	e      *env
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stdout *syncBuffer // everything the child printed, for failure reports
	stderr *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
	addr   string
}

func (e *env) startChild(noFile uint64) *child {
	e.t.Helper()
	cfg := e.base
	cfg.Network, cfg.Addr, cfg.Logger = "tcp", "127.0.0.1:0", nil
	spec, err := json.Marshal(childSpec{Arch: e.arch.Name, Config: cfg, NoFile: noFile})
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	ch := &child{e: e, cmd: cmd, lines: make(chan string, 64), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = ch.stderr
	if ch.stdin, err = cmd.StdinPipe(); err != nil {
		e.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting the child process: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(ch.stdout, sc.Text())
			ch.lines <- sc.Text()
		}
		close(ch.lines)
		ch.err = cmd.Wait()
		close(ch.exited)
	}()
	e.t.Cleanup(func() {
		ch.stdin.Close()
		select {
		case <-ch.exited:
		case <-time.After(10 * time.Second):
			e.t.Errorf("the child process did not exit 10s after its stdin closed; killing it")
			_ = cmd.Process.Kill()
			<-ch.exited
		}
		if e.t.Failed() {
			e.t.Logf("child stdout:\n%s\nchild stderr:\n%s", ch.stdout.String(), ch.stderr.String())
		}
	})
	line := ch.expect("listening on ", 10*time.Second)
	ch.addr = strings.TrimPrefix(line, "listening on ")
	return ch
}

// expect waits for the child's next line starting with prefix.
func (ch *child) expect(prefix string, within time.Duration) string {
	ch.e.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-ch.lines:
			if !ok {
				<-ch.exited
				msg := ""
				if strings.Contains(ch.stderr.String()+ch.stdout.String(), "no tests to run") {
					msg = " (the test binary needs a TestHelperProcess calling servertest.HelperProcess)"
				}
				ch.e.t.Fatalf("the child process exited (%v) while we waited for %q%s", ch.err, prefix, msg)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			ch.e.t.Fatalf("no %q from the child process within %v", prefix, within)
		}
	}
}

func (ch *child) send(cmd string) {
	ch.e.t.Helper()
	if _, err := io.WriteString(ch.stdin, cmd+"\n"); err != nil {
		ch.e.t.Fatalf("telling the child %q: %v", cmd, err)
	}
}

type childStatus struct {
	done         bool
	acceptErrors int64
	line         string
}

func (ch *child) status() childStatus {
	ch.e.t.Helper()
	ch.send("status")
	l := ch.expect("status ", 5*time.Second)
	st := childStatus{line: l}
	for _, f := range strings.Fields(l)[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "done":
			st.done = v == "true"
		case "accept_errors":
			st.acceptErrors, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return st
}

// requireServing fails the case if the child's server stopped.
func (ch *child) requireServing(when string) {
	ch.e.t.Helper()
	select {
	case <-ch.exited:
		ch.e.t.Fatalf("%s: the child process exited: %v", when, ch.err)
	default:
	}
	if st := ch.status(); st.done {
		ch.e.t.Fatalf("%s: the server stopped serving (%s)", when, st.line)
	}
}

func (ch *child) dial() (net.Conn, error) {
	d := net.Dialer{Deadline: ch.e.deadline}
	c, err := d.Dial("tcp", ch.addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(ch.e.deadline)
	ch.e.t.Cleanup(func() { c.Close() })
	return c, nil
}

// cpuTicks is the CPU time of process pid in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/pid/stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc/pid/stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + k, errors.Join(err1, err2)
}

// testEMFILE runs the server in a child process with RLIMIT_NOFILE 64 and
// takes its descriptors away: the child first fills its own descriptor
// table, then clients queue up (more of them than the limit), so the server's
// accepts fail with EMFILE. It must back off without spinning and keep
// running. Once the child gives its descriptors back, the queued clients
// (enough to run an unbounded server out of descriptors again) and a fresh
// one must all be served.
func testEMFILE(e *env) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		e.t.Skipf("needs /proc to watch the child process: %v", err)
	}
	ch := e.startChild(childNoFile)
	pid := ch.cmd.Process.Pid

	ch.send("hog")
	ch.expect("hogged ", 10*time.Second)
	if n, err := fdCount(strconv.Itoa(pid)); err == nil && n < childNoFile {
		e.t.Fatalf("the child holds %d descriptors after taking all it could, limit %d", n, childNoFile)
	}
	type client struct {
		c     net.Conn
		reply []byte
	}
	clients := make([]client, childNoFile+16)
	for i := range clients {
		c, err := ch.dial()
		if err != nil {
			e.t.Fatalf("dial %d: %v", i, err)
		}
		// Ending in ASCII, so raw framing holds nothing back.
		x := &expectation{f: e.f}
		req, reply := x.add(append(randMixed(e.rng, 1+e.rng.IntN(256)), '.'))
		if _, err := c.Write(req); err != nil {
			e.t.Fatalf("client %d: write: %v", i, err)
		}
		clients[i] = client{c, reply}
	}
	checkNoSpin(e, pid)
	ch.requireServing("out of descriptors")

	ch.send("release")
	ch.expect("released", 5*time.Second)
	for i, cl := range clients {
		if err := readExpect(cl.c, cl.reply); err != nil {
			e.t.Fatalf("client %d of %d queued while the server was out of descriptors: %v", i, len(clients), err)
		}
		cl.c.Close()
	}
	c, err := ch.dial()
	if err != nil {
		e.t.Fatalf("dial after descriptors were freed: %v", err)
	}
	if err := e.pingPong(c, e.utf8Payloads(3, 30), nil); err != nil {
		e.t.Fatalf("a new client after descriptors were freed: %v", err)
	}
	c.Close()
	st := ch.status()
	if st.done {
		e.t.Fatalf("the server stopped serving (%s)", st.line)
	}
	e.t.Logf("child server: %s", st.line)

	ch.stdin.Close()
	select {
	case <-ch.exited:
		if ch.err != nil {
			e.t.Fatalf("the child process failed: %v", ch.err)
		}
	case <-time.After(2 * shutdownTimeout):
		e.t.Fatalf("the child process did not exit within %v of being told to stop", 2*shutdownTimeout)
	}
}

// checkNoSpin fails the case if process pid burns more than half a CPU for
// 300ms while it should be waiting.
func checkNoSpin(e *env, pid int) {
	e.t.Helper()
	a, err := cpuTicks(pid)
	if err != nil {
		e.t.Logf("CPU check off: %v", err)
		return
	}
	start := time.Now()
	time.Sleep(300 * time.Millisecond)
	b, err := cpuTicks(pid)
	if err != nil {
		e.t.Logf("CPU check off: %v", err)
		return
	}
	used := time.Duration(b-a) * 10 * time.Millisecond
	if window := time.Since(start); used > window/2 {
		e.t.Errorf("the server used %v of CPU in %v while out of descriptors: its accept loop spins instead of backing off", used, window)
	}
}
