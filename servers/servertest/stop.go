package servertest

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"archbench/protocol"
	"archbench/servers"
)

// testStopCancelsWork stops a server whose handler sleeps protocol.MaxWork
// per message while a client has 20 such messages pipelined: without
// cancellation an inline handler would answer them one after the other (20
// s) and a 4-worker pool in 5 s. Shutdown must cancel the modelled work
// (servers.Config.Stopping): it returns well within 4 s, and the client
// still gets every reply it is owed, verified, then EOF.
func testStopCancelsWork(e *env) {
	if e.f == protocol.Raw {
		e.t.Skip("handler work needs a framed protocol")
	}
	srv := e.startUnmanaged(func(c *servers.Config) { c.Work.Sleep = protocol.MaxWork })
	c := e.dial(srv)
	const n = 20
	var req, want []byte
	for i := range n {
		p := []byte{'m', 's', 'g', byte('a' + i)}
		req = protocol.AppendRequest(req, e.f, p)
		want = protocol.AppendReply(want, e.f, p)
	}
	if _, err := c.Write(req); err != nil {
		e.t.Fatal(err)
	}
	// Inline handlers write a batch's replies together, so no reply shows
	// that the work began: give the server a moment with the connection.
	e.requireActive(srv, 1, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	_ = c.SetReadDeadline(time.Now().Add(shutdownTimeout + 5*time.Second))
	const bound = 4 * time.Second
	res := make(chan error, 1)
	t0 := time.Now()
	go func() { res <- shutdownWithin(srv, shutdownTimeout) }()
	if err := readChecked(c, want); err != nil {
		e.t.Errorf("replies owed at the stop: %v", err)
	} else if err := expectEOF(c); err != nil {
		e.t.Errorf("after the owed replies: %v", err)
	}
	if err := <-res; err != nil {
		e.t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d > bound {
		e.t.Errorf("Shutdown with %d × %v of handler work pending took %v, more than %v: the stop waited for the work instead of cancelling it", n-1, protocol.MaxWork, d.Round(time.Millisecond), bound)
	}
}

// testRestartTimeWait stops a server while a client is connected, so the
// server's side of that connection closes first and waits in TIME_WAIT on
// the listening port, then starts a new server on the same port: it must
// start (SO_REUSEADDR), as `serve` restarted by a script does.
func testRestartTimeWait(e *env) {
	first := e.startUnmanaged(nil)
	addr := first.Addr().String()
	c := e.dial(first)
	if err := e.pingPong(c, [][]byte{[]byte("before the restart")}, nil); err != nil {
		e.t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, c) }() // read the server's FIN, then close
	if err := shutdownWithin(first, shutdownTimeout); err != nil {
		e.t.Fatalf("Shutdown: %v", err)
	}
	c.Close()
	second := e.start(func(cfg *servers.Config) { cfg.Addr = addr })
	c2 := e.dial(second)
	if err := e.pingPong(c2, [][]byte{[]byte("after the restart")}, nil); err != nil {
		e.t.Fatal(err)
	}
}

// testPortInUse starts a server on a port another socket listens on, one
// with SO_REUSEPORT set as another reuseport or gnet server's would be:
// Start must fail, since no architecture may share the port silently (as
// SO_REUSEPORT on both sides would let it).
func testPortInUse(e *env) {
	ln, err := servers.ListenReusePort(servers.Config{Network: "tcp", Addr: "127.0.0.1:0"})
	if err != nil {
		e.t.Fatal(err)
	}
	defer ln.Close()
	cfg := e.config(func(c *servers.Config) { c.Addr = ln.Addr().String() })
	cfg.Logger = newLogger(io.Discard)
	s, err := e.target.New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = s.Shutdown(ctx)
		e.t.Fatalf("Start on %s, where another socket listens, succeeded: the port would be shared", ln.Addr())
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		e.t.Errorf("Start on a port in use: %v, want an error wrapping EADDRINUSE", err)
	}
}
