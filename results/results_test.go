package results

import (
	"bytes"
	"encoding/csv"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 11, 22, 10, 30, 0, 0, time.UTC)

func result(rps, p50, p99, p999 float64, errs map[string]int64) *loadgen.Result {
	all := map[string]int64{}
	for _, k := range errorKindOrder {
		all[k] = errs[k]
	}
	req := int64(rps * 1.25)
	return &loadgen.Result{
		Schema:     loadgen.SchemaVersion,
		Config:     loadgen.Config{Addr: "127.0.0.1:40000", Conns: 64, Depth: 1, Size: 16, Duration: 1250 * time.Millisecond},
		Start:      t0,
		Elapsed:    1.25,
		Requests:   req,
		Errors:     all,
		Mismatches: all[loadgen.ErrMismatch],
		RPS:        rps,
		MBps:       rps * 16 / 1e6,
		Latency:    loadgen.LatencyUS{Min: p50 / 2, Mean: p50 * 1.1, P50: p50, P90: p99 * 0.8, P99: p99, P999: p999, P9999: p999 * 1.5, Max: p999 * 2, Count: req},
		Series:     []loadgen.Second{{T: 0, RPS: rps, P99: p99}},
		Histogram:  []byte{1, 2, 3},
	}
}

// fixture is a Run with a closed-loop and an open-loop scenario covering a
// noisy row, errors, a crash, a hang and an unmeasured repetition.
func fixture() *Run {
	r := &Run{
		Schema:    SchemaVersion,
		Suite:     "quick",
		SuiteFile: "quick.yaml",
		Start:     t0,
		Elapsed:   201.4,
		Env: Env{
			GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Kernel: "Linux 6.18.44 #1 SMP x86_64",
			CPUModel: "AMD EPYC", Cores: 2, GOMAXPROCS: 2, ServerCPUs: "unpinned", ClientCPUs: "unpinned",
			FDLimit: 20000, GitCommit: "0123456789abcdef0123456789abcdef01234567",
			Libraries: map[string]string{"github.com/panjf2000/gnet/v2": "v2.10.0", "github.com/tidwall/evio": "v1.0.8"},
		},
		Archs: []string{"sequential", "goroutine", "epoll"},
		Reps:  3,
		Scenarios: []Scenario{
			{
				Name:        "conns-64",
				Description: "64 connections, one message in flight each: throughput under concurrency.",
				Server:      servers.Config{Network: "tcp"},
				Load:        loadgen.Config{Network: "tcp", Conns: 64, Depth: 1, Size: 16, Content: loadgen.ASCII, Warmup: 250 * time.Millisecond, Duration: 1250 * time.Millisecond, Timeout: time.Second, Seed: 1},
			},
			{
				Name:        "open-1000c-20k",
				Description: "1,000 connections sharing an open-loop schedule of 20,000 msg/s.",
				Server:      servers.Config{Network: "tcp", Framing: protocol.Line, Work: protocol.Work{CPU: 10 * time.Microsecond}},
				Load:        loadgen.Config{Network: "tcp", Framing: protocol.Line, Conns: 1000, Depth: 1, Rate: 20000, Size: 16, Content: loadgen.ASCII, Warmup: 250 * time.Millisecond, Duration: 1250 * time.Millisecond, Timeout: time.Second, Seed: 1},
				Archs:       []string{"goroutine", "epoll"},
			},
		},
	}
	add := func(sc, arch string, rep int, res *loadgen.Result, exit Exit, errMsg string) {
		s := Sample{Scenario: sc, Arch: arch, Rep: rep, Start: t0.Add(time.Duration(len(r.Samples)) * 2 * time.Second),
			Wall: 1.7, Result: res, Exit: exit, Error: errMsg}
		if res != nil {
			s.ServerCPU = float64(res.Requests) * 8e-6
			s.ServerPeakRSS = 9<<20 + int64(rep)<<16
			s.ClientCPU = float64(res.Requests) * 6e-6
		}
		if exit == ExitCrash {
			s.ExitDetail = "exit status 2: panic: boom"
		}
		r.Samples = append(r.Samples, s)
	}
	for rep := 1; rep <= 3; rep++ {
		add("conns-64", "sequential", rep, result(1210+float64(rep)*5, 40, 1e6, 1e6, map[string]int64{loadgen.ErrTimeout: 63, loadgen.ErrConnect: 2}), ExitClean, "")
		add("conns-64", "goroutine", rep, result([]float64{52000, 81000, 64000}[rep-1], 700, 2100, 4800, nil), ExitClean, "")
		if rep == 2 {
			add("conns-64", "epoll", rep, nil, ExitCrash, "server exited during the load")
		} else {
			add("conns-64", "epoll", rep, result(98000+float64(rep)*100, 610, 1500, 2500, nil), ExitClean, "")
		}
	}
	for rep := 1; rep <= 3; rep++ {
		add("open-1000c-20k", "goroutine", rep, result(19990, 45, 380+float64(rep), 2100, nil), ExitClean, "")
		exit := ExitClean
		if rep == 3 {
			exit = ExitHang
		}
		add("open-1000c-20k", "epoll", rep, result(19995, 38, 210, 900, nil), exit, "")
	}
	return r
}

