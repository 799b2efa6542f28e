package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/internal/cli"
	"archbench/loadgen"
	"archbench/report"
	"archbench/results"
	"archbench/runner"
	"archbench/scenarios"
	"archbench/servers"
)

// TestMain doubles as the server binary: the runner starts this test
// binary as `serve --arch NAME ...`. Architectures named fake-* misbehave
// on purpose; any other name is served by the real `archbench serve`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serve(os.Args[1:]))
	}
	if len(os.Args) == 3 && strings.HasPrefix(os.Args[1], "external-") {
		os.Exit(externalEcho(os.Args[1], os.Args[2]))
	}
	// A -race binary sleeps 1 s before a zero exit (atexit_sleep_ms); the
	// servers this binary starts need not.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	goleak.VerifyTestMain(m,
		// gnet's default ants pool, started by its package init.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func serve(args []string) int {
	arch := ""
	for i := range args {
		if args[i] == "--arch" && i+1 < len(args) {
			arch = args[i+1]
		}
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	listening := func() { fmt.Println(servers.ListeningPrefix + "127.0.0.1:1") }
	forever := func() {
		for {
			time.Sleep(time.Hour)
		}
	}
	switch arch {
	case "fake-ok":
		listening()
		<-term
		return 0
	case "fake-crash":
		listening()
		<-term
		fmt.Fprintln(os.Stderr, "panic: boom")
		return 3
	case "fake-hang":
		listening()
		forever()
	case "fake-silent":
		forever()
	case "fake-early":
		fmt.Fprintln(os.Stderr, "cannot bind: boom")
		return 1
	case "fake-unavailable": // as serve says it for io_uring where it is switched off
		fmt.Fprintln(os.Stderr, "archbench: serve: io_uring: "+servers.ErrUnavailable.Error()+": uring: io_uring unavailable: io_uring_setup: operation not permitted")
		return 2
	case "fake-die":
		listening()
		time.Sleep(50 * time.Millisecond)
		return 2
	}
	signal.Reset(syscall.SIGTERM)
	if err := cli.Run(context.Background(), args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archbench:", err)
		return cli.ExitCode(err)
	}
	return 0
}

func suite(t testing.TB, yaml string) *scenarios.Suite {
	t.Helper()
	s, err := scenarios.Parse("test.yaml", []byte(yaml))
	require.NoError(t, err)
	return s
}

const tinyFake = `
scenarios:
  - name: s1
    description: fake
    load: {conns: 2, duration: 10ms}
  - name: s2
    description: fake, fake-ok only
    archs: [fake-ok]
    load: {conns: 3, duration: 10ms}
`

// fakeLoad returns a fixed result after wait, recording what it ran.
type fakeLoad struct {
	mu   sync.Mutex
	wait time.Duration
	cfgs []loadgen.Config
}

func (f *fakeLoad) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	f.mu.Lock()
	f.cfgs = append(f.cfgs, cfg)
	f.mu.Unlock()
	select {
	case <-time.After(f.wait):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &loadgen.Result{Schema: loadgen.SchemaVersion, Config: cfg, Requests: 1000, RPS: 5000, Errors: map[string]int64{}}, nil
}

