package servertest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFakeSuite runs the suite against the fake architecture; it only runs
// as a child of TestSuiteCatchesBugs, which picks the bug and the cases.
func TestFakeSuite(t *testing.T) {
	name, ok := os.LookupEnv(fakeBugEnv)
	if !ok {
		t.Skip("runs as a child of TestSuiteCatchesBugs")
	}
	target := fakeTarget
	if name == "known" {
		target = fakeKnownTarget
		t.Setenv(fakeBugEnv, "lower")
	}
	servertest.Run(t, target, servers.Config{})
}

// runFake runs the suite's cases matching pattern (framing/case) against
// the fake architecture with bug, in a child process, and returns its
// output and whether it passed.
func runFake(t *testing.T, bug, pattern string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeSuite$/"+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fakeBugEnv+"="+bug)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running the child: %v", err)
		}
	}
	return string(out), err == nil
}

// TestSuiteCatchesBugs proves that cases can fail: each deliberate bug of
// the fake architecture fails the case written to catch it, while the
// correct fake passes those cases.
func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct {
		bug, pattern string
	}{
		{bug: "lower", pattern: "^raw$/^ASCII$"},
		{bug: "lower", pattern: "^raw$/^UTF8Whole$"},
		{bug: "drop-tail", pattern: "^raw$/^HalfCloseFlush$"},
		{bug: "async-drop", pattern: "^line$/^HalfCloseFlush$"},
		{bug: "unbounded", pattern: "^raw$/^WriterNotReading$"},
		{bug: "no-maxmsg", pattern: "^line$/^Oversized$"},
		{bug: "maxconns", pattern: "^raw$/^MaxConns$"},
		{bug: "no-idle", pattern: "^raw$/^IdleTimeout$"},
		{bug: "leak", pattern: "^line$/^GracefulStop$"},
		{bug: "emfile-exit", pattern: "^raw$/^EMFILE$"},
	}
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		var cases []string
		for _, tt := range tests {
			cases = append(cases, tt.pattern[strings.LastIndex(tt.pattern, "/")+2:len(tt.pattern)-1])
		}
		out, ok := runFake(t, "", "/^("+strings.Join(cases, "|")+")$")
		assert.True(t, ok, "the correct fake fails the suite:\n%s", out)
	})
	for _, tt := range tests {
		t.Run(tt.bug+"/"+tt.pattern, func(t *testing.T) {
			t.Parallel()
			out, ok := runFake(t, tt.bug, tt.pattern)
			assert.False(t, ok, "bug %q passed the suite:\n%s", tt.bug, out)
			assert.Contains(t, out, "--- FAIL: TestFakeSuite/", "bug %q did not fail a case:\n%s", tt.bug, out)
		})
	}
	t.Run("known defect is skipped, by name", func(t *testing.T) {
		t.Parallel()
		out, ok := runFake(t, "known", "^raw$/^ASCII$")
		assert.True(t, ok, out)
		assert.Contains(t, out, "--- SKIP: TestFakeSuite/raw/ASCII")
		assert.Contains(t, out, "known defect of servertest-fake-known: echoes in lower case (nowhere#1)")
	})
}

// fakeBugEnv selects the bug of the fake architecture in a child run.
const fakeBugEnv = "ARCHBENCH_SERVERTEST_FAKE_BUG"

// The fake architecture is a small goroutine-per-connection server with one
// deliberate bug, chosen by fakeBugEnv, for the suite to catch:
//
//	lower        echoes without transforming
//	drop-tail    closes at end of input without Finish (loses the tail)
//	unbounded    reads on while replies queue up without bound
//	async-drop   like unbounded, and drops the queued replies at end of input
//	no-maxmsg    ignores MaxMsg
//	maxconns     ignores MaxConns
//	no-idle      ignores IdleTimeout
//	leak         Shutdown neither closes connections nor waits for them
//	emfile-exit  the accept loop ends on the first accept error
//
// With no bug it is a correct server, the control. It is given to the
// suite as a constructor; nothing registers it.
var (
	fakeTarget      = servertest.Target{Name: "servertest-fake", New: newFake}
	fakeKnownTarget = servertest.Target{
		Name: "servertest-fake-known", New: newFake,
		Defects: []servers.Defect{{Case: "ASCII", Reason: "echoes in lower case", Upstream: "nowhere#1"}},
	}
)

