// Package results is archbench's benchmark data and its statistics.
//
// A Run holds everything one `archbench run` measured: the machine and
// software (Env), each scenario's settings with defaults filled in, and one
// Sample per scenario, architecture and repetition (the load generator's
// Result, the server's CPU seconds and peak RSS, the generator's CPU, and
// how the server exited). Its JSON form (results.json, SchemaVersion) is the
// source of truth; everything else is computed from a Run alone:
//
//   - Summarize: one Table per scenario, a Row per architecture, best
//     first, each metric a Stat (median across repetitions and its
//     coefficient of variation);
//   - Knees: the knee of each rate sweep, against the run's SLO;
//   - Compare: two runs, metric by metric, with a Mann-Whitney U test.
//
// This package renders nothing: package report turns these into every
// output (the terminal tables, results.md, report.html, results.csv,
// results.bench.txt and compare's table).
package results
