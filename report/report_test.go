package report

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/results"
	"archbench/servers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 11, 22, 10, 30, 0, 0, time.UTC)

// latencyResult is a load result whose latencies (µs) are drawn from a
// seeded log-normal around medianUS with a slow tail, summarised and
// encoded as the load generator does.
func latencyResult(t testing.TB, cfg loadgen.Config, seed uint64, rps, medianUS float64) *loadgen.Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	h := hdr.New(1, 5_000_000, 3)
	n := 4000 // latencies recorded; Requests says how many the rate implies
	for range n {
		v := medianUS * math.Exp(0.4*rng.NormFloat64())
		if rng.IntN(500) == 0 {
			v *= 20 // the tail: a stall now and then
		}
		require.NoError(t, h.RecordValue(int64(max(1, v))))
	}
	enc, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	require.NoError(t, err)
	errs := map[string]int64{}
	for _, k := range loadgen.ErrorKinds() {
		errs[k] = 0
	}
	return &loadgen.Result{
		Schema:    loadgen.SchemaVersion,
		Config:    cfg,
		Start:     t0,
		Elapsed:   1.5,
		Requests:  int64(rps * 1.5),
		Errors:    errs,
		RPS:       rps,
		TargetRPS: cfg.Rate,
		Latency: loadgen.LatencyUS{
			Min: float64(h.Min()), Mean: math.Round(h.Mean()*10) / 10,
			P50: float64(h.ValueAtQuantile(50)), P90: float64(h.ValueAtQuantile(90)), P99: float64(h.ValueAtQuantile(99)),
			P999: float64(h.ValueAtQuantile(99.9)), P9999: float64(h.ValueAtQuantile(99.99)), Max: float64(h.Max()),
			Count: h.TotalCount(),
		},
		Histogram: enc,
	}
}

func scenario(name, desc string, load loadgen.Config) results.Scenario {
	load.Depth, load.Size, load.Content = 1, 16, loadgen.ASCII
	load.Network, load.Warmup, load.Duration, load.Timeout = "tcp", 250*time.Millisecond, 1500*time.Millisecond, time.Second
	return results.Scenario{Name: name, Description: desc, Server: servers.Config{Network: "tcp", Framing: protocol.Raw}, Load: load}
}

