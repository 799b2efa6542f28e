package servertest

import (
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
