package gnetpool

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
)

// These tests drive repliers directly, the test goroutine acting as the
// event loop: fakeLoop records the tasks workers send it, and the test
// runs them when it chooses, so every hand-back path is taken on purpose.

// fakeConn is the part of gnet.Conn a replier uses.
type fakeConn struct {
	gnet.Conn // nil: any other method panics
	loop      *fakeLoop
	out       []byte
}

func (c *fakeConn) EventLoop() gnet.EventLoop   { return c.loop }
func (c *fakeConn) Write(p []byte) (int, error) { c.out = append(c.out, p...); return len(p), nil }
func (c *fakeConn) RemoteAddr() net.Addr        { return nil }
func (c *fakeConn) OutboundBuffered() int       { return 0 }

type fakeLoop struct {
	gnet.EventLoop // nil: any other method panics
	mu             sync.Mutex
	tasks          []gnet.Runnable
}

func (l *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tasks = append(l.tasks, r)
	return nil
}

func (l *fakeLoop) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tasks)
}

// run runs the recorded tasks, as the loop would.
func (l *fakeLoop) run(t *testing.T) {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, r := range tasks {
		require.NoError(t, r.Run(context.Background()))
	}
}

// holdFirst is handler work whose first n calls block until released; the
// rest (e.g. the loop answering on its own) pass.
type holdFirst struct {
	n       int32
	calls   atomic.Int32
	running atomic.Int32
	release chan struct{}
}

func newHoldFirst(n int32) *holdFirst { return &holdFirst{n: n, release: make(chan struct{}, n)} }

func (h *holdFirst) work() {
	if h.calls.Add(1) > h.n {
		return
	}
	h.running.Add(1)
	<-h.release
	h.running.Add(-1)
}

func (h *holdFirst) open() { h.release <- struct{}{} }

type fixture struct {
	p        *pool
	loop     *fakeLoop
	progress atomic.Int32
}

// newFixture starts a pool of workers for line framing; single makes a
// job one message (as with handler work), else no-work mode (caller-runs).
func newFixture(t *testing.T, workers int, single bool, work func()) *fixture {
	cfg := servers.DefaultConfig()
	cfg.Framing, cfg.Workers, cfg.Logger = protocol.Line, workers, nil
	if single {
		cfg.Work = protocol.Work{Sleep: time.Nanosecond}
	}
	f := &fixture{p: newPool(cfg, work), loop: &fakeLoop{}}
	f.p.high = 32
	f.p.start()
	t.Cleanup(f.p.stop)
	return f
}

func (f *fixture) conn() (*fakeConn, *replier) {
	c := &fakeConn{loop: f.loop}
	r := f.p.newReplier(c, func() { f.progress.Add(1) }).(*replier)
	return c, r
}

func feed(t *testing.T, r *replier, in string) string {
	t.Helper()
	out, err := r.Feed(nil, []byte(in))
	require.NoError(t, err)
	return string(out)
}

var big = strings.Repeat("b", 60) + "\n" // over high (32) on its own

func TestCollectWritesAndHandsOverNext(t *testing.T) {
	f := newFixture(t, 1, false, func() {})
	c, r := f.conn()
	require.Empty(t, feed(t, r, "a\n"))
	eventually(t, func() bool { return f.loop.pending() == 1 }, "the worker did not hand the job back")
	require.Empty(t, feed(t, r, "c\n"), "a message behind a job waits")
	f.loop.run(t)
	require.Equal(t, "A\n", string(c.out))
	eventually(t, func() bool { return f.loop.pending() == 1 }, "the waiting message was not handed over")
	f.loop.run(t)
	require.Equal(t, "A\nC\n", string(c.out))
	require.EqualValues(t, 2, f.progress.Load())
	require.Zero(t, r.Owed())
}

