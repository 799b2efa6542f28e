package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/servers"
)

// TestScenariosPairWithTheirProtocol: a scenario runs only on the
// architectures that speak its protocol, whatever its archs: list says.
func TestScenariosPairWithTheirProtocol(t *testing.T) {
	for _, name := range Names() {
		s, err := Embedded(name)
		require.NoError(t, err)
		for _, sc := range s.Scenarios {
			for _, a := range servers.Archs() {
				if a.Protocol != sc.Load.Protocol {
					assert.False(t, sc.AppliesTo(a.Name), "%s/%s runs on %s, which speaks %q", name, sc.Name, a.Name, a.Protocol)
				}
			}
		}
	}
	bad := []byte("suite: x\ndescription: d\nscenarios:\n  - name: a\n    description: d\n    archs: [epoll]\n    load: {duration: 1s, protocol: xmlrpc}\n")
	s, err := Parse("x.yaml", bad)
	require.NoError(t, err)
	assert.ErrorContains(t, s.Validate(testEnv), `architecture "epoll" does not speak the scenario's protocol "xmlrpc"`)
}

// TestStackSuite: raw, line and length on goroutine and XML-RPC single and
// multicall 16, at 16 B and 1 KiB and 1 and 64 connections, in about 6
// minutes or less at its default 3 repetitions.
func TestStackSuite(t *testing.T) {
	s, err := Embedded("stack")
	require.NoError(t, err)
	type cell struct {
		size, conns int
		stack       string
	}
	have := map[cell]bool{}
	var total time.Duration
	for _, sc := range s.Scenarios {
		l := sc.Load.WithDefaults()
		stack := sc.Server.Framing.String()
		if l.Protocol == loadgen.ProtocolXMLRPC {
			stack = "xmlrpc"
			if l.Multicall == 16 {
				stack = "xmlrpc-mc16"
			}
		}
		have[cell{l.Size, l.Conns, stack}] = true
		archs := 0
		for _, a := range servers.Names() {
			if sc.AppliesTo(a) {
				archs++
			}
		}
		assert.Equal(t, 1, archs, "%s runs on one architecture", sc.Name)
		total += time.Duration(3*archs) * (l.Warmup + l.Duration + runOverhead)
	}
	for _, size := range []int{16, 1024} {
		for _, conns := range []int{1, 64} {
			for _, stack := range []string{"raw", "line", "length", "xmlrpc", "xmlrpc-mc16"} {
				assert.True(t, have[cell{size, conns, stack}], "stack suite lacks %s at %d B, %d conns", stack, size, conns)
			}
		}
	}
	assert.LessOrEqual(t, total, 6*time.Minute, "the stack suite's run time")
}
