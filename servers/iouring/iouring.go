package iouring

import (
	"archbench/servers"
	"archbench/servers/internal/uring"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "io_uring",
	Summary: "hand-written completion loop on io_uring(7): multishot accept and recv, provided buffers, --loops rings",
	New:     New,
}

func init() { servers.Register(Arch) }

// Options are the settings of the io_uring server that servers.Config does
// not carry.
type Options struct {
	// SingleShotRecv arms one receive at a time per connection, re-armed
	// after each completion, instead of a multishot receive that stays
	// armed: the older, costlier way, kept so the two can be measured.
	// Kernels without multishot receive (before Linux 6.0) use it anyway.
	SingleShotRecv bool
	// RingSetup replaces the io_uring_setup(2) call (nil: the real one);
	// tests use it to force the "unavailable" path.
	RingSetup func(entries uint32, p *uring.Params) (fd int, err error)
}

// New returns an unstarted io_uring server for cfg with default Options.
func New(cfg servers.Config) (servers.Server, error) {
	s, err := NewServer(cfg, Options{})
	if err != nil {
		return nil, err
	}
	return s, nil
}
