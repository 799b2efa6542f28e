// Package servertest is the conformance suite every archbench architecture
// must pass before anything about it is measured.
//
// It is shaped like golang.org/x/net/nettest.TestConn: [Run] takes an
// architecture and a base configuration and runs one named subtest per case.
// Each case starts a fresh in-process server on 127.0.0.1:0 with the case's
// own settings (MaxConns, IdleTimeout, MaxMsg, OutCap, ...), talks to it with
// seeded random data, verifies every reply byte against the protocol package
// (AppendReply, AppendUpper and the streaming Upper), and shuts the server
// down in t.Cleanup. Every connection carries a deadline, so a server that
// hangs fails a case instead of hanging the suite.
//
// A case that an architecture's library cannot pass is skipped only when the
// architecture lists a [servers.Defect] for that exact case name, and the
// skip message names the defect and its upstream reference. Cases that need
// two clients served at once are skipped for architectures marked
// Sequential, with that reason. An architecture that cannot serve a
// configuration by design (SO_REUSEPORT on a unix socket) says so with a
// Start error wrapping errors.ErrUnsupported; the case is then skipped with
// that error as its reason.
//
// The EMFILE case re-executes the test binary as a child process with a low
// RLIMIT_NOFILE. The test binary must therefore contain
//
//	func TestHelperProcess(t *testing.T) { servertest.HelperProcess(t) }
//
// which does nothing unless the suite started it as that child.
//
// Random data is derived from one seed, 1 by default; set
// ARCHBENCH_SERVERTEST_SEED to another integer to explore other inputs. A
// failing case reports the seed so it can be replayed.
package servertest
