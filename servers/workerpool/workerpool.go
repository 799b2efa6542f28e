package workerpool

import (
	"archbench/servers"
	"archbench/servers/internal/blocking"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "workerpool",
	Summary: "a fixed pool of --workers goroutines (default 4), each looping Accept on one shared listener",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted worker-pool server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: cfg.Workers}), nil
}
