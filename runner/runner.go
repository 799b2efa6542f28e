package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"archbench/loadgen"
	"archbench/results"
	"archbench/scenarios"
	"archbench/servers"
)

// Defaults for Options' zero values.
const (
	DefaultReps = 3
	// MinAdaptiveReps is the fewest repetitions per cell a run with a
	// budget starts with (Options.Reps, the minimum, is at least this).
	MinAdaptiveReps = 3
	// DefaultMaxReps bounds a cell's repetitions in a run with a budget.
	DefaultMaxReps      = 10
	DefaultStartTimeout = 10 * time.Second
	// DefaultStopGrace bounds a server's exit after SIGTERM: `archbench
	// serve` stops within its 4 s shutdown grace, so 6 s means a hang.
	DefaultStopGrace = 6 * time.Second
)

// ErrOptions: Options that cannot run.
var ErrOptions = errors.New("runner: bad options")

// ErrNoSaturation: a rate-sweep step could not run because its saturation
// run measured nothing.
var ErrNoSaturation = errors.New("runner: no saturation rate")

// Options is one `archbench run`.
type Options struct {
	// Suite is the scenarios to run, already validated.
	Suite *scenarios.Suite
	// Archs are the architectures, in the order each repetition starts
	// with (later repetitions rotate it).
	Archs []string
	// Reps is how many times each scenario runs on each architecture (0 =
	// 3); with a Budget, the minimum (at least MinAdaptiveReps).
	Reps int
	// Budget, if positive, makes the run adaptive: after Reps repetitions
	// of every cell (scenario × architecture), each round gives one more
	// repetition to every cell that Pending lists, until none is pending,
	// each has MaxReps, or the next repetition would not fit in the
	// budget (estimated from the repetitions measured so far). A
	// repetition that would not fit is not started, in the first phase
	// too. Rate sweeps are a fixed design: they run Reps whole sweeps and
	// get no extra repetitions. 0 = a fixed design of Reps repetitions.
	Budget time.Duration
	// MaxReps bounds a cell's repetitions when Budget is set (0 = DefaultMaxReps).
	MaxReps int
	// Seed seeds the shuffle of each round's order (0 = derived from the
	// start time); results.json records it, and the same seed gives the
	// same order for the same suite, architectures and repetitions.
	Seed int64
	// Pending lists the cells that need more repetitions (nil =
	// results.Pending); tests replace it.
	Pending func(*results.Run) []results.Cell
	// Now is the runner's clock for the budget, sample starts and wall
	// times (nil = time.Now); tests replace it.
	Now func() time.Time
	// Binary is the archbench executable started as `Binary serve ...`
	// ("" = this process's executable).
	Binary string
	// ServerCPUs and ClientCPUs pin the server processes and this process
	// (the load generator) to these CPUs (nil = unpinned).
	ServerCPUs, ClientCPUs []int
	// Progress receives one line per server run (nil = discard).
	Progress io.Writer
	// StartTimeout bounds the wait for the server's "listening on" line (0 = 10s).
	StartTimeout time.Duration
	// StopGrace bounds the server's exit after SIGTERM (0 = 6s).
	StopGrace time.Duration
	// SLO is the p99 objective that rate sweeps' knees are measured
	// against, recorded in the results (0 = results.DefaultSLO).
	SLO time.Duration
	// Load runs the load (nil = loadgen.Run); tests replace it.
	Load func(context.Context, loadgen.Config) (*loadgen.Result, error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Suite == nil || len(o.Suite.Scenarios) == 0 {
		return o, fmt.Errorf("%w: no scenarios", ErrOptions)
	}
	if len(o.Archs) == 0 {
		return o, fmt.Errorf("%w: no architectures", ErrOptions)
	}
	// Only the architectures that run a scenario of the suite: each
	// scenario runs on those that speak its protocol (and its archs:), so
	// the byte-protocol suites leave xmlrpc out and the results name only
	// the architectures measured.
	var runs []string
	for _, a := range o.Archs {
		if slices.ContainsFunc(o.Suite.Scenarios, func(sc scenarios.Scenario) bool { return sc.AppliesTo(a) }) {
			runs = append(runs, a)
		}
	}
	if len(runs) == 0 {
		return o, fmt.Errorf("%w: no scenario of suite %s runs on %s (a scenario runs on the architectures that speak its protocol and that its archs: lists)",
			ErrOptions, o.Suite.Name, strings.Join(o.Archs, ", "))
	}
	o.Archs = runs
	if o.Reps < 0 {
		return o, fmt.Errorf("%w: reps %d: want at least 1", ErrOptions, o.Reps)
	}
	if o.Reps == 0 {
		o.Reps = DefaultReps
	}
	if o.Budget < 0 {
		return o, fmt.Errorf("%w: budget %v: want a positive duration (or 0 for a fixed design)", ErrOptions, o.Budget)
	}
	if o.MaxReps < 0 {
		return o, fmt.Errorf("%w: max reps %d: want at least 1", ErrOptions, o.MaxReps)
	}
	if o.Budget > 0 {
		if o.Reps < MinAdaptiveReps {
			return o, fmt.Errorf("%w: reps %d: a run with a budget starts with at least %d repetitions", ErrOptions, o.Reps, MinAdaptiveReps)
		}
		if o.MaxReps == 0 {
			o.MaxReps = max(DefaultMaxReps, o.Reps)
		}
		if o.MaxReps < o.Reps {
			return o, fmt.Errorf("%w: max reps %d below the minimum %d", ErrOptions, o.MaxReps, o.Reps)
		}
	} else {
		o.MaxReps = o.Reps
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Seed == 0 {
		o.Seed = o.Now().UnixNano()
	}
	if o.Pending == nil {
		o.Pending = results.Pending
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("%w: cannot find the archbench executable: %w", ErrOptions, err)
		}
		o.Binary = exe
	}
	if st, err := os.Stat(o.Binary); err != nil || st.IsDir() {
		return o, fmt.Errorf("%w: server binary %q is not a file", ErrOptions, o.Binary)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.Load == nil {
		o.Load = loadgen.Run
	}
	for _, c := range [][]int{o.ServerCPUs, o.ClientCPUs} {
		if err := CheckCPUs(c); err != nil {
			return o, fmt.Errorf("%w: %w", ErrOptions, err)
		}
	}
	return o, nil
}

// job is one server run: a scenario on an architecture, one repetition.
type job struct {
	sc   *scenarios.Scenario
	name string // the results' scenario name (a rate sweep's runs have their own)
	arch string
	rep  int
	// A rate sweep's run: step says which; sat is the saturation rate that
	// the sweep's first run (step.Fraction 0) measures for the later ones.
	step *results.SweepStep
	sat  *float64
}

// repetition is one repetition of a cell (sc on arch): one run, or a rate
// sweep's saturation run then each of its steps, back to back. The budget
// is checked before a repetition, never inside one.
func repetition(sc *scenarios.Scenario, arch string, rep int) []job {
	if sc.RateSweep == nil {
		return []job{{sc: sc, name: sc.Name, arch: arch, rep: rep}}
	}
	sat := new(float64)
	var jobs []job
	for _, f := range append([]float64{0}, sc.RateSweep.Fractions()...) {
		jobs = append(jobs, job{sc: sc, name: results.SweepName(sc.Name, f), arch: arch, rep: rep,
			step: &results.SweepStep{Of: sc.Name, Fraction: f}, sat: sat})
	}
	return jobs
}

// shuffle permutes x with rng: the one source of randomness in the order.
func shuffle[T any](rng *rand.Rand, x []T) {
	rng.Shuffle(len(x), func(a, b int) { x[a], x[b] = x[b], x[a] })
}

// plan orders the first phase: scenario by scenario; within one,
// repetition 1 of every architecture, then repetition 2, ..., each
// repetition in its own order shuffled by rng, so that slow drifts of the
// machine spread over all architectures and none always follows the same
// one.
func plan(o Options, rng *rand.Rand) [][]job {
	var reps [][]job
	for i := range o.Suite.Scenarios {
		sc := &o.Suite.Scenarios[i]
		var archs []string
		for _, a := range o.Archs {
			if sc.AppliesTo(a) {
				archs = append(archs, a)
			}
		}
		for rep := 1; rep <= o.Reps; rep++ {
			shuffle(rng, archs)
			for _, arch := range archs {
				reps = append(reps, repetition(sc, arch, rep))
			}
		}
	}
	return reps
}

// round is one round of the adaptive phase: one more repetition of every
// cell that o.Pending lists, in an order shuffled by rng across scenarios.
// Rate sweeps (a fixed design), architectures that are unavailable here
// and cells this run does not hold are never repeated. With nothing to
// repeat, stop says why: StopMaxReps if a pending cell has MaxReps
// repetitions, else StopResolved.
func round(o Options, run *results.Run, rng *rand.Rand) (reps [][]job, stop string) {
	count := map[results.Cell]int{}
	unavailable := map[results.Cell]bool{}
	for _, s := range run.Samples {
		c := results.Cell{Scenario: s.Scenario, Arch: s.Arch}
		count[c]++
		if s.Unavailable != "" {
			unavailable[c] = true
		}
	}
	repeatable := map[string]*scenarios.Scenario{}
	for i := range o.Suite.Scenarios {
		if sc := &o.Suite.Scenarios[i]; sc.RateSweep == nil {
			repeatable[sc.Name] = sc
		}
	}
	seen := map[results.Cell]bool{}
	atMax := false
	for _, c := range o.Pending(run) {
		sc, ok := repeatable[c.Scenario]
		if !ok || seen[c] || unavailable[c] || !sc.AppliesTo(c.Arch) || !slices.Contains(o.Archs, c.Arch) {
			continue
		}
		seen[c] = true
		if count[c] >= o.MaxReps {
			atMax = true
			continue
		}
		reps = append(reps, repetition(sc, c.Arch, count[c]+1))
	}
	switch {
	case len(reps) > 0:
		shuffle(rng, reps)
		return reps, ""
	case atMax:
		return nil, results.StopMaxReps
	default:
		return nil, results.StopResolved
	}
}

// Run executes the suite and returns every repetition's measurements. A
// server that fails to start, crashes or hangs is recorded in its sample
// and the run goes on. With a Budget, an adaptive phase follows the
// first Reps repetitions (see Options.Budget). If ctx ends, Run stops the
// current server and returns the samples so far (Interrupted set) with
// ctx's error. Run.Stopped says what ended the run.
func Run(ctx context.Context, o Options) (*results.Run, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	fdLimit := raiseFDLimit()

	var serverMask *cpuMask
	if len(o.ServerCPUs) > 0 || len(o.ClientCPUs) > 0 {
		orig, err := currentMask()
		if err != nil {
			return nil, err
		}
		switch {
		case len(o.ServerCPUs) > 0:
			serverMask = maskOf(o.ServerCPUs)
		default:
			// A server forked from a pinned client inherits its mask:
			// give it back every CPU this process had.
			serverMask = &orig
		}
		if len(o.ClientCPUs) > 0 {
			if err := setAffinityMask(os.Getpid(), maskOf(o.ClientCPUs)); err != nil {
				return nil, err
			}
			defer func() { _ = setAffinityMask(os.Getpid(), &orig) }()
		}
	}

	run := &results.Run{
		Schema:    results.SchemaVersion,
		Suite:     o.Suite.Name,
		SuiteFile: o.Suite.File,
		Start:     o.Now().UTC().Round(0),
		Env:       Environment(o.ServerCPUs, o.ClientCPUs),
		Archs:     o.Archs,
		Reps:      o.Reps,
		Seed:      o.Seed,
	}
	if o.Budget > 0 {
		run.Budget = o.Budget.Seconds()
		run.MaxReps = o.MaxReps
	}
	run.Env.FDLimit = fdLimit
	run.SLO = o.SLO
	for _, sc := range o.Suite.Scenarios {
		base := results.Scenario{
			Name: sc.Name, Description: sc.Description, Archs: sc.Archs,
			Server: sc.Server, Load: sc.Load.WithDefaults(),
		}
		if sc.RateSweep == nil {
			run.Scenarios = append(run.Scenarios, base)
			continue
		}
		for _, f := range append([]float64{0}, sc.RateSweep.Fractions()...) {
			step := base
			step.Name = results.SweepName(sc.Name, f)
			step.Sweep = &results.SweepStep{Of: sc.Name, Fraction: f}
			step.Description = fmt.Sprintf("Step %.0f%% of the rate sweep %s: %s", f*100, sc.Name, sc.Description)
			if f == 0 {
				step.Description = fmt.Sprintf("The saturation run of the rate sweep %s (closed loop; its msg/s sets each architecture's offered rates): %s", sc.Name, sc.Description)
			}
			run.Scenarios = append(run.Scenarios, step)
		}
	}

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0))
	first := plan(o, rng)
	var jobs []job // the first phase's, in order
	for _, r := range first {
		jobs = append(jobs, r...)
	}
	est := &estimator{overhead: 250 * time.Millisecond}
	fmt.Fprintf(o.Progress, "archbench run: suite %s, %d scenarios x %d architectures x %d repetitions = %d server runs, about %v",
		o.Suite.Name, len(o.Suite.Scenarios), len(o.Archs), o.Reps, len(jobs), est.left(jobs).Round(time.Second))
	if o.Budget > 0 {
		fmt.Fprintf(o.Progress, "; then up to %d repetitions of the cells that decide the ranking, within a budget of %v", o.MaxReps, o.Budget)
	}
	fmt.Fprintf(o.Progress, "; seed %d\n", o.Seed)

	began := o.Now()
	// fits reports whether a repetition, as estimated from the ones
	// measured so far, ends within the budget.
	fits := func(rep []job) bool {
		return o.Budget <= 0 || o.Now().Sub(began)+est.left(rep) <= o.Budget
	}
	// do runs a repetition's jobs and prints line(j, sample) after each.
	do := func(rep []job, line func(job, results.Sample) string) {
		for _, j := range rep {
			if ctx.Err() != nil {
				return
			}
			s := runOne(ctx, o, j, serverMask)
			run.Samples = append(run.Samples, s)
			est.add(j, s.Wall)
			fmt.Fprintln(o.Progress, line(j, s))
		}
	}

	done := 0
	firstLine := func(j job, s results.Sample) string {
		done++
		return fmt.Sprintf("[%*d/%d] %s %s rep %d/%d: %s; %v left", len(fmt.Sprint(len(jobs))), done, len(jobs),
			j.name, j.arch, j.rep, o.Reps, summary(s), est.left(jobs[done:]).Round(time.Second))
	}
	for _, rep := range first {
		if ctx.Err() != nil {
			break
		}
		if !fits(rep) {
			run.Stopped = results.StopBudget
			fmt.Fprintf(o.Progress, "archbench run: the budget %v ends before the minimum of %d repetitions: %d of %d server runs done (raise --budget or lower --min-reps)\n",
				o.Budget, o.Reps, done, len(jobs))
			break
		}
		do(rep, firstLine)
	}
	switch {
	case ctx.Err() != nil || run.Stopped != "":
	case o.Budget <= 0:
		run.Stopped = results.StopMaxReps
	default:
		extraLine := func(j job, s results.Sample) string {
			return fmt.Sprintf("[extra] %s %s rep %d: %s; %v of the budget left", j.name, j.arch, j.rep,
				summary(s), max(0, o.Budget-o.Now().Sub(began)).Round(time.Second))
		}
		for run.Stopped == "" && ctx.Err() == nil {
			var reps [][]job
			reps, run.Stopped = round(o, run, rng)
			for _, rep := range reps {
				if ctx.Err() != nil {
					break
				}
				if !fits(rep) {
					run.Stopped = results.StopBudget
					break
				}
				do(rep, extraLine)
			}
		}
	}
	elapsed := o.Now().Sub(began)
	run.Elapsed = elapsed.Seconds()
	run.Summary = results.Summaries(run) // the verdicts, over the samples present (an interrupted run's too)
	if err := ctx.Err(); err != nil {
		run.Stopped = results.StopInterrupted
		run.Interrupted = err.Error()
		return run, fmt.Errorf("runner: interrupted after %d runs: %w", len(run.Samples), err)
	}
	fmt.Fprintf(o.Progress, "archbench run: stopped (%s) after %d server runs in %v\n", run.Stopped, len(run.Samples), elapsed.Round(time.Second))
	return run, nil
}

