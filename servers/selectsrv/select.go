package selectsrv

import (
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

func init() {
	servers.Register(servers.Arch{
		Name:    "select",
		Summary: "hand-written event loop on select(2), --loops loops; refuses fds >= 1024",
		New:     New,
	})
}

// New returns an unstarted select(2) event-loop server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	return evloop.NewServer(cfg, evloop.NewSelect)
}
