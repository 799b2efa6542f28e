package report

import (
	"bytes"
	"encoding/csv"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/results"
	"archbench/results/resultstest"
	"archbench/servers"
)

// quick is results' fixture: a closed-loop and an open-loop scenario with
// a noisy row, errors, a crash, a hang and an unmeasured repetition.
var quick = resultstest.Quick

// markdownTables is results.md without the figures: the run, then the tables.
func markdownTables(w io.Writer, r *results.Run) error {
	return append(runHeading(r), Tables(r)...).WriteMarkdown(w)
}

func TestTablesGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"tables.txt", func(b *bytes.Buffer) error { return NewTextReporter(quick())(b) }},
		{"tables.md", func(b *bytes.Buffer) error { return markdownTables(b, quick()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.write(&buf))
			golden(t, tc.name+".golden", buf.Bytes())
		})
	}
}

func TestCSV(t *testing.T) {
	r := quick()
	var buf bytes.Buffer
	require.NoError(t, NewCSVReporter(r)(&buf))
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
	r := quick()
	var buf bytes.Buffer
	require.NoError(t, NewBenchReporter(r)(&buf))
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

func TestWriteRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "x")
	r := quick()
	require.NoError(t, WriteRun(dir, r))
	for _, f := range []string{results.FileJSON, results.FileMD, results.FileCSV, results.FileBench, FileHTML} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Positive(t, st.Size(), f)
	}
	f, err := os.Open(filepath.Join(dir, results.FileJSON))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	got, err := results.ReadJSON(f)
	require.NoError(t, err)
	assert.Equal(t, r, got)
}

func TestFormatters(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 1234: "1.23k", 81234: "81.2k", 1234567: "1.23M"} {
		assert.Equal(t, want, fmtCount(v))
	}
	for v, want := range map[float64]string{0.001: "0.001", 12.5: "12.5", 500: "500", 20000: "20.0k"} {
		assert.Equal(t, want, fmtRate(v))
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
	r := quick()
	r.Samples = nil
	var buf bytes.Buffer
	require.NoError(t, NewTextReporter(r)(&buf))
	assert.Equal(t, 2, strings.Count(buf.String(), "(no architecture ran this scenario)"))
	assert.NotContains(t, buf.String(), "┌")
}

func TestTradeoffsTablesGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, markdownTables(&buf, resultstest.Tradeoffs()))
	golden(t, "tradeoffs.md.golden", buf.Bytes())
}

func TestComparison(t *testing.T) {
	a, b := quick(), quick()
	var buf bytes.Buffer
	require.NoError(t, NewComparisonReporter(results.Compare(a, b))(&buf))
	assert.Contains(t, buf.String(), "bootstrap", "the note names the test")
	assert.Contains(t, buf.String(), "~ 1.00 (1.00–1.00)", "a run against itself: no significant difference")
	assert.NotContains(t, buf.String(), "not comparable")
	assert.NotContains(t, buf.String(), "differ in environment")

	b.Scenarios[0].Load.Conns *= 2
	b.Env.CPUModel, b.Env.GOMAXPROCS = "Intel Xeon", 1
	buf.Reset()
	require.NoError(t, NewComparisonReporter(results.Compare(a, b))(&buf))
	out := buf.String()
	assert.Contains(t, out, a.Scenarios[0].Name+": not comparable: load.conns differ")
	assert.Contains(t, out, "cpu_model: AMD EPYC (old), Intel Xeon (new)")
	assert.Contains(t, out, "gomaxprocs: 2 (old), 1 (new)")
	assert.Less(t, strings.Index(out, "differ in environment"), strings.Index(out, "scenario"), "the environment comes first")
}

