package results_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/results"
)

func TestMannWhitneyP(t *testing.T) {
	// Values checked by counting every permutation of the pooled samples.
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{name: "3v3 separated", x: []float64{1, 2, 3}, y: []float64{4, 5, 6}, want: 0.1},
		{name: "5v5 separated", x: []float64{1, 2, 3, 4, 5}, y: []float64{6, 7, 8, 9, 10}, want: 0.007937},
		{name: "5v5 interleaved", x: []float64{1, 3, 5, 7, 9}, y: []float64{2, 4, 6, 8, 10}, want: 0.690476},
		{name: "4v4 one swap", x: []float64{1, 2, 3, 5}, y: []float64{4, 6, 7, 8}, want: 0.057143},
		{name: "identical", x: []float64{5, 5, 5}, y: []float64{5, 5, 5}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, results.MannWhitneyP(tt.x, tt.y), 1e-4)
			assert.InDelta(t, tt.want, results.MannWhitneyP(tt.y, tt.x), 1e-4, "symmetric")
		})
	}
	assert.True(t, math.IsNaN(results.MannWhitneyP(nil, []float64{1})))
}

func TestMannWhitneyTiesNormal(t *testing.T) {
	// With ties the normal approximation is used: clearly separated groups
	// are significant, equal groups are not.
	p := results.MannWhitneyP([]float64{1, 1, 2, 2, 3, 3}, []float64{7, 7, 8, 8, 9, 9})
	assert.Less(t, p, results.Alpha)
	assert.Greater(t, results.MannWhitneyP([]float64{1, 2, 2, 3}, []float64{1, 2, 2, 3}), 0.9)
}

func TestMinP(t *testing.T) {
	assert.InDelta(t, 0.1, results.MinP(3, 3), 1e-9)
	assert.InDelta(t, 2.0/252, results.MinP(5, 5), 1e-9)
}

func TestCompare(t *testing.T) {
	a := fixture()
	b := fixture()
	// Make one architecture clearly faster in b.
	for i := range b.Samples {
		if b.Samples[i].Result != nil && b.Samples[i].Arch == b.Archs[0] {
			r := *b.Samples[i].Result
			r.RPS *= 2
			b.Samples[i].Result = &r
		}
	}
	cs := results.Compare(a, b)
	require.NotEmpty(t, cs)
	var sawFaster bool
	for _, c := range cs {
		if c.Arch == b.Archs[0] && !math.IsNaN(c.MsgS.Delta) {
			assert.InDelta(t, 1.0, c.MsgS.Delta, 1e-9, "%s/%s doubled", c.Scenario, c.Arch)
			sawFaster = true
		} else if !math.IsNaN(c.MsgS.Delta) {
			assert.InDelta(t, 0, c.MsgS.Delta, 1e-9)
			assert.False(t, c.MsgS.Significant())
		}
	}
	assert.True(t, sawFaster)
}