func TestJSONRoundTrip(t *testing.T) {
	r := fixture()
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, r))
	got, err := ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, r, got)

	_, err = ReadJSON(strings.NewReader(`{"schema": 99}`))
	require.ErrorIs(t, err, ErrSchema)
	_, err = ReadJSON(strings.NewReader(`{"schema": `))
	require.Error(t, err)
}

func TestSummarize(t *testing.T) {
	tables := Summarize(fixture())
	require.Len(t, tables, 2)

	closed := tables[0]
	require.Len(t, closed.Rows, 3)
	assert.Equal(t, []string{"epoll", "goroutine", "sequential"}, archs(closed))
	ep, gr, seq := closed.Rows[0], closed.Rows[1], closed.Rows[2]
	assert.Equal(t, 2, ep.Measured)
	assert.Equal(t, 3, ep.Runs)
	assert.Equal(t, 1, ep.Crashes)
	assert.Equal(t, 1, ep.Failed)
	assert.InDelta(t, 98200, ep.MsgS.Median, 1e-9)
	assert.InDelta(t, 1.0, ep.Ratio, 1e-12)
	assert.InDelta(t, 64000, gr.MsgS.Median, 1e-9)
	assert.True(t, gr.MsgS.Noisy(), "goroutine's 52k/81k/64k spread is noisy")
	assert.False(t, ep.MsgS.Noisy())
	assert.InDelta(t, 64000.0/98200, gr.Ratio, 1e-12)
	assert.EqualValues(t, 3*65, seq.Errors)
	assert.Equal(t, map[string]int64{loadgen.ErrTimeout: 189, loadgen.ErrConnect: 6}, seq.ErrorKinds)
	assert.InDelta(t, 8.0, ep.CPUPerM.Median, 1e-6)

	open := tables[1]
	assert.True(t, open.OpenLoop)
	// Both reach the target rate, so the lower p99 ranks first.
	assert.Equal(t, []string{"epoll", "goroutine"}, archs(open))
	assert.Equal(t, 1, open.Rows[0].Hangs)
	assert.InDelta(t, 19995.0/20000, open.Rows[0].Ratio, 1e-12, "open loop: msg/s over the target")
}

func archs(t Table) []string {
	var a []string
	for _, r := range t.Rows {
		a = append(a, r.Arch)
	}
	return a
}

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

func TestTablesGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"tables.txt", func(b *bytes.Buffer) error { return WriteTables(b, fixture(), Text) }},
		{"results.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, fixture()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.write(&buf))
			golden(t, filepath.Join("testdata", tc.name+".golden"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./results -update to create it")
	assert.Equal(t, string(want), string(got), "rendering changed; if intended, run go test ./results -update and review the diff")
}

func TestCSV(t *testing.T) {
	r := fixture()
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, r))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+len(r.Samples), "a header and one row per repetition")
	assert.Equal(t, CSVHeader, recs[0])
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, rec := range recs[1:] {
		require.Len(t, rec, len(CSVHeader))
		s := r.Samples[i]
		assert.Equal(t, s.Scenario, rec[col["scenario"]])
		assert.Equal(t, s.Arch, rec[col["arch"]])
		assert.Equal(t, string(s.Exit), rec[col["server_exit"]])
	}
	seq := recs[1]
	assert.Equal(t, "1215", seq[col["rps"]])
	assert.Equal(t, "63", seq[col["err_timeout"]])
	assert.Equal(t, "64", seq[col["conns"]])
	crashed := recs[6]
	assert.Equal(t, "crash", crashed[col["server_exit"]])
	assert.Equal(t, "", crashed[col["rps"]])
	assert.Equal(t, "server exited during the load", crashed[col["error"]])
	assert.Equal(t, "20000", recs[10][col["rate"]])
	assert.Equal(t, "line", recs[10][col["framing"]])
}

var (
	benchLine   = regexp.MustCompile(`^BenchmarkEcho/scenario=[^\s/=]+/arch=[^\s/=]+ 1( [-+0-9.e]+ \S+)+$`)
	benchConfig = regexp.MustCompile(`^[a-z][^\sA-Z:]*: \S.*$`)
	benchUnit   = regexp.MustCompile(`^Unit \S+ better=(higher|lower)$`)
)

func TestBench(t *testing.T) {
	r := fixture()
	var buf bytes.Buffer
	require.NoError(t, WriteBench(&buf, r))
	var benches []string
	units := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			require.Regexp(t, benchLine, line)
			benches = append(benches, line)
			f := strings.Fields(line)
			for i := 3; i < len(f); i += 2 {
				units[f[i]] = true
			}
		case strings.HasPrefix(line, "Unit "):
			require.Regexp(t, benchUnit, line)
		default:
			require.Regexp(t, benchConfig, line)
		}
	}
	// Every measured repetition, none for the crashed one.
	assert.Len(t, benches, len(r.Samples)-1)
	assert.Contains(t, benches[0], "BenchmarkEcho/scenario=conns-64/arch=sequential 1 ")
	for u := range units {
		if u != "ns/op" {
			assert.Contains(t, buf.String(), "Unit "+u+" better=", "unit %s has no Unit line", u)
		}
	}
	assert.True(t, units["msg/s"])
	assert.True(t, units["p99-us"])
	g := strings.Fields(benches[4]) // goroutine rep 2: 81000 msg/s
	assert.Equal(t, []string{"12345.7", "ns/op", "81000", "msg/s"}, g[2:6])
	assert.Contains(t, buf.String(), "cpu: AMD EPYC\n")
	assert.Contains(t, buf.String(), "server-cpus: unpinned\n")
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "x")
	r := fixture()
	require.NoError(t, WriteDir(dir, r))
	for _, f := range []string{FileJSON, FileMD, FileCSV, FileBench} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Positive(t, st.Size(), f)
	}
	f, err := os.Open(filepath.Join(dir, FileJSON))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	got, err := ReadJSON(f)
	require.NoError(t, err)
	assert.Equal(t, r, got)
}

func TestFormatters(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 1234: "1.23k", 81234: "81.2k", 1234567: "1.23M"} {
		assert.Equal(t, want, fmtCount(v))
	}
	for v, want := range map[float64]string{8.45: "8.4µs", 95: "95µs", 1250: "1.25ms", 12500: "12.5ms", 250000: "250ms", 1.5e6: "1.50s"} {
		assert.Equal(t, want, fmtMicros(v))
	}
	for v, want := range map[float64]string{16: "16 B", 16384: "16 KiB", 1.5 * (1 << 20): "1.5 MiB"} {
		assert.Equal(t, want, fmtBytes(v))
	}
	assert.Equal(t, "a b\nc", wrap("a b c", 4, ""))
	assert.Equal(t, "  a\n  b", wrap("a b", 4, "  "))
}

func TestTablesWithoutSamples(t *testing.T) {
	r := fixture()
	r.Samples = nil
	var buf bytes.Buffer
	require.NoError(t, WriteTables(&buf, r, Text))
	assert.Equal(t, 2, strings.Count(buf.String(), "(no architecture ran this scenario)"))
	assert.NotContains(t, buf.String(), "┌")
}
