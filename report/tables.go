package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"archbench/loadgen"
	"archbench/results"
)

// The tables of a run and of a comparison, as the document model.

// BulkSize is the message size from which tables show MB/s.
const BulkSize = 64 << 10

// Marks in the tables.
const (
	// noisyMark follows a cell whose CV across repetitions exceeds results.NoisyCV.
	noisyMark = "~"
	// dirtyMark follows a latency cell of a row that had load errors or
	// starved connections: its latencies describe the messages that got
	// through, not the ones that did not.
	dirtyMark = "†"
	// uncleanMark follows the tier of a row that is not results.Row.Clean.
	uncleanMark = "!"
)

// legend explains the tables' columns and marks, one entry per column
// header or mark: a run's legend has only the entries of the columns and
// marks its tables show (see Legend). "" keys what every table has.
var legend = []struct{ key, text string }{
	{"", "msg/s, p50, p90, p99, p99.9, CPU and RSS are medians over the repetitions; " +
		"msg/s ±x% (and p90 ±x% in an open loop) is the half-width of the median's 95% " +
		"bootstrap interval relative to the median (none with one repetition); CV is the spread of msg/s (coefficient of variation)."},
	{noisyMark, noisyMark + " marks a noisy cell, whose CV across repetitions exceeds 10%."},
	{"tier", "tier groups architectures that cannot be told apart: " +
		"a tier boundary stands only where the rows on either side of it are told apart (the 95% bootstrap " +
		"interval of the ratio of their medians excludes 1 and the ratio is at least 5% from 1) and the groups " +
		"above and below it differ by 10% or more (results/doc.go; with 3 repetitions the test is weak)."},
	{uncleanMark, "A tier followed by " + uncleanMark + " belongs to a row that had load errors, a crashed or hung server or starved " +
		"connections: such rows rank after every clean row, whatever their speed."},
	{dirtyMark, dirtyMark + " after a latency marks a row " +
		"with load errors or starved connections: a message never answered counts once, at its age when given up, " +
		"against thousands answered on the served connections, so its percentiles flatter it."},
	{"errors", "errors are totals over all repetitions by kind;"},
	{"CPU-s/M", "CPU-s/M is the server's CPU seconds per million messages;"},
	{"vs best", "vs best is msg/s over the top-ranked row's, with the 95% bootstrap interval of that ratio in parentheses."},
	{"vs target", "Open-loop tables rank the architectures that reach 95% of the target rate by p90 (their p99 is not " +
		"reproducible between runs on a shared machine, results/doc.go), and vs target " +
		"is msg/s over the target rate (in a rate sweep, the rate that architecture was offered)."},
	{"notes", "unsteady (in notes) marks a row one of whose repetitions stalled (a second under 10% of its median " +
		"per-second rate) or drifted (halves more than 25% apart) after the warm-up; runs under 3 measured " +
		"seconds cannot be judged."},
	{"MB/s", "MB/s (large messages) is payload megabytes per second each way."},
	{"RSS/idle", "RSS/idle is the server's peak RSS " +
		"over the baseline scenario's (no idle connections) per idle connection it still held at the end."},
	{"idle held", "idle held counts the idle connections still open at the end as the client sees them: the kernel " +
		"completes a connection the server has not accepted, so for a server that does not accept them " +
		"(sequential, workerpool) it counts its accept backlog and its RSS/idle means nothing."},
	{"sys/msg", SyscallsLegend},
	{"vs C", "vs C is msg/s over the C baseline's (c-epoll, the machine's limit for this protocol) in the same scenario."},
}

// Legend is the legend of tables: the entries for the columns their
// headers name and the marks their cells carry, in legend's order.
func Legend(tables ...*Table) string {
	present := map[string]bool{"": true}
	for _, t := range tables {
		for _, h := range t.Header {
			present[h] = true
		}
		for _, row := range t.Rows {
			for _, c := range row {
				for _, m := range []string{noisyMark, dirtyMark, uncleanMark} {
					if strings.Contains(c, m) {
						present[m] = true
					}
				}
			}
		}
	}
	var parts []string
	for _, e := range legend {
		if present[e.key] {
			parts = append(parts, e.text)
		}
	}
	return strings.Join(parts, " ")
}

// NewTextReporter writes r for a terminal: the verdict per scenario, then
// the knee of each rate sweep, one table per scenario, the legend.
func NewTextReporter(r *results.Run) Reporter { return append(Verdict(r), Tables(r)...).WriteText }