func TestRunOrderAndExits(t *testing.T) {
	load := &fakeLoad{}
	var progress bytes.Buffer
	run, err := runner.Run(context.Background(), runner.Options{
		Suite:    suite(t, tinyFake),
		Archs:    []string{"fake-ok", "fake-crash"},
		Reps:     2,
		Progress: &progress,
		Load:     load.run,
	})
	require.NoError(t, err)
	var order []string
	for _, s := range run.Samples {
		order = append(order, fmt.Sprintf("%s/%s/%d", s.Scenario, s.Arch, s.Rep))
	}
	// Repetition 1 of every architecture, then repetition 2, each in an
	// order shuffled with the seed; s2 applies to fake-ok only.
	require.Len(t, order, 6)
	assert.ElementsMatch(t, []string{"s1/fake-ok/1", "s1/fake-crash/1"}, order[0:2])
	assert.ElementsMatch(t, []string{"s1/fake-ok/2", "s1/fake-crash/2"}, order[2:4])
	assert.Equal(t, []string{"s2/fake-ok/1", "s2/fake-ok/2"}, order[4:6])
	assert.NotZero(t, run.Seed, "a seed derived from the start time is recorded")
	assert.Equal(t, results.StopMaxReps, run.Stopped, "a fixed design runs its repetitions")
	assert.Zero(t, run.Budget)
	for _, s := range run.Samples {
		require.NotNil(t, s.Result, s.Arch)
		assert.Positive(t, s.Wall)
		switch s.Arch {
		case "fake-ok":
			assert.Equal(t, results.ExitClean, s.Exit)
			assert.Empty(t, s.Error)
			assert.True(t, s.OK())
		case "fake-crash":
			assert.Equal(t, results.ExitCrash, s.Exit)
			assert.Contains(t, s.ExitDetail, "exit status 3")
			assert.Contains(t, s.ExitDetail, "panic: boom")
			assert.False(t, s.OK())
		}
	}
	require.Len(t, load.cfgs, 6)
	assert.Equal(t, "127.0.0.1:1", load.cfgs[0].Addr)
	assert.Equal(t, 2, load.cfgs[0].Conns)
	assert.Equal(t, 10*time.Millisecond, load.cfgs[0].Duration)

	assert.Equal(t, "test", run.Suite)
	assert.Equal(t, 2, run.Reps)
	require.Len(t, run.Scenarios, 2)
	assert.Equal(t, 3, run.Scenarios[1].Load.Conns)
	assert.Equal(t, []string{"fake-ok"}, run.Scenarios[1].Archs)
	assert.Equal(t, "unpinned", run.Env.ServerCPUs)
	assert.NotEmpty(t, run.Env.GitCommit)
	assert.Positive(t, run.Elapsed)

	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	require.Len(t, lines, 8, progress.String())
	assert.Contains(t, lines[0], "6 server runs")
	assert.Contains(t, lines[0], fmt.Sprintf("seed %d", run.Seed))
	assert.Regexp(t, `^\[2/6\] s1 fake-(ok|crash) rep 1/2: `, lines[2])
	assert.Contains(t, progress.String(), "s1 fake-crash rep 1/2: 5000 msg/s, p99 0s, 0 errors, server crash")
	assert.Contains(t, lines[6], "0s left")
	assert.Contains(t, lines[7], "stopped (max-reps) after 6 server runs")
}

func TestRunServerHangs(t *testing.T) {
	began := time.Now()
	run, err := runner.Run(context.Background(), runner.Options{
		Suite:     suite(t, tinyFake),
		Archs:     []string{"fake-hang"},
		Reps:      1,
		StopGrace: 200 * time.Millisecond,
		Load:      (&fakeLoad{}).run,
	})
	require.NoError(t, err)
	require.Len(t, run.Samples, 1)
	s := run.Samples[0]
	assert.Equal(t, results.ExitHang, s.Exit)
	assert.Contains(t, s.ExitDetail, "no exit within 200ms of SIGTERM")
	assert.Less(t, time.Since(began), 5*time.Second)
}

func TestRunServerStartFailures(t *testing.T) {
	run, err := runner.Run(context.Background(), runner.Options{
		Suite:        suite(t, tinyFake),
		Archs:        []string{"fake-silent", "fake-early", "fake-unavailable"},
		Reps:         1,
		StartTimeout: 2 * time.Second, // a -race binary on a busy machine can take a while to start
		Load:         (&fakeLoad{}).run,
	})
	require.NoError(t, err)
	require.Len(t, run.Samples, 3)
	byArch := map[string]results.Sample{}
	for _, s := range run.Samples {
		byArch[s.Arch] = s
	}
	silent, early, unavailable := byArch["fake-silent"], byArch["fake-early"], byArch["fake-unavailable"]
	assert.Nil(t, silent.Result)
	assert.Contains(t, silent.Error, `no "listening on ADDR" line within 2s`)
	assert.Nil(t, early.Result)
	assert.Contains(t, early.Error, "exit status 1 before listening")
	assert.Contains(t, early.Error, "cannot bind: boom")
	assert.Empty(t, early.Unavailable, "a failed start is not a machine without the feature")

	assert.Nil(t, unavailable.Result)
	assert.Contains(t, unavailable.Error, "exit status 2 before listening")
	assert.Equal(t, "uring: io_uring unavailable: io_uring_setup: operation not permitted", unavailable.Unavailable)
	var b bytes.Buffer
	require.NoError(t, report.NewTextReporter(run)(&b))
	assert.Contains(t, b.String(), "unavailable here: uring: io_uring unavailable", "the table says so")
}

