package workerpool

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; archbench/servers/all registers it.
var Arch = servers.Arch{
	Name:    "workerpool",
	Summary: "a fixed pool of --workers goroutines (default 4), each looping Accept on one shared listener",
	New:     New,
}

// New returns an unstarted worker-pool server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: cfg.Workers}), nil
}
