// Package results is archbench's benchmark data and its statistics.
//
// A Run holds everything one `archbench run` measured: the machine and
// software (Env), each scenario's settings with defaults filled in, and one
// Sample per scenario, architecture and repetition (the load generator's
// Result, the server's CPU seconds and peak RSS, the generator's CPU, and
// how the server exited). Its JSON form (results.json, SchemaVersion) is the
// source of truth; everything else is computed from a Run alone:
//
//   - Summarize: one Table per scenario, a Row per architecture, ranked,
//     each in a tier; each metric a Stat (median across repetitions and its
//     coefficient of variation), msg/s and p99 with a bootstrap interval;
//   - Summaries: the same as results.json's "summary" verdicts;
//   - Pending: the cells whose further repetitions could change a ranking;
//   - Knees: the knee of each rate sweep, against the run's SLO;
//   - Compare: two runs, metric by metric, with the same bootstrap, only
//     scenarios with equal workload settings (Workload), the rest named as
//     not comparable, and the runs' environment differences.
//
// This package renders nothing: package report turns these into every
// output (the terminal tables, results.md, report.html, results.csv,
// results.bench.txt and compare's table).
//
// # Ranking and tiers
//
// Order. A table's rows fall into groups, in this order: rows that are
// clean (Row.Clean: no load errors, no crashed or hung server, every
// connection served where the load generator recorded it — a ConnsServed of
// 0 means not recorded, never starved), then the rest; within each, in an
// open loop, the rows that reach KeepsUp (95%) of their target rate before
// those that do not; rows that measured nothing last. Within a group, rows
// are sorted by the group's metric: p90 ascending for open-loop rows that
// keep up (RankLatency), msg/s descending otherwise (the median over
// repetitions; equal medians keep the run order).
//
// Why p90 and not p99 in an open loop, measured (open-1000c-20k, 5 server
// processes each of epoll, gnet, io_uring, goroutine and reuseport, runs of
// 0.5, 1 and 3 s, a quiet machine): the standard deviation of log(p99)
// across runs was 0.25-0.83 at 0.5 s, 0.26-0.42 at 1 s and 0.30-0.42 at
// 3 s (one architecture's p99 ranged 134-451 µs), so a longer run does not
// steady it: it is set by what else the machine did in the few
// milliseconds that make the slowest 1%. p90 varied 0.01-0.24 (mostly
// under 0.1). Ranked by p99, the five share one tier in every run and any
// order among them is noise; ranked by p90, tiers hold from run to run
// (scripts/tier-agreement.py: open-1000c-20k's pairs 15% apart in both
// runs that both put in different tiers rose from 62% to 92% over the
// same six runs). Tables still show p99 and p99.9, and the rate-sweep
// knee still uses the p99 SLO.
//
// Bootstrap. To compare rows A and B on a metric, their repetitions are
// resampled: Resamples (2000) times, A's values are drawn with replacement
// (as many as A has) and B's likewise, and the ratio median(A*)/median(B*)
// is recorded. The 95% interval is the 2.5th and 97.5th percentiles of the
// 2000 ratios (a percentile bootstrap). The random source is PCG seeded with
// Seed, so a run renders identically every time. With fewer than two
// repetitions on either side the interval is unknown.
//
// Separated. A and B are distinguishable (Ratio.Separated) when the
// interval excludes 1 AND the median ratio differs from 1 by at least
// MinEffect (5%). The interval guards against noise; the minimum effect
// against differences too small to matter on a shared machine, where 5% is
// about the run-to-run drift of an unchanged build. Tied (Ratio.Tied): the
// whole interval inside [0.95, 1.05]. Neither: Undecided — more
// repetitions could settle it (Pending).
//
// Tiers. Within each group (rows of different groups are never in one
// tier), the sorted rows are split as Scott-Knott does: the candidate cuts
// between neighbours are tried widest first (by the between-group sum of
// squares of the rows' log medians), and the first cut is kept where (1)
// the two rows on either side of it are Separated from each other, and (2)
// the two sides differ as groups (CompareGroups: a stratified bootstrap
// that resamples every row's repetitions and compares the median of the
// rows' medians above the cut with the one below; its interval must exclude
// 1 and its ratio be at least SplitEffect, 10%, from 1). Each side is then
// split again the same way; where no cut qualifies, the rows are one tier.
// Tiers are numbered from 1 down the table; rows that measured nothing get
// tier 0. A tier boundary therefore says: the rows just above and below it
// are distinguishable, and so are the groups it separates.
//
// Why both conditions, measured (issue 7; scripts/tier-agreement.py on
// three consecutive `make bench` runs, 12 architectures × 5 scenarios, 3-4
// repetitions of 1 s each, i.e. three pairs of runs): the check is (a) how
// many pairs of architectures two runs place in strictly ordered tiers in
// opposite orders, and (b) the share of pairs 15% apart (in both runs) that
// both runs put in different tiers.
//
//	rule                                               (a) per pair of runs   (b)
//	new tier when Separated from the tier's best row   3, -, -                85%
//	group split only (condition 2), 10%                0, 3, 2                88-94%
//	group split, neighbours 8% apart (no interval)     0, 0, 2                81-95%
//	new tier only where neighbours are Separated       0 (runs 1-2)           71%
//	group split and Separated neighbours (this one)    0, 0, 0                68-73%
//
// Only the last never contradicted itself between runs, so it is the rule:
// a printed tier order is one the measurements support. Its price is that
// about 30% of the pairs that differ by 15% share a tier at 3-4
// repetitions of 1-s runs on this noisy 2-core machine (run-to-run CV
// 10-25%, scripts/variance.sh). More repetitions narrow the intervals only
// as far as the machine holds still: two 18-minute runs did not split more
// (below).
//
// The limit, measured. Issue 7 asks for 80% on (b) with (a) at 0 and a run
// within 5 minutes. On this machine no rule found does both, and a longer
// budget does not change that:
//
//   - Real runs (scripts/tier-agreement.py). Ten pairs of five `make bench`
//     runs of 7 Dec 2026 (3-4 repetitions of 1 s per cell): (a) 0 in every
//     pair, (b) 70-78%, mean 74%. Two runs with --budget 18m --max-reps 16
//     (16 repetitions per cell, 876 server runs each): (a) 0, (b) 74%.
//     Over 18 minutes the machine drifts, so each cell's spread grew
//     (median CV 16-18%, against 10-14% in a 5-minute run) and conns-64's
//     ten clean designs stayed one tier in both runs.
//   - The noise is the machine's. conns-64's repetitions vary with a CV of
//     10-25% even pinned (server on CPU 0, load generator on CPU 1: the
//     one-thread epoll server measured 60k-95k msg/s over 4 runs of the
//     6 Dec pinned reference), and the C reference client against the C
//     reference server (../shared/yardstick) gave 78k-115k msg/s over five
//     3-s runs. scripts/variance.sh puts about half of a 1-s run's variance
//     between processes, where a longer run does not reach it.
//
// Simulation (TestTierSim in tiersim_test.go, run with TIERSIM set to
// result folders): pairs of `make bench` runs drawn from the repetitions of
// the five real ones (each cell's repetitions pooled, each run's drift
// common to all architectures removed, so it flatters longer budgets),
// open loops ranked by p90, 30 pairs of runs per line; the noise factors
// for shorter runs come from scripts/variance.sh's split of the variance:
//
//	variant                                            (b)    pairs of runs with (a) > 0
//	this rule, 4 repetitions of 1 s                    72%    0 of 30
//	this rule, 7 of 0.5 s (noise x1.22)                71%    1 of 30
//	this rule, 13 of 0.25 s (noise x1.55)              71%    1 of 30
//	this rule, 16 of 1 s (an 18-minute budget)         82%    0 of 30
//	this rule, 4 of 1 s at half this machine's noise   84%    0 of 30
//
// and, from three runs' pool with split changed accordingly:
//
//	neighbours one-sided 90%, widest gap first         72%    9 of 30
//	neighbours 8% apart (no interval), widest first    87%    21 of 30
//	group split only, widest gap first                 95%    29 of 30
//
// The reason is structural: conns-64's ten event-loop and thread designs
// form a continuum (about 87k down to 60k msg/s in steps under 10%). At
// 15-20% noise per repetition no neighbouring pair in it can be told apart
// with the repetitions a 5-minute budget allows, so its ends, 40% apart,
// share a tier; and a rule that cuts such a continuum anyway cuts between
// rows that the next run orders the other way, which is (a). This rule
// keeps (a) and gives up (b) where the machine cannot support an order. On
// a machine with half this one's run-to-run noise (isolated cores, no
// neighbours) the simulation says it would meet both.
//
// Intervals of one row. Each row's msg/s, p90 and p99 carry the same
// percentile bootstrap interval of the median of its repetitions
// (MedianCI).
//
// Limits with n = 3. The median of three resampled values is one of the
// three, so the interval of a median is essentially the range of the
// repetitions, and the interval of a ratio is about [minA/maxB, maxA/minB]:
// the test then amounts to "the ranges do not overlap and the medians are
// 5% apart". That is conservative (ranges of three overlap easily) but not
// a calibrated 95% test: the percentile bootstrap undercovers at small n,
// and three repetitions on a noisy machine can all land on one side by
// chance. Tiers are a reading aid at n = 3; run 5 or more repetitions
// (the runner's adaptive budget asks Pending which cells need them) before
// defending an order between neighbouring tiers.
//
// # Steady state
//
// SteadinessOf judges each repetition from its per-second series after the
// warm-up: only full seconds count; with fewer than MinSteadySeconds (3) it
// is "unknown", never "steady". It is unsteady on a stall (a second under
// StallShare, 10%, of the run's median per-second count while the median is
// above zero) or a trend (the mean of the last ⌊n/2⌋ seconds differs from
// the mean of the first ⌊n/2⌋ by more than TrendShare, 25%). A row is
// unsteady when any repetition is.
package results
