package results_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/results"
	"archbench/results/resultstest"
)

var tradeoffsFixture = resultstest.Tradeoffs

func TestKnees(t *testing.T) {
	ks := results.Knees(tradeoffsFixture())
	require.Len(t, ks, 1)
	k := ks[0]
	assert.Equal(t, "rs", k.Sweep)
	assert.InDelta(t, 1000, k.SLO, 1e-9)
	require.Len(t, k.Rows, 2)
	assert.Equal(t, results.Knee{Arch: "goroutine", Saturation: 100000, Knee: 50000, P99: 300, Step: "rs@50%"}, k.Rows[0])
	sel := k.Rows[1]
	assert.Equal(t, "select", sel.Arch)
	assert.InDelta(t, 40000, sel.Saturation, 1e-9)
	assert.True(t, math.IsNaN(sel.Knee), "a step with errors or over the SLO is no knee")

	r := tradeoffsFixture()
	r.SLO = 0
	assert.InDelta(t, float64(results.DefaultSLO.Microseconds()), r.SLOus(), 1e-9)
	r.SLO = 10 * time.Millisecond // goroutine's 100% step (92% of its offer) still falls short of 95%
	assert.InDelta(t, 50000, results.Knees(r)[0].Rows[0].Knee, 1e-9)
	r.Samples[3].Result.RPS = 99000 // now it keeps up
	assert.InDelta(t, 99000, results.Knees(r)[0].Rows[0].Knee, 1e-9)
}

func TestSweepTablesUseEachArchsTarget(t *testing.T) {
	for _, tb := range results.Summarize(tradeoffsFixture()) {
		if tb.Scenario.Name != "rs@100%" {
			continue
		}
		assert.True(t, tb.OpenLoop)
		require.Len(t, tb.Rows, 2)
		assert.Equal(t, "goroutine", tb.Rows[0].Arch)
		assert.InDelta(t, 0.92, tb.Rows[0].Ratio, 1e-9)
		assert.InDelta(t, 0.75, tb.Rows[1].Ratio, 1e-9)
		return
	}
	t.Fatal("no rs@100% table")
}

func TestIdleRSSPerConn(t *testing.T) {
	assert.InDelta(t, 8192, results.IdleRSSPerConn(18<<20, 10<<20, 1024), 1e-9)
	assert.True(t, math.IsNaN(results.IdleRSSPerConn(18<<20, 10<<20, 0)), "nothing held")
	assert.True(t, math.IsNaN(results.IdleRSSPerConn(18<<20, math.NaN(), 10)), "no baseline")

	for _, tb := range results.Summarize(tradeoffsFixture()) {
		if tb.Scenario.Name != "idle-1k" {
			continue
		}
		rows := map[string]results.Row{}
		for _, r := range tb.Rows {
			rows[r.Arch] = r
		}
		assert.InDelta(t, float64(8<<20)/1000, rows["goroutine"].RSSPerIdle, 1e-9)
		assert.InDelta(t, float64(1<<20)/1000, rows["select"].RSSPerIdle, 1e-9)
		assert.InDelta(t, 1000, rows["goroutine"].IdleHeld.Median, 1e-9)
		return
	}
	t.Fatal("no idle-1k table")
}
