package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/results"
	"archbench/runner"
)

const sweepFake = `
scenarios:
  - name: rs
    description: fake sweep
    rate_sweep: {from: 0.5, to: 1, steps: 2}
    load: {conns: 4, duration: 10ms}
`

func TestRunRateSweep(t *testing.T) {
	load := &fakeLoad{}
	run, err := runner.Run(context.Background(), runner.Options{
		Suite: suite(t, sweepFake), Archs: []string{"fake-ok", "fake-early"}, Reps: 1,
		SLO: 2 * time.Millisecond, Load: load.run,
	})
	require.NoError(t, err)
	var order []string
	for _, s := range run.Samples {
		order = append(order, fmt.Sprintf("%s/%s", s.Scenario, s.Arch))
	}
	assert.Equal(t, []string{
		"rs@sat/fake-ok", "rs@50%/fake-ok", "rs@100%/fake-ok",
		"rs@sat/fake-early", "rs@50%/fake-early", "rs@100%/fake-early",
	}, order)

	// The fake measures 5000 msg/s in the closed loop: the steps offer
	// half and all of it, as open loops.
	require.Len(t, load.cfgs, 3, "fake-early never starts, so its steps do not run")
	assert.Zero(t, load.cfgs[0].Rate)
	assert.InDelta(t, 2500, load.cfgs[1].Rate, 1e-9)
	assert.InDelta(t, 5000, load.cfgs[2].Rate, 1e-9)
	for _, s := range run.Samples[3:] {
		assert.NotEmpty(t, s.Error)
	}
	assert.Contains(t, run.Samples[4].Error, "no saturation rate")

	require.Len(t, run.Scenarios, 3)
	for i, want := range []struct {
		name string
		frac float64
	}{{"rs@sat", 0}, {"rs@50%", 0.5}, {"rs@100%", 1}} {
		sc := run.Scenarios[i]
		assert.Equal(t, want.name, sc.Name)
		require.NotNil(t, sc.Sweep)
		assert.Equal(t, results.SweepStep{Of: "rs", Fraction: want.frac}, *sc.Sweep)
		assert.Equal(t, want.frac > 0, sc.OpenLoop())
		assert.Zero(t, sc.Load.Rate, "each architecture has its own rate, in its results")
	}
	assert.Equal(t, 2*time.Millisecond, run.SLO)
}
