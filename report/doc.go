// Package report renders a finished run (results.Run, read from
// results.json) into every output archbench writes, and compare's table.
//
// Each output has one writer (a Reporter, or a Document method), and every
// table and text goes through one model: a Document is a list of blocks
// (Heading, Paragraph, List, *Table, FigureRef), built from the run once
// (runHeading, Verdict, Tables, the figure sections) and written as
//
//   - text for a terminal (Document.WriteText: `archbench run`'s stdout,
//     `archbench compare`);
//   - results.md (Document.WriteMarkdown);
//   - report.html (Document.WritePage): one self-contained page, inline
//     CSS and inline SVG, no scripts, no external resources;
//
// beside results.csv (NewCSVReporter, one row per repetition),
// results.bench.txt (NewBenchReporter, the Go benchmark format for
// benchstat) and the figures themselves as SVG and PNG under figures/.
// Write puts them all in a results folder; WriteRun adds results.json.
//
// results.md and report.html open with the Verdict: per scenario, the top
// tier, what separates it from the next (a ratio with its 95% bootstrap
// interval) and the rows to read with care; the tables and figures follow.
// Tiers, intervals and the marks (~ noisy, † latencies of a row with
// errors or starved connections, ! after the tier of a row that is not
// clean) come from package results; results/doc.go states the method.
//
// External servers (results.Run.External) carry ExternalMark, " (ext)",
// after their name in every table's arch column, with a note under the
// table; a run that includes the C baseline (CBaseline, c-epoll) gets a
// "vs C" column after vs best (or vs target) in every scenario table:
// each row's median msg/s over c-epoll's in that scenario.
//
// Everything is computed from the Run alone; nothing is measured again.
// Rendering is deterministic: the same results.json gives byte-identical
// results.md, report.html and figures.
//
// The figures:
//
//   - a latency percentile spectrum per scenario, in the manner of wrk2 and
//     HdrHistogram's plotter: x is the percentile on a log scale of
//     1/(1-p) (50%, 90%, 99%, 99.9%, ...), y the latency, one line per
//     architecture drawn from the HdrHistogram merged over its repetitions
//     (or, for a run stored without histograms, through the summary
//     percentiles, medians across repetitions);
//   - throughput against connections, for each connection sweep: scenarios
//     whose settings are equal except the number of connections;
//   - p99 against achieved rate, for each rate sweep: open-loop scenarios
//     whose settings are equal except the offered rate.
//
// The two sweep figures draw each median's 95% bootstrap interval as an
// error bar, and a point whose row had errors or starved connections as a
// hollow marker.
//
// A sweep ignores the load generator's own knobs that do not shape the
// workload (the server address, the per-operation timeout and the content
// seed). A rate sweep is either scenarios at explicit rates, or the steps
// of a suite's rate_sweep, which results.Scenario.Sweep names. A run
// without sweeps simply has no sweep figures.
package report
