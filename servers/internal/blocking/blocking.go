// Package blocking is the connection loop shared by the architectures that
// give each connection a goroutine doing blocking reads and writes
// (sequential, goroutine, workerpool, reuseport): read, transform, write
// everything back, repeat. Those servers differ only in how connections reach
// this loop, which is what they exist to compare.
package blocking

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"archbench/protocol"
	"archbench/servers"
)

// ReadBufSize is each connection's read buffer. It stays allocated while the
// connection is open, which is part of what goroutine-per-connection costs.
const ReadBufSize = 16 << 10

// Tracker knows the open connections of one server so Shutdown can end them.
type Tracker struct {
	core *servers.Core

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping atomic.Bool
	writeDL  time.Time // write deadline during shutdown (zero: none)

	wg sync.WaitGroup // connection goroutines
}

// NewTracker returns a Tracker reporting to core.
func NewTracker(core *servers.Core) *Tracker {
	return &Tracker{core: core, conns: map[net.Conn]struct{}{}}
}

// Stopping reports whether Shutdown has begun.
func (t *Tracker) Stopping() bool { return t.stopping.Load() }

// Add registers c. It reports false, having closed c, when the server is
// stopping or MaxConns is reached.
func (t *Tracker) Add(c net.Conn) bool {
	if !t.core.Admit() {
		c.Close()
		return false
	}
	t.mu.Lock()
	if t.stopping.Load() {
		t.mu.Unlock()
		t.core.Release()
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	dl := t.writeDL
	t.mu.Unlock()
	if !dl.IsZero() {
		_ = c.SetWriteDeadline(dl)
	}
	return true
}

func (t *Tracker) remove(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.core.Release()
}

// Go runs fn on a goroutine that Shutdown waits for.
func (t *Tracker) Go(fn func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
}

// Shutdown wakes every connection's pending read so it flushes what it owes
// and closes. Writes get ctx's deadline; when ctx ends, the connections
// still open are closed at once. It returns when the goroutines started by
// Go have all returned.
func (t *Tracker) Shutdown(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	t.mu.Lock()
	t.stopping.Store(true)
	t.writeDL = dl
	for c := range t.conns {
		_ = c.SetReadDeadline(time.Now())
		if !dl.IsZero() {
			_ = c.SetWriteDeadline(dl)
		}
	}
	t.mu.Unlock()

	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	<-done
	return ctx.Err()
}

// Serve serves c to its end and closes it. c must have been Added.
func (t *Tracker) Serve(c net.Conn) {
	defer t.remove(c)
	defer c.Close()
	servers.SetNoDelay(c)
	cfg := t.core.Cfg
	codec := protocol.NewCodec(cfg.Codec())
	buf := make([]byte, ReadBufSize)
	var out []byte
	idle := cfg.IdleTimeout
	log := t.core.Log
	for {
		if idle > 0 && !t.stopping.Load() {
			_ = c.SetReadDeadline(time.Now().Add(idle))
		}
		n, rerr := c.Read(buf)
		if n > 0 {
			var perr error
			out, perr = codec.Feed(out[:0], buf[:n])
			if !t.write(c, out) {
				return
			}
			if perr != nil {
				log.Warn("closing connection: protocol error", "remote", c.RemoteAddr(), "err", perr)
				return
			}
		}
		if rerr == nil {
			continue
		}
		switch {
		case errors.Is(rerr, io.EOF), errors.Is(rerr, os.ErrDeadlineExceeded) && t.stopping.Load():
			// The client is done sending (or we are stopping): flush what is owed.
			var perr error
			out, perr = codec.Finish(out[:0])
			t.write(c, out)
			if perr != nil {
				log.Warn("closing connection: protocol error", "remote", c.RemoteAddr(), "err", perr)
			}
		case errors.Is(rerr, os.ErrDeadlineExceeded):
			log.Info("closing idle connection", "remote", c.RemoteAddr(), "idle_timeout", idle)
		}
		return
	}
}

// write sends all of p; false means the connection is finished.
func (t *Tracker) write(c net.Conn, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if idle := t.core.Cfg.IdleTimeout; idle > 0 && !t.stopping.Load() {
		_ = c.SetWriteDeadline(time.Now().Add(idle))
	}
	_, err := c.Write(p)
	return err == nil
}

// AcceptLoop accepts on ln until it is closed, handing each admitted
// connection to handle. Errors such as EMFILE back off (5 ms doubling to
// 1 s) and serving continues.
func (t *Tracker) AcceptLoop(ln net.Listener, handle func(net.Conn)) {
	var b servers.Backoff
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and every other failure: back off and keep serving.
			d := b.Next()
			t.core.AcceptFailed(err, d)
			time.Sleep(d)
			continue
		}
		b.Reset()
		if t.Add(c) {
			handle(c)
		}
	}
}
