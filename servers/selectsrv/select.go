package selectsrv

import (
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "select",
	Summary: "hand-written event loop on select(2), --loops loops; refuses fds >= 1024",
	New:     New,
}

func init() { servers.Register(Arch) }

// New returns an unstarted select(2) event-loop server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return evloop.NewServer(cfg, evloop.NewSelect)
}
