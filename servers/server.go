// Package servers holds what every archbench architecture shares: the Server
// interface, its Config, and the registry of architectures by name. Each
// architecture lives in its own sub-package, which exports its Arch and
// registers it in init; import archbench/servers/all to get every one of
// them, in teaching order.
package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"archbench/protocol"
)

// Errors shared by the servers.
var (
	// ErrClosed: Start or Shutdown on a server that has already stopped.
	ErrClosed = errors.New("servers: server closed")
	// ErrUnknownArch: no architecture is registered under that name.
	ErrUnknownArch = errors.New("servers: unknown architecture")
	// ErrStopped: the server's serving loop ended on its own (Err wraps the cause).
	ErrStopped = errors.New("servers: serving stopped unexpectedly")
	// ErrUnavailable: the architecture cannot run on this machine (io_uring
	// switched off by a sysctl or a seccomp filter, an old kernel); Start
	// wraps it with the reason in one line. A result, not a defect: the
	// conformance suite skips, serve exits 2, the runner reports the row
	// as unavailable.
	ErrUnavailable = errors.New("servers: unavailable on this machine")
)

// Server is one architecture serving the uppercase-echo protocol.
//
// A Server binds its own socket in Start (gnet and evio cannot be handed a
// net.Listener), so tests ask for port 0 and read Addr.
type Server interface {
	// Start binds Config.Addr and serves in the background. It returns once
	// the server accepts connections, or with the reason it cannot.
	Start() error
	// Addr is the bound address; nil before Start.
	Addr() net.Addr
	// Shutdown stops accepting, lets every connection flush the replies it
	// owes, closes them, and waits until no goroutine of the server is left.
	// If ctx ends first, the remaining connections are closed at once and
	// ctx.Err() is returned (after the goroutines are gone).
	Shutdown(ctx context.Context) error
	// Done is closed when the server stopped serving: after Shutdown, or
	// when its loop ended on its own. Err then says why (nil after Shutdown).
	Done() <-chan struct{}
	Err() error
	// Stats is a snapshot of the server's counters; safe at any time.
	Stats() Stats
}

// Stats counts a server's connections.
type Stats struct {
	Accepted     int64 `json:"accepted"`      // connections served
	Rejected     int64 `json:"rejected"`      // closed at once: over MaxConns, or fd too high for select(2)
	Active       int64 `json:"active"`        // open now
	AcceptErrors int64 `json:"accept_errors"` // failed accept calls (EMFILE and the like)
	// Syscalls counts the system calls the server's own serving loops made
	// (readiness waits, accepts, reads, writes, closes, interest changes,
	// wake-ups), where the architecture counts them: the hand-written event
	// loops (select, poll, epoll, epoll-pool, io_uring). 0 = not counted; the
	// Go runtime's own calls (futex, its poller) are never included.
	Syscalls int64 `json:"syscalls,omitempty"`
	// Features says what the architecture found on this machine and uses,
	// where that varies (io_uring: the setup flags, the kernel's feature
	// flags and opcodes, the accept and receive modes); "" otherwise.
	Features string `json:"features,omitempty"`
	// PerLoop counts connections taken by each accept or event loop, where
	// an architecture spreads them over several (reuseport).
	PerLoop []int64 `json:"per_loop,omitempty"`

	// Datagram servers (network udp, udp6) also count:
	//
	// Datagrams received and Replies sent by the server's loops (PerLoop
	// then counts datagrams received by each reading goroutine).
	Datagrams int64 `json:"datagrams,omitempty"`
	Replies   int64 `json:"replies,omitempty"`
	// Truncated datagrams (MSG_TRUNC: larger than the receive buffer);
	// counted and answered with nothing.
	Truncated int64 `json:"truncated,omitempty"`
	// SendErrors counts replies the kernel refused (ENOBUFS, EMSGSIZE for a
	// reply that grew past the largest datagram, an unreachable peer).
	SendErrors int64 `json:"send_errors,omitempty"`
	// Drops is the kernel's drop count of the server's bound socket(s): the
	// datagrams that found the receive queue full (the drops column of
	// /proc/net/udp, udp6), read at stats time and kept from the last
	// moment before the sockets closed; nil when it could not be read.
	Drops *int64 `json:"drops,omitempty"`
	// Rcvbuf and Sndbuf are the socket buffer sizes the kernel granted
	// (getsockopt SO_RCVBUF, SO_SNDBUF: Linux reports twice the size asked
	// for, its bookkeeping overhead included); 0 = not known.
	Rcvbuf int `json:"rcvbuf,omitempty"`
	Sndbuf int `json:"sndbuf,omitempty"`
}

