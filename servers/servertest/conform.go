package servertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"archbench/protocol"
	"archbench/servers"
)

// Remote is a server someone else runs, for Conform: its address, the
// framing it serves and what it declares.
type Remote struct {
	// Network is "tcp", "tcp6" or "unix" ("" = tcp).
	Network string
	// Addr is the server's address: HOST:PORT, or a socket path for unix.
	Addr string
	// Framing is the framing the server serves.
	Framing protocol.Framing
	// Sequential servers serve one client at a time; the cases that need
	// two at once are skipped.
	Sequential bool
	// Short skips the long cases, as go test -short does.
	Short bool
	// Seed seeds the cases' random data (0 = 1, the seed go test uses).
	Seed uint64
	// Match selects the cases to run by name (nil = every black-box case).
	Match func(name string) bool
}

// Outcome is how one black-box case went.
type Outcome struct {
	Case string
	// Status is "pass", "fail" or "skip".
	Status string
	// Detail is the case's log: the failure or skip reason first.
	Detail  string
	Elapsed time.Duration
}

// Outcome statuses.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
)

// ErrConform: a server failed a conformance case.
var ErrConform = errors.New("servertest: server does not conform")

// Conform runs every black-box case (Case.BlackBox) in order against the
// running server r, each on fresh connections, and calls each with its
// outcome as it ends. It returns every outcome, and an error wrapping
// ErrConform that names the failed cases, if any failed. It runs the same
// case code as Run, so a server that passes go test's suite and one
// checked here are held to the same bytes. ctx ending stops it before the
// next case.
func Conform(ctx context.Context, r Remote, each func(Outcome)) ([]Outcome, error) {
	if r.Network == "" {
		r.Network = "tcp"
	}
	switch r.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("servertest: network %q: want tcp, tcp6 or unix", r.Network)
	}
	if r.Addr == "" {
		return nil, errors.New("servertest: no address to check")
	}
	if r.Seed == 0 {
		r.Seed = 1
	}
	if each == nil {
		each = func(Outcome) {}
	}
	target := Target{Name: "remote " + r.Addr, Sequential: r.Sequential}
	base := servers.Config{Framing: r.Framing}
	var outs []Outcome
	var failed []string
	for _, c := range cases {
		if !c.BlackBox || (r.Match != nil && !r.Match(c.Name)) {
			continue
		}
		if ctx.Err() != nil {
			return outs, ctx.Err()
		}
		o := runRemote(c, target, base, r)
		outs = append(outs, o)
		each(o)
		if o.Status == Fail {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		return outs, fmt.Errorf("%w: %s failed %s", ErrConform, r.Addr, strings.Join(failed, ", "))
	}
	return outs, nil
}

// runRemote runs one case against a remote server on its own goroutine,
// so that Fatal and Skip can end it as they end a test.
func runRemote(c Case, target Target, base servers.Config, r Remote) Outcome {
	ct := &caseT{}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c.Concurrent && target.Sequential {
			ct.Skip(SequentialReason)
		}
		e := newEnv(ct, target, base, r.Seed, c.Name)
		e.short, e.remote = r.Short, remoteAddr{r.Network, r.Addr}
		c.run(e)
	}()
	<-done
	ct.cleanup()
	o := Outcome{Case: c.Name, Status: Pass, Elapsed: time.Since(start)}
	switch {
	case ct.Failed():
		o.Status = Fail
	case ct.skipped:
		o.Status = Skip
	}
	o.Detail = ct.log()
	return o
}

// remoteAddr is a remote server's address as a net.Addr.
type remoteAddr struct{ network, addr string }

func (a remoteAddr) Network() string { return a.network }
func (a remoteAddr) String() string  { return a.addr }

// caseT is a case's TB outside go test: it keeps the log and ends the
// case's goroutine on Fatal and Skip.
type caseT struct {
	mu       sync.Mutex
	lines    []string
	failed   bool
	skipped  bool
	cleanups []func()
}

var _ TB = (*caseT)(nil)

func (t *caseT) Helper() {}

func (t *caseT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *caseT) logf(fail bool, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
	t.failed = t.failed || fail
}

func (t *caseT) Errorf(format string, args ...any) { t.logf(true, format, args...) }
func (t *caseT) Logf(format string, args ...any)   { t.logf(false, format, args...) }
func (t *caseT) Fatal(args ...any)                 { t.Fatalf("%s", fmt.Sprint(args...)) }

func (t *caseT) Fatalf(format string, args ...any) {
	t.logf(true, format, args...)
	runtime.Goexit()
}

func (t *caseT) Skip(args ...any) { t.Skipf("%s", fmt.Sprint(args...)) }

func (t *caseT) Skipf(format string, args ...any) {
	t.logf(false, format, args...)
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *caseT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// cleanup runs the cleanups last-in first-out, each on its own goroutine
// (a cleanup may call Errorf or even Fatalf).
func (t *caseT) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		done := make(chan struct{})
		go func() {
			defer close(done)
			fs[i]()
		}()
		<-done
	}
}

// log is the case's log, one line per entry.
func (t *caseT) log() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// ConformDial checks that something accepts connections at r's address
// within d: the first thing Conform's caller wants to know.
func ConformDial(r Remote, d time.Duration) error {
	n := r.Network
	if n == "" {
		n = "tcp"
	}
	c, err := net.DialTimeout(n, r.Addr, d)
	if err != nil {
		return err
	}
	return c.Close()
}
