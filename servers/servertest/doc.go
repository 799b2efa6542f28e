// Package servertest is the conformance suite every archbench architecture
// must pass before anything about it is measured.
//
// It is shaped like golang.org/x/net/nettest.TestConn(t, makePipe): [Run]
// takes a [Target] (a name and a constructor, with what it declares) and a
// base configuration, and runs one named subtest per framing and case,
// FRAMING/CASE. Each case builds a fresh in-process server with the
// target's constructor on 127.0.0.1:0 with the case's own settings
// (MaxConns, IdleTimeout, MaxMsg, OutCap, ...), talks to it with seeded
// random data, verifies every reply byte against the protocol package
// (AppendReply, AppendUpper and the streaming Upper), and shuts the server
// down in t.Cleanup. Every connection carries a deadline, so a server that
// hangs fails a case instead of hanging the suite. Nothing is looked up in
// the registry: [TargetOf] makes the target of a servers.Arch, and a test
// double is just another constructor.
//
// # Own code paths
//
// Every case runs where the target's own code runs. A target lists the
// framings it serves with its own code (Target.Framings, from
// servers.Arch.Framings; nil means raw, line and length): epoll-pool and
// gnet-pool have no messages to hand to their pools with raw framing, and
// their constructors return the epoll and gnet servers there, so they run
// with line and length framing only. Cases that do not depend on the
// framing (FramingFree: ConnectCloseFlood, EMFILE) run once, with the
// target's first framing: raw for most, line for the pools, so the pools'
// accept paths are tested with their pools running.
//
// # Black-box cases and Conform
//
// The cases marked BlackBox (the data cases, concurrency, half-close and
// reset) need nothing but the server's address. [Conform] runs them
// against a server someone else runs ([Remote]: an address, the framing
// and whether it is sequential), for `archbench conform` and for the
// runner's check of external servers. It runs the same case functions as
// [Run]: a case reports through [TB], a *testing.T under go test and a
// small recorder outside it whose Fatal and Skip end the case's goroutine
// as package testing does. In that mode a case's checks of the server's
// own stats are skipped (a remote server's counts are not visible), and a
// case that would set the server's config fails as not black-box.
//
// A case that a target's library cannot pass is skipped only when the
// target lists a [servers.Defect] for that exact case name, and the skip
// message names the defect and its upstream reference. Cases that need two
// clients served at once are skipped for targets marked Sequential, with
// that reason. A target that cannot serve a configuration by design
// (SO_REUSEPORT on a unix socket) says so with a Start error wrapping
// errors.ErrUnsupported; the case is then skipped with that error as its
// reason.
//
// The EMFILE case runs the server in a child process with a low
// RLIMIT_NOFILE, through the child harness of servers/internal/testkit:
// the test binary is re-run for that one case, which builds the server
// with the same constructor in the child. No helper test is needed.
//
// # Datagrams
//
// [RunUDP] is the same suite for datagram servers (network udp, udp6):
// cases named UDP… ([UDPCases]), run on every target whose Networks
// include udp, each against a fresh server on 127.0.0.1:0 (udp6 on [::1]:0
// in the UDP6 case). Run skips a target that does not serve tcp, RunUDP
// one that does not serve udp. UDP may lose a datagram even on loopback
// under load, so a request without a reply is sent again every 500 ms, up
// to 8 times, and a reply to an earlier request of the same client is a
// late copy, skipped; anything else is a failure.
//
// Random data is derived from one seed, 1 by default; set
// ARCHBENCH_SERVERTEST_SEED to another integer to explore other inputs. A
// failing case reports the seed so it can be replayed.
package servertest
