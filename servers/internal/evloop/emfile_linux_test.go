package evloop

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// childLimit is the RLIMIT_NOFILE of the EMFILE child: the server runs out
// of descriptors after some 50 connections.
const childLimit = 64

// startServer serves with the poller named by mode in the child.
func startServer(name string, _ func(string, ...any)) (servers.Server, string, error) {
	newPoller := pollerByName(name)
	if newPoller == nil {
		return nil, "", fmt.Errorf("unknown poller %q", name)
	}
	cfg := servers.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := NewServer(cfg, newPoller)
	if err != nil {
		return nil, "", err
	}
	return srv, "", srv.Start()
}

// TestEMFILE runs a server out of descriptors in a child process: it must
// back off instead of spinning, keep running, and serve the waiting
// clients once descriptors are free again.
func TestEMFILE(t *testing.T) {
	for _, p := range pollers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ch := testkit.StartChild(t, childEnv, p.name)
			stats := ch.Stats

			// More clients than the child has descriptors; the kernel
			// completes their handshakes in the backlog.
			const clients = childLimit + 16
			conns := make([]net.Conn, clients)
			for i := range conns {
				c, err := net.DialTimeout("tcp", ch.Addr, testTimeout)
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				require.NoError(t, c.SetDeadline(time.Now().Add(testTimeout)))
				conns[i] = c
			}
			ping := func(c net.Conn, msg string) {
				_, err := c.Write([]byte(msg))
				require.NoError(t, err)
				buf := make([]byte, len(msg))
				_, err = io.ReadFull(c, buf)
				require.NoError(t, err)
				require.Equal(t, msg, string(buf))
			}
			ping(conns[0], "FIRST")
			require.Eventually(t, func() bool { return stats().Stats.AcceptErrors > 0 },
				testTimeout, 5*time.Millisecond, "the server never hit EMFILE")

			// Out of descriptors: the last client is not served, and the
			// child does not spin meanwhile.
			before := stats()
			last := conns[clients-1]
			_, err := last.Write([]byte("LAST"))
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
			buf := make([]byte, 4)
			_, err = io.ReadFull(last, buf)
			require.NoError(t, err)
			require.Equal(t, "LAST", string(buf))
			ping(conns[served], "AGAIN")
			require.False(t, stats().Done)

			require.NoError(t, ch.Quit(), "the child did not stop cleanly")
		})
	}
}
