package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
	"archbench/runner"
)

// fakeClock is the runner's clock in these tests: only the fake load moves
// it, by a fixed cost per repetition, so the budget's decisions do not
// depend on how fast this machine starts servers.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clockedLoad is a load that costs cost on clock and measures rps(arch's
// call number) msg/s; it cancels its context at call cancelAt (0 = never).
type clockedLoad struct {
	clock    *fakeClock
	cost     time.Duration
	rps      func(call int) float64
	mu       sync.Mutex
	calls    int
	cancelAt int
	cancel   context.CancelFunc
}

func (l *clockedLoad) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	l.mu.Lock()
	l.calls++
	call := l.calls
	l.mu.Unlock()
	l.clock.advance(l.cost)
	if call == l.cancelAt {
		l.cancel()
		return nil, context.Canceled
	}
	rps := 5000.0
	if l.rps != nil {
		rps = l.rps(call)
	}
	return &loadgen.Result{Schema: loadgen.SchemaVersion, Config: cfg, Requests: 1000, RPS: rps, Errors: map[string]int64{}}, nil
}

// reps counts the samples of each cell.
func reps(run *results.Run) map[results.Cell]int {
	n := map[results.Cell]int{}
	for _, s := range run.Samples {
		n[results.Cell{Scenario: s.Scenario, Arch: s.Arch}]++
	}
	return n
}

// order is the samples as scenario/arch/rep.
func order(run *results.Run) []string {
	var o []string
	for _, s := range run.Samples {
		o = append(o, fmt.Sprintf("%s/%s/%d", s.Scenario, s.Arch, s.Rep))
	}
	return o
}

var (
	s1ok    = results.Cell{Scenario: "s1", Arch: "fake-ok"}
	s1crash = results.Cell{Scenario: "s1", Arch: "fake-crash"}
	s2ok    = results.Cell{Scenario: "s2", Arch: "fake-ok"}
)

func budgetOptions(t testing.TB, clock *fakeClock, load *clockedLoad) runner.Options {
	return runner.Options{
		Suite:  suite(t, tinyFake),
		Archs:  []string{"fake-ok", "fake-crash"},
		Budget: time.Hour,
		Seed:   42,
		Now:    clock.Now,
		Load:   load.run,
	}
}

// With a steady load nothing is pending after the minimum: the run stops
// "resolved" with exactly the minimum of every cell.
func TestBudgetResolvedAfterMinimum(t *testing.T) {
	clock := newFakeClock()
	load := &clockedLoad{clock: clock, cost: time.Second}
	o := budgetOptions(t, clock, load)
	o.Reps = 4
	run, err := runner.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, map[results.Cell]int{s1ok: 4, s1crash: 4, s2ok: 4}, reps(run))
	assert.Equal(t, results.StopResolved, run.Stopped)
	assert.Equal(t, int64(42), run.Seed)
	assert.Equal(t, 3600.0, run.Budget)
	assert.Equal(t, 4, run.Reps)
	assert.Equal(t, runner.DefaultMaxReps, run.MaxReps)
	assert.Equal(t, 12.0, run.Elapsed, "the runner's clock is the fake one")
}

// The cells Pending lists get one more repetition per round, numbered on
// from the minimum, and the others none.
func TestBudgetPendingCellsGetExtraReps(t *testing.T) {
	clock := newFakeClock()
	load := &clockedLoad{clock: clock, cost: time.Second}
	o := budgetOptions(t, clock, load)
	var rounds int
	o.Pending = func(run *results.Run) []results.Cell {
		rounds++
		n := reps(run)
		var p []results.Cell
		for c, want := range map[results.Cell]int{s1ok: 6, s2ok: 5} {
			if n[c] < want {
				p = append(p, c)
			}
		}
		// Cells the runner must not repeat: an architecture this run
		// does not hold, a scenario that does not apply to it, an unknown scenario.
		return append(p, results.Cell{Scenario: "s1", Arch: "goroutine"},
			results.Cell{Scenario: "s2", Arch: "fake-crash"}, results.Cell{Scenario: "nope", Arch: "fake-ok"})
	}
	run, err := runner.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, map[results.Cell]int{s1ok: 6, s1crash: 3, s2ok: 5}, reps(run))
	assert.Equal(t, results.StopResolved, run.Stopped)
	assert.Equal(t, 4, rounds, "three rounds of extra repetitions, then nothing pending")
	got := order(run)
	assert.ElementsMatch(t, []string{"s1/fake-ok/4", "s2/fake-ok/4"}, got[9:11], "round 1 holds both pending cells")
	assert.ElementsMatch(t, []string{"s1/fake-ok/5", "s2/fake-ok/5"}, got[11:13])
	assert.Equal(t, []string{"s1/fake-ok/6"}, got[13:])
}

// A cell that stays pending is repeated up to MaxReps; then the run stops
// "max-reps".
func TestBudgetStopsAtMaxReps(t *testing.T) {
	clock := newFakeClock()
	load := &clockedLoad{clock: clock, cost: time.Second}
	o := budgetOptions(t, clock, load)
	o.Archs = []string{"fake-ok"}
	o.MaxReps = 5
	o.Pending = func(run *results.Run) []results.Cell {
		return []results.Cell{s1ok} // never decided
	}
	run, err := runner.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, map[results.Cell]int{s1ok: 5, s2ok: 3}, reps(run))
	assert.Equal(t, results.StopMaxReps, run.Stopped)
	assert.Equal(t, 5, run.MaxReps)
}

