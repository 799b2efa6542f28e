package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The run command itself is exercised end to end by
// runner.TestBuiltBinaryEndToEnd; here only its usage errors.
func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badKey, []byte("scenarios:\n  - name: a\n    description: d\n    load: {conns: 4, durtion: 1s}\n"), 0o644))
	tooMany := filepath.Join(dir, "many.yaml")
	require.NoError(t, os.WriteFile(tooMany, []byte("scenarios:\n  - name: a\n    description: d\n    load: {conns: 10000000, duration: 1s}\n"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown arch", args: []string{"run", "--arch", "goroutine,nope"}, want: `unknown architecture "nope"`},
		{name: "zero reps", args: []string{"run", "--reps", "0"}, want: "--reps 0"},
		{name: "missing suite", args: []string{"run", "--suite", filepath.Join(dir, "missing.yaml")}, want: "not an embedded suite"},
		{name: "unknown key", args: []string{"run", "--suite", badKey}, want: `line 4: unknown key "durtion" in load`},
		{name: "too many conns", args: []string{"run", "--suite", tooMany}, want: "RLIMIT_NOFILE"},
		{name: "negative budget", args: []string{"run", "--budget", "-1s"}, want: "--budget -1s: want a positive duration"},
		{name: "minimum below 3 with a budget", args: []string{"run", "--budget", "1m", "--reps", "2"}, want: "minimum repetitions 2"},
		{name: "min-reps below 3", args: []string{"run", "--min-reps", "2"}, want: "at least 3"},
		{name: "reps and min-reps disagree", args: []string{"run", "--budget", "1m", "--reps", "4", "--min-reps", "5"}, want: "--reps 4 and --min-reps 5"},
		{name: "max-reps below the minimum", args: []string{"run", "--min-reps", "5", "--max-reps", "4"}, want: "--max-reps 4: below the minimum of 5"},
		{name: "min-reps in a fixed design", args: []string{"run", "--reps", "3", "--min-reps", "4"}, want: "--min-reps applies to a run with a budget"},
		{name: "max-reps without a budget", args: []string{"run", "--suite", "full", "--max-reps", "4"}, want: "--max-reps applies to a run with a budget"},
		{name: "bad cpu list", args: []string{"run", "--server-cpus", "1-0"}, want: "--server-cpus"},
		{name: "offline cpu", args: []string{"run", "--client-cpus", "1000"}, want: "not online"},
		{name: "extra argument", args: []string{"run", "quick"}, want: "unexpected argument"},
		{name: "unknown flag", args: []string{"run", "--bogus"}, want: "bogus"},
		{name: "no scenario for the architecture", args: []string{"run", "--arch", "xmlrpc", "--out", filepath.Join(dir, "x")}, want: "no scenario of suite quick runs on xmlrpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := Run(context.Background(), tc.args, &stdout, io.Discard)
			require.Error(t, err)
			assert.Equal(t, 2, ExitCode(err), err.Error())
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, stdout.String(), "stdout stays clean")
		})
	}
}

// An --out directory that holds anything is refused before any load starts;
// --force clears it.
func TestRunOutOccupied(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "results.json")
	require.NoError(t, os.WriteFile(old, []byte("{}"), 0o644))

	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"run", "--out", dir, "--arch", "goroutine"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, 2, ExitCode(err), err.Error())
	assert.Contains(t, err.Error(), "--force")
	assert.NotContains(t, err.Error(), "\n", "one line")
	assert.Empty(t, stdout.String(), "stdout stays clean")
	assert.NotContains(t, stderr.String(), "goroutine", "no load started")
	assert.FileExists(t, old, "the old results stay")

	require.NoError(t, prepareOut(dir, true))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "--force clears the folder")
	require.NoError(t, prepareOut(dir, false), "an empty folder is fine")
	require.NoError(t, prepareOut(filepath.Join(dir, "new"), false), "a new folder is made")
	assert.DirExists(t, filepath.Join(dir, "new"))
}

// Runs that start in the same millisecond, at once, get different default
// results directories, each created by one of them alone.
func TestNewRunDirUnique(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "runs")
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = newRunDir(parent, "quick", now) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		assert.DirExists(t, dirs[i])
		assert.Contains(t, filepath.Base(dirs[i]), "20261206T230000.000Z-quick-")
		assert.False(t, seen[dirs[i]], "shared directory %s", dirs[i])
		seen[dirs[i]] = true
	}
}
