package eviosrv

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/tidwall/evio"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// The EMFILE tests run a server in a child process (testkit.StartChild)
// whose RLIMIT_NOFILE is low. Besides testkit's lines, the bare mode prints
//
//	ended ERR          evio.Serve returned
const (
	childEnv   = "ARCHBENCH_EVIO_TEST_CHILD"
	childLimit = 64 // RLIMIT_NOFILE of the child
)

// startServer starts the child's server: "bare" (evio by itself),
// "server", or "server-hog" (whose descriptors something else uses up).
func startServer(mode string, say func(string, ...any)) (servers.Server, string, error) {
	switch mode {
	case "bare":
		// evio as its own documentation shows it, to measure evio itself.
		addr := make(chan net.Addr, 1)
		ev := evio.Events{
			Serving: func(srv evio.Server) evio.Action { addr <- srv.Addrs[0]; return evio.None },
			Data:    func(_ evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None },
		}
		go func() {
			err := evio.Serve(ev, "tcp://127.0.0.1:0")
			say("ended %v", err)
		}()
		return nil, (<-addr).String(), nil
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