func maskOf(cpus []int) *cpuMask {
	var m cpuMask
	for _, c := range cpus {
		m.Set(c)
	}
	return &m
}

// runOne starts the server, runs the load against it, samples the server's
// CPU and peak RSS around the load and stops it.
func runOne(ctx context.Context, o Options, j job, mask *cpuMask) (s results.Sample) {
	start := o.Now()
	s = results.Sample{Scenario: j.name, Arch: j.arch, Rep: j.rep, Start: start.UTC().Round(0)}
	defer func() { s.Wall = o.Now().Sub(start).Seconds() }()
	cfg := j.sc.Load.WithDefaults()
	if j.step != nil && j.step.Fraction > 0 {
		if *j.sat <= 0 {
			s.Error = fmt.Sprintf("%v: the saturation run %s measured no rate", ErrNoSaturation, results.SweepName(j.step.Of, 0))
			return s
		}
		cfg.Rate = j.step.Fraction * *j.sat
	}

	args, err := serveArgs(j.arch, j.sc.Server)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	p, err := startServer(ctx, o.Binary, args, mask, o.StartTimeout)
	if err != nil {
		s.Error = err.Error()
		s.Unavailable = unavailableReason(s.Error)
		return s
	}
	cfg.Addr = p.addr

	runtime.GC() // the previous run's garbage is not this run's cost
	cpu0, cpuErr := procCPU(p.pid())
	self0 := selfCPU()
	// loadgen ends on time by itself; this bound only guards against a bug.
	lctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+2*cfg.Timeout+10*time.Second)
	res, loadErr := o.Load(lctx, cfg)
	cancel()
	s.ClientCPU = selfCPU() - self0
	cpu1, err := procCPU(p.pid())
	if cpuErr == nil && err == nil {
		s.ServerCPU = cpu1 - cpu0
	}
	if rss, err := procPeakRSS(p.pid()); err == nil {
		s.ServerPeakRSS = rss
	}
	died := p.exited()
	s.Exit, s.ExitDetail = p.stop(o.StopGrace)
	s.ServerStats = p.exitStats()
	s.Result = res
	if j.step != nil && j.step.Fraction == 0 && res != nil {
		*j.sat = res.RPS
	}
	switch {
	case loadErr != nil:
		s.Error = "load: " + loadErr.Error()
	case died:
		s.Error = fmt.Sprintf("%v: %s", ErrServerDied, s.ExitDetail)
	}
	return s
}

