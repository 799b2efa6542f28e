package reuseport

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
)

func TestConnectionsSpreadOverLoops(t *testing.T) {
	srv, err := servers.New("reuseport", servers.Config{Addr: "127.0.0.1:0", Loops: 4, Framing: protocol.Line})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	const n = 64
	for i := range n {
		c, err := net.DialTimeout("tcp", srv.Addr().String(), 2*time.Second)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = c.Write([]byte("ping\n"))
		require.NoError(t, err)
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err, "conn %d", i)
		assert.Equal(t, "PING\n", line)
		c.Close()
	}
	per := srv.Stats().PerLoop
	require.Len(t, per, 4)
	var sum int64
	busy := 0
	for _, v := range per {
		sum += v
		if v > 0 {
			busy++
		}
	}
	assert.EqualValues(t, n, sum)
	assert.GreaterOrEqual(t, busy, 2, "the kernel spread %d connections over more than one listener: %v", n, per)
}

func TestUnixRefused(t *testing.T) {
	srv, err := servers.New("reuseport", servers.Config{Network: "unix", Addr: t.TempDir() + "/s"})
	require.NoError(t, err)
	assert.ErrorContains(t, srv.Start(), "SO_REUSEPORT")
}
