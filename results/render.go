package results

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"archbench/loadgen"
	"archbench/protocol"
)

// Style is how tables are drawn.
type Style int

const (
	// Text draws box tables for a terminal.
	Text Style = iota
	// Markdown draws GitHub-flavoured Markdown tables.
	Markdown
)

// noisyMark follows a cell whose CV across repetitions exceeds NoisyCV.
const noisyMark = "~"

// Legend explains the tables' columns and marks.
const Legend = "msg/s, p50, p99, p99.9, CPU and RSS are medians over the repetitions; " +
	"CV is the spread of msg/s (coefficient of variation); " + noisyMark + " marks a noisy cell, " +
	"whose CV across repetitions exceeds 10%; errors are totals over all repetitions by kind; " +
	"CPU-s/M is the server's CPU seconds per million messages; vs best is msg/s over the best row's. " +
	"Open-loop tables rank the architectures that reach 95% of the target rate by p99, and vs target " +
	"is msg/s over the target rate (in a rate sweep, the rate that architecture was offered). " +
	"MB/s (large messages) is payload megabytes per second each way. RSS/idle is the server's peak RSS " +
	"over the baseline scenario's (no idle connections) per idle connection it still held at the end. " +
	"idle held counts the idle connections still open at the end as the client sees them: the kernel " +
	"completes a connection the server has not accepted, so for a server that does not accept them " +
	"(sequential, workerpool) it counts its accept backlog and its RSS/idle means nothing."

// WriteTables writes one table per scenario, each under a heading with the
// scenario's name, description and settings, then the legend.
func WriteTables(w io.Writer, r *Run, style Style) error {
	ew := &errWriter{w: w}
	if err := writeKnees(ew, r, style); err != nil {
		return err
	}
	for i, t := range Summarize(r) {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		sc := t.Scenario
		switch style {
		case Markdown:
			fmt.Fprintf(ew, "### %s\n\n%s\n\n*%s*\n\n", sc.Name, sc.Description, settings(sc, r.Reps))
		default:
			fmt.Fprintf(ew, "%s\n", wrap(sc.Name+": "+sc.Description, 100, ""))
			fmt.Fprintf(ew, "%s\n", wrap(settings(sc, r.Reps), 100, "  "))
		}
		if ew.err != nil {
			return ew.err
		}
		if len(t.Rows) == 0 {
			fmt.Fprintln(ew, "(no architecture ran this scenario)")
			continue
		}
		if err := renderTable(ew, t, style); err != nil {
			return err
		}
	}
	fmt.Fprintf(ew, "\n%s\n", wrap(Legend, 100, ""))
	return ew.err
}

// WriteMarkdown writes results.md: the run and its environment, then the tables.
func WriteMarkdown(w io.Writer, r *Run) error {
	ew := &errWriter{w: w}
	e := r.Env
	fmt.Fprintf(ew, "# archbench results: %s suite\n\n", r.Suite)
	fmt.Fprintf(ew, "- started %s, took %s", r.Start.UTC().Format("2006-01-02 15:04:05 UTC"),
		time.Duration(r.Elapsed*float64(time.Second)).Round(time.Second))
	if r.Interrupted != "" {
		fmt.Fprintf(ew, " (interrupted: %s)", r.Interrupted)
	}
	fmt.Fprintf(ew, "\n- architectures: %s; repetitions: %d\n", strings.Join(r.Archs, ", "), r.Reps)
	fmt.Fprintf(ew, "- machine: %s, %d cores, GOMAXPROCS %d, %s\n", e.CPUModel, e.Cores, e.GOMAXPROCS, e.Kernel)
	fmt.Fprintf(ew, "- pinning: server %s, client %s; fd limit %d\n", e.ServerCPUs, e.ClientCPUs, e.FDLimit)
	fmt.Fprintf(ew, "- %s, commit %s\n", e.GoVersion, e.GitCommit)
	var libs []string
	for p, v := range e.Libraries {
		libs = append(libs, p+" "+v)
	}
	slices.Sort(libs)
	if len(libs) > 0 {
		fmt.Fprintf(ew, "- libraries: %s\n", strings.Join(libs, ", "))
	}
	fmt.Fprintln(ew)
	if ew.err != nil {
		return ew.err
	}
	return WriteTables(w, r, Markdown)
}