// runHeading is the run and its environment: results.md's opening.
func runHeading(r *results.Run) Document {
	e := r.Env
	title := fmt.Sprintf("archbench results: %s suite", r.Suite)
	started := fmt.Sprintf("started %s, took %s", r.Start.UTC().Format("2006-01-02 15:04:05 UTC"),
		time.Duration(r.Elapsed*float64(time.Second)).Round(time.Second))
	if r.Interrupted != "" {
		started += fmt.Sprintf(" (interrupted: %s)", r.Interrupted)
	}
	reps := fmt.Sprintf("repetitions: %d", r.Reps)
	if r.Budget > 0 {
		reps = fmt.Sprintf("repetitions: at least %d, at most %d, more where the ranking was undecided, within a %v budget; stopped: %s; order seed %d",
			r.Reps, r.MaxReps, time.Duration(r.Budget*float64(time.Second)).Round(time.Second), r.Stopped, r.Seed)
	}
	list := List{
		started,
		fmt.Sprintf("architectures: %s; %s", strings.Join(r.Archs, ", "), reps),
		fmt.Sprintf("machine: %s, %d cores, GOMAXPROCS %d, %s", e.CPUModel, e.Cores, e.GOMAXPROCS, e.Kernel),
		fmt.Sprintf("pinning: server %s, client %s; fd limit %d", e.ServerCPUs, e.ClientCPUs, e.FDLimit),
		fmt.Sprintf("%s, commit %s", e.GoVersion, e.GitCommit),
	}
	var libs []string
	for p, v := range e.Libraries {
		if shapesMeasurement(p) {
			libs = append(libs, p+" "+v)
		}
	}
	slices.Sort(libs)
	if len(libs) > 0 {
		list = append(list, "libraries: "+strings.Join(libs, ", "))
	}
	return Document{Heading{Level: 1, Text: title}, list}
}

// measuringLibraries are the modules that shape a measurement: the
// libraries two architectures are built on, and the load generator's
// histogram. The run heading lists only these (results.json has them all).
var measuringLibraries = []string{"gnet", "evio", "hdrhistogram"}

func shapesMeasurement(module string) bool {
	return slices.ContainsFunc(measuringLibraries, func(name string) bool { return strings.Contains(strings.ToLower(module), name) })
}

// Tables is r's tables: the knee of each rate sweep (the headline), one
// table per scenario under its name, description and settings, then the
// legend.
func Tables(r *results.Run) Document {
	var d Document
	for _, kt := range results.Knees(r) {
		d = append(d, markExternal(kneeTable(kt), r))
	}
	var shown []*Table
	tables := results.Summarize(r)
	if st := stackTable(r, tables); st != nil {
		shown = append(shown, st)
		d = append(d, st)
	}
	for _, t := range tables {
		st := scenarioTable(t, r.Reps)
		addUDPColumns(r, t, st) // udp.go
		st = markExternal(addVsC(st, t, r), r)
		shown = append(shown, st)
		d = append(d, st)
	}
	if len(shown) == 0 {
		return d
	}
	return append(d, Paragraph{Spans: []Span{{Text: Legend(shown...)}}, Wrap: true})
}

// SyscallsLegend explains the sys/msg column, in runs that have it.
const SyscallsLegend = "sys/msg is the server's own system calls (readiness waits, accepts, reads, writes, " +
	"closes, io_uring submissions) over its whole life per verified reply, warm-up included, as the " +
	"hand-written event loops count them (select, poll, epoll, epoll-pool, io_uring; - where an " +
	"architecture does not count them)."

// hasSyscalls reports whether any row of t has a system-call count.
func hasSyscalls(t results.Table) bool {
	return slices.ContainsFunc(t.Rows, func(r results.Row) bool { return !math.IsNaN(r.SyscallsPerMsg.Median) })
}

