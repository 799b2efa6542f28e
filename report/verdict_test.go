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
	assert.Contains(t, out, "Tier 1: goroutine (p99 1.0µs), epoll (p99 1.0µs).", "open loop: ranked by p99")

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
