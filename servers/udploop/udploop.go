package udploop

import (
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:     "udp-loop",
	Summary:  "one goroutine, one UDP socket: receive, transform, send to the sender (the textbook server)",
	New:      New,
	Networks: []string{"udp", "udp6"},
}

func init() { servers.Register(Arch) }

// New returns an unstarted udp-loop server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return dgram.NewServer(cfg, dgram.Plan{Sockets: 1, Readers: 1}), nil
}
