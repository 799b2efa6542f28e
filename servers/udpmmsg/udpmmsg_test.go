package udpmmsg_test

import (
	"testing"

	"go.uber.org/goleak"

	"archbench/servers"
	"archbench/servers/servertest"
	"archbench/servers/udpmmsg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformanceTwoLoops runs the datagram suite with two sockets.
func TestConformanceTwoLoops(t *testing.T) {
	servertest.RunUDP(t, servertest.TargetOf(udpmmsg.Arch), servers.Config{Loops: 2})
}
