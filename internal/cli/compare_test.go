package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

func writeRun(t *testing.T, dir string, rps ...float64) string {
	t.Helper()
	r := &results.Run{Schema: results.SchemaVersion, Suite: "quick", Archs: []string{"epoll"}, Reps: len(rps),
		Scenarios: []results.Scenario{{Name: "conns64"}}}
	for i, v := range rps {
		r.Samples = append(r.Samples, results.Sample{Scenario: "conns64", Arch: "epoll", Rep: i + 1, Exit: results.ExitClean,
			Result: &loadgen.Result{RPS: v, Latency: loadgen.LatencyUS{P99: 100}}})
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, results.WriteJSON(f, r))
	return dir
}

func TestCompareCommand(t *testing.T) {
	tmp := t.TempDir()
	a := writeRun(t, filepath.Join(tmp, "a"), 100, 101, 99, 98, 102)
	b := writeRun(t, filepath.Join(tmp, "b"), 200, 201, 199, 198, 202)
	out, _, code := run("compare", a, filepath.Join(b, "results.json"))
	require.Zero(t, code)
	assert.Contains(t, out, "2.00 (1.96–2.04)", "doubled, with its interval")
	assert.NotContains(t, out, "~ 2.00")

	out, _, code = run("compare", a, a)
	require.Zero(t, code)
	assert.Contains(t, out, "~ 1.00 (0.97–1.03)", "no significant difference")

	_, _, code = run("compare", a)
	assert.Equal(t, 2, code)
	_, _, code = run("compare", a, filepath.Join(tmp, "missing"))
	assert.Equal(t, 2, code)
}

// TestCompareRefusesIncomparable: runs whose only scenario has other
// settings have nothing to compare: one line, exit 2.
func TestCompareRefusesIncomparable(t *testing.T) {
	tmp := t.TempDir()
	a := writeRun(t, filepath.Join(tmp, "a"), 100, 101, 99)
	b := filepath.Join(tmp, "b")
	writeRun(t, b, 200, 201, 199)
	f, err := os.Open(filepath.Join(b, "results.json"))
	require.NoError(t, err)
	r, err := results.ReadJSON(f)
	f.Close()
	require.NoError(t, err)
	r.Scenarios[0].Load.Rate = 1000
	f, err = os.Create(filepath.Join(b, "results.json"))
	require.NoError(t, err)
	require.NoError(t, results.WriteJSON(f, r))
	require.NoError(t, f.Close())

	var out bytes.Buffer
	err = Run(context.Background(), []string{"compare", a, b}, &out, io.Discard)
	require.Error(t, err)
	assert.Equal(t, 2, ExitCode(err))
	assert.Empty(t, out.String())
	assert.NotContains(t, err.Error(), "\n", "one line")
	assert.Contains(t, err.Error(), "conns64: load.rate")
}
