package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

func TestReportCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := &results.Run{Schema: results.SchemaVersion, Suite: "quick", Archs: []string{"epoll"}, Reps: 2,
		Scenarios: []results.Scenario{{Name: "conns64"}}}
	for rep := 1; rep <= 2; rep++ {
		r.Samples = append(r.Samples, results.Sample{Scenario: "conns64", Arch: "epoll", Rep: rep, Exit: results.ExitClean,
			Result: &loadgen.Result{RPS: 1000, Requests: 1500, Latency: loadgen.LatencyUS{
				Min: 10, P50: 50, P90: 80, P99: 100, P999: 300, P9999: 400, Max: 500, Count: 1500}}})
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, results.WriteJSON(f, r))
	require.NoError(t, f.Close())

	out, stderr, code := run("report", dir)
	require.Zero(t, code, stderr)
	assert.Contains(t, out, "wrote results.md, report.html and figures/")
	assert.Contains(t, out, "recomputed the summary", "a results.json without a summary gets one")
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	back, err := results.ReadJSON(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Len(t, back.Summary, 1)
	assert.Equal(t, 1, back.Summary[0].Tier)
	assert.Len(t, back.Samples, 2, "the samples are kept")
	out, stderr, code = run("report", dir)
	require.Zero(t, code, stderr)
	assert.NotContains(t, out, "recomputed", "an up-to-date summary is left alone")
	for _, f := range []string{"results.md", "report.html", "figures/spectrum-conns64.svg", "figures/spectrum-conns64.png"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}

	// results.json itself names its folder.
	require.NoError(t, os.Remove(filepath.Join(dir, "report.html")))
	_, stderr, code = run("report", filepath.Join(dir, "results.json"))
	require.Zero(t, code, stderr)
	_, err = os.Stat(filepath.Join(dir, "report.html"))
	assert.NoError(t, err)
}

func TestReportCommandErrors(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad")
	require.NoError(t, os.MkdirAll(bad, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "results.json"), []byte("{not json"), 0o644))
	empty := filepath.Join(tmp, "empty")
	require.NoError(t, os.MkdirAll(empty, 0o755))
	f, err := os.Create(filepath.Join(empty, "results.json"))
	require.NoError(t, err)
	require.NoError(t, results.WriteJSON(f, &results.Run{Schema: results.SchemaVersion, Suite: "quick"}))
	require.NoError(t, f.Close())
	other := filepath.Join(tmp, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("hi"), 0o644))

	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{name: "no folder", args: nil, code: 2, msg: "want one results folder"},
		{name: "two folders", args: []string{tmp, tmp}, code: 2, msg: "got 2 arguments"},
		{name: "missing", args: []string{filepath.Join(tmp, "missing")}, code: 2, msg: "no such file"},
		{name: "no results.json", args: []string{tmp}, code: 2, msg: "results.json"},
		{name: "not a folder", args: []string{other}, code: 2, msg: "is not a folder"},
		{name: "bad json", args: []string{bad}, code: 1, msg: "decode json"},
		{name: "no samples", args: []string{empty}, code: 1, msg: "holds no samples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Run(t.Context(), append([]string{"report"}, c.args...), new(strings.Builder), new(strings.Builder))
			assert.Equal(t, c.code, ExitCode(err))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}