// Defect is a known, explained failure of an architecture's library on one
// conformance case. The conformance suite skips that case for that
// architecture, naming the defect, instead of pretending it passes.
type Defect struct {
	Case     string // conformance case name, e.g. "HalfCloseFlush"
	Reason   string // what goes wrong, measured on this machine
	Upstream string // upstream issue or source reference
}

// Arch describes one architecture. Each architecture package exports one
// as Arch and registers it; archbench/servers/all orders them.
type Arch struct {
	Name    string
	Summary string   // one line for `archbench list`
	Defects []Defect // known defects of its library
	New     func(Config) (Server, error)
	// Sequential marks an architecture that serves one connection at a time
	// by design, so cases needing concurrent clients do not apply.
	Sequential bool
	// Framings lists the framings the architecture serves with its own
	// code; nil means every framing. With another framing New returns
	// another architecture's server (epoll-pool and gnet-pool have no
	// messages to hand off with raw framing, and are epoll and gnet
	// there), so the conformance suite runs it with these only.
	Framings []protocol.Framing
	// Protocol is what the architecture speaks: "" is the uppercase-echo
	// byte protocol (with Framings), ProtocolXMLRPC is XML-RPC over HTTP.
	// The TCP conformance suite and the runner's byte-protocol scenarios
	// take only the architectures that speak their protocol.
	Protocol string
	// Networks lists the networks the architecture serves (Config.Network
	// values); nil means the stream networks tcp, tcp6 and unix.
	Networks []string
}

// StreamNetworks are the networks of an Arch whose Networks is nil.
var StreamNetworks = []string{"tcp", "tcp6", "unix"}

// Nets is the networks a serves: a.Networks, or StreamNetworks when nil.
func (a Arch) Nets() []string {
	if a.Networks == nil {
		return StreamNetworks
	}
	return a.Networks
}

// Serves reports whether a serves network ("" is the default, tcp).
func (a Arch) Serves(network string) bool {
	if network == "" {
		network = "tcp"
	}
	return slices.Contains(a.Nets(), network)
}

// CheckNetwork is the one-line error for a network a does not serve.
func (a Arch) CheckNetwork(network string) error {
	if a.Serves(network) {
		return nil
	}
	if network == "" {
		network = "tcp"
	}
	return fmt.Errorf("architecture %s does not serve network %s (it serves %s)", a.Name, network, strings.Join(a.Nets(), ", "))
}

// ProtocolXMLRPC is Arch.Protocol of an XML-RPC server.
const ProtocolXMLRPC = "xmlrpc"

var (
	regMu sync.RWMutex
	reg   []Arch   // in the order registered
	order []string // the teaching order, set by SetOrder
)

// Register adds an architecture; each architecture package calls it from
// init. It panics on a duplicate name, a programming error.
func Register(a Arch) {
	regMu.Lock()
	defer regMu.Unlock()
	if a.Name == "" || a.New == nil {
		panic("servers: Register needs a name and a constructor")
	}
	if slices.ContainsFunc(reg, func(r Arch) bool { return r.Name == a.Name }) {
		panic("servers: architecture registered twice: " + a.Name)
	}
	reg = append(reg, a)
}

// SetOrder makes the order of archs the order of Archs and Names: the
// teaching order, which archbench/servers/all sets from its one list of
// architectures. Registered architectures that archs lacks follow in the
// order they were registered.
func SetOrder(archs []Arch) {
	regMu.Lock()
	defer regMu.Unlock()
	order = order[:0]
	for _, a := range archs {
		order = append(order, a.Name)
	}
}

// Lookup finds an architecture by name.
func Lookup(name string) (Arch, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	for _, a := range reg {
		if a.Name == name {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("%w %q (known: %v)", ErrUnknownArch, name, namesLocked())
}

// Archs lists every registered architecture in teaching order (see
// SetOrder): from the simplest blocking design to the event-loop libraries.
func Archs() []Arch {
	regMu.RLock()
	defer regMu.RUnlock()
	return archsLocked()
}

func archsLocked() []Arch {
	out := slices.Clone(reg)
	rank := func(a Arch) int {
		if i := slices.Index(order, a.Name); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b Arch) int { return rank(a) - rank(b) })
	return out
}

// Names lists the registered architecture names in Archs order.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	var n []string
	for _, a := range archsLocked() {
		n = append(n, a.Name)
	}
	return n
}

// New builds the named architecture for cfg after validating cfg.
func New(name string, cfg Config) (Server, error) {
	a, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return a.Build(cfg)
}

// Build validates cfg, fills in its defaults and builds a's server, as New
// does for a registered name. The server gets its own stop signal (see
// Config.Stopping), closed when it begins to stop.
func (a Arch) Build(cfg Config) (Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := a.CheckNetwork(cfg.Network); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.stop = newStopSignal()
	return a.New(cfg)
}
