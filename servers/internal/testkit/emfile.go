package testkit

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
)

// GnetLeaks are the goleak options of a test binary that imports gnet:
// gnet starts an ants pool when imported, and it lives for the process.
var GnetLeaks = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
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

// LibraryEMFILE describes a library whose event loop ends on an accept
// error (gnet, evio), for CheckLibraryEMFILE.
type LibraryEMFILE struct {
	Library string
	// Bare runs the library by itself and prints "ended ERR" when its
	// serving call returns; nil skips that subtest.
	Bare StartFunc
	// New builds archbench's server on the library, served with Framing.
	New     func(servers.Config) (servers.Server, error)
	Framing protocol.Framing
}

// CheckLibraryEMFILE runs each server in a child process with
// RLIMIT_NOFILE EMFILELimit and pins the library's EMFILE defect:
//   - the bare library, given twice the limit of connections, ends its loop
//     and its serving call returns nil (if not, the workaround may go);
//   - archbench's server, given as many, refuses some of its own
//     connections near the limit (its fd budget), closes them all, serves a
//     fresh client and never stops;
//   - when something else has used up the descriptors, the library's loop
//     ends at the next accept, and that is reported through Done/Err as
//     servers.ErrStopped.
func CheckLibraryEMFILE(t *testing.T, lib LibraryEMFILE) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const limit = EMFILELimit
	start := ChildServer(lib.New, lib.Framing)
	if lib.Bare != nil {
		t.Run("plain "+lib.Library+" ends its loop and returns nil", func(t *testing.T) {
			ch := StartChild(t, limit, lib.Bare)
			opened, _ := Exhaust(t, ch.Addr, 2*limit)
			res, ok := ch.Next("ended", 10*time.Second)
			require.True(t, ok, "%s survived EMFILE (%d connections opened): drop the fd budget workaround?", lib.Library, opened)
			t.Logf("plain %s after %d connections: its serving call returned %q", lib.Library, opened, res)
			require.Equal(t, "<nil>", res)
		})
	}
	t.Run("the fd budget keeps serving", func(t *testing.T) {
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
		Exchange(t, Dial(t, a), lib.Framing, []byte("served after the storm"))
		_, stopped := ch.Next("stopped", 100*time.Millisecond)
		require.False(t, stopped)
	})
	t.Run("a loop ended by EMFILE is reported", func(t *testing.T) {
		ch := StartChild(t, limit, start)
		ch.Hog()
		// The connection only makes the server accept; it may be reset as
		// the dying loop closes the listener.
		if c, err := net.DialTimeout("tcp", ch.Addr, 2*time.Second); err == nil {
			defer c.Close()
		}
		res, ok := ch.Next("stopped", 10*time.Second)
		require.True(t, ok, "Done was not closed after %s's loop ended: is the declared EMFILE defect gone?", lib.Library)
		t.Logf("Err: %s", res)
		require.Contains(t, res, servers.ErrStopped.Error())
	})
}
