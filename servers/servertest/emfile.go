package servertest

import (
	"net"
	"os"
	"strconv"
	"time"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// startChild runs the case's server (target.New with the case's config,
// logging to the child's stderr) in a child process with RLIMIT_NOFILE
// noFile, through testkit's child harness: the test binary re-run for this
// case alone.
func (e *env) startChild(noFile uint64) *testkit.Child {
	e.t.Helper()
	return testkit.StartChild(e.tt, noFile, func(func(string, ...any)) (servers.Server, string, error) {
		cfg := e.config(nil)
		cfg.Logger = newLogger(os.Stderr)
		srv, err := e.target.New(cfg)
		if err != nil {
			return nil, "", err
		}
		return srv, "", srv.Start()
	})
}

// dialChild connects to the child's server with the case's deadline.
func (e *env) dialChild(ch *testkit.Child) (net.Conn, error) {
	d := net.Dialer{Deadline: e.deadline}
	c, err := d.Dial("tcp", ch.Addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(e.deadline)
	e.t.Cleanup(func() { c.Close() })
	return c, nil
}

// Limits of the EMFILE case.
const (
	spinWindow = 300 * time.Millisecond // watched for CPU and accept retries
	// maxRetries bounds the failed accepts in spinWindow: backing off from
	// 5 ms, doubling, one accept loop fails at most 7 times in 300 ms.
	maxRetries = 30
)

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
	const limit = testkit.EMFILELimit
	ch := e.startChild(limit)

	ch.Hog()
	if n, err := fdCount(strconv.Itoa(ch.Pid())); err == nil && n < limit {
		e.t.Fatalf("the child holds %d descriptors after taking all it could, limit %d", n, limit)
	}
	type client struct {
		c     net.Conn
		reply []byte
	}
	clients := make([]client, limit+16)
	for i := range clients {
		c, err := e.dialChild(ch)
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
	if !e.eventually(10*time.Second, func() bool { return ch.Stats().Stats.AcceptErrors > 0 }) {
		e.t.Fatalf("no failed accept counted with %d clients waiting and no descriptor free: the case did not run the server out of descriptors (%+v)",
			len(clients), ch.Stats())
	}
	before := ch.Stats()
	time.Sleep(spinWindow) // the window watched, not synchronisation
	after := ch.Stats()
	if after.Done {
		e.t.Fatalf("out of descriptors: the server stopped serving: %s", after.Err)
	}
	cpu, retries := after.CPU-before.CPU, after.Stats.AcceptErrors-before.Stats.AcceptErrors
	e.t.Logf("out of descriptors for %v: %v of CPU, %d failed accepts", spinWindow, cpu, retries)
	if cpu > spinWindow/2 {
		e.t.Errorf("the server used %v of CPU in %v while out of descriptors: its accept loop spins instead of backing off", cpu, spinWindow)
	}
	if retries >= maxRetries {
		e.t.Errorf("%d failed accepts in %v: accept is retried without backing off", retries, spinWindow)
	}

	ch.Release()
	for i, cl := range clients {
		if err := readExpect(cl.c, cl.reply); err != nil {
			e.t.Fatalf("client %d of %d queued while the server was out of descriptors: %v", i, len(clients), err)
		}
		cl.c.Close()
	}
	c, err := e.dialChild(ch)
	if err != nil {
		e.t.Fatalf("dial after descriptors were freed: %v", err)
	}
	if err := e.pingPong(c, e.utf8Payloads(3, 30), nil); err != nil {
		e.t.Fatalf("a new client after descriptors were freed: %v", err)
	}
	c.Close()
	st := ch.Stats()
	if st.Done {
		e.t.Fatalf("the server stopped serving: %s", st.Err)
	}
	e.t.Logf("child server: %+v", st.Stats)
	if err := ch.Quit(); err != nil {
		e.t.Fatalf("the child process did not stop cleanly: %v", err)
	}
}
