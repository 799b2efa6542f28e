package gnetpool

import (
	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/gnetsrv"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:    "gnet-pool",
	Summary: "gnet v2 event loops handing framed messages to --workers goroutines; replies sent back with AsyncWrite",
	Defects: []servers.Defect{{
		Case: "EMFILE",
		Reason: "gnet-pool runs on gnet's engine, and an accept error ends gnet's event loop and with it the engine " +
			"(gnet.Run returns nil); measured with RLIMIT_NOFILE 64 and line framing, the pool running (TestEMFILE " +
			"here): once anything else has used up the descriptors, " +
			"the next connection's accept fails with EMFILE and serving stops for good, reported as servers.ErrStopped. " +
			"Its own connections cannot cause it: the gnet architecture's guard closes one whose fd is within 32 of " +
			"the limit (measured here with line framing: 128 connections, some refused, serving went on)",
		Upstream: "https://github.com/panjf2000/gnet/issues/367 (closed as invalid); gnet/v2@v2.10.0 " +
			"acceptor_unix.go:91-93 (and :42-44), reactor_default.go:109-110, engine_unix.go:272-278",
	}},
	New: New,
	// With raw framing New returns the gnet architecture's server.
	Framings: []protocol.Framing{protocol.Line, protocol.Length},
}

func init() { servers.Register(Arch) }

// New returns an unstarted gnet-pool server for cfg (defaults applied).
// With raw framing there are no messages to hand off, so it is the gnet
// architecture itself and starts no pool.
func New(cfg servers.Config) (servers.Server, error) {
	if cfg.Framing == protocol.Raw {
		return gnetsrv.New(cfg)
	}
	s, err := newServer(cfg, func() { cfg.Work.DoUntil(cfg.Stopping()) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newServer is gnet-pool with framed messages: the gnet architecture's
// server with the pool's protocol side. work spends one message's handler
// cost (cfg.Work, cancelled when the server begins to stop; tests replace it).
func newServer(cfg servers.Config, work func()) (*gnetsrv.Server, error) {
	p := newPool(cfg, work)
	return gnetsrv.NewWith(cfg, gnetsrv.Hooks{NewReplier: p.newReplier, Start: p.start, Stopped: p.stop})
}
