package testkit

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"archbench/servers"
)

// GnetLeakIgnores are the goroutines goleak must ignore in a test binary that imports
// gnet: gnet starts an ants pool when imported, and it lives for the process.
var GnetLeakIgnores = []string{
	"github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers",
	"github.com/panjf2000/ants/v2.(*poolCommon).ticktock",
}

// CheckGuardKeepsServing runs a "server" child (RLIMIT_NOFILE limit), opens
// 2×limit connections to it, and requires that the server refused some of
// its own connections near the limit, that they all close, that a fresh
// connection is then served (ping) and that the server never stopped.
func CheckGuardKeepsServing(t *testing.T, env string, limit int, ping func(t *testing.T, a *net.TCPAddr)) {
	ch := StartChild(t, env, "server")
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

// CheckHogStopReported runs a "server-hog" child, whose descriptors
// something else has used up, makes it accept once, and requires that the
// library's loop ending is reported through Done/Err as servers.ErrStopped
// (survived explains a child that kept serving).
func CheckHogStopReported(t *testing.T, env, survived string) {
	ch := StartChild(t, env, "server-hog")
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
