package reuseport

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

func TestConnectionsSpreadOverLoops(t *testing.T) {
	srv, _ := testkit.StartNew(t, Arch.Build, protocol.Line, func(c *servers.Config) { c.Loops = 4 })
	const n = 64
	for range n {
		c := testkit.Dial(t, srv.Addr())
		testkit.Exchange(t, c, protocol.Line, []byte("ping"))
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
	srv, err := Arch.Build(servers.Config{Network: "unix", Addr: t.TempDir() + "/s"})
	require.NoError(t, err)
	assert.ErrorContains(t, srv.Start(), "SO_REUSEPORT")
}
