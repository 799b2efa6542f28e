package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

func TestRunThresholds(t *testing.T) {
	run := &results.Run{Samples: []results.Sample{
		{Scenario: "s", Arch: "epoll", Rep: 1, Result: &loadgen.Result{Requests: 1000, RPS: 1000, Latency: loadgen.LatencyUS{P99: 500}}},
		{Scenario: "s", Arch: "sequential", Rep: 1, Result: &loadgen.Result{Requests: 10, RPS: 10, Latency: loadgen.LatencyUS{P99: 90000}}},
		{Scenario: "s", Arch: "gnet", Rep: 1}, // unmeasured: nothing to check
	}}
	var ths []loadgen.Threshold
	f := thresholdsFlag{&ths}
	require.NoError(t, f.Set("p99<2ms"))
	require.NoError(t, f.Set("rps>=100"))
	assert.Error(t, f.Set("p99<fast"))
	assert.Equal(t, "p99<2ms, rps>=100", f.String())

	var w bytes.Buffer
	err := checkRunThresholds(&w, run, ths)
	require.ErrorIs(t, err, ErrThresholds)
	assert.Contains(t, err.Error(), "2 misses")
	assert.Contains(t, w.String(), "s/sequential rep 1")
	assert.NotContains(t, w.String(), "epoll")

	require.NoError(t, checkRunThresholds(&w, run, nil))
}
