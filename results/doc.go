// Package results is archbench's benchmark data and its rendering.
//
// A Run holds everything one `archbench run` measured: the machine and
// software (Env), each scenario's settings with defaults filled in, and one
// Sample per scenario, architecture and repetition (the load generator's
// Result, the server's CPU seconds and peak RSS, the generator's CPU, and
// how the server exited). Its JSON form (results.json, SchemaVersion) is the
// source of truth; everything else is rendered from a Run alone:
//
//   - WriteTables / WriteMarkdown: one table per scenario (tablewriter),
//     architectures best first, medians across repetitions with their
//     coefficient of variation, a "~" on cells whose CV exceeds 10%;
//   - WriteCSV: one row per repetition;
//   - WriteBench: the Go benchmark format, BenchmarkEcho/scenario=S/arch=A
//     lines with Unit metadata, for `benchstat -col /arch`;
//   - Compare: two runs, metric by metric, with a Mann-Whitney U test.
package results
