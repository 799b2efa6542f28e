package gnetsrv

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"archbench/servers"
)

// bareHandler is a plain gnet echo, gnet as its own documentation shows it,
// for measuring gnet without our workarounds.
type bareHandler struct {
	gnet.BuiltinEventEngine
	addr   chan net.Addr
	eng    gnet.Engine
	maxOut atomic.Int64 // most output gnet held for one connection
	closed atomic.Int64 // connections closed
}

func (h *bareHandler) OnClose(gnet.Conn, error) gnet.Action {
	h.closed.Add(1)
	return gnet.None
}

func (h *bareHandler) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = e
	fd, err := e.Dup()
	if err != nil {
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		return gnet.Shutdown
	}
	h.addr <- sockaddrToAddr(sa)
	return gnet.None
}

func (h *bareHandler) OnTraffic(c gnet.Conn) gnet.Action {
	p, _ := c.Next(-1)
	_, _ = c.Write(p)
	if n := int64(c.OutboundBuffered()); n > h.maxOut.Load() {
		h.maxOut.Store(n) // only the one loop writes
	}
	return gnet.None
}

// runBare runs bareHandler on 127.0.0.1:0 until the test ends.
func runBare(t *testing.T) (*bareHandler, net.Addr) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
	}()
	var addr net.Addr
	select {
	case addr = <-h.addr:
	case err := <-done:
		t.Fatalf("gnet.Run: %v", err)
	}
	t.Cleanup(func() {
		// Engine.Stop polls every 500 ms; a context that is over makes it
		// only ask, and Run's return is what we wait for.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = h.eng.Stop(ctx)
		<-done
	})
	return h, addr
}

// startBare runs bareHandler in an EMFILE child; it prints "ended ERR"
// when gnet.Run returns.
func startBare(say func(string, ...any)) (servers.Server, string, error) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	go func() {
		err := gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
		say("ended %v", err)
	}()
	return nil, (<-h.addr).String(), nil
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
