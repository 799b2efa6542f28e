package gnetpool

import (
	"fmt"
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

// TestEMFILE measures gnet-pool's EMFILE defect with line framing (the
// conformance case runs with raw framing only, where gnet-pool is the gnet
// architecture). A child process (testkit.StartChild) serves with
// RLIMIT_NOFILE 64.
const (
	childEnv   = "ARCHBENCH_GNETPOOL_TEST_CHILD"
	childLimit = 64
)

func TestEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Run("its own connections are refused near the limit and serving goes on", func(t *testing.T) {
		ch := testkit.StartChild(t, childEnv, "server")
		var conns []net.Conn
		for range 2 * childLimit {
			c, err := net.DialTimeout("tcp", ch.Addr, 2*time.Second)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		st := ch.Stats().Stats
		accepted, rejected := st.Accepted, st.Rejected
		t.Logf("after %d connections: accepted %d, rejected %d", len(conns), accepted, rejected)
		require.Positive(t, rejected)
		for _, c := range conns {
			c.Close()
		}
		require.Eventually(t, func() bool { return ch.Stats().Stats.Active == 0 },
			5*time.Second, 10*time.Millisecond, "connections still open in the child")
		a, err := net.ResolveTCPAddr("tcp", ch.Addr)
		require.NoError(t, err)
		exchange(t, dial(t, a), protocol.Line, []byte("served after the storm"))
		_, stopped := ch.Next("stopped", 100*time.Millisecond)
		require.False(t, stopped)
	})
	t.Run("descriptors used up by others end the engine", func(t *testing.T) {
		ch := testkit.StartChild(t, childEnv, "server-hog")
		// The connection only makes the server accept; it may be reset as
		// the dying loop closes the listener.
		if c, err := net.DialTimeout("tcp", ch.Addr, 2*time.Second); err == nil {
			defer c.Close()
		}
		res, ok := ch.Next("stopped", 10*time.Second)
		require.True(t, ok, "gnet-pool survived EMFILE: is the declared defect gone?")
		t.Logf("Err: %s", res)
		require.Contains(t, res, servers.ErrStopped.Error())
	})
}

// startServer starts gnet-pool with line framing in the child: "server",
// or "server-hog" (whose descriptors something else uses up).
func startServer(mode string, _ func(string, ...any)) (servers.Server, string, error) {
	if mode != "server" && mode != "server-hog" {
		return nil, "", fmt.Errorf("unknown child mode %q", mode)
	}
	cfg := servers.DefaultConfig()
	cfg.Addr, cfg.Framing = "127.0.0.1:0", protocol.Line
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := servers.New("gnet-pool", cfg)
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
