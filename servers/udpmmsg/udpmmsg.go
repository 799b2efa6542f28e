package udpmmsg

import (
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

// Batch is the most datagrams one recvmmsg or sendmmsg call moves.
const Batch = 32

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:     "udp-mmsg",
	Summary:  "recvmmsg/sendmmsg batches of up to 32 datagrams, --loops UDP sockets (SO_REUSEPORT)",
	New:      New,
	Networks: []string{"udp", "udp6"},
}

func init() { servers.Register(Arch) }

// New returns an unstarted udp-mmsg server for cfg.
func New(cfg servers.Config) (servers.Server, error) {
	if err := available(); err != nil {
		return nil, err
	}
	return dgram.NewServer(cfg, dgram.Plan{Sockets: cfg.Loops, Readers: 1, Serve: serve}), nil
}