func TestRunServerDiesDuringLoad(t *testing.T) {
	run, err := runner.Run(context.Background(), runner.Options{
		Suite: suite(t, tinyFake),
		Archs: []string{"fake-die"},
		Reps:  1,
		// The server exits 50 ms after it listens; the load outlasts it
		// by a margin a loaded machine cannot eat.
		Load: (&fakeLoad{wait: 2 * time.Second}).run,
	})
	require.NoError(t, err)
	s := run.Samples[0]
	assert.Equal(t, results.ExitCrash, s.Exit)
	assert.Contains(t, s.Error, "server exited during the load")
	assert.Contains(t, s.Error, "exit status 2")
	require.NotNil(t, s.Result, "the load's numbers are kept")
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	load := func(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	run, err := runner.Run(ctx, runner.Options{Suite: suite(t, tinyFake), Archs: []string{"fake-ok"}, Reps: 3, Load: load})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, run)
	assert.Len(t, run.Samples, 1)
	assert.Equal(t, results.ExitClean, run.Samples[0].Exit, "the server is still stopped")
	assert.Contains(t, run.Samples[0].Error, "context canceled")
	assert.NotEmpty(t, run.Interrupted)
	assert.Equal(t, results.StopInterrupted, run.Stopped)
}

func TestRunBadOptions(t *testing.T) {
	for _, o := range []runner.Options{
		{},
		{Suite: suite(t, tinyFake)},
		{Suite: suite(t, tinyFake), Archs: []string{"goroutine"}, Reps: -1},
		{Suite: suite(t, tinyFake), Archs: []string{"goroutine"}, Binary: t.TempDir()},
		{Suite: suite(t, tinyFake), Archs: []string{"goroutine"}, ServerCPUs: []int{999}},
	} {
		_, err := runner.Run(context.Background(), o)
		require.ErrorIs(t, err, runner.ErrOptions)
	}
}

func TestRunPinned(t *testing.T) {
	var clientMask string
	load := func(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
		clientMask = allowedCPUs(t, os.Getpid())
		return &loadgen.Result{Requests: 1, RPS: 1}, nil
	}
	before := allowedCPUs(t, os.Getpid())
	run, err := runner.Run(context.Background(), runner.Options{
		Suite: suite(t, tinyFake), Archs: []string{"fake-ok"}, Reps: 1,
		ServerCPUs: []int{0}, ClientCPUs: []int{0}, Load: load,
	})
	require.NoError(t, err)
	assert.Equal(t, "0", clientMask, "every thread of the runner is pinned during the load")
	assert.Equal(t, before, allowedCPUs(t, os.Getpid()), "the runner's mask is restored")
	assert.Equal(t, "0", run.Env.ServerCPUs)
	assert.Equal(t, "0", run.Env.ClientCPUs)
}

// allowedCPUs is the union of the Cpus_allowed_list of every thread of pid,
// or "mixed" if they differ.
func allowedCPUs(t testing.TB, pid int) string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				seen[strings.TrimSpace(v)] = true
			}
		}
	}
	if len(seen) != 1 {
		return fmt.Sprintf("mixed %v", seen)
	}
	for k := range seen {
		return k
	}
	return ""
}

const tinyReal = `
suite: tiny
scenarios:
  - name: conns-4
    description: four connections, real servers and the real load generator
    load: {conns: 4, warmup: 100ms, duration: 300ms}
`

// TestRunRealServers runs real architectures (this test binary serves them
// through the real `archbench serve`) against the real load generator.
func TestRunRealServers(t *testing.T) {
	run, err := runner.Run(context.Background(), runner.Options{
		Suite: suite(t, tinyReal),
		Archs: []string{"goroutine", "sequential", "epoll", "io_uring"},
		Reps:  1,
	})
	require.NoError(t, err)
	require.Len(t, run.Samples, 4)
	require.Len(t, run.Summary, 4, "one verdict per scenario and architecture")
	for _, e := range run.Summary {
		assert.Positive(t, e.Tier, e.Arch)
	}
	for _, s := range run.Samples {
		if s.Unavailable != "" {
			t.Logf("%s unavailable here: %s", s.Arch, s.Unavailable)
			continue
		}
		checkRealSample(t, s)
		require.NotNil(t, s.ServerStats, "%s: the stats line printed at exit is recorded", s.Arch)
		assert.Positive(t, s.ServerStats.Accepted, s.Arch)
		switch s.Arch {
		case "epoll":
			assert.Greater(t, s.ServerStats.Syscalls, s.Result.Requests, "an event loop counts its system calls")
		case "io_uring":
			assert.Positive(t, s.ServerStats.Syscalls, "io_uring counts its system calls")
			assert.Contains(t, s.ServerStats.Features, "recv=", "io_uring records what the kernel offered and what it uses")
		default:
			assert.Zero(t, s.ServerStats.Syscalls, "%s does not count its system calls", s.Arch)
		}
	}
}

