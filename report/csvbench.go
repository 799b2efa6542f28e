package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"archbench/loadgen"
	"archbench/results"
)

// errorKindOrder is the fixed order of the error columns.
var errorKindOrder = loadgen.ErrorKinds()

// CSVHeader is the first line of results.csv. The err_ columns from
// err_resolve on exist since December 2026 (issue 10: connect, read and
// write now hold only the failures none of them names).
var CSVHeader = []string{
	"suite", "scenario", "arch", "rep", "start",
	"framing", "conns", "depth", "rate", "size", "content", "warmup_s", "duration_s",
	"requests", "rps", "target_rps", "mb_per_s",
	"err_connect", "err_read", "err_write", "err_timeout", "err_short_read", "err_mismatch",
	"err_resolve", "err_no_address", "err_refused", "err_unreachable", "err_connect_timeout", "err_reset",
	"lat_min_us", "lat_mean_us", "lat_p50_us", "lat_p90_us", "lat_p99_us", "lat_p999_us", "lat_p9999_us", "lat_max_us",
	"send_lag_p99_us",
	"server_cpu_s", "server_peak_rss_bytes", "client_cpu_s", "server_exit", "error",
}

// NewCSVReporter writes results.csv: one row per repetition, in the order
// they ran.
func NewCSVReporter(r *results.Run) Reporter {
	return func(w io.Writer) error { return writeCSV(w, r) }
}

func writeCSV(w io.Writer, r *results.Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	scen := map[string]results.Scenario{}
	for _, sc := range r.Scenarios {
		scen[sc.Name] = sc
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, s := range r.Samples {
		l := scen[s.Scenario].Load
		rec := []string{
			r.Suite, s.Scenario, s.Arch, strconv.Itoa(s.Rep), s.Start.UTC().Format(time.RFC3339Nano),
			l.Framing.String(), strconv.Itoa(l.Conns), strconv.Itoa(l.Depth), f(l.Rate), strconv.Itoa(l.Size), string(l.Content),
			f(l.Warmup.Seconds()), f(l.Duration.Seconds()),
		}
		if res := s.Result; res != nil {
			rec = append(rec, i(res.Requests), f(res.RPS), f(res.TargetRPS), f(res.MBps))
			for _, k := range errorKindOrder {
				rec = append(rec, i(res.Errors[k]))
			}
			lat := res.Latency
			rec = append(rec, f(lat.Min), f(lat.Mean), f(lat.P50), f(lat.P90), f(lat.P99), f(lat.P999), f(lat.P9999), f(lat.Max), f(res.SendLag.P99))
		} else {
			rec = append(rec, make([]string, 4+len(errorKindOrder)+9)...)
		}
		rec = append(rec, f(s.ServerCPU), i(s.ServerPeakRSS), f(s.ClientCPU), string(s.Exit), s.Error)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("report: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// benchUnits are the units of results.bench.txt and which way is better.
var benchUnits = []struct{ unit, better string }{
	{"msg/s", "higher"},
	{"p50-us", "lower"},
	{"p99-us", "lower"},
	{"p99.9-us", "lower"},
	{"errors", "lower"},
	{"server-cpu-s/Mmsg", "lower"},
	{"server-peak-rss-B", "lower"},
	{"client-cpu-s/Mmsg", "lower"},
}

// NewBenchReporter writes results.bench.txt in the Go benchmark format,
// one line per measured repetition, named
// BenchmarkEcho/scenario=NAME/arch=ARCH, so that
// `benchstat -col /arch results.bench.txt` compares architectures.
func NewBenchReporter(r *results.Run) Reporter {
	return func(w io.Writer) error { return writeBench(w, r) }
}

func writeBench(w io.Writer, r *results.Run) error {
	ew := &errWriter{w: w}
	e := r.Env
	cfg := [][2]string{
		{"goos", e.OS}, {"goarch", e.Arch}, {"pkg", "archbench"}, {"cpu", e.CPUModel},
		{"go", e.GoVersion}, {"kernel", e.Kernel}, {"cores", strconv.Itoa(e.Cores)},
		{"gomaxprocs", strconv.Itoa(e.GOMAXPROCS)}, {"server-cpus", e.ServerCPUs}, {"client-cpus", e.ClientCPUs},
		{"commit", e.GitCommit}, {"suite", r.Suite},
	}
	for _, c := range cfg {
		fmt.Fprintf(ew, "%s: %s\n", c[0], oneLine(c[1]))
	}
	for _, u := range benchUnits {
		fmt.Fprintf(ew, "Unit %s better=%s\n", u.unit, u.better)
	}
	for _, s := range r.Samples {
		res := s.Result
		if res == nil {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "BenchmarkEcho/scenario=%s/arch=%s 1", benchName(s.Scenario), benchName(s.Arch))
		pair := func(v float64, unit string) { fmt.Fprintf(&b, " %s %s", strconv.FormatFloat(v, 'g', 6, 64), unit) }
		if res.RPS > 0 {
			pair(1e9/res.RPS, "ns/op")
		}
		pair(res.RPS, "msg/s")
		if res.Requests > 0 {
			pair(res.Latency.P50, "p50-us")
			pair(res.Latency.P99, "p99-us")
			pair(res.Latency.P999, "p99.9-us")
		}
		var errs int64
		for _, v := range res.Errors {
			errs += v
		}
		pair(float64(errs), "errors")
		if res.Requests > 0 {
			pair(s.ServerCPU/float64(res.Requests)*1e6, "server-cpu-s/Mmsg")
		}
		if s.ServerPeakRSS > 0 {
			pair(float64(s.ServerPeakRSS), "server-peak-rss-B")
		}
		if res.Requests > 0 {
			pair(s.ClientCPU/float64(res.Requests)*1e6, "client-cpu-s/Mmsg")
		}
		fmt.Fprintln(ew, b.String())
	}
	return ew.err
}

// benchName keeps a name component free of what the benchmark format
// reserves: whitespace, '/' and '='.
func benchName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '=' || r == ' ' || r == '\t' || r == '\n' {
			return '_'
		}
		return r
	}, s)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "unknown"
	}
	return s
}
