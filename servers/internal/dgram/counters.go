package dgram

import (
	"net/netip"
	"sync"

	"archbench/servers"
)

// Counters are the datagram counters of an architecture whose loops a
// library runs (gnet, evio): one Loop shared by the library's loops, and
// the bound address whose drop count Stats reads.
type Counters struct {
	Loop

	mu             sync.Mutex
	addr           netip.AddrPort
	bound, closed  bool
	rcvbuf, sndbuf int
	final          *int64
}

// Bound records the address the library bound and the buffer sizes the
// kernel granted its socket.
func (c *Counters) Bound(addr netip.AddrPort, rcvbuf, sndbuf int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addr, c.bound, c.rcvbuf, c.sndbuf = addr, true, rcvbuf, sndbuf
}

// Closing reads the drop count one last time, before the library closes
// its sockets; Fill reports that count from then on.
func (c *Counters) Closing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.bound || c.closed {
		return
	}
	c.closed = true
	if d, err := Drops(c.addr); err == nil {
		c.final = &d
	}
}

// Fill adds the datagram counters to st.
func (c *Counters) Fill(st *servers.Stats) {
	st.Datagrams = c.Datagrams.Load()
	st.Replies = c.Replies.Load()
	st.Truncated = c.Truncated.Load()
	st.SendErrors = c.SendErrors.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Rcvbuf, st.Sndbuf = c.rcvbuf, c.sndbuf
	switch {
	case c.closed:
		st.Drops = c.final
	case c.bound:
		if d, err := Drops(c.addr); err == nil {
			st.Drops = &d
		}
	}
}