// unavailableReason is the reason a server that could not start gave for
// not running on this machine at all (its last stderr line wraps
// servers.ErrUnavailable), or "".
func unavailableReason(startErr string) string {
	_, reason, ok := strings.Cut(startErr, servers.ErrUnavailable.Error()+": ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(reason)
}

// summary is a sample in a few words for the progress line.
func summary(s results.Sample) string {
	var parts []string
	if r := s.Result; r != nil {
		var errs int64
		for _, v := range r.Errors {
			errs += v
		}
		p99 := time.Duration(r.Latency.P99 * float64(time.Microsecond)).Round(time.Microsecond)
		parts = append(parts, fmt.Sprintf("%.0f msg/s, p99 %v, %d errors", r.RPS, p99, errs))
	}
	if s.Exit != results.ExitNone {
		parts = append(parts, "server "+string(s.Exit))
	}
	if s.Error != "" {
		e := s.Error
		if len(e) > 160 {
			e = e[:160] + "..."
		}
		parts = append(parts, "ERROR "+e)
	}
	return strings.Join(parts, ", ")
}

// estimator predicts the time left from each run's planned load time plus
// the measured average overhead (server start and stop) per run.
type estimator struct {
	overhead time.Duration
	n        int
	extra    time.Duration
}

func planned(j job) time.Duration {
	l := j.sc.Load.WithDefaults()
	return l.Warmup + l.Duration
}

func (e *estimator) add(j job, wall float64) {
	e.n++
	e.extra += time.Duration(wall*float64(time.Second)) - planned(j)
	e.overhead = max(0, e.extra/time.Duration(e.n))
}

func (e *estimator) left(jobs []job) time.Duration {
	var d time.Duration
	for _, j := range jobs {
		d += planned(j) + e.overhead
	}
	return d
}
