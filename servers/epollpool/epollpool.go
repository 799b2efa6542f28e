package epollpool

import (
	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "epoll-pool",
	Summary: "epoll(7) event loop handing framed messages to --workers goroutines; replies written back by the loop",
	New:     New,
	// With raw framing New returns the epoll architecture's server.
	Framings: []protocol.Framing{protocol.Line, protocol.Length},
}

func init() { servers.Register(Arch) }

// New returns an unstarted epoll-pool server for cfg. With raw framing
// there are no messages to hand off, so it is the epoll architecture
// itself (evloop on epoll, transforming inline) and starts no pool.
func New(cfg servers.Config) (servers.Server, error) {
	if cfg.Framing == protocol.Raw {
		return evloop.NewServer(cfg, evloop.NewEpoll)
	}
	return NewServer(cfg)
}