// fixture is a small run on three architectures: a connection sweep
// (conns-1, -16, -64), a rate sweep (rate-10k, -20k, -40k) and a lone bulk
// scenario; sequential crashed once at 64 connections.
func fixture(t testing.TB) *results.Run {
	t.Helper()
	r := &results.Run{
		Schema: results.SchemaVersion, Suite: "fixture", Start: t0, Elapsed: 95,
		Env: results.Env{
			GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Kernel: "Linux 6.18.44 #1 SMP x86_64",
			CPUModel: "AMD EPYC", Cores: 2, GOMAXPROCS: 2, ServerCPUs: "0", ClientCPUs: "1", FDLimit: 20000,
			GitCommit: "0123456789abcdef0123456789abcdef01234567",
			Libraries: map[string]string{"github.com/panjf2000/gnet/v2": "v2.10.0", "github.com/HdrHistogram/hdrhistogram-go": "v1.1.2"},
		},
		Archs: []string{"sequential", "goroutine", "epoll"},
		Reps:  2,
		Scenarios: []results.Scenario{
			scenario("conns-1", "One connection: the round-trip floor.", loadgen.Config{Conns: 1}),
			scenario("conns-16", "16 connections.", loadgen.Config{Conns: 16}),
			scenario("conns-64", "64 connections.", loadgen.Config{Conns: 64}),
			scenario("rate-10k", "Open loop at 10,000 msg/s.", loadgen.Config{Conns: 64, Rate: 10000}),
			scenario("rate-20k", "Open loop at 20,000 msg/s.", loadgen.Config{Conns: 64, Rate: 20000}),
			scenario("rate-40k", "Open loop at 40,000 msg/s: past saturation for some.", loadgen.Config{Conns: 64, Rate: 40000}),
		},
	}
	bulk := scenario("bulk-64k", "64 KiB messages.", loadgen.Config{Conns: 16})
	bulk.Load.Size = 64 << 10
	r.Scenarios = append(r.Scenarios, bulk)

	speed := map[string]float64{"sequential": 0.3, "goroutine": 1, "epoll": 1.2}
	seed := uint64(1)
	for _, sc := range r.Scenarios {
		for rep := 1; rep <= 2; rep++ {
			for _, a := range r.Archs {
				seed++
				s := results.Sample{Scenario: sc.Name, Arch: a, Rep: rep, Start: t0, Wall: 2, Exit: results.ExitClean,
					ServerCPU: 1.2, ServerPeakRSS: 9 << 20, ClientCPU: 1.1}
				if a == "sequential" && sc.Name == "conns-64" && rep == 2 {
					s.Exit, s.ExitDetail = results.ExitCrash, "signal: segmentation fault"
					r.Samples = append(r.Samples, s)
					continue
				}
				rps, med := 20000*speed[a]*math.Sqrt(float64(sc.Load.Conns)), 40/speed[a]*math.Sqrt(float64(sc.Load.Conns))
				if sc.Load.Rate > 0 {
					rps = min(sc.Load.Rate, 30000*speed[a])
					med = 50 / speed[a] * math.Pow(sc.Load.Rate/(30000*speed[a]), 4)
				}
				if a == "sequential" && sc.Load.Conns > 1 {
					rps = 3000 // one connection at a time
				}
				cfg := sc.Load
				cfg.Addr = "127.0.0.1:40000"
				s.Result = latencyResult(t, cfg, seed, rps*(1+0.01*float64(rep)), med)
				r.Samples = append(r.Samples, s)
			}
		}
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -update to create it")
	assert.Equal(t, string(want), string(got), "rendering changed; if intended, run go test ./report -update and review the diff")
}

// TestWrite renders the fixture to files once, then checks them: the
// golden results.md, the figures, the page, and that a second rendering is
// byte for byte the same.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	r := fixture(t)
	require.NoError(t, Write(dir, r))
	md := readFile(t, filepath.Join(dir, results.FileMD))
	page := readFile(t, filepath.Join(dir, FileHTML))
	figures := []string{"throughput-conns-1", "p99-rate-10k", "spectrum-conns-1", "spectrum-conns-16", "spectrum-conns-64",
		"spectrum-rate-10k", "spectrum-rate-20k", "spectrum-rate-40k", "spectrum-bulk-64k"}

	t.Run("golden", func(t *testing.T) {
		golden(t, "results.md.golden", []byte(md))
	})

	t.Run("figures", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(dir, DirFigures))
		require.NoError(t, err)
		assert.Len(t, entries, 2*len(figures))
		for _, n := range figures {
			assertSVG(t, filepath.Join(dir, DirFigures, n+".svg"))
			assertPNG(t, filepath.Join(dir, DirFigures, n+".png"))
			assert.Contains(t, md, "(figures/"+n+".png)")
			assert.Contains(t, md, "(figures/"+n+".svg)")
			assert.Contains(t, page, `<figure id="`+n+`">`)
		}
		assert.Equal(t, len(figures), strings.Count(page, "<svg "), "every figure inline in the page")
	})

	t.Run("content", func(t *testing.T) {
		// The tables and the environment, in both documents.
		for _, s := range []string{"### conns-64", "crash 1/2", "AMD EPYC", "go1.26.8", "0123456789abcdef", "gnet/v2 v2.10.0", "server 0, client 1"} {
			assert.Contains(t, md, s)
		}
		for _, s := range []string{"<h3>conns-64</h3>", "crash 1/2", "AMD EPYC", "go1.26.8", "0123456789abcdef", "gnet/v2 v2.10.0", "<th class=\"r\">msg/s</th>"} {
			assert.Contains(t, page, s)
		}
		// Every caption, in both.
		for i := 1; i <= len(figures); i++ {
			assert.Contains(t, md, fmt.Sprintf("*Figure %d. ", i))
			assert.Contains(t, page, fmt.Sprintf("<strong>Figure %d.</strong>", i))
		}
	})

	t.Run("offline page", func(t *testing.T) {
		for _, s := range []string{"http://", "https://", "<script", "<link", "<img", "src=", "href=", "url(", "@import"} {
			assert.NotContains(t, page, s)
		}
		assert.Equal(t, 1, strings.Count(page, "<style>"))
		assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n"))
		assert.Contains(t, page, "<title>archbench results: fixture suite</title>")
		// Well-formed: the page parses as XML once the doctype is off.
		dec := xml.NewDecoder(strings.NewReader(strings.TrimPrefix(page, "<!DOCTYPE html>\n")))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		rep, err := Render(fixture(t))
		require.NoError(t, err)
		assert.Equal(t, md, string(rep.Markdown))
		assert.Equal(t, page, string(rep.HTML))
		require.Len(t, rep.Figures, len(figures))
		for _, f := range rep.Figures {
			svg, err := os.ReadFile(filepath.Join(dir, DirFigures, f.Name+".svg"))
			require.NoError(t, err)
			assert.Equal(t, svg, f.SVG, f.Name)
			png, err := os.ReadFile(filepath.Join(dir, DirFigures, f.Name+".png"))
			require.NoError(t, err)
			assert.Equal(t, png, f.PNG, f.Name)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// assertSVG checks that path is well-formed XML whose root is <svg>.
func assertSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, path)
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	assert.Equal(t, "svg", root, path)
}

func assertPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, path)
	assert.Equal(t, 960, img.Bounds().Dx(), path)
	assert.Equal(t, 540, img.Bounds().Dy(), path)
}

