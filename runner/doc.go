// Package runner executes a benchmark suite: for each scenario, repetition
// and architecture it starts `archbench serve --config JSON` as its own
// process (the scenario's servers.Config, as results.json records it, on
// tcp 127.0.0.1:0), waits for its "listening on ADDR" line
// (servers.ListeningPrefix), drives it in-process with loadgen.Run,
// samples the server's CPU time (/proc/PID/stat utime+stime) and peak RSS
// (VmHWM) and its own CPU (getrusage) around the load, then stops the
// server with SIGTERM and records how it exited (clean, crash, hang).
//
// Goroutines: per server run, one waits for the process (exec.Cmd.Wait)
// and one drains its stdout after the listening line; both end when the
// process exits, which stop guarantees (SIGKILL after the grace period).
// File descriptors: the server's stdout pipe is read by the runner; its
// stderr is kept as a 4 KiB tail for crash reports.
//
// Order: scenario by scenario; within a scenario, repetition 1 of every
// architecture, then repetition 2, each repetition in its own order
// shuffled with the run's seed (Options.Seed, recorded in results.json),
// so that slow drifts of the machine spread over all architectures and
// none always follows the same one. With a budget (Options.Budget), an
// adaptive phase follows: rounds of one more repetition of every cell
// (scenario × architecture) that results.Pending lists, shuffled across
// scenarios, until nothing is pending (results.StopResolved), the pending
// cells have MaxReps (StopMaxReps) or the next repetition, estimated from
// the ones measured, would end past the budget (StopBudget): a run ends
// within the budget unless a repetition takes longer than estimated.
// Rate sweeps are a fixed design: Reps whole sweeps (saturation run, then
// every step, back to back), no extra repetitions, since a step repeated
// alone would be relative to another repetition's saturation rate.
//
// External servers (Options.External: --external, a suite's external:
// list, the shipped baselines) run through the same loop: their command
// runs with sh -c in a process group of its own, on a free port the runner
// picked; ready on a listening line or a successful connect; before the
// first timed run of each (server, framing) a separate start runs the
// black-box conformance cases (servertest.Conform) and a server that fails
// them is never timed (its samples say which cases, as Unavailable, so it
// is not repeated). CPU and peak RSS are summed over the process tree;
// SIGTERM and SIGKILL go to the group, a death by the runner's SIGTERM
// counts as a clean stop, and once the command's process has exited what
// is left of its group is killed.
//
// Pinning (Linux): the server's threads are pinned with sched_setaffinity
// right after it starts and again once it listens; the runner pins its own
// threads for the client side and restores them at the end.
package runner