func TestCallerRunsRedoesRunningJob(t *testing.T) {
	h := newHoldFirst(1)
	f := newFixture(t, 1, false, h.work)
	c, r := f.conn()
	require.Empty(t, feed(t, r, "a\n"))
	eventually(t, func() bool { return h.running.Load() == 1 }, "no worker took the job")
	old := r.job
	require.Equal(t, "A\n"+strings.ToUpper(big), feed(t, r, big), "answered on the loop, in order")
	require.Zero(t, r.Owed())
	require.NotSame(t, old, r.job, "the job still with its worker is reused")
	h.open()
	eventually(t, func() bool { old.mu.Lock(); defer old.mu.Unlock(); return old.state == done }, "the worker did not finish")
	require.Zero(t, f.loop.pending(), "a dropped result was handed back")
	require.Empty(t, c.out)
	require.Empty(t, feed(t, r, "c\n"))
	eventually(t, func() bool { return f.loop.pending() == 1 }, "the connection's fresh job was not handed back")
	f.loop.run(t)
	require.Equal(t, "C\n", string(c.out), "the connection goes on with a fresh job")
}

func TestCallerRunsTakesBackQueuedJob(t *testing.T) {
	h := newHoldFirst(1)
	f := newFixture(t, 1, false, h.work)
	c0, r0 := f.conn()
	_, r1 := f.conn()
	c2, r2 := f.conn()
	require.Empty(t, feed(t, r0, "x\n"))
	eventually(t, func() bool { return h.running.Load() == 1 }, "no worker took the job")
	require.Empty(t, feed(t, r1, "a\n")) // queued behind x
	require.Equal(t, "A\n"+strings.ToUpper(big), feed(t, r1, big))
	require.Empty(t, feed(t, r2, "z\n")) // queued behind r1's stale ticket
	h.open()
	eventually(t, func() bool { return f.loop.pending() == 2 }, "x and z were not handed back")
	f.loop.run(t)
	require.Equal(t, "X\n", string(c0.out))
	require.Equal(t, "Z\n", string(c2.out))
	require.EqualValues(t, 4, h.calls.Load(), "the stale ticket ran: want x, a and b (on the loop) and z")
}

func TestCallerRunsTakesDoneReplies(t *testing.T) {
	f := newFixture(t, 1, false, func() {})
	c, r := f.conn()
	require.Empty(t, feed(t, r, "a\n"))
	eventually(t, func() bool { return f.loop.pending() == 1 }, "the worker did not hand the job back")
	require.Equal(t, "A\n"+strings.ToUpper(big), feed(t, r, big))
	f.loop.run(t) // the collect task finds nothing left
	require.Empty(t, c.out)
	require.Zero(t, f.progress.Load())
}

func TestFinishWaitsForRunningJobWithWork(t *testing.T) {
	h := newHoldFirst(1)
	f := newFixture(t, 1, true, h.work)
	_, r := f.conn()
	require.Empty(t, feed(t, r, "a\nb\nunterminated"))
	eventually(t, func() bool { return h.running.Load() == 1 }, "no worker took the job")
	j := r.job
	go func() {
		// Release the worker only once Finish waits for it.
		for {
			j.mu.Lock()
			w := j.waiter != nil
			j.mu.Unlock()
			if w {
				h.open()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	out, err := r.Finish(nil, true)
	require.NoError(t, err)
	require.Equal(t, "A\nB\nUNTERMINATED", string(out))
	r.Close()
	require.Zero(t, f.loop.pending())
}

func TestFinishRedoesRunningJobWithoutWork(t *testing.T) {
	h := newHoldFirst(1)
	f := newFixture(t, 1, false, h.work)
	_, r := f.conn()
	require.Empty(t, feed(t, r, "a\n"))
	eventually(t, func() bool { return h.running.Load() == 1 }, "no worker took the job")
	out, err := r.Finish(nil, true) // does not wait for the blocked worker
	require.NoError(t, err)
	require.Equal(t, "A\n", string(out))
	r.Close()
	h.open()
}

func TestCloseDropsRunningJob(t *testing.T) {
	h := newHoldFirst(1)
	f := newFixture(t, 1, true, h.work)
	c, r := f.conn()
	require.Empty(t, feed(t, r, "a\nb\n"))
	eventually(t, func() bool { return h.running.Load() == 1 }, "no worker took the job")
	j := r.job
	r.Close()
	h.open()
	eventually(t, func() bool { j.mu.Lock(); defer j.mu.Unlock(); return j.state == done }, "the worker did not finish")
	f.loop.run(t)
	require.Empty(t, c.out)
	require.Zero(t, f.loop.pending())
	require.EqualValues(t, 1, h.calls.Load(), "b was answered for a closed connection")
}