func settings(sc Scenario, reps int) string {
	l, s := sc.Load, sc.Server
	var parts []string
	switch sw := sc.Sweep; {
	case sw != nil && sw.Fraction > 0:
		parts = append(parts, fmt.Sprintf("open loop at %.0f%% of each architecture's %s msg/s over %d conns", 100*sw.Fraction, SweepName(sw.Of, 0), l.Conns))
	case l.Churn:
		parts = append(parts, fmt.Sprintf("a new connection per message, %d clients", l.Conns))
	case l.Rate > 0:
		parts = append(parts, fmt.Sprintf("open loop at %s msg/s over %d conns", fmtCount(l.Rate), l.Conns))
	default:
		parts = append(parts, fmt.Sprintf("closed loop, %d conns x depth %d", l.Conns, l.Depth))
	}
	if l.SlowConns > 0 {
		parts = append(parts, fmt.Sprintf("%d slow conns (a byte every %v)", l.SlowConns, l.SlowInterval))
	}
	if l.IdleConns > 0 {
		parts = append(parts, fmt.Sprintf("%d idle conns", l.IdleConns))
	}
	parts = append(parts, fmt.Sprintf("%s %s messages", fmtBytes(float64(l.Size)), l.Content), s.Framing.String()+" framing")
	if s.Work.CPU > 0 {
		parts = append(parts, fmt.Sprintf("%v CPU per message", s.Work.CPU))
	}
	if s.Work.Sleep > 0 {
		parts = append(parts, fmt.Sprintf("%v sleep per message", s.Work.Sleep))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"workers", s.Workers}, {"loops", s.Loops}, {"max conns", s.MaxConns}} {
		if f.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, f.v))
		}
	}
	if s.MaxMsg > 0 && s.Framing != protocol.Raw {
		parts = append(parts, "max msg "+fmtBytes(float64(s.MaxMsg)))
	}
	if s.OutCap > 0 {
		parts = append(parts, "out cap "+fmtBytes(float64(s.OutCap)))
	}
	if s.IdleTimeout > 0 {
		parts = append(parts, fmt.Sprintf("idle timeout %v", s.IdleTimeout))
	}
	parts = append(parts, fmt.Sprintf("%v warm-up + %v measured, timeout %v", l.Warmup, l.Duration, l.Timeout))
	parts = append(parts, fmt.Sprintf("%d reps", reps))
	if len(sc.Archs) > 0 {
		parts = append(parts, "only "+strings.Join(sc.Archs, ", "))
	}
	return strings.Join(parts, "; ")
}

