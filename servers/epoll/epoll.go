package epoll

import (
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "epoll",
	Summary: "hand-written event loop on epoll(7), level-triggered, --loops loops",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted epoll(7) event-loop server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return evloop.NewServer(cfg, evloop.NewEpoll)
}
