package results

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"

	"github.com/montanaflynn/stats"
)

// NoisyCV is the coefficient of variation across repetitions above which a
// table cell is marked noisy.
const NoisyCV = 0.10

// Stat is one metric across the repetitions of a scenario on an architecture.
type Stat struct {
	Median float64
	// CV is the sample standard deviation over the mean (NaN with fewer
	// than two values or a zero mean).
	CV float64
	N  int
}

// Noisy reports whether the CV exceeds NoisyCV.
func (s Stat) Noisy() bool { return s.N >= 2 && !math.IsNaN(s.CV) && s.CV > NoisyCV }

func newStat(v []float64) Stat {
	s := Stat{N: len(v), Median: math.NaN(), CV: math.NaN()}
	if len(v) == 0 {
		return s
	}
	s.Median, _ = stats.Median(v)
	if len(v) >= 2 {
		mean, _ := stats.Mean(v)
		sd, _ := stats.StandardDeviationSample(v)
		if mean != 0 {
			s.CV = sd / math.Abs(mean)
		}
	}
	return s
}

// Row is one architecture in a scenario's table.
type Row struct {
	Arch string
	Runs int // repetitions attempted
	// Measured counts the repetitions with a load result.
	Measured int

	MsgS, P50, P90, P99, P999 Stat
	CPUPerM                   Stat // server CPU seconds per million verified messages
	// SyscallsPerMsg is the server's own system calls over its whole life
	// (Stats.Syscalls, where the architecture counts them) per verified
	// reply, warm-up included; NaN median where it does not count them.
	SyscallsPerMsg Stat
	RSS            Stat // server peak RSS, bytes

	MBps   Stat    // payload MB (1e6 bytes) per second, each way
	Target float64 // open loop: median offered rate (each architecture's own in a rate sweep)

	// Idle connections (Load.IdleConns > 0): how many the server still held
	// at the end, and its peak RSS over the baseline scenario's (same
	// settings, no idle connections) per held connection, in bytes (NaN
	// without a baseline).
	IdleHeld   Stat
	RSSPerIdle float64

	// Slow connections (Load.SlowConns > 0): replies verified and errors
	// on them over every repetition (not in Errors).
	SlowReplies, SlowErrors int64

	Errors     int64            // all load errors over every repetition
	ErrorKinds map[string]int64 // by kind, over every repetition
	Ratio      float64          // MsgS.Median over the table's highest (VsBest is over the top-ranked row's), or over the target rate in an open loop (NaN if unmeasured)

	Crashes, Hangs, Failed int // repetitions whose server crashed, hung, or that have no load result
	// Unavailable is why the architecture cannot run on this machine, as
	// its server said (Failed counts those repetitions too); "" if it ran.
	Unavailable string

	// MsgSCI, P90CI and P99CI are the bootstrap intervals of MsgS.Median,
	// P90.Median and P99.Median (unknown with fewer than two repetitions;
	// doc.go).
	MsgSCI, P90CI, P99CI Interval
	// VsBest is msg/s over the top-ranked row's, with its bootstrap
	// interval (closed loops; NaN median in open loops).
	VsBest Ratio
	// Tier is the row's tier, 1 the best (doc.go); 0 when unranked
	// (nothing measured).
	Tier int

	// Conns is the connections the load asked for; ConnsServed the fewest
	// a repetition saw served (0 = not recorded, which is not starved);
	// Starved the repetitions that served fewer than Conns.
	Conns, ConnsServed, Starved int
	// Steady is the row's steadiness (SteadinessOf each repetition):
	// Unsteady if any repetition was, else SteadyUnknown if any could not
	// be judged, else Steady. Unsteady counts those repetitions and
	// SteadyWhy gives the first one's reason.
	Steady    Steadiness
	Unsteady  int
	SteadyWhy string

	// The repetitions' msg/s and p90 (µs), for the bootstrap and the
	// ranking.
	msgs, p90s []float64
}

// Clean reports whether every repetition ran without load errors, crashes
// or hangs and served every connection (as far as recorded). Rows that are
// not clean are ranked after every clean row.
func (r Row) Clean() bool {
	return r.Errors == 0 && r.Crashes == 0 && r.Hangs == 0 && r.Starved == 0
}

// Table is one scenario's rows, ranked (see rank and doc.go: clean rows
// first, then by their metric), each with its tier.
type Table struct {
	Scenario Scenario
	Rows     []Row
	// OpenLoop tables rank the rows that reach 95% of the target rate by
	// p90 (RankLatency), then the others by msg/s; closed-loop tables rank
	// by msg/s.
	OpenLoop bool
}

// KeepsUp is the share of the target rate an open-loop row must reach to be
// ranked by latency.
const KeepsUp = 0.95