func checkRealSample(t *testing.T, s results.Sample) {
	t.Helper()
	require.NotNil(t, s.Result, "%s: %s", s.Arch, s.Error)
	assert.Empty(t, s.Error, s.Arch)
	assert.Equal(t, results.ExitClean, s.Exit, "%s: %s", s.Arch, s.ExitDetail)
	assert.Positive(t, s.Result.Requests, s.Arch)
	assert.Zero(t, s.Result.Mismatches, s.Arch)
	assert.Positive(t, s.ServerCPU, s.Arch)
	assert.Greater(t, s.ServerPeakRSS, int64(1<<20), s.Arch)
	assert.Positive(t, s.ClientCPU, s.Arch)
}

// TestBuiltBinaryEndToEnd builds archbench and runs `archbench run` on a
// tiny suite, as `make bench` does on the quick one.
func TestBuiltBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the archbench binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "archbench")
	build := exec.Command("go", "build", "-o", bin, "archbench/cmd/archbench")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	suiteFile := filepath.Join(dir, "tiny.yaml")
	require.NoError(t, os.WriteFile(suiteFile, []byte(tinyReal), 0o644))
	outDir := filepath.Join(dir, "out")

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "run", "--suite", suiteFile, "--arch", "goroutine,sequential", "--reps", "1", "--out", outDir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

	assert.Contains(t, stdout.String(), "conns-4: four connections")
	assert.Regexp(t, `│ goroutine +│`, stdout.String())
	assert.Regexp(t, `│ sequential +│`, stdout.String())
	assert.NotContains(t, stdout.String(), "[1/2]", "progress goes to stderr")
	assert.Regexp(t, `\[1/2\] conns-4 (goroutine|sequential) rep 1/1`, stderr.String())
	assert.Contains(t, stderr.String(), "results in "+outDir)

	b, err := os.ReadFile(filepath.Join(outDir, results.FileJSON))
	require.NoError(t, err)
	var run results.Run
	require.NoError(t, json.Unmarshal(b, &run))
	require.Len(t, run.Samples, 2)
	for _, s := range run.Samples {
		checkRealSample(t, s)
	}
	assert.Equal(t, results.StopMaxReps, run.Stopped, "--reps alone: a fixed design")
	assert.NotZero(t, run.Seed)
	assert.Zero(t, run.Budget)
	assert.Contains(t, run.Env.Libraries, "go.yaml.in/yaml/v3")
	assert.Regexp(t, `^([0-9a-f]{40}|unknown)$`, run.Env.GitCommit)
	for _, f := range []string{results.FileMD, results.FileCSV, results.FileBench} {
		_, err := os.Stat(filepath.Join(outDir, f))
		assert.NoError(t, err)
	}

	// With a budget: the flags reach results.json, and every cell has
	// its minimum and at most --max-reps.
	budgetDir := filepath.Join(dir, "budget")
	stderr.Reset()
	cmd = exec.Command(bin, "run", "--suite", suiteFile, "--arch", "goroutine,sequential", "--budget", "20s", "--max-reps", "4", "--seed", "1234", "--out", budgetDir)
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	b, err = os.ReadFile(filepath.Join(budgetDir, results.FileJSON))
	require.NoError(t, err)
	var budgeted results.Run
	require.NoError(t, json.Unmarshal(b, &budgeted))
	assert.Equal(t, int64(1234), budgeted.Seed)
	assert.Equal(t, 20.0, budgeted.Budget)
	assert.Equal(t, 3, budgeted.Reps)
	assert.Equal(t, 4, budgeted.MaxReps)
	assert.Contains(t, []string{results.StopResolved, results.StopMaxReps, results.StopBudget}, budgeted.Stopped)
	assert.Contains(t, stderr.String(), "seed 1234")
	assert.Contains(t, stderr.String(), "stopped ("+budgeted.Stopped+")")
	perArch := map[string]int{}
	for _, s := range budgeted.Samples {
		perArch[s.Arch]++
	}
	for _, arch := range []string{"goroutine", "sequential"} {
		if budgeted.Stopped != results.StopBudget {
			assert.GreaterOrEqual(t, perArch[arch], 3, arch)
		}
		assert.LessOrEqual(t, perArch[arch], 4, arch)
	}
}
