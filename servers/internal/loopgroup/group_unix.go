//go:build unix

package loopgroup

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"archbench/servers"
)

// Group is the life cycle a server's loops share; see the package doc. The
// zero value is not ready: call Init.
type Group struct {
	core  *servers.Core
	name  string // "event loop", "io_uring loop": for the failure log line
	hooks Hooks

	mu    sync.Mutex // guards state and ln
	state int        // idle, running or stopped
	ln    *servers.RawListener

	loops    int           // loops Start launches
	launched int           // loops Go started
	lnRefs   atomic.Int32  // loops still holding the listener; the last one closes it
	live     atomic.Int32  // loops still running; the last one closes exited
	paused   atomic.Int64  // connections not read because of backpressure
	out      atomic.Int64  // pending output of every connection, bytes (OutState)
	outTotal int64         // Config.OutTotal
	stopping atomic.Bool   // Shutdown began: stop accepting and reading, flush, close
	force    atomic.Bool   // close every connection now and exit
	exited   chan struct{} // closed when every loop has returned
}

const (
	idle = iota
	running
	stopped
)

// Hooks are what the architectures do differently at the group's turns.
type Hooks struct {
	// Wake makes every loop's wait return, so that it sees Stopping or
	// Forced. It may be called on any goroutine, at most after Start.
	Wake func()
	// Stopped, if not nil, is called by the last loop to exit, before
	// Exited is closed: nothing is handed to the loops any more.
	Stopped func()
}

// Defaults is cfg with a zero Loops, OutCap and Logger set to their
// defaults, as servers.New would have set them.
func Defaults(cfg servers.Config) servers.Config {
	if cfg.Loops <= 0 {
		cfg.Loops = servers.DefaultLoops
	}
	if cfg.OutCap <= 0 {
		cfg.OutCap = servers.DefaultOutCap
	}
	if cfg.OutTotal <= 0 {
		cfg.OutTotal = servers.DefaultOutTotal
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// Init prepares g for the server whose Core is core (already initialised),
// whose loops are called name in log lines.
func (g *Group) Init(core *servers.Core, name string, h Hooks) {
	g.core, g.name, g.hooks = core, name, h
	g.outTotal = int64(core.Cfg.OutTotal)
	if g.outTotal <= 0 {
		g.outTotal = servers.DefaultOutTotal
	}
	g.exited = make(chan struct{})
}

// Start binds the listener for core.Cfg and calls launch with it, holding
// the group's lock, if the group is idle (else servers.ErrClosed); launch
// sets up the core.Cfg.Loops loops and starts each with Go. If launch
// fails having started none, Start closes the listener and the group stays
// idle. If it fails after starting loops, they must exit on their own (the
// server tells them to); Start waits for them and marks the group stopped,
// and Done is closed with a nil Err.
func (g *Group) Start(launch func(ln *servers.RawListener) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != idle {
		return servers.ErrClosed
	}
	ln, err := servers.ListenRaw(g.core.Cfg)
	if err != nil {
		return err
	}
	g.ln, g.loops, g.launched = ln, g.core.Cfg.Loops, 0
	g.lnRefs.Store(int32(g.loops))
	g.live.Store(int32(g.loops))
	err = launch(ln)
	switch {
	case err == nil:
		g.state = running
	case g.launched == 0:
		g.ln = nil
		ln.Close()
	default:
		for range g.loops - g.launched {
			g.ReleaseListener()
			g.loopExited()
		}
		<-g.exited // the loops release the listener; the last closes it
		g.state = stopped
		g.core.Stop(nil)
	}
	return err
}

// Go starts one of the loops that Start launches on its own goroutine: run
// is the loop, and its return counts the loop out (see Exited).
func (g *Group) Go(run func()) {
	g.launched++
	go func() {
		defer g.loopExited()
		run()
	}()
}

// Addr is the listener's address; nil before Start.
func (g *Group) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return nil
	}
	return g.ln.Addr
}

// Stopping reports whether Shutdown began: stop accepting and reading,
// flush, close.
func (g *Group) Stopping() bool { return g.stopping.Load() }

// Forced reports whether every connection is to be closed at once and the
// loops are to exit: the shutdown context ended, or a loop failed.
func (g *Group) Forced() bool { return g.force.Load() }

// Exited is closed when every loop has returned.
func (g *Group) Exited() <-chan struct{} { return g.exited }

