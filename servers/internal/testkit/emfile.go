package testkit

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
)

// GnetLeakIgnores are the goroutines goleak must ignore in a test binary that imports
// gnet: gnet starts an ants pool when imported, and it lives for the process.
var GnetLeakIgnores = []string{
	"github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers",
	"github.com/panjf2000/ants/v2.(*poolCommon).ticktock",
}

// EMFILELimit is the RLIMIT_NOFILE of the EMFILE children: a server runs
// out of descriptors after some 50 connections.
const EMFILELimit = 64

// Exhaust opens n connections to addr and keeps them until the test ends.
func Exhaust(t testing.TB, addr string, n int) (opened int, conns []net.Conn) {
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return len(conns), conns
}

// CheckGuardKeepsServing runs start's server in a child (RLIMIT_NOFILE
// EMFILELimit), opens twice that many connections to it, and requires that
// the server refused some of its own connections near the limit, that they
// all close, that a fresh connection is then served (ping) and that the
// server never stopped.
func CheckGuardKeepsServing(t *testing.T, start StartFunc, ping func(t *testing.T, a *net.TCPAddr)) {
	const limit = EMFILELimit
	ch := StartChild(t, limit, start)
	opened, conns := Exhaust(t, ch.Addr, 2*limit)
	require.Equal(t, 2*limit, opened)
	st := ch.Stats().Stats
	t.Logf("after %d connections: accepted %d, rejected %d", opened, st.Accepted, st.Rejected)
	require.Positive(t, st.Rejected)
	for _, c := range conns {
		c.Close()
	}
	require.Eventually(t, func() bool { return ch.Stats().Stats.Active == 0 },
		5*time.Second, 10*time.Millisecond, "connections still open in the child")
	a, err := net.ResolveTCPAddr("tcp", ch.Addr)
	require.NoError(t, err)
	ping(t, a)
	_, stopped := ch.Next("stopped", 100*time.Millisecond)
	require.False(t, stopped)
}

// CheckHogStopReported runs start's server in a child, uses up its
// descriptors by something else (hog), makes it accept once, and requires
// that the library's loop ending is reported through Done/Err as
// servers.ErrStopped (survived explains a child that kept serving).
func CheckHogStopReported(t *testing.T, start StartFunc, survived string) {
	ch := StartChild(t, EMFILELimit, start)
	ch.Hog()
	// The connection only makes the server accept; it may be reset as the
	// dying loop closes the listener.
	if c, err := net.DialTimeout("tcp", ch.Addr, 2*time.Second); err == nil {
		defer c.Close()
	}
	res, ok := ch.Next("stopped", 10*time.Second)
	require.True(t, ok, survived)
	t.Logf("Err: %s", res)
	require.Contains(t, res, servers.ErrStopped.Error())
}

// ChildServer is a StartFunc for the EMFILE children: newServer with the
// default config and framing f on 127.0.0.1:0, MaxMsg 1 MiB, logging to the
// child's stderr.
func ChildServer(newServer func(servers.Config) (servers.Server, error), f protocol.Framing) StartFunc {
	return func(func(string, ...any)) (servers.Server, string, error) {
		cfg := servers.DefaultConfig()
		cfg.Addr, cfg.Framing, cfg.MaxMsg = "127.0.0.1:0", f, 1<<20
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		s, err := newServer(cfg)
		if err != nil {
			return nil, "", err
		}
		return s, "", s.Start()
	}
}