// only keeps the named scenarios of r.
func only(r *results.Run, names ...string) *results.Run {
	r.Scenarios = slices.DeleteFunc(r.Scenarios, func(sc results.Scenario) bool { return !slices.Contains(names, sc.Name) })
	return r
}

func TestWithoutHistogramsFallsBackToSummary(t *testing.T) {
	r := only(fixture(t), "conns-16")
	for _, s := range r.Samples {
		if s.Result != nil {
			s.Result.Histogram = nil
		}
	}
	dir := t.TempDir()
	require.NoError(t, Write(dir, r))
	assertPNG(t, filepath.Join(dir, DirFigures, "spectrum-conns-16.png"))
	assertSVG(t, filepath.Join(dir, DirFigures, "spectrum-conns-16.svg"))
	md := readFile(t, filepath.Join(dir, results.FileMD))
	assert.Contains(t, md, "stored summary percentiles")
	assert.Contains(t, md, "epoll (no histogram stored)")

	// The fallback line goes through min, p50, p90, p99, p99.9, p99.99 and max.
	lines := spectrum(r, "conns-16", r.Archs)
	require.Len(t, lines, 3)
	l := lines[1]
	assert.Equal(t, "goroutine", l.arch)
	assert.NotEmpty(t, l.summary)
	var xs []float64
	for _, p := range l.pts {
		xs = append(xs, p.X)
	}
	assert.Equal(t, int64(4000), l.count)
	assert.Equal(t, []float64{1, 2, 10, 100, 1e3, 4000}, xs, "p99.99 needs more than 4,000 latencies")
}

func TestCorruptHistogramFallsBack(t *testing.T) {
	r := only(fixture(t), "conns-1")
	for i, s := range r.Samples {
		if s.Result != nil && s.Scenario == "conns-1" {
			// Garbage, and base64 too short for hdrhistogram-go's header
			// (it would index past the end).
			s.Result.Histogram = [][]byte{[]byte("not base64!"), []byte("AAAA")}[i%2]
		}
	}
	rep, err := Render(r)
	require.NoError(t, err)
	assert.Contains(t, string(rep.Markdown), "corrupt histogram")
}

func TestNoSweeps(t *testing.T) {
	r := fixture(t)
	r = only(r, "conns-1")
	rep, err := Render(r)
	require.NoError(t, err)
	require.Len(t, rep.Figures, 1)
	assert.Equal(t, "spectrum-conns-1", rep.Figures[0].Name)
	md := string(rep.Markdown)
	assert.Contains(t, md, "no connection sweep")
	assert.Contains(t, md, "no rate sweep")
}

func TestEmptyRuns(t *testing.T) {
	_, err := Render(nil)
	require.ErrorIs(t, err, ErrNoRun)

	// No samples at all, and a scenario nobody measured.
	r := fixture(t)
	r.Samples = nil
	rep, err := Render(r)
	require.NoError(t, err)
	assert.Empty(t, rep.Figures)
	assert.Contains(t, string(rep.Markdown), "No latency was measured in conns-1, conns-16")

	rep, err = Render(&results.Run{Schema: results.SchemaVersion})
	require.NoError(t, err)
	assert.Empty(t, rep.Figures)
}

func TestSweeps(t *testing.T) {
	r := fixture(t)
	// Another timeout joins the sweep (the generator's knob); another
	// message size does not; a repeated connection count is left out.
	r.Scenarios[2].Load.Timeout = 3 * time.Second
	odd := r.Scenarios[1]
	odd.Name, odd.Load.Size = "conns-16-big", 4096
	dup := r.Scenarios[1]
	dup.Name = "conns-16-again"
	r.Scenarios = append(r.Scenarios, odd, dup)

	names := func(gs [][]results.Scenario) [][]string {
		var out [][]string
		for _, g := range gs {
			var n []string
			for _, sc := range g {
				n = append(n, sc.Name)
			}
			out = append(out, n)
		}
		return out
	}
	assert.Equal(t, [][]string{{"conns-1", "conns-16", "conns-64"}}, names(sweeps(r, connSweep)))
	assert.Equal(t, [][]string{{"rate-10k", "rate-20k", "rate-40k"}}, names(sweeps(r, rateSweep)))
}

func TestAxes(t *testing.T) {
	var labels []string
	for _, tk := range percentileAxis(150_000).ticks {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"}, labels)

	a := valueAxis([]float64{20, 45, 900_000}, true)
	assert.True(t, a.log)
	assert.Equal(t, 20.0, a.min)
	assert.Equal(t, 1e6, a.max)
	a = valueAxis([]float64{20, 45, 90}, true)
	assert.False(t, a.log)
	assert.Equal(t, 0.0, a.min)
}
