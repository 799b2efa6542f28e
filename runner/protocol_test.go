package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/runner"
	_ "archbench/servers/xmlrpc"
)

// TestRunPairsScenariosWithTheirProtocol: a byte-protocol scenario never
// runs on the xmlrpc architecture, an xmlrpc one only there, and the run
// names only the architectures it measured.
func TestRunPairsScenariosWithTheirProtocol(t *testing.T) {
	const mixed = `
scenarios:
  - name: bytes
    description: the byte protocol
    load: {conns: 1, duration: 10ms}
  - name: rpc
    description: xmlrpc
    load: {conns: 1, duration: 10ms, protocol: xmlrpc}
`
	fl := &fakeLoad{}
	run, err := runner.Run(context.Background(), runner.Options{
		Suite: suite(t, mixed), Archs: []string{"fake-ok", "xmlrpc"}, Reps: 1, Load: fl.run,
	})
	require.NoError(t, err)
	ran := map[string]string{}
	for _, s := range run.Samples {
		ran[s.Scenario] += s.Arch
	}
	assert.Equal(t, map[string]string{"bytes": "fake-ok", "rpc": "xmlrpc"}, ran)

	_, err = runner.Run(context.Background(), runner.Options{
		Suite: suite(t, mixed), Archs: []string{"fake-ok"}, Reps: 1, Load: fl.run,
	})
	require.NoError(t, err)
	_, err = runner.Run(context.Background(), runner.Options{
		Suite: suite(t, tinyFake), Archs: []string{"xmlrpc"}, Reps: 1, Load: fl.run,
	})
	assert.True(t, errors.Is(err, runner.ErrOptions), "%v", err)
}