// Summarize computes one table per scenario from r alone.
func Summarize(r *Run) []Table {
	var out []Table
	for _, sc := range r.Scenarios {
		t := Table{Scenario: sc, OpenLoop: sc.OpenLoop()}
		for _, arch := range archOrder(r, sc.Name) {
			t.Rows = append(t.Rows, summarizeRow(r, sc.Name, arch))
		}
		rank(&t)
		out = append(out, t)
	}
	idleBaselines(out)
	return out
}

// idleBaselines fills RSSPerIdle in the tables of scenarios with idle
// connections from a baseline table: the same settings without them.
func idleBaselines(ts []Table) {
	key := func(sc Scenario) string {
		l, s := sc.Load, sc.Server
		l.IdleConns, l.Addr, l.Seed = 0, "", 0
		s.Addr, s.Logger = "", nil
		b, _ := json.Marshal(struct{ S, L any }{s, l})
		return string(b)
	}
	base := map[string]Table{}
	for _, t := range ts {
		if t.Scenario.Load.IdleConns == 0 && t.Scenario.Sweep == nil {
			if _, dup := base[key(t.Scenario)]; !dup {
				base[key(t.Scenario)] = t
			}
		}
	}
	for i := range ts {
		t := &ts[i]
		if t.Scenario.Load.IdleConns == 0 {
			continue
		}
		b, ok := base[key(t.Scenario)]
		for j := range t.Rows {
			r := &t.Rows[j]
			r.RSSPerIdle = math.NaN()
			if !ok {
				continue
			}
			if br, found := b.Row(r.Arch); found {
				r.RSSPerIdle = IdleRSSPerConn(r.RSS.Median, br.RSS.Median, r.IdleHeld.Median)
			}
		}
	}
}

// IdleRSSPerConn is the server memory each held idle connection costs:
// the peak RSS with them less the baseline's peak RSS (same load without
// them), over the number held; NaN when none was held or a value is missing.
func IdleRSSPerConn(peak, baseline, held float64) float64 {
	if math.IsNaN(peak) || math.IsNaN(baseline) || math.IsNaN(held) || held <= 0 {
		return math.NaN()
	}
	return (peak - baseline) / held
}

// Row is arch's row, if arch measured anything in the scenario.
func (t Table) Row(arch string) (Row, bool) {
	for _, r := range t.Rows {
		if r.Arch == arch {
			return r, r.Measured > 0
		}
	}
	return Row{}, false
}

