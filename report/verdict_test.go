package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

// The sweeps' figures carry each point's interval, and draw a row with
// errors with a hollow marker, said in the caption.
func TestSweepFiguresIntervalsAndHollowMarkers(t *testing.T) {
	r := fixture(t)
	for i, s := range r.Samples {
		if s.Scenario == "conns-16" && s.Arch == "goroutine" && s.Result != nil {
			res := *s.Result
			res.Errors = map[string]int64{loadgen.ErrTimeout: 3}
			r.Samples[i].Result = &res
		}
	}
	var conns, rate *Figure
	for _, sec := range buildSections(r) {
		for _, f := range sec.figs {
			switch {
			case strings.HasPrefix(f.Name, "throughput-"):
				conns = f
			case strings.HasPrefix(f.Name, "p99-"):
				rate = f
			}
		}
	}
	require.NotNil(t, conns)
	require.NotNil(t, rate)
	assert.Contains(t, conns.Caption, hollowNote)
	assert.NotContains(t, rate.Caption, hollowNote, "no errors in the rate sweep")
	assert.Contains(t, conns.Caption, "error bars")
	var hollow int
	for _, s := range conns.chart.series {
		require.Len(t, s.extra, len(s.pts), s.name)
		for i, e := range s.extra {
			if e.hollow {
				hollow++
				assert.Equal(t, "goroutine", s.name)
				assert.InDelta(t, 16, s.pts[i].X, 0)
			}
			if !math.IsNaN(e.lo) {
				assert.LessOrEqual(t, e.lo, s.pts[i].Y, "%s at %v", s.name, s.pts[i].X)
				assert.GreaterOrEqual(t, e.hi, s.pts[i].Y)
			}
		}
	}
	assert.Equal(t, 1, hollow)
	for _, f := range []*Figure{conns, rate} {
		svg, err := f.chart.render("svg")
		require.NoError(t, err, f.Name)
		assert.NotEmpty(t, svg)
	}
}

func TestVerdict(t *testing.T) {
	var md bytes.Buffer
	require.NoError(t, Verdict(fixture(t)).WriteMarkdown(&md))
	out := md.String()
	assert.Contains(t, out, "## Verdict")
	assert.Contains(t, out, "### conns-64")
	assert.Contains(t, out, "- Tier 1: epoll (194.9k ±0.5% msg/s).")
	assert.Contains(t, out, "Tier 2 starts at goroutine: its msg/s is 0.83× (95% interval 0.83–0.84) epoll's.")
	assert.Contains(t, out, "Flagged: sequential: crash 1/2.")
	assert.Contains(t, out, "Tier 1: goroutine (p90 1.0µs ±0.0%), epoll (p90 1.0µs ±0.0%).", "open loop: ranked by p90")

	// One repetition each: no tier 2 can be claimed.
	r := fixture(t)
	var one []results.Sample
	for _, s := range r.Samples {
		if s.Rep == 1 {
			one = append(one, s)
		}
	}
	r.Samples, r.Reps = one, 1
	md.Reset()
	require.NoError(t, Verdict(r).WriteMarkdown(&md))
	assert.Contains(t, md.String(), "No tier 2")
}

func TestRunHeadingLibraries(t *testing.T) {
	r := fixture(t)
	r.Env.Libraries["golang.org/x/sys"] = "v0.30.0"
	r.Env.Libraries["github.com/tidwall/evio"] = "v1.0.8"
	var md bytes.Buffer
	require.NoError(t, runHeading(r).WriteMarkdown(&md))
	assert.Contains(t, md.String(), "github.com/tidwall/evio v1.0.8")
	assert.Contains(t, md.String(), "hdrhistogram-go v1.1.2")
	assert.NotContains(t, md.String(), "golang.org/x/sys", "an indirect module does not shape the measurement")
}

// A row one of whose repetitions stalled is flagged in its table's notes
// and in the verdict; one that starved connections has its latencies
// marked and its tier followed by the unclean mark.
func TestUnsteadyAndStarvedRows(t *testing.T) {
	r := fixture(t)
	for i, s := range r.Samples {
		if s.Scenario == "conns-16" && s.Arch == "goroutine" && s.Rep == 1 {
			res := *s.Result
			res.Elapsed = 5
			res.Series = nil
			for sec, n := range []int64{1000, 1000, 20, 1000, 1000} {
				res.Series = append(res.Series, loadgen.Second{T: sec, Requests: n, RPS: float64(n)})
			}
			r.Samples[i].Result = &res
		}
	}
	doc := Tables(r)
	var found bool
	for _, b := range doc {
		if tb, ok := b.(*Table); ok && tb.Title == "conns-16" {
			for _, row := range tb.Rows {
				if row[0] == "goroutine" {
					assert.Contains(t, row[len(row)-1], "unsteady 1/2 (stall at 2 s)")
					found = true
				}
			}
			assert.Contains(t, strings.Join(tb.Notes, " "), "Steady state unknown for epoll, sequential")
		}
	}
	assert.True(t, found)
	var md bytes.Buffer
	require.NoError(t, Verdict(r).WriteMarkdown(&md))
	assert.Contains(t, md.String(), "goroutine: unsteady 1/2 (stall at 2 s)")

	row := results.Row{Arch: "x", Tier: 2, Measured: 3, Runs: 3, Starved: 1, Conns: 64, ConnsServed: 60}
	assert.Equal(t, "2!", fmtTier(row))
	assert.True(t, latencyDirty(row))
	assert.Contains(t, rowNotes(row), "starved connections 1/3 (served 60 of 64)")
	assert.Contains(t, uncleanReason(row), "starved connections 1/3")
}
