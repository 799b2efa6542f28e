package reuseport

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "reuseport",
	Summary: "--loops accept loops, each on its own SO_REUSEPORT listener, a goroutine per connection (TCP only)",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted reuseport server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: cfg.Loops, Spawn: true, ReusePort: true}), nil
}