func renderTable(w io.Writer, t Table, style Style) error {
	vs := "vs best"
	if t.OpenLoop {
		vs = "vs target"
	}
	header := []string{"arch", "msg/s", "CV", "p50", "p99", "p99.9", "errors", "CPU-s/M", "RSS", vs}
	noisyCol := func(f func(Row) Stat) bool {
		return slices.ContainsFunc(t.Rows, func(r Row) bool { return f(r).Noisy() })
	}
	cols := []struct {
		stat func(Row) Stat
		fmt  func(float64) string
	}{
		{func(r Row) Stat { return r.MsgS }, fmtCount},
		{func(r Row) Stat { return r.P50 }, fmtMicros},
		{func(r Row) Stat { return r.P99 }, fmtMicros},
		{func(r Row) Stat { return r.P999 }, fmtMicros},
		{func(r Row) Stat { return r.CPUPerM }, fmtCPU},
		{func(r Row) Stat { return r.RSS }, func(v float64) string { return fmtBytes(v) }},
	}
	marked := make([]bool, len(cols))
	for i, c := range cols {
		marked[i] = noisyCol(c.stat)
	}
	cell := func(i int, r Row) string {
		s := cols[i].stat(r)
		v := "-"
		if !math.IsNaN(s.Median) {
			v = cols[i].fmt(s.Median)
		}
		switch {
		case s.Noisy():
			return v + " " + noisyMark
		case marked[i]:
			return v + strings.Repeat(" ", 1+len(noisyMark))
		}
		return v
	}
	bulk := t.Scenario.Load.Size >= BulkSize
	idle := t.Scenario.Load.IdleConns > 0
	if bulk {
		header = append(header[:2], append([]string{"MB/s"}, header[2:]...)...)
	}
	if idle {
		header = append(header, "idle held", "RSS/idle")
	}
	notes := slices.ContainsFunc(t.Rows, func(r Row) bool { return rowNotes(r) != "" })
	if notes {
		header = append(header, "notes")
	}
	var rows [][]string
	for _, r := range t.Rows {
		cv := "-"
		if r.MsgS.N >= 2 && !math.IsNaN(r.MsgS.CV) {
			cv = fmt.Sprintf("%.1f%%", 100*r.MsgS.CV)
		}
		if r.MsgS.Noisy() {
			cv += " " + noisyMark
		} else if marked[0] {
			cv += strings.Repeat(" ", 1+len(noisyMark))
		}
		ratio := "-"
		if !math.IsNaN(r.Ratio) {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		row := []string{r.Arch, cell(0, r), cv, cell(1, r), cell(2, r), cell(3, r), fmtErrors(r), cell(4, r), cell(5, r), ratio}
		if bulk {
			mb := "-"
			if !math.IsNaN(r.MBps.Median) {
				mb = fmt.Sprintf("%.0f", r.MBps.Median)
			}
			row = append(row[:2], append([]string{mb}, row[2:]...)...)
		}
		if idle {
			held, per := "-", "-"
			if !math.IsNaN(r.IdleHeld.Median) {
				held = fmt.Sprintf("%.0f/%d", r.IdleHeld.Median, t.Scenario.Load.IdleConns)
			}
			if !math.IsNaN(r.RSSPerIdle) {
				per = fmtSignedBytes(r.RSSPerIdle)
			}
			row = append(row, held, per)
		}
		if notes {
			row = append(row, rowNotes(r))
		}
		rows = append(rows, row)
	}

	align := tw.Alignment{tw.AlignLeft}
	for range header[1:] {
		align = append(align, tw.AlignRight)
	}
	if notes {
		align[len(align)-1] = tw.AlignLeft
	}
	var rend tw.Renderer = renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)})
	if style == Markdown {
		rend = renderer.NewMarkdown()
	}
	tbl := tablewriter.NewTable(w,
		tablewriter.WithRenderer(rend),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithAlignment(align),
	)
	tbl.Header(header)
	for _, row := range rows {
		if err := tbl.Append(row); err != nil {
			return fmt.Errorf("results: table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("results: table: %w", err)
	}
	return nil
}

func rowNotes(r Row) string {
	var n []string
	if r.Crashes > 0 {
		n = append(n, fmt.Sprintf("crash %d/%d", r.Crashes, r.Runs))
	}
	if r.Hangs > 0 {
		n = append(n, fmt.Sprintf("hang %d/%d", r.Hangs, r.Runs))
	}
	if r.Failed > 0 {
		n = append(n, fmt.Sprintf("no result %d/%d", r.Failed, r.Runs))
	}
	if r.ErrorKinds[loadgen.ErrMismatch] > 0 {
		n = append(n, "WRONG REPLIES")
	}
	if r.SlowReplies > 0 || r.SlowErrors > 0 {
		n = append(n, fmt.Sprintf("slow clients: %d replies, %d errors", r.SlowReplies, r.SlowErrors))
	}
	return strings.Join(n, ", ")
}

func fmtErrors(r Row) string {
	if r.Measured == 0 {
		return "-"
	}
	if r.Errors == 0 {
		return "0"
	}
	kinds := errorKinds(r.ErrorKinds)
	if len(kinds) > 2 {
		kinds = append(kinds[:2], "...")
	}
	return fmt.Sprintf("%s %s", fmtCount(float64(r.Errors)), strings.Join(kinds, "+"))
}

// fmtCount: 950, 12.3k, 1.23M.
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a < 1e3:
		return fmt.Sprintf("%.0f", v)
	case a < 1e4:
		return fmt.Sprintf("%.2fk", v/1e3)
	case a < 1e6:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.2fM", v/1e6)
	}
}

// fmtMicros formats a latency in microseconds: 8.5µs, 95µs, 1.25ms, 12.5ms, 250ms, 1.50s.
func fmtMicros(us float64) string {
	switch {
	case us < 10:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1e3:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e4:
		return fmt.Sprintf("%.2fms", us/1e3)
	case us < 1e5:
		return fmt.Sprintf("%.1fms", us/1e3)
	case us < 1e6:
		return fmt.Sprintf("%.0fms", us/1e3)
	default:
		return fmt.Sprintf("%.2fs", us/1e6)
	}
}

func fmtCPU(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtBytes: 16 B, 16 KiB, 1.5 MiB.
func fmtBytes(v float64) string {
	switch {
	case v < 1<<10:
		return fmt.Sprintf("%.0f B", v)
	case v < 1<<20:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<10))) + " KiB"
	case v < 1<<30:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<20))) + " MiB"
	default:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<30))) + " GiB"
	}
}

// fmtSignedBytes is fmtBytes for a difference, which can be negative.
func fmtSignedBytes(v float64) string {
	if v < 0 {
		return "-" + fmtBytes(-v)
	}
	return fmtBytes(v)
}

// BulkSize is the message size from which tables show MB/s.
const BulkSize = 64 << 10

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// wrap breaks s into lines of at most width runes at spaces, indenting
// every line after the first.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		if i > 0 {
			if line+1+n > width {
				b.WriteString("\n" + indent)
				line = len(indent)
			} else {
				b.WriteByte(' ')
				line++
			}
		} else {
			b.WriteString(indent)
			line = len(indent)
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
