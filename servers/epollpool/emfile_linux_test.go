package epollpool

import (
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// The conformance suite's EMFILE case runs with raw framing only, which
// this package hands to the inline epoll server; this test runs the loop
// out of descriptors with line framing and the pool working.

// childLimit is the RLIMIT_NOFILE of the EMFILE child: the server runs out
// of descriptors after some 50 connections.
const childLimit = 64

// startServer serves line framing with the pool working in the child.
func startServer(string, func(string, ...any)) (servers.Server, string, error) {
	cfg := servers.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Framing = protocol.Line
	cfg.Work = protocol.Work{CPU: time.Microsecond}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := NewServer(cfg)
	if err != nil {
		return nil, "", err
	}
	return srv, "", srv.Start()
}

// TestEMFILE runs a server out of descriptors in a child process: it must
// back off instead of spinning, keep running, and serve the waiting
// clients once descriptors are free again.
func TestEMFILE(t *testing.T) {
	ch := testkit.StartChild(t, childEnv, "1")
	stats := ch.Stats

	// More clients than the child has descriptors; the kernel completes
	// their handshakes in the backlog.
	const clients = childLimit + 16
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.DialTimeout("tcp", ch.Addr, testTimeout)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(testTimeout)))
		conns[i] = c
	}
	exchange(t, conns[0], protocol.Line, []byte("first"))
	require.Eventually(t, func() bool { return stats().Stats.AcceptErrors > 0 },
		testTimeout, 5*time.Millisecond, "the server never hit EMFILE")

	// Out of descriptors: the last client is not served, and the child
	// does not spin meanwhile.
	before := stats()
	last := conns[clients-1]
	_, err := last.Write([]byte("last\n"))
	require.NoError(t, err)
	const window = 300 * time.Millisecond
	require.NoError(t, last.SetReadDeadline(time.Now().Add(window)))
	_, err = last.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "a client beyond the descriptor limit was served")
	after := stats()
	t.Logf("accepted %d, accept errors %d, CPU in a %v window: %v",
		after.Stats.Accepted, after.Stats.AcceptErrors, window, after.CPU-before.CPU)
	require.Less(t, after.CPU-before.CPU, window/3, "the server spun on EMFILE")
	require.Less(t, after.Stats.AcceptErrors, int64(30), "accept was retried without back-off")
	require.False(t, after.Done, "the server stopped on EMFILE")

	// Free descriptors: the waiting clients get served.
	served := int(after.Stats.Accepted)
	for _, c := range conns[:served] {
		c.Close()
	}
	require.NoError(t, last.SetReadDeadline(time.Now().Add(testTimeout)))
	readReply(t, last, []byte("LAST\n"))
	exchange(t, conns[served], protocol.Line, []byte("again"))
	require.False(t, stats().Done)

	require.NoError(t, ch.Quit(), "the child did not stop cleanly")
}
