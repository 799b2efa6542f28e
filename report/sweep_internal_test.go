package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

// A rate sweep's steps have no fixed rate (each architecture is offered its
// own): they group by their sweep, ordered by fraction, without the
// closed-loop saturation run.
func TestRateSweepStepsGroup(t *testing.T) {
	l := loadgen.Config{Conns: 32, Size: 16}
	r := &results.Run{}
	for _, f := range []float64{0, 1.2, 0.1, 0.65} {
		r.Scenarios = append(r.Scenarios, results.Scenario{Name: results.SweepName("rs", f), Load: l,
			Sweep: &results.SweepStep{Of: "rs", Fraction: f}})
	}
	r.Scenarios = append(r.Scenarios, results.Scenario{Name: "other@10%", Load: l, Sweep: &results.SweepStep{Of: "other", Fraction: 0.1}})
	g := sweeps(r, rateSweep)
	require.Len(t, g, 1, "a lone step of another sweep is no sweep")
	var names []string
	for _, sc := range g[0] {
		names = append(names, sc.Name)
	}
	assert.Equal(t, []string{"rs@10%", "rs@65%", "rs@120%"}, names)
}