// archOrder lists the architectures that have samples in scenario, in
// r.Archs order and then in order of appearance.
func archOrder(r *Run, scenario string) []string {
	var seen []string
	for _, s := range r.Samples {
		if s.Scenario == scenario && !slices.Contains(seen, s.Arch) {
			seen = append(seen, s.Arch)
		}
	}
	var out []string
	for _, a := range r.Archs {
		if slices.Contains(seen, a) {
			out = append(out, a)
		}
	}
	for _, a := range seen {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func summarizeRow(r *Run, scenario, arch string) Row {
	row := Row{Arch: arch, ErrorKinds: map[string]int64{}, RSSPerIdle: math.NaN()}
	var msgs, p50, p90, p99, p999, cpu, rss, mbps, targets, held, sys []float64
	for _, s := range r.Samples {
		if s.Scenario != scenario || s.Arch != arch {
			continue
		}
		row.Runs++
		switch s.Exit {
		case ExitCrash:
			row.Crashes++
		case ExitHang:
			row.Hangs++
		}
		if s.Result == nil {
			row.Failed++
			if s.Unavailable != "" {
				row.Unavailable = s.Unavailable
			}
			continue
		}
		res := s.Result
		row.Measured++
		row.Conns = res.Config.Conns
		if n := res.ConnsServed; n > 0 { // 0: not recorded (results from before conns_served)
			if row.ConnsServed == 0 || n < row.ConnsServed {
				row.ConnsServed = n
			}
			if n < res.Config.Conns {
				row.Starved++
			}
		}
		switch st, why := SteadinessOf(res); {
		case st == Unsteady:
			if row.Unsteady == 0 {
				row.SteadyWhy = why
			}
			row.Unsteady++
			row.Steady = Unsteady
		case st == SteadyUnknown && row.Steady != Unsteady:
			row.Steady = SteadyUnknown
		case row.Steady == "":
			row.Steady = Steady
		}
		msgs = append(msgs, res.RPS)
		mb := res.MBps
		if mb == 0 { // results written before mb_per_s was filled in
			mb = res.RPS * float64(res.Config.Size) / 1e6
		}
		mbps = append(mbps, mb)
		if res.TargetRPS > 0 {
			targets = append(targets, res.TargetRPS)
		}
		if sd := res.Side; sd != nil {
			if sd.Idle != nil {
				held = append(held, float64(sd.Idle.Held))
			}
			if sd.Slow != nil {
				row.SlowReplies += sd.Slow.Replies
				for _, v := range sd.Slow.Errors {
					row.SlowErrors += v
				}
			}
		}
		for k, v := range res.Errors {
			if v != 0 {
				row.ErrorKinds[k] += v
				row.Errors += v
			}
		}
		if res.Requests > 0 {
			p50 = append(p50, res.Latency.P50)
			p90 = append(p90, res.Latency.P90)
			p99 = append(p99, res.Latency.P99)
			p999 = append(p999, res.Latency.P999)
			cpu = append(cpu, s.ServerCPU/float64(res.Requests)*1e6)
		}
		if st, n := s.ServerStats, res.Requests+res.WarmupRequests; st != nil && st.Syscalls > 0 && n > 0 {
			sys = append(sys, float64(st.Syscalls)/float64(n))
		}
		if s.ServerPeakRSS > 0 {
			rss = append(rss, float64(s.ServerPeakRSS))
		}
	}
	row.MsgS, row.P50, row.P90, row.P99, row.P999 = newStat(msgs), newStat(p50), newStat(p90), newStat(p99), newStat(p999)
	row.CPUPerM, row.RSS, row.SyscallsPerMsg = newStat(cpu), newStat(rss), newStat(sys)
	row.MBps, row.IdleHeld = newStat(mbps), newStat(held)
	row.Target = newStat(targets).Median
	row.msgs, row.p90s = msgs, p90
	row.MsgSCI, row.P90CI, row.P99CI = MedianCI(msgs, Seed), MedianCI(p90, Seed), MedianCI(p99, Seed)
	if row.Steady == "" {
		row.Steady = SteadyUnknown
	}
	return row
}

// group is a row's place in the ranking before its metric: clean rows
// first, then, in an open loop, those that keep up with the target; rows
// measured nothing come last. Rows of different groups are never in the
// same tier.
type group struct {
	measured, clean, keepsUp bool
}

func (g group) order() int {
	o := 0
	if !g.measured {
		o += 4
	}
	if !g.clean {
		o += 2
	}
	if !g.keepsUp {
		o++
	}
	return o
}

// ranking is what rank computed for a table: each row's group and the
// values its rank within that group comes from.
type ranking struct {
	t      *Table
	target func(Row) float64
}

func (k ranking) group(r Row) group {
	g := group{measured: !math.IsNaN(r.MsgS.Median), clean: r.Clean()}
	g.keepsUp = k.t.OpenLoop && g.measured && r.MsgS.Median >= KeepsUp*k.target(r) && !math.IsNaN(r.P90.Median)
	return g
}

// values are the repetitions a row is ranked by within its group, and
// whether lower is better: p90 (RankLatency) for open-loop rows that keep
// up, msg/s otherwise.
func (k ranking) values(r Row) (v []float64, lowerBetter bool) {
	if k.group(r).keepsUp {
		return r.p90s, true
	}
	return r.msgs, false
}

// vs is row a against row b on the group's metric (a's values over b's).
func (k ranking) vs(a, b Row) Ratio {
	va, _ := k.values(a)
	vb, _ := k.values(b)
	return CompareMedians(va, vb, Seed)
}

func newRanking(t *Table) ranking {
	// An open loop's msg/s is compared with its target: the scenario's
	// rate, or in a rate sweep the rate each architecture was offered.
	return ranking{t: t, target: func(r Row) float64 {
		if t.Scenario.Load.Rate > 0 {
			return t.Scenario.Load.Rate
		}
		return r.Target
	}}
}

// rank sorts t's rows (groups in order, then by their metric, ties in run
// order), sets Ratio and VsBest, and assigns tiers: each group's rows are
// split as Scott-Knott does (split; doc.go, "Tiers").
func rank(t *Table) {
	k := newRanking(t)
	best := math.NaN()
	for _, r := range t.Rows {
		if !math.IsNaN(r.MsgS.Median) && (math.IsNaN(best) || r.MsgS.Median > best) {
			best = r.MsgS.Median
		}
	}
	for i := range t.Rows {
		r := &t.Rows[i]
		r.Ratio = math.NaN()
		switch {
		case t.OpenLoop && k.target(*r) > 0:
			r.Ratio = r.MsgS.Median / k.target(*r)
		case !t.OpenLoop && best > 0:
			r.Ratio = r.MsgS.Median / best
		}
	}
	slices.SortStableFunc(t.Rows, func(a, b Row) int {
		ga, gb := k.group(a), k.group(b)
		if c := cmp.Compare(ga.order(), gb.order()); c != 0 || !ga.measured {
			return c
		}
		if ga.keepsUp {
			return cmp.Compare(a.P90.Median, b.P90.Median)
		}
		return cmp.Compare(b.MsgS.Median, a.MsgS.Median)
	})
	for i := range t.Rows {
		r := &t.Rows[i]
		r.VsBest = Ratio{Median: math.NaN(), CI: unknownInterval}
		if !t.OpenLoop {
			r.VsBest = CompareMedians(r.msgs, t.Rows[0].msgs, Seed)
		}
	}
	tier := 0
	for start := 0; start < len(t.Rows); {
		g := k.group(t.Rows[start])
		end := start + 1
		for end < len(t.Rows) && k.group(t.Rows[end]) == g {
			end++
		}
		if g.measured {
			for _, seg := range k.split(t.Rows[start:end]) {
				tier++
				for i := range seg {
					seg[i].Tier = tier
				}
			}
		}
		start = end
	}
}

// split divides rows (one group, sorted best first) into tiers, as
// Scott-Knott does: of the cuts between neighbours, widest first (the
// between-group sum of squares of the log medians), the first whose two
// neighbours are Separated and whose two sides differ as groups by
// SplitEffect (CompareGroups) is kept, and each side is split again the
// same way; where no cut qualifies the rows are one tier (doc.go, "Tiers").
func (k ranking) split(rows []Row) [][]Row {
	if len(rows) < 2 {
		return [][]Row{rows}
	}
	logs := make([]float64, len(rows))
	for i, r := range rows {
		v, _ := k.values(r)
		m, _ := stats.Median(v)
		logs[i] = math.Log(math.Max(m, 1e-12))
	}
	mean := 0.0
	for _, l := range logs {
		mean += l
	}
	mean /= float64(len(logs))
	type candidate struct {
		at int
		ss float64
	}
	var cuts []candidate
	for c := 1; c < len(rows); c++ {
		var m1, m2 float64
		for _, l := range logs[:c] {
			m1 += l
		}
		for _, l := range logs[c:] {
			m2 += l
		}
		n1, n2 := float64(c), float64(len(rows)-c)
		m1, m2 = m1/n1, m2/n2
		cuts = append(cuts, candidate{c, n1*(m1-mean)*(m1-mean) + n2*(m2-mean)*(m2-mean)})
	}
	slices.SortStableFunc(cuts, func(a, b candidate) int { return cmp.Compare(b.ss, a.ss) })
	values := func(rs []Row) [][]float64 {
		var out [][]float64
		for _, r := range rs {
			v, _ := k.values(r)
			out = append(out, v)
		}
		return out
	}
	for _, c := range cuts {
		if !k.vs(rows[c.at], rows[c.at-1]).Separated() {
			continue // the rows on either side of the cut are not told apart
		}
		if gr := CompareGroups(values(rows[:c.at]), values(rows[c.at:]), Seed); gr.Separated() && math.Abs(math.Log(gr.Median)) >= splitEffect {
			return append(k.split(rows[:c.at]), k.split(rows[c.at:])...)
		}
	}
	return [][]Row{rows}
}

// Separation is what separates tier n from tier n+1 of a table: the first
// row of each and the ratio of their metric (the lower tier's over the
// upper's: msg/s, or p90 where both keep up in an open loop); ok false
// when the table has no tier n+1.
func (t Table) Separation(tier int) (upper, lower Row, ratio Ratio, metric string, ok bool) {
	k := newRanking(&t)
	ui, li := -1, -1
	for i, r := range t.Rows {
		if r.Tier == tier && ui < 0 {
			ui = i
		}
		if r.Tier == tier+1 && li < 0 {
			li = i
		}
	}
	if ui < 0 || li < 0 {
		return Row{}, Row{}, Ratio{}, "", false
	}
	upper, lower = t.Rows[ui], t.Rows[li]
	gu, gl := k.group(upper), k.group(lower)
	switch {
	case gu.clean != gl.clean:
		metric = "clean"
	case gu.keepsUp != gl.keepsUp:
		metric = "keeps up"
	case gu.keepsUp:
		return upper, lower, k.vs(lower, upper), RankLatency, true
	default:
		return upper, lower, k.vs(lower, upper), "msg/s", true
	}
	// Different groups: the ratio shown is msg/s's.
	return upper, lower, CompareMedians(lower.msgs, upper.msgs, Seed), metric, true
}

// RankLatency is the latency percentile open-loop rows that keep up are
// ranked and tiered by: p90, not p99, because on a shared 2-core machine
// the p99 of a 1-s open-loop run is not reproducible between server
// processes while p90 is (doc.go, "Ranking and tiers", gives the
// measurement). Every table still shows p99 and p99.9.
const RankLatency = "p90"

// SplitEffect is the smallest difference between two groups of rows that
// splits them into tiers: their medians' ratio must be at least this far
// from 1 (and its interval exclude 1). It is larger than MinEffect, which
// decides pairs, because a cut is chosen where the gap looks widest among
// many cuts; doc.go ("Tiers") gives the measurements behind the rule.
const SplitEffect = 0.10

var splitEffect = math.Log(1 + SplitEffect)
