package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"archbench/baselines"
	"archbench/loadgen"
	"archbench/report"
	"archbench/results"
	"archbench/runner"
	"archbench/scenarios"
	"archbench/servers"
)

func init() {
	register("run", "run a benchmark suite on every architecture and print the tables", runRun)
}

// runsDir is where `archbench run` writes its results unless --out says otherwise.
const runsDir = "results/runs"

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[--suite quick|full|FILE] [--arch a,b,...] [--external NAME=COMMAND]... [--budget D [--min-reps N] [--max-reps N] | --reps N] [--seed N] [--out DIR [--force]] [--server-cpus LIST] [--client-cpus LIST] [--slo D] [--threshold EXPR]...", stderr)
	var (
		suiteName, archList, out, serverCPUs, clientCPUs string
		reps, minReps, maxReps                           int
		seed                                             int64
		slo, budget                                      time.Duration
		thresholds                                       []loadgen.Threshold
		force                                            bool
		externals                                        []scenarios.External
	)
	fs.StringVar(&suiteName, "suite", scenarios.DefaultSuite, "embedded suite ("+strings.Join(scenarios.Names(), ", ")+") or a YAML file")
	fs.StringVar(&archList, "arch", "", "comma-separated architectures (default: all, see archbench list)")
	fs.IntVar(&reps, "reps", runner.DefaultReps, "repetitions of each scenario on each architecture: a fixed design, unless --budget is given too (then the minimum)")
	fs.DurationVar(&budget, "budget", 0, "time budget: after --min-reps repetitions of every scenario x architecture, repeat those that decide the ranking until resolved or the budget is spent (default: the suite's budget, none for --reps alone; 0 = a fixed design)")
	fs.IntVar(&minReps, "min-reps", runner.MinAdaptiveReps, "with a budget: repetitions of every scenario x architecture before the adaptive ones (at least 3)")
	fs.IntVar(&maxReps, "max-reps", runner.DefaultMaxReps, "with a budget: the most repetitions of one scenario x architecture")
	fs.Int64Var(&seed, "seed", 0, "seed of the shuffled run order, recorded in results.json (default: derived from the start time)")
	fs.StringVar(&out, "out", "", "results directory (default "+runsDir+"/<UTC time>-<suite>-<random>)")
	fs.BoolVar(&force, "force", false, "with --out: clear a results directory that already holds files")
	fs.StringVar(&serverCPUs, "server-cpus", "", "pin the server processes to these CPUs, e.g. 0 or 0-1 (default unpinned)")
	fs.StringVar(&clientCPUs, "client-cpus", "", "pin the load generator to these CPUs, e.g. 1 (default unpinned)")
	fs.DurationVar(&slo, "slo", results.DefaultSLO, "p99 objective of a rate sweep's knee (the highest rate whose p99 stays under it)")
	fs.Var(thresholdsFlag{&thresholds}, "threshold", thresholdHelp)
	fs.Var(externalFlag{&externals}, "external", externalHelp)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if slo <= 0 {
		return usagef("run: --slo %v: want a positive duration such as 1ms", slo)
	}
	if reps < 1 {
		return usagef("run: --reps %d: want at least 1", reps)
	}
	if budget < 0 {
		return usagef("run: --budget %v: want a positive duration such as 4m30s, or 0 for a fixed design", budget)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	archs := servers.Names()
	if archList != "" {
		archs = nil
		for _, a := range strings.Split(archList, ",") {
			a = strings.TrimSpace(a)
			if _, err := servers.Lookup(a); err != nil {
				return usagef("run: --arch: unknown architecture %q (one of: %s)", a, strings.Join(servers.Names(), ", "))
			}
			if !slices.Contains(archs, a) {
				archs = append(archs, a)
			}
		}
	}
	var cpus [2][]int
	for i, f := range []struct{ name, v string }{{"server-cpus", serverCPUs}, {"client-cpus", clientCPUs}} {
		if f.v == "" {
			continue
		}
		c, err := runner.ParseCPUList(f.v)
		if err == nil {
			err = runner.CheckCPUs(c)
		}
		if err != nil {
			return usagef("run: --%s: %v", f.name, err)
		}
		cpus[i] = c
	}
	suite, err := scenarios.Open(suiteName)
	if err != nil {
		return usagef("run: --suite: %v", err)
	}
	var extNames []string
	for _, x := range externals {
		extNames = append(extNames, x.Name)
	}
	if err := suite.Validate(scenarios.Env{Archs: servers.Names(), MaxFDs: runner.FDLimit(), Externals: extNames, Baseline: baselines.Is}); err != nil {
		return usagef("run: %v", err)
	}
	ext, err := externalServers(suite, externals)
	if err != nil {
		return err
	}
	if archList == "" {
		if named := suiteArchs(suite); named != nil {
			archs = named // every scenario names its servers: run just those
		}
	}
	for _, x := range ext {
		if !slices.Contains(archs, x.Name) {
			archs = append(archs, x.Name)
		}
	}
	// The design: --reps alone is a fixed one; --budget, or else the
	// suite's budget, makes the run adaptive with --reps or --min-reps as
	// its minimum.
	switch {
	case set["budget"]:
	case set["reps"]:
		budget = 0
	default:
		budget = suite.Budget
	}
	if budget > 0 {
		if set["reps"] && set["min-reps"] && reps != minReps {
			return usagef("run: --reps %d and --min-reps %d: with a budget both set the minimum; give one", reps, minReps)
		}
		if set["reps"] {
			minReps = reps
		}
		if minReps < runner.MinAdaptiveReps {
			return usagef("run: minimum repetitions %d: a run with a budget starts with at least %d of each scenario x architecture", minReps, runner.MinAdaptiveReps)
		}
		if maxReps < minReps {
			return usagef("run: --max-reps %d: below the minimum of %d repetitions", maxReps, minReps)
		}
		reps = minReps
	} else {
		for _, f := range []string{"min-reps", "max-reps"} {
			if set[f] {
				return usagef("run: --%s applies to a run with a budget (--budget D, or a suite with one); for a fixed design use --reps", f)
			}
		}
		maxReps = 0
	}
	// Fail on an unwritable or occupied results directory now, not after the run.
	if out == "" {
		if out, err = newRunDir(runsDir, suite.Name, time.Now()); err != nil {
			return usagef("run: results directory: %v", err)
		}
	} else if err := prepareOut(out, force); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, runErr := runner.Run(ctx, runner.Options{
		Suite:      suite,
		Archs:      archs,
		Reps:       reps,
		Budget:     budget,
		MaxReps:    maxReps,
		Seed:       seed,
		ServerCPUs: cpus[0],
		ClientCPUs: cpus[1],
		SLO:        slo,
		Progress:   stderr,
		External:   ext,
	})
	if run == nil {
		if errors.Is(runErr, runner.ErrOptions) {
			// Options that cannot run (no scenario applies to the
			// architectures asked for): nothing ran, a usage error.
			_ = os.Remove(out) // only if still empty
			return usagef("run: %v", runErr)
		}
		return fmt.Errorf("run: %w", runErr)
	}
	if err := report.WriteRun(out, run); err != nil {
		return fmt.Errorf("run: %w", errors.Join(runErr, err))
	}
	if err := report.NewTextReporter(run)(stdout); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	fmt.Fprintf(stderr, "archbench run: results in %s (%s, %s, %s, %s, %s, %s/)\n", out,
		results.FileJSON, results.FileMD, results.FileCSV, results.FileBench, report.FileHTML, report.DirFigures)
	if runErr != nil {
		return fmt.Errorf("run: %w", runErr)
	}
	if err := checkRunThresholds(stderr, run, thresholds); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// prepareOut makes out an empty results directory, before any load starts:
// one that already holds files is refused, unless force, which clears it.
func prepareOut(out string, force bool) error {
	entries, err := os.ReadDir(out)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return usagef("run: --out: %v", err)
	}
	if len(entries) > 0 {
		if !force {
			return usagef("run: --out %s already holds %d entries: choose an empty or new directory, or add --force to clear it", out, len(entries))
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				return usagef("run: --out: clearing: %v", err)
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usagef("run: --out: %v", err)
	}
	return nil
}

// newRunDir creates a new results directory under parent, named by the
// UTC time to the millisecond, the suite and a random suffix, and returns
// its path. The last element is created exclusively, so two runs that
// start at the same moment never share a directory.
func newRunDir(parent, suite string, now time.Time) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	stamp := now.UTC().Format("20060102T150405.000Z")
	for range 100 {
		dir := filepath.Join(parent, fmt.Sprintf("%s-%s-%06x", stamp, suite, rand.Uint32()&0xffffff))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, iofs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free name for %s-%s under %s", stamp, suite, parent)
}
