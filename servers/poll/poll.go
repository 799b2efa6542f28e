package poll

import (
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "poll",
	Summary: "hand-written event loop on poll(2), --loops loops",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted poll(2) event-loop server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return evloop.NewServer(cfg, evloop.NewPoll)
}
