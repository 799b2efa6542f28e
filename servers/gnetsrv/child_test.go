package gnetsrv

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// The EMFILE tests run a server in a child process (testkit.StartChild)
// whose RLIMIT_NOFILE is low. Besides testkit's lines, the bare mode prints
//
//	ended ERR          gnet.Run returned
const (
	childEnv   = "ARCHBENCH_GNET_TEST_CHILD"
	childLimit = 64 // RLIMIT_NOFILE of the child
)

// startServer starts the child's server: "bare" (gnet by itself),
// "server", or "server-hog" (whose descriptors something else uses up).
func startServer(mode string, say func(string, ...any)) (servers.Server, string, error) {
	switch mode {
	case "bare":
		// gnet as its own documentation shows it, to measure gnet itself.
		h := &bareHandler{addr: make(chan net.Addr, 1)}
		go func() {
			err := gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
			say("ended %v", err)
		}()
		return nil, (<-h.addr).String(), nil
	case "server", "server-hog":
		s, err := New(servers.Config{Network: "tcp", Addr: "127.0.0.1:0", OutCap: servers.DefaultOutCap, MaxMsg: 1 << 20, Loops: 1,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			return nil, "", err
		}
		if err := s.Start(); err != nil {
			return nil, "", err
		}
		if mode == "server-hog" {
			testkit.Hog()
		}
		return s, "", nil
	}
	return nil, "", fmt.Errorf("unknown child mode %q", mode)
}

// bareHandler is a plain gnet echo, for measuring gnet without our
// workarounds.
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
func runBare(t *testing.T) (*bareHandler, string) {
	h := &bareHandler{addr: make(chan net.Addr, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithReusePort(true), gnet.WithLogger(quietLogger{}))
	}()
	var addr string
	select {
	case a := <-h.addr:
		addr = a.String()
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

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
