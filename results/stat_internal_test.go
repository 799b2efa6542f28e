package results

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"archbench/loadgen"
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

func TestStarvedRanksAfterClean(t *testing.T) {
	row := func(arch string, starved int, msgs ...float64) Row {
		return Row{Arch: arch, Starved: starved, MsgS: newStat(msgs), msgs: msgs}
	}
	tb := Table{Rows: []Row{row("fast", 1, 200, 201, 199), row("slow", 0, 100, 101, 99)}}
	rank(&tb)
	assert.Equal(t, "slow", tb.Rows[0].Arch, "a row that starved connections never ranks above one that served them all")
	assert.Equal(t, []int{1, 2}, []int{tb.Rows[0].Tier, tb.Rows[1].Tier})
	assert.False(t, tb.Rows[1].Clean())
}

// A repetition that served fewer connections than it opened counts as
// starved; one from before conns_served was recorded (0) is unknown, not
// starved.
func TestConnsServedUnknownIsNotStarved(t *testing.T) {
	run := func(served int) Row {
		r := &Run{Scenarios: []Scenario{{Name: "s", Load: loadgen.Config{Conns: 64}}}, Archs: []string{"a"},
			Samples: []Sample{{Scenario: "s", Arch: "a", Rep: 1, Exit: ExitClean,
				Result: &loadgen.Result{Config: loadgen.Config{Conns: 64}, Requests: 10, RPS: 10, ConnsServed: served}}}}
		return Summarize(r)[0].Rows[0]
	}
	assert.Zero(t, run(0).Starved, "not recorded")
	assert.Zero(t, run(64).Starved)
	starved := run(4)
	assert.Equal(t, 1, starved.Starved)
	assert.Equal(t, 4, starved.ConnsServed)
	assert.False(t, starved.Clean())
}