func kneeTable(kt results.KneeTable) *Table {
	t := &Table{
		Title:  fmt.Sprintf("Knee of %s: the highest achieved rate that kept up with the offered rate with p99 under %s and no errors", kt.Sweep, fmtMicros(kt.SLO)),
		Header: []string{"arch", "saturation msg/s", "knee msg/s", "knee/saturation", "p99 at knee", "step"},
		Align:  []Align{Left, Right, Right, Right, Right, Left},
	}
	for _, k := range kt.Rows {
		cells := []string{k.Arch, "-", "-", "-", "-", "none under the SLO"}
		if !math.IsNaN(k.Saturation) {
			cells[1] = fmtCount(k.Saturation)
		}
		if !math.IsNaN(k.Knee) {
			cells[2], cells[4], cells[5] = fmtCount(k.Knee), fmtMicros(k.P99), k.Step
			if k.Saturation > 0 {
				cells[3] = fmt.Sprintf("%.0f%%", 100*k.Knee/k.Saturation)
			}
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// scenarioTable is one scenario's table: a row per architecture, best
// first; columns for large messages (MB/s), idle connections and notes
// only where the scenario has them.
func scenarioTable(t results.Table, reps int) *Table {
	sc := t.Scenario
	out := &Table{Title: sc.Name, Intro: sc.Description, Detail: settingsText(sc, full, noSweep, reps),
		Empty: "(no architecture ran this scenario)"}
	vs := "vs best"
	if t.OpenLoop {
		vs = "vs target"
	}
	header := []string{"arch", "tier", "msg/s", "CV", "p50", "p99", "p99.9", "errors", "CPU-s/M", "RSS", vs}
	if t.OpenLoop {
		header = slices.Insert(header, 5, "p90") // what the rows that keep up are ranked by
	}
	noisyCol := func(f func(results.Row) results.Stat) bool {
		return slices.ContainsFunc(t.Rows, func(r results.Row) bool { return f(r).Noisy() })
	}
	cols := []struct {
		stat func(results.Row) results.Stat
		fmt  func(float64) string
	}{
		{func(r results.Row) results.Stat { return r.MsgS }, fmtCount},
		{func(r results.Row) results.Stat { return r.P50 }, fmtMicros},
		{func(r results.Row) results.Stat { return r.P99 }, fmtMicros},
		{func(r results.Row) results.Stat { return r.P999 }, fmtMicros},
		{func(r results.Row) results.Stat { return r.CPUPerM }, fmtCPU},
		{func(r results.Row) results.Stat { return r.RSS }, fmtBytes},
		{func(r results.Row) results.Stat { return r.SyscallsPerMsg }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
		{func(r results.Row) results.Stat { return r.P90 }, fmtMicros},
	}
	const p90Col = 7
	marked := make([]bool, len(cols))
	for i, c := range cols {
		marked[i] = noisyCol(c.stat)
	}
	dirty := slices.ContainsFunc(t.Rows, func(r results.Row) bool { return latencyDirty(r) })
	cell := func(i int, r results.Row) string {
		s := cols[i].stat(r)
		v := "-"
		if !math.IsNaN(s.Median) {
			v = cols[i].fmt(s.Median)
		}
		switch i {
		case 0:
			v += fmtHalfWidth(s.Median, r.MsgSCI)
		case p90Col:
			v += fmtHalfWidth(s.Median, r.P90CI)
		}
		// Latencies of a dirty row carry the dagger; in a column that has
		// one, the others are padded after any noisy mark so the numbers
		// stay aligned.
		pad := ""
		if (i >= 1 && i <= 3 || i == p90Col) && dirty {
			if latencyDirty(r) && v != "-" {
				v += dirtyMark
			} else {
				pad = " "
			}
		}
		switch {
		case s.Noisy():
			return v + " " + noisyMark + pad
		case marked[i]:
			return v + strings.Repeat(" ", 1+len(noisyMark)) + pad
		}
		return v + pad
	}
	bulk := sc.Load.Size >= BulkSize
	idle := sc.Load.IdleConns > 0
	syscalls := hasSyscalls(t)
	sysAt := 9 // after CPU-s/M
	if t.OpenLoop {
		sysAt++
	}
	if syscalls {
		header = slices.Insert(header, sysAt, "sys/msg")
	}
	if bulk {
		header = slices.Insert(header, 3, "MB/s")
	}
	if idle {
		header = append(header, "idle held", "RSS/idle")
	}
	notes := slices.ContainsFunc(t.Rows, func(r results.Row) bool { return rowNotes(r) != "" })
	if notes {
		header = append(header, "notes")
	}
	for i, r := range t.Rows {
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
		switch {
		case t.OpenLoop && !math.IsNaN(r.Ratio):
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		case !t.OpenLoop && i == 0 && r.Tier > 0:
			ratio = "1.00" // the top-ranked row itself
		case !t.OpenLoop:
			ratio = fmtRatio(r.VsBest)
		}
		row := []string{r.Arch, fmtTier(r), cell(0, r), cv, cell(1, r), cell(2, r), cell(3, r), fmtErrors(r), cell(4, r), cell(5, r), ratio}
		if t.OpenLoop {
			row = slices.Insert(row, 5, cell(p90Col, r))
		}
		if syscalls {
			row = slices.Insert(row, sysAt, cell(6, r))
		}
		if bulk {
			mb := "-"
			if !math.IsNaN(r.MBps.Median) {
				mb = fmt.Sprintf("%.0f", r.MBps.Median)
			}
			row = slices.Insert(row, 3, mb)
		}
		if idle {
			held, per := "-", "-"
			if !math.IsNaN(r.IdleHeld.Median) {
				held = fmt.Sprintf("%.0f/%d", r.IdleHeld.Median, sc.Load.IdleConns)
			}
			if !math.IsNaN(r.RSSPerIdle) {
				per = fmtSignedBytes(r.RSSPerIdle)
			}
			row = append(row, held, per)
		}
		if notes {
			row = append(row, rowNotes(r))
		}
		out.Rows = append(out.Rows, row)
	}
	out.Notes = append(out.Notes, steadinessNote(t)...)
	out.Header = header
	out.Align = []Align{Left}
	for range header[1:] {
		out.Align = append(out.Align, Right)
	}
	if notes {
		out.Align[len(out.Align)-1] = Left
	}
	return out
}

func rowNotes(r results.Row) string {
	var n []string
	if r.Crashes > 0 {
		n = append(n, fmt.Sprintf("crash %d/%d", r.Crashes, r.Runs))
	}
	if r.Hangs > 0 {
		n = append(n, fmt.Sprintf("hang %d/%d", r.Hangs, r.Runs))
	}
	switch {
	case r.Unavailable != "":
		n = append(n, "unavailable here: "+r.Unavailable)
	case r.Failed > 0:
		n = append(n, fmt.Sprintf("no result %d/%d", r.Failed, r.Runs))
	}
	if r.ErrorKinds[loadgen.ErrMismatch] > 0 {
		n = append(n, "WRONG REPLIES")
	}
	if r.Starved > 0 {
		n = append(n, fmt.Sprintf("starved connections %d/%d (served %d of %d)", r.Starved, r.Measured, r.ConnsServed, r.Conns))
	}
	if r.Steady == results.Unsteady {
		n = append(n, fmt.Sprintf("unsteady %d/%d (%s)", r.Unsteady, r.Measured, r.SteadyWhy))
	}
	if r.SlowReplies > 0 || r.SlowErrors > 0 {
		n = append(n, fmt.Sprintf("slow clients: %d replies, %d errors", r.SlowReplies, r.SlowErrors))
	}
	return strings.Join(n, ", ")
}

// latencyDirty reports whether r's latencies leave out messages: load
// errors, or connections the server never served.
func latencyDirty(r results.Row) bool { return r.Errors > 0 || r.Starved > 0 }

// fmtTier is the tier, followed by uncleanMark for a row that is not clean.
func fmtTier(r results.Row) string {
	if r.Tier == 0 {
		return "-"
	}
	if !r.Clean() {
		return fmt.Sprintf("%d%s", r.Tier, uncleanMark)
	}
	return strconv.Itoa(r.Tier)
}

// fmtHalfWidth is " ±x%": the interval's half-width over the median, or
// "" when the interval is unknown.
func fmtHalfWidth(median float64, iv results.Interval) string {
	if iv.Unknown() || math.IsNaN(median) || median == 0 {
		return ""
	}
	hw := 100 * (iv.Hi - iv.Lo) / 2 / median
	if hw < 9.95 {
		return fmt.Sprintf(" ±%.1f%%", hw)
	}
	return fmt.Sprintf(" ±%.0f%%", hw)
}

// fmtRatio is "0.87 (0.80–0.95)": the ratio and its interval, or the
// ratio alone without one. (Parentheses, not brackets, which Markdown
// would need escaped.)
func fmtRatio(r results.Ratio) string {
	if math.IsNaN(r.Median) {
		return "-"
	}
	if r.CI.Unknown() {
		return fmt.Sprintf("%.2f", r.Median)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", r.Median, r.CI.Lo, r.CI.Hi)
}

// steadinessNote names the rows whose steadiness could not be judged.
func steadinessNote(t results.Table) []string {
	var unknown []string
	measured := 0
	for _, r := range t.Rows {
		if r.Measured == 0 {
			continue
		}
		measured++
		if r.Steady == results.SteadyUnknown {
			unknown = append(unknown, r.Arch)
		}
	}
	switch {
	case len(unknown) == 0:
		return nil
	case len(unknown) == measured:
		return []string{fmt.Sprintf("Steady state unknown: fewer than %d full measured seconds per repetition.", results.MinSteadySeconds)}
	}
	return []string{fmt.Sprintf("Steady state unknown for %s: fewer than %d full measured seconds.", strings.Join(unknown, ", "), results.MinSteadySeconds)}
}

func fmtErrors(r results.Row) string {
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

// errorKinds lists the kinds with a count, largest first, mismatches first of all.
func errorKinds(m map[string]int64) []string {
	var kinds []string
	for k, v := range m {
		if v > 0 {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if (a == loadgen.ErrMismatch) != (b == loadgen.ErrMismatch) {
			if a == loadgen.ErrMismatch {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return kinds
}

// NewComparisonReporter writes results.Compare's result: first how the
// runs' environments and repetitions differ, then one row per scenario and
// architecture, each change as new over old with its 95% bootstrap
// interval, "~" where no significant difference was found, then the
// scenarios left out as not comparable and the settings that differ.
func NewComparisonReporter(c results.Comparisons) Reporter {
	var doc Document
	if len(c.Env) > 0 {
		diffs := make(List, len(c.Env))
		for i, d := range c.Env {
			diffs[i] = fmt.Sprintf("%s: %s (old), %s (new)", d.Name, d.Old, d.New)
		}
		doc = append(doc, Paragraph{Spans: []Span{{Text: "The runs differ in environment or repetitions:"}}}, diffs)
	}
	doc = append(doc, comparisonTable(c.Rows))
	if len(c.NotComparable) > 0 {
		left := make(List, len(c.NotComparable))
		for i, m := range c.NotComparable {
			left[i] = fmt.Sprintf("%s: not comparable: %s differ", m.Scenario, strings.Join(m.Settings, ", "))
		}
		doc = append(doc, left)
	}
	return doc.WriteText
}

func comparisonTable(cs []results.Comparison) *Table {
	t := &Table{
		Header: []string{"scenario", "arch", "msg/s old", "msg/s new", "msg/s new/old", "p99 old", "p99 new", "p99 new/old"},
		Align:  []Align{Left, Left, Right, Right, Right, Right, Right, Right},
	}
	minN := math.MaxInt
	ext := false
	for _, c := range cs {
		arch := c.Arch
		if c.External {
			arch += ExternalMark
			ext = true
		}
		t.Rows = append(t.Rows, []string{c.Scenario, arch,
			fmtCount(c.MsgS.Old.Median), fmtCount(c.MsgS.New.Median), fmtChange(c.MsgS),
			fmtMicros(c.P99.Old.Median), fmtMicros(c.P99.New.Median), fmtChange(c.P99)})
		minN = min(minN, c.MsgS.Old.N, c.MsgS.New.N)
	}
	if ext {
		t.Notes = append(t.Notes, strings.TrimSpace(ExternalMark)+": an external server, run from its command (results.json external).")
	}
	t.Notes = append(t.Notes, fmt.Sprintf("new/old: the ratio of the medians across repetitions with its 95%% bootstrap "+
		"interval (the tiers' method, results/doc.go); ~ = no significant difference: the interval includes 1 "+
		"or the ratio is within %.0f%% of 1.", 100*results.MinEffect))
	switch {
	case minN < 2:
		t.Notes = append(t.Notes, "With one repetition on a side there is no interval and nothing can be significant. "+
			"Run both with --reps 3 or more.")
	case minN < 5:
		t.Notes = append(t.Notes, fmt.Sprintf("With %d repetitions a side the interval is about the ratio of the ranges: "+
			"a weak test. Run both with --reps 5 or more to trust a change.", minN))
	}
	return t
}

func fmtChange(c results.Change) string {
	switch {
	case math.IsNaN(c.Ratio.Median):
		return "n/a"
	case !c.Significant():
		return "~ " + fmtRatio(c.Ratio)
	default:
		return fmtRatio(c.Ratio)
	}
}
