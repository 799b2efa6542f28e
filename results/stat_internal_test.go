package results

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStat(t *testing.T) {
	s := newStat(nil)
	assert.True(t, math.IsNaN(s.Median))
	assert.False(t, s.Noisy())
	s = newStat([]float64{5})
	assert.InDelta(t, 5, s.Median, 0)
	assert.False(t, s.Noisy())
	s = newStat([]float64{100, 100, 100})
	assert.InDelta(t, 0, s.CV, 0)
	s = newStat([]float64{90, 100, 110})
	assert.InDelta(t, 0.1, s.CV, 1e-12)
	assert.False(t, s.Noisy(), "exactly 10% is not above it")
	s = newStat([]float64{80, 100, 120})
	assert.True(t, s.Noisy())
}
