package runner_test

import (
	"context"
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
	// Each architecture's sweep runs back to back: saturation, then each
	// step; which architecture goes first is the seed's shuffle.
	require.Len(t, run.Samples, 6)
	byArch := map[string][]results.Sample{}
	for i, s := range run.Samples {
		byArch[s.Arch] = append(byArch[s.Arch], s)
		if i%3 > 0 {
			assert.Equal(t, run.Samples[i-1].Arch, s.Arch, "a sweep is not interleaved with another")
		}
	}
	for arch, samples := range byArch {
		var order []string
		for _, s := range samples {
			order = append(order, s.Scenario)
		}
		assert.Equal(t, []string{"rs@sat", "rs@50%", "rs@100%"}, order, arch)
	}
	// The fake measures 5000 msg/s in the closed loop: the steps offer
	// half and all of it, as open loops.
	require.Len(t, load.cfgs, 3, "fake-early never starts, so its steps do not run")
	assert.Zero(t, load.cfgs[0].Rate)
	assert.InDelta(t, 2500, load.cfgs[1].Rate, 1e-9)
	assert.InDelta(t, 5000, load.cfgs[2].Rate, 1e-9)
	for _, s := range byArch["fake-early"] {
		assert.NotEmpty(t, s.Error)
	}
	assert.Contains(t, byArch["fake-early"][1].Error, "no saturation rate")

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
