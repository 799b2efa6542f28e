package loadgen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestWriteText renders a starved closed-loop result (4 of 64 connections
// served) against testdata/starved.txt; -update rewrites it.
func TestWriteText(t *testing.T) {
	res := &loadgen.Result{
		Config: loadgen.Config{Network: "tcp", Addr: "127.0.0.1:7000", Conns: 64, Depth: 1, Size: 16,
			Content: loadgen.ASCII, Duration: 10 * time.Second, Timeout: 2 * time.Second, Loops: 1},
		Elapsed:  10,
		Requests: 12345 * 4,
		Errors: map[string]int64{loadgen.ErrConnect: 0, loadgen.ErrRead: 0, loadgen.ErrWrite: 0,
			loadgen.ErrTimeout: 240, loadgen.ErrShortRead: 0, loadgen.ErrMismatch: 0},
		Abandoned:  240,
		Unanswered: 64,
		Target: &loadgen.Target{Host: "localhost", Port: 7000, Addrs: []string{"[::1]:7000", "127.0.0.1:7000"}, Addr: "127.0.0.1:7000",
			ResolveUS: 41.2, ConnectUS: 95.3, Failed: []string{"host localhost, address [::1]:7000: refused: connection refused"}},
		ConnsServed: 4,
		Fairness:    &loadgen.Fairness{JainIndex: 4.0 / 64, Min: 0, Median: 0, Max: 12345},
		RPS:         4938,
		MBps:        0.08,
		Latency:     loadgen.LatencyUS{Min: 20, Mean: 9700, P50: 150, P90: 180, P99: 2_002_000, P999: 2_004_000, P9999: 2_004_000, Max: 2_004_000, Count: 12345*4 + 240 + 64},
	}
	var b bytes.Buffer
	require.NoError(t, loadgen.WriteText(&b, res))
	assert.Contains(t, b.String(), "  conns served: 4/64, fairness (Jain) 0.06, replies per conn min/median/max 0/0/12345\n")
	golden := filepath.Join("testdata", "starved.txt")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), b.String())

	// A result from before fairness existed prints no such line.
	res.Fairness, res.ConnsServed = nil, 0
	b.Reset()
	require.NoError(t, loadgen.WriteText(&b, res))
	assert.NotContains(t, b.String(), "conns served")
}

// A run with no verified reply prints "-" for its absent percentiles, never 0us.
func TestWriteTextNoReply(t *testing.T) {
	res := &loadgen.Result{
		Config: loadgen.Config{Network: "tcp", Addr: "127.0.0.1:7000", Conns: 1, Depth: 1, Size: 16,
			Content: loadgen.ASCII, Duration: time.Second, Timeout: time.Second, Loops: 1},
		Elapsed: 1,
		Errors:  map[string]int64{loadgen.ErrConnect: 3},
	}
	var b bytes.Buffer
	require.NoError(t, loadgen.WriteText(&b, res))
	assert.NotContains(t, b.String(), "0us")
	assert.Regexp(t, `(?m)^\s+99\.000%\s+-$`, b.String())
	assert.Contains(t, b.String(), "0 replies verified")
}
