package results_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
	"archbench/results/resultstest"
)

var fixture = resultstest.Quick

func TestJSONRoundTrip(t *testing.T) {
	r := fixture()
	var buf bytes.Buffer
	require.NoError(t, results.WriteJSON(&buf, r))
	got, err := results.ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, r, got)

	_, err = results.ReadJSON(strings.NewReader(`{"schema": 99}`))
	require.ErrorIs(t, err, results.ErrSchema)
	_, err = results.ReadJSON(strings.NewReader(`{"schema": `))
	require.Error(t, err)
}

func TestSummarize(t *testing.T) {
	tables := results.Summarize(fixture())
	require.Len(t, tables, 2)

	closed := tables[0]
	require.Len(t, closed.Rows, 3)
	// epoll is fastest but crashed once, so the clean goroutine ranks
	// first; sequential had errors and is slower still.
	assert.Equal(t, []string{"goroutine", "epoll", "sequential"}, archs(closed))
	gr, ep, seq := closed.Rows[0], closed.Rows[1], closed.Rows[2]
	assert.Equal(t, []int{1, 2, 3}, []int{gr.Tier, ep.Tier, seq.Tier}, "a clean row and the others never share a tier")
	assert.True(t, gr.Clean())
	assert.False(t, ep.Clean())
	assert.Equal(t, 2, ep.Measured)
	assert.Equal(t, 3, ep.Runs)
	assert.Equal(t, 1, ep.Crashes)
	assert.Equal(t, 1, ep.Failed)
	assert.InDelta(t, 98200, ep.MsgS.Median, 1e-9)
	assert.InDelta(t, 1.0, ep.Ratio, 1e-12, "Ratio is over the highest msg/s")
	assert.InDelta(t, 98200.0/64000, ep.VsBest.Median, 1e-12, "VsBest is over the top-ranked row's")
	assert.InDelta(t, 64000, gr.MsgS.Median, 1e-9)
	assert.True(t, gr.MsgS.Noisy(), "goroutine's 52k/81k/64k spread is noisy")
	assert.False(t, ep.MsgS.Noisy())
	assert.InDelta(t, 64000.0/98200, gr.Ratio, 1e-12)
	assert.EqualValues(t, 3*65, seq.Errors)
	assert.Equal(t, map[string]int64{loadgen.ErrTimeout: 189, loadgen.ErrConnect: 6}, seq.ErrorKinds)
	assert.InDelta(t, 8.0, ep.CPUPerM.Median, 1e-6)

	open := tables[1]
	assert.True(t, open.OpenLoop)
	// Both reach the target rate and epoll's p99 is lower, but epoll hung
	// once: the clean goroutine ranks first.
	assert.Equal(t, []string{"goroutine", "epoll"}, archs(open))
	assert.Equal(t, 1, open.Rows[1].Hangs)
	assert.InDelta(t, 19995.0/20000, open.Rows[1].Ratio, 1e-12, "open loop: msg/s over the target")
	assert.True(t, math.IsNaN(open.Rows[1].VsBest.Median), "no vs best in an open loop")
}

func archs(t results.Table) []string {
	var a []string
	for _, r := range t.Rows {
		a = append(a, r.Arch)
	}
	return a
}

// results.json from before SLO had a duration: "slo_us" is read as it was
// written, in µs.
func TestSLOFromJSON(t *testing.T) {
	r, err := results.ReadJSON(strings.NewReader(`{"schema": 1, "slo_us": 2500}`))
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Microsecond, r.SLODuration())
	var buf bytes.Buffer
	require.NoError(t, results.WriteJSON(&buf, r))
	assert.Contains(t, buf.String(), `"slo_us": 2500`)

	r.SLO = 1500 * time.Nanosecond
	assert.Equal(t, 1500*time.Nanosecond, r.SLODuration(), "below a µs survives")
	buf.Reset()
	require.NoError(t, results.WriteJSON(&buf, r))
	back, err := results.ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Nanosecond, back.SLO, "and survives the JSON round trip")
	r.SLO = 0
	assert.Equal(t, results.DefaultSLO, r.SLODuration())
}