// Shutdown implements servers.Server.Shutdown for the group: it marks the
// loops stopping and wakes them; when ctx ends first, it forces them and
// wakes them again. It returns when every loop has returned: nil, ctx's
// error if it was forced, or servers.ErrClosed if the group was not
// running (after waiting for a concurrent Shutdown).
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	state := g.state
	g.state = stopped
	g.mu.Unlock()
	switch state {
	case idle:
		g.core.Stop(nil)
		return servers.ErrClosed
	case stopped:
		<-g.exited
		return servers.ErrClosed
	}
	g.core.BeginStop()
	g.stopping.Store(true)
	g.hooks.Wake()
	var err error
	select {
	case <-g.exited:
	case <-ctx.Done():
		g.force.Store(true)
		g.hooks.Wake()
		<-g.exited
		err = ctx.Err()
	}
	g.core.Stop(nil)
	return err
}

// Fail ends the server after a loop died of err: Done and Err report it,
// and the other loops close their connections and exit. A loop calls it
// on its own goroutine and then returns.
func (g *Group) Fail(err error) {
	g.core.Log.Error(g.name+" failed; stopping the server", "err", err)
	g.core.Stop(err)
	g.force.Store(true)
	g.hooks.Wake()
}

// ReleaseListener is called once by each loop when it stops accepting;
// the last one closes the listener.
func (g *Group) ReleaseListener() {
	if g.lnRefs.Add(-1) == 0 {
		if err := g.ln.Close(); err != nil {
			g.core.Log.Warn("closing listener", "err", err)
		}
	}
}

// loopExited counts a loop out; the last one runs Hooks.Stopped and closes
// exited.
func (g *Group) loopExited() {
	if g.live.Add(-1) == 0 {
		if g.hooks.Stopped != nil {
			g.hooks.Stopped()
		}
		close(g.exited)
	}
}

// Paused reports how many connections are not being read right now
// because of backpressure: their own pending output reached Config.OutCap,
// or the server's reached Config.OutTotal (see Backpressure).
func (g *Group) Paused() int64 { return g.paused.Load() }

// PendingOut reports the pending output of every connection, in bytes.
func (g *Group) PendingOut() int64 { return g.out.Load() }

// OutState is a connection's backpressure state: whether it is paused (not
// read) and its share of the server's pending output. The zero value is a
// new connection's.
type OutState struct {
	Paused  bool
	counted int // pending bytes last added to Group.out
}

// Backpressure updates st for pending bytes of output on its connection
// (outCap is Config.OutCap) and counts the paused connections for Paused.
//
// A connection pauses when its pending output reaches outCap, or when it
// has any pending output while the server's total is over
// Config.OutTotal; it resumes once its own output is at most half of
// outCap and either the total is back under OutTotal or its own output is
// all sent. So past the server-wide cap only the connections whose clients
// do not read their replies stop being read (each can add at most one
// read's replies, and uncountedOut, beyond it); a client that reads its replies has nothing
// pending and is served. The loop calls it whenever pending changes, as
// the connection's own readiness events come: no cross-loop wake-up.
func (g *Group) Backpressure(st *OutState, pending, outCap int) {
	// Only a connection holding more than one read's replies counts
	// towards the total, so the per-message path of a client that reads
	// its replies never touches the shared counter (the total can pass
	// OutTotal by at most uncountedOut per connection).
	count := pending
	if count < uncountedOut {
		count = 0
	}
	total := g.out.Load()
	if count != st.counted {
		total = g.out.Add(int64(count - st.counted))
		st.counted = count
	}
	over := total > g.outTotal && pending > 0
	if (pending >= outCap || over) && !st.Paused {
		st.Paused = true
		g.paused.Add(1)
	} else if st.Paused && pending <= outCap/2 && !over {
		st.Paused = false
		g.paused.Add(-1)
	}
}

// uncountedOut is the pending output per connection that Backpressure
// leaves out of the server's total: about one read's replies.
const uncountedOut = 64 << 10

// Release takes a connection being closed out of Paused and of the
// server's pending output.
func (g *Group) Release(st *OutState) {
	if st.Paused {
		g.paused.Add(-1)
	}
	if st.counted != 0 {
		g.out.Add(int64(-st.counted))
	}
	*st = OutState{}
}
