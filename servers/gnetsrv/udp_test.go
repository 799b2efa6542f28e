package gnetsrv

import (
	"testing"

	"archbench/servers"
	"archbench/servers/servertest"
)

// TestUDPTwoLoops runs the datagram suite with two event loops, each with
// its own SO_REUSEPORT socket.
func TestUDPTwoLoops(t *testing.T) {
	servertest.RunUDP(t, servertest.TargetOf(Arch), servers.Config{Loops: 2})
}
