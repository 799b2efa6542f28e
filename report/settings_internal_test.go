package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"archbench/internal/settings"
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/results"
	"archbench/servers"
)

// Settings without a phrase of their own are given as "key value", so a
// setting added to servers.Config or loadgen.Config shows in the tables
// with no edit here.
func TestOtherSettingsAreGeneric(t *testing.T) {
	sc := results.Scenario{
		Server: servers.Config{Framing: protocol.Line, MaxConns: 100, MaxMsg: 64 << 10, OutCap: 1 << 20, IdleTimeout: 5 * time.Second},
		Load:   loadgen.Config{Conns: 8, Depth: 1, Size: 16, Content: loadgen.ASCII, Duration: time.Second, Timeout: time.Second, Seed: 1, Loops: 2},
	}
	text := settingsText(sc, full, noSweep, 3)
	for _, want := range []string{"max conns 100", "max msg 64 KiB", "out cap 1 MiB", "idle timeout 5s"} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "seed", "a phrased (or internal) setting is not repeated")
	assert.NotContains(t, text, "loops 2", "the generator's loops are not a scenario setting")

	sc.Server.Framing = protocol.Raw
	assert.NotContains(t, settingsText(sc, full, noSweep, 3), "max msg", "raw framing frames nothing")
}

// Every phrased key is a real setting: a renamed field cannot silently
// drop out of the phrasing into the generic form (or vanish).
func TestPhrasedKeysExist(t *testing.T) {
	for _, c := range []struct {
		cfg     any
		phrased map[string]bool
	}{{servers.Config{}, phrasedServer}, {loadgen.Config{}, phrasedLoad}} {
		keys := map[string]bool{}
		for _, f := range settings.Fields(reflect.TypeOf(c.cfg)) {
			keys[f.Key] = true
		}
		for k := range c.phrased {
			assert.True(t, keys[k], "%T has no setting %q", c.cfg, k)
		}
	}
}
