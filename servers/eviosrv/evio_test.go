package eviosrv

// What the conformance suite (servers/all) cannot see: evio's defects,
// pinned so that an upstream fix is noticed (the suite skips those cases
// for evio), and the workarounds archbench has, checked where they act.

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/evio"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// TestControlConnectionNotCounted: the connection Start makes to wake
// evio's loops is not counted as a client.
func TestControlConnectionNotCounted(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, func(c *servers.Config) {
				c.Loops = 2
				if network == "unix" {
					c.Network, c.Addr = "unix", filepath.Join(t.TempDir(), "s.sock")
				}
			})
			testkit.Echo(t, testkit.Dial(t, s.Addr()), "héllo wörld")
			require.EqualValues(t, 1, s.Stats().Accepted, "the control connection is counted")
		})
	}
}

// TestListeners: evio binds its own sockets; archbench keeps it from
// replacing a file at a unix path and from sharing a port in use, and its
// loops share one listener.
func TestListeners(t *testing.T) { testkit.CheckListeners(t, Arch.Build) }

// TestNoDelay: evio does not set TCP_NODELAY; archbench does, on the
// server's end of every connection.
func TestNoDelay(t *testing.T) {
	s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, nil)
	c := testkit.Dial(t, s.Addr())
	testkit.Echo(t, c, "x") // accepted and opened
	v, err := unix.GetsockoptInt(testkit.ServerFD(t, c), unix.IPPROTO_TCP, unix.TCP_NODELAY)
	require.NoError(t, err)
	require.Equal(t, 1, v, "TCP_NODELAY on the accepted socket")
}

func TestHalfCloseFlush(t *testing.T) {
	t.Run("complete replies are flushed", func(t *testing.T) {
		s, _ := testkit.StartNew(t, Arch.Build, protocol.Raw, nil)
		c := testkit.Dial(t, s.Addr(), testkit.SmallRcvBuf)
		in := testkit.Payload(6 << 20)
		// evio does not read while output is pending, so the writes need a
		// reader at the same time.
		got := testkit.StreamAll(t, c, in)
		require.True(t, bytes.Equal(protocol.AppendUpper(nil, in), got), "reply differs")
	})
	// The defect declared for HalfCloseFlush: what is owed only at end of
	// input is lost. If this fails, evio changed and the Defect can go.
	for _, tc := range []struct {
		f        protocol.Framing
		in, want string
	}{
		{protocol.Raw, "abc\xe2\x82", "ABC"},
		{protocol.Line, "one\ntwo", "ONE\n"},
	} {
		t.Run("the tail owed at end of input is lost/"+tc.f.String(), func(t *testing.T) {
			s, _ := testkit.StartNew(t, Arch.Build, tc.f, nil)
			c := testkit.Dial(t, s.Addr())
			_, err := c.Write([]byte(tc.in))
			require.NoError(t, err)
			testkit.ReadReply(t, c, []byte(tc.want))
			testkit.CloseWrite(t, c)
			rest, err := io.ReadAll(c)
			require.NoError(t, err)
			t.Logf("sent %q, got %q, owed %q", tc.in, tc.want+string(rest), testkit.Owed(tc.f, []byte(tc.in)))
			require.Empty(t, rest, "evio now sends the tail: remove the HalfCloseFlush defect")
		})
	}
}

// measure reports, over d, the CPU the process used as a fraction of d,
// and how many write system calls it made (/proc/self/io syscw, which
// counts failed ones too). CPU time depends on how busy the machine is; a
// loop that retries a write that cannot succeed shows in either.
func measure(t *testing.T, d time.Duration) (used float64, writes int64) {
	cpu0, w0, wall0 := testkit.CPUTime(t), writeCalls(t), time.Now()
	time.Sleep(d) // the measurement interval
	return float64(testkit.CPUTime(t)-cpu0) / float64(time.Since(wall0)), writeCalls(t) - w0
}

func writeCalls(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// TestWriterNotReading measures the defect declared for WriterNotReading:
// evio's loop spins while a client writes without reading. Memory stays
// bounded and other clients are served; Shutdown still ends it.
func TestWriterNotReading(t *testing.T) {
	// One 8 MiB line makes an 8 MiB reply, more than the kernel buffers
	// hold, so the output stays pending for as long as the client does not
	// read.
	s, _ := testkit.StartNew(t, Arch.Build, protocol.Line, func(c *servers.Config) { c.MaxMsg = 16 << 20 })
	c := testkit.Dial(t, s.Addr(), testkit.SmallRcvBuf)
	idleUsed, idleWrites := measure(t, 500*time.Millisecond)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(append(bytes.Repeat([]byte("a"), 8<<20), '\n'))
		werr <- err
	}()
	// The first reply byte means the reply is queued in evio.
	_, err := io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)
	require.NoError(t, <-werr)
	// More input while the output is stuck: from now on the socket is
	// readable and not writable, and evio neither reads nor waits.
	_, err = c.Write(bytes.Repeat([]byte("b"), 64<<10))
	require.NoError(t, err)

	used, writes := measure(t, 500*time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("with an 8 MiB reply pending and more input waiting, over 500 ms the process used %.0f%% of a core "+
		"and made %d write calls (idle server: %.0f%%, %d calls); heap in use %d MiB",
		100*used, writes, 100*idleUsed, idleWrites, ms.HeapInuse>>20)
	assert.Greater(t, writes, 10*idleWrites+10000, "evio no longer spins on a writer that does not read: remove the defect")
	assert.Less(t, ms.HeapInuse, uint64(256<<20))

	testkit.Exchange(t, testkit.Dial(t, s.Addr()), protocol.Line, []byte("others are served"))

	testkit.RequireShutdownDeadline(t, s, 300*time.Millisecond)
}

// TestEMFILE pins evio's EMFILE defect and checks the fd budget that
// works around it (see testkit.CheckLibraryEMFILE).
func TestEMFILE(t *testing.T) {
	testkit.CheckLibraryEMFILE(t, testkit.LibraryEMFILE{Library: "evio", Bare: startBare, New: Arch.Build, Framing: protocol.Raw})
}

// startBare runs evio as its own documentation shows it in an EMFILE
// child, to measure evio itself; it prints "ended ERR" when evio.Serve
// returns.
func startBare(say func(string, ...any)) (servers.Server, string, error) {
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
}
