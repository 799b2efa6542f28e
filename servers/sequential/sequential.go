package sequential

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:       "sequential",
	Summary:    "accept one connection, serve it to EOF, then the next (the textbook iterative server)",
	New:        New,
	Sequential: true,
}

func init() { servers.Register(Arch) }

// New returns an unstarted sequential server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: 1}), nil
}
