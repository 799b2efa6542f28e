package sequential

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; archbench/servers/all registers it.
var Arch = servers.Arch{
	Name:       "sequential",
	Summary:    "accept one connection, serve it to EOF, then the next (the textbook iterative server)",
	New:        New,
	Sequential: true,
}

// New returns an unstarted sequential server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: 1}), nil
}