// The Markdown and the HTML are written from one document: every cell of
// every table is in both, escaped for each (<, & and | included).
func TestMarkdownAndHTMLFromOneModel(t *testing.T) {
	r := quick()
	r.Scenarios[0].Description = "a <b> & c | d_ *e* [f]"
	r.Archs[0] = "se|q<&>"
	for i := range r.Samples {
		if r.Samples[i].Arch == "sequential" {
			r.Samples[i].Arch = "se|q<&>"
		}
	}
	doc := append(runHeading(r), Tables(r)...)
	var md, page bytes.Buffer
	require.NoError(t, doc.WriteMarkdown(&md))
	require.NoError(t, doc.WritePage(&page))

	var cells int
	for _, b := range doc {
		tb, ok := b.(*Table)
		if !ok {
			continue
		}
		for _, row := range append([][]string{tb.Header}, tb.Rows...) {
			for _, c := range row {
				c = strings.TrimSpace(c)
				assert.Contains(t, md.String(), mdCell(c))
				assert.Contains(t, page.String(), ">"+html.EscapeString(c)+"</t")
				cells++
			}
		}
	}
	assert.Greater(t, cells, 50)

	assert.Contains(t, md.String(), `| se\|q\<\&> `, "| < & escaped in a Markdown cell")
	assert.Contains(t, page.String(), `<td class="l">se|q&lt;&amp;&gt;</td>`)
	assert.Contains(t, md.String(), "\na \\<b> \\& c | d\\_ \\*e\\* \\[f\\]\n", "| is plain text outside a table")
	assert.Contains(t, page.String(), "<p>a &lt;b&gt; &amp; c | d_ *e* [f]</p>")
	assert.NotContains(t, page.String(), "<b>")
	assert.Equal(t, strings.Count(md.String(), "\n|:--"), strings.Count(page.String(), "<table>"), "as many tables")
}

// A run whose servers reported system calls gets a sys/msg column (the
// server's calls over every verified reply, warm-up included) in the
// tables that have them, "-" for an architecture that does not count, and
// the legend says what it is; other tables keep their columns.
func TestSyscallsColumn(t *testing.T) {
	r := quick()
	for i := range r.Samples {
		s := &r.Samples[i]
		if s.Arch == "epoll" && s.Scenario == "conns-64" && s.Result != nil {
			s.Result.WarmupRequests = s.Result.Requests // total = 2 × Requests
			s.ServerStats = &servers.Stats{Syscalls: 6 * s.Result.Requests}
		}
	}
	var b bytes.Buffer
	require.NoError(t, NewTextReporter(r)(&b))
	out := b.String()
	_, tables, _ := strings.Cut(out, "\nconns-64: ") // after the verdict
	conns, open, _ := strings.Cut(tables, "\nopen-1000c-20k: ")
	assert.Contains(t, conns, "sys/msg")
	assert.Regexp(t, `epoll .* 3\.00 `, conns, "6 calls per measured reply over twice the replies")
	assert.Regexp(t, `goroutine .* - `, conns)
	openTable, _, _ := strings.Cut(open, "msg/s, p50, p90, p99, p99.9, CPU") // the legend follows the tables
	assert.NotContains(t, openTable, "sys/msg", "a table without counts has no column")
	assert.Contains(t, strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(SyscallsLegend), " "))
}

// A run with a budget says so in its heading: the minimum, the maximum,
// what stopped it and the order's seed.
func TestHeadingBudget(t *testing.T) {
	r := quick()
	r.Budget, r.MaxReps, r.Stopped, r.Seed = 270, 10, results.StopBudget, 42
	var b bytes.Buffer
	require.NoError(t, runHeading(r).WriteMarkdown(&b))
	assert.Contains(t, b.String(), "repetitions: at least 3, at most 10, more where the ranking was undecided, within a 4m30s budget; stopped: budget; order seed 42")
}

// The legend describes only the columns and marks the tables have.
func TestLegendOnlyPresentColumns(t *testing.T) {
	plain := &Table{Header: []string{"arch", "tier", "msg/s", "CV", "p50", "p99", "p99.9", "errors", "CPU-s/M", "RSS", "vs best"},
		Rows: [][]string{{"epoll", "1", "10k", "1%", "9µs", "20µs", "30µs", "0", "1.0", "8 MiB", "1.00"}}}
	l := Legend(plain)
	for _, absent := range []string{"MB/s", "idle held", "RSS/idle", "sys/msg", "vs target", "unsteady", "marks a noisy cell", "† after a latency", "followed by !"} {
		assert.NotContains(t, l, absent)
	}
	assert.Contains(t, l, "vs best is msg/s")
	bulk := &Table{Header: []string{"arch", "msg/s", "MB/s", "notes"}, Rows: [][]string{{"poll", "1k ~", "50", "unsteady 1/3"}}}
	l = Legend(plain, bulk)
	for _, present := range []string{"MB/s (large messages)", "unsteady (in notes)", "~ marks a noisy cell"} {
		assert.Contains(t, l, present)
	}
}