// With the real results.Pending, a noisy cell (CV far above 10%) is
// repeated up to MaxReps; steady cells are not.
func TestBudgetPendingRepeatsNoisyCells(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	calls := map[string]int{}
	load := &clockedLoad{clock: clock, cost: time.Second}
	o := budgetOptions(t, clock, load)
	o.MaxReps = 6
	o.Load = func(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
		res, err := load.run(ctx, cfg)
		mu.Lock()
		defer mu.Unlock()
		if cfg.Conns == 3 { // s2: alternately 2,000 and 8,000 msg/s
			calls["s2"]++
			res.RPS = float64(2000 + 6000*(calls["s2"]%2))
		}
		return res, err
	}
	run, err := runner.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, map[results.Cell]int{s1ok: 3, s1crash: 3, s2ok: 6}, reps(run))
	assert.Equal(t, results.StopMaxReps, run.Stopped)
}

// Every repetition costs 10 s on the runner's clock. A repetition that
// would end past the budget is not started, in the first phase too, so a
// run never ends past its budget when the estimate holds.
func TestBudgetSpent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  time.Duration
		samples int
	}{
		// The minimum (9 repetitions, 90 s), then one extra (100 s);
		// the next would end at 110 s.
		{name: "adaptive phase", budget: 105 * time.Second, samples: 10},
		// 4 of the minimum (40 s); the fifth would end at 50 s.
		{name: "first phase", budget: 45 * time.Second, samples: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			load := &clockedLoad{clock: clock, cost: 10 * time.Second}
			o := budgetOptions(t, clock, load)
			o.Budget = tc.budget
			o.Pending = func(run *results.Run) []results.Cell { return []results.Cell{s1ok, s1crash, s2ok} }
			var progress bytes.Buffer
			o.Progress = &progress
			run, err := runner.Run(context.Background(), o)
			require.NoError(t, err)
			assert.Len(t, run.Samples, tc.samples)
			assert.Equal(t, tc.samples < 9, strings.Contains(progress.String(), "ends before the minimum of 3 repetitions: 4 of 9 server runs done"), progress.String())
			assert.Equal(t, results.StopBudget, run.Stopped)
			assert.LessOrEqual(t, run.Elapsed, tc.budget.Seconds())
			assert.Greater(t, run.Elapsed+10, tc.budget.Seconds(), "stopped only when the next would not fit")
			assert.Equal(t, tc.budget.Seconds(), run.Budget)
		})
	}
}

// The same seed gives the same order, extra rounds included.
func TestBudgetSeedReproducesOrder(t *testing.T) {
	runWith := func(seed int64) *results.Run {
		clock := newFakeClock()
		load := &clockedLoad{clock: clock, cost: time.Second}
		o := budgetOptions(t, clock, load)
		o.Seed = seed
		o.MaxReps = 5
		o.Pending = func(run *results.Run) []results.Cell { return []results.Cell{s1ok, s1crash, s2ok} }
		run, err := runner.Run(context.Background(), o)
		require.NoError(t, err)
		assert.Equal(t, seed, run.Seed)
		return run
	}
	a, b := runWith(7), runWith(7)
	assert.Equal(t, order(a), order(b))
	assert.Len(t, a.Samples, 15)
	// That different seeds give different orders is plan's test
	// (TestPlanSeed): with two architectures here, two seeds may agree.
}

// An interrupted adaptive phase keeps every finished sample.
func TestBudgetInterruptedKeepsSamples(t *testing.T) {
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	load := &clockedLoad{clock: clock, cost: time.Second, cancelAt: 12, cancel: cancel}
	o := budgetOptions(t, clock, load)
	o.Pending = func(run *results.Run) []results.Cell { return []results.Cell{s1ok, s1crash, s2ok} }
	run, err := runner.Run(ctx, o)
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, run)
	assert.Len(t, run.Samples, 12, "9 of the minimum, 2 extra, and the interrupted one")
	for _, s := range run.Samples[:11] {
		assert.NotNil(t, s.Result)
	}
	assert.Equal(t, results.StopInterrupted, run.Stopped)
	assert.NotEmpty(t, run.Interrupted)
}

func TestBudgetBadOptions(t *testing.T) {
	clock := newFakeClock()
	load := &clockedLoad{clock: clock, cost: time.Second}
	for name, edit := range map[string]func(*runner.Options){
		"negative budget":        func(o *runner.Options) { o.Budget = -time.Second },
		"minimum below 3":        func(o *runner.Options) { o.Reps = 2 },
		"max reps below minimum": func(o *runner.Options) { o.Reps, o.MaxReps = 5, 4 },
		"negative max reps":      func(o *runner.Options) { o.MaxReps = -1 },
	} {
		o := budgetOptions(t, clock, load)
		edit(&o)
		_, err := runner.Run(context.Background(), o)
		assert.ErrorIs(t, err, runner.ErrOptions, name)
	}
}
