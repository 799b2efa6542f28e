package udpworkers

import (
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:     "udp-workers",
	Summary:  "--workers goroutines reading one UDP socket",
	New:      New,
	Networks: []string{"udp", "udp6"},
}

func init() { servers.Register(Arch) }

// New returns an unstarted udp-workers server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return dgram.NewServer(cfg, dgram.Plan{Sockets: 1, Readers: cfg.Workers}), nil
}
