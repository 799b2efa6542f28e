package testkit

import (
	"bytes"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// LogBuf is a concurrency-safe log sink tests can search.
type LogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Dial connects to a within dialTimeout, running opts on the socket before
// it connects; the connection carries a deadline of deadline from now and
// is closed when the test ends.
func Dial(t testing.TB, a net.Addr, dialTimeout, deadline time.Duration, opts ...func(fd uintptr)) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: dialTimeout}
	if len(opts) > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				for _, o := range opts {
					o(fd)
				}
			})
		}
	}
	c, err := d.Dial(a.Network(), a.String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(deadline)))
	return c
}

// SmallRcvBuf keeps a client's receive window small, so that replies pile
// up in the server rather than in the client's kernel.
func SmallRcvBuf(fd uintptr) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
}
