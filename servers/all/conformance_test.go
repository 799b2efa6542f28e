package all_test

import (
	"testing"

	"go.uber.org/goleak"

	"archbench/servers"
	_ "archbench/servers/all"
	"archbench/servers/servertest"
)

// TestMain fails the run if a goroutine is left over. Goroutines that exist
// before any test (ants, a gnet dependency, starts its default pool in an
// init function) are not the servers' and are ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// TestConformance runs the conformance suite against every registered
// architecture, on its own code path: every framing it serves itself.
func TestConformance(t *testing.T) {
	archs := servers.Archs()
	if len(archs) == 0 {
		t.Fatal("no architecture registered")
	}
	for _, a := range archs {
		t.Run(a.Name, func(t *testing.T) {
			servertest.Run(t, servertest.TargetOf(a), servers.Config{})
		})
	}
}

// TestDefectsNameCases keeps the known-defect list honest: each defect names
// an existing conformance case and says why and where upstream.
func TestDefectsNameCases(t *testing.T) {
	known := map[string]bool{}
	for _, c := range append(servertest.Cases(), servertest.UDPCases()...) {
		known[c.Name] = true
	}
	for _, a := range servers.Archs() {
		for _, d := range a.Defects {
			if !known[d.Case] {
				t.Errorf("%s: defect names case %q, which the suite does not have", a.Name, d.Case)
			}
			if d.Reason == "" || d.Upstream == "" {
				t.Errorf("%s: defect on %q needs a reason and an upstream reference", a.Name, d.Case)
			}
		}
	}
}

// TestUDPConformance runs the datagram suite against every registered
// architecture that serves udp.
func TestUDPConformance(t *testing.T) {
	for _, a := range servers.Archs() {
		t.Run(a.Name, func(t *testing.T) {
			servertest.RunUDP(t, servertest.TargetOf(a), servers.Config{})
		})
	}
}
