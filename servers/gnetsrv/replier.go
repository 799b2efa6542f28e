package gnetsrv

import (
	"github.com/panjf2000/gnet/v2"

	"archbench/protocol"
)

// Replier is the protocol side of one connection: it turns what gnet reads
// into replies. The gnet architecture answers inline with a protocol.Codec;
// gnet-pool (archbench/servers/gnetpool) hands messages to a worker pool
// and writes the replies back later. Everything else (admission, the
// descriptor guard, OutCap, the idle sweep, the flush at close, Shutdown)
// is the Server's. Every method runs on the connection's event loop.
type Replier interface {
	// Feed takes what gnet read (valid during the call only) and appends to
	// dst the replies it can give at once. After an error, input is over:
	// the connection closes once Owed is zero.
	Feed(dst, in []byte) ([]byte, error)
	// Finish ends the input (the first call only) and appends to dst the
	// replies ready now. With wait the connection closes right after the
	// call (the client shut its write side), so Finish appends every reply
	// still owed, waiting for those being made elsewhere; without (Shutdown
	// began), the rest may follow later.
	Finish(dst []byte, wait bool) ([]byte, error)
	// Owed is the size in bytes of the replies still being made elsewhere.
	// A connection that is owed replies is neither idle nor drained, and
	// Owed counts towards Config.OutCap with gnet's outbound buffer.
	Owed() int
	// Close says the connection is closed; what it is still owed is dropped.
	Close()
}

// Hooks let another architecture run this Server with its own protocol
// side. The zero Hooks is the gnet architecture.
type Hooks struct {
	// NewReplier makes a new connection's Replier, on its event loop.
	// progress must be called on the loop after replies made outside Feed
	// were written to gc (e.g. in an AsyncWrite callback): it counts as
	// activity, closes a connection whose input ended once it is owed
	// nothing, and applies OutCap. nil: a protocol.Codec answers inline.
	NewReplier func(gc gnet.Conn, progress func()) Replier
	// Start runs in Server.Start before gnet's engine starts.
	Start func()
	// Stopped runs once gnet.Run returned, every connection being closed
	// (OnClose ran for each), however the engine ended.
	Stopped func()
}

// inline is the gnet architecture's Replier: a Codec answering on the loop.
type inline struct {
	codec    *protocol.Codec
	finished bool
}

func (r *inline) Feed(dst, in []byte) ([]byte, error) { return r.codec.Feed(dst, in) }

func (r *inline) Finish(dst []byte, _ bool) ([]byte, error) {
	if r.finished {
		return dst, nil
	}
	r.finished = true
	return r.codec.Finish(dst)
}

func (*inline) Owed() int { return 0 }
func (*inline) Close()    {}
