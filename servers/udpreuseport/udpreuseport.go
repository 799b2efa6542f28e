package udpreuseport

import (
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:     "udp-reuseport",
	Summary:  "--loops UDP sockets on one port (SO_REUSEPORT), one goroutine each",
	New:      New,
	Networks: []string{"udp", "udp6"},
}

func init() { servers.Register(Arch) }

// New returns an unstarted udp-reuseport server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return dgram.NewServer(cfg, dgram.Plan{Sockets: cfg.Loops, Readers: 1, ReusePort: true}), nil
}