type fake struct {
	servers.Core
	bug   string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	stop  bool
}

func newFake(cfg servers.Config) (servers.Server, error) {
	f := &fake{bug: os.Getenv(fakeBugEnv), conns: map[net.Conn]struct{}{}}
	f.InitCore(cfg)
	return f, nil
}

func (f *fake) Addr() net.Addr {
	if f.ln == nil {
		return nil
	}
	return f.ln.Addr()
}

func (f *fake) Start() error {
	if f.ln != nil {
		return servers.ErrClosed
	}
	ln, err := servers.Listen(f.Cfg)
	if err != nil {
		return err
	}
	f.ln = ln
	f.wg.Add(1)
	go f.accept()
	return nil
}

func (f *fake) accept() {
	defer f.wg.Done()
	var b servers.Backoff
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if f.bug == "emfile-exit" {
				f.Stop(nil)
				return
			}
			d := b.Next()
			f.AcceptFailed(err, d)
			time.Sleep(d)
			continue
		}
		b.Reset()
		if f.bug == "maxconns" {
			f.Cfg.MaxConns = 0
		}
		if !f.Admit() {
			c.Close()
			continue
		}
		f.mu.Lock()
		if f.stop {
			f.mu.Unlock()
			f.Release()
			c.Close()
			continue
		}
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fake) serve(c net.Conn) {
	defer f.wg.Done()
	defer f.Release()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	defer c.Close()
	cc := f.Cfg.Codec()
	if f.bug == "no-maxmsg" {
		cc.MaxMsg = protocol.MaxMaxMsg
	}
	codec := protocol.NewCodec(cc)
	queue := make(chan []byte, 1<<20)
	wdone := make(chan struct{})
	async := f.bug == "unbounded" || f.bug == "async-drop"
	if async {
		go func() {
			defer close(wdone)
			for p := range queue {
				if _, err := c.Write(p); err != nil {
					for range queue {
					}
					return
				}
			}
		}()
		defer func() { close(queue); <-wdone }()
	}
	buf := make([]byte, 16<<10)
	for {
		if idle := f.Cfg.IdleTimeout; idle > 0 && f.bug != "no-idle" {
			_ = c.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := c.Read(buf)
		if n > 0 {
			out, perr := codec.Feed(nil, buf[:n])
			if f.bug == "lower" {
				out = append([]byte(nil), buf[:n]...)
			}
			if async {
				queue <- out
			} else if _, err := c.Write(out); err != nil {
				return
			}
			if perr != nil {
				f.Log.Warn("closing connection: protocol error", "err", perr)
				return
			}
		}
		if err != nil {
			if f.bug == "async-drop" {
				c.Close()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !f.stopping() {
				f.Log.Info("closing idle connection")
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) && f.stopping() {
				if f.bug != "drop-tail" {
					out, _ := codec.Finish(nil)
					_, _ = c.Write(out)
				}
			}
			return
		}
	}
}

func (f *fake) stopping() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stop
}

// Shutdown stops accepting, wakes every connection's read so it flushes
// and ends, and waits for them; when ctx ends first it closes them.
func (f *fake) Shutdown(ctx context.Context) error {
	f.ln.Close()
	defer f.Stop(nil)
	if f.bug == "leak" {
		return nil
	}
	f.mu.Lock()
	f.stop = true
	f.mu.Unlock()
	f.eachConn(func(c net.Conn) { _ = c.SetReadDeadline(time.Now()) })
	served := make(chan struct{})
	go func() { f.wg.Wait(); close(served) }()
	select {
	case <-served:
		return nil
	case <-ctx.Done():
		f.eachConn(func(c net.Conn) { c.Close() })
		<-served
		return ctx.Err()
	}
}

func (f *fake) eachConn(do func(net.Conn)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		do(c)
	}
}
