package gnetpool

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"

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
		testkit.CheckGuardKeepsServing(t, childEnv, childLimit, func(t *testing.T, a *net.TCPAddr) {
			exchange(t, dial(t, a), protocol.Line, []byte("served after the storm"))
		})
	})
	t.Run("descriptors used up by others end the engine", func(t *testing.T) {
		testkit.CheckHogStopReported(t, childEnv, "gnet-pool survived EMFILE: is the declared defect gone?")
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
