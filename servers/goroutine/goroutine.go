package goroutine

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "goroutine",
	Summary: "one goroutine per connection (Go's idiomatic server)",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted goroutine-per-connection server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: 1, Spawn: true}), nil
}
