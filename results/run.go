package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"archbench/loadgen"
	"archbench/servers"
)

// SchemaVersion is the version of Run's JSON form; it changes only when a
// field changes meaning or goes away.
const SchemaVersion = 1

// Run is one `archbench run`: the machine, the suite, and every repetition
// of every scenario on every architecture. Everything the tables show is
// computed from a Run alone.
type Run struct {
	Schema int `json:"schema"`
	// Suite is the suite's name; SuiteFile where it came from.
	Suite     string `json:"suite"`
	SuiteFile string `json:"suite_file,omitempty"`

	Start   time.Time `json:"start"`
	Elapsed float64   `json:"elapsed_s"` // wall seconds of the whole run

	Env   Env      `json:"env"`
	Archs []string `json:"archs"` // in the order they were run
	// External are the archs that are external servers (commands
	// archbench does not build), with the command each ran; tables mark
	// their rows.
	External []External `json:"external,omitempty"`
	Reps     int        `json:"reps"` // repetitions asked for

	Scenarios []Scenario `json:"scenarios"` // in suite order
	Samples   []Sample   `json:"samples"`   // in the order they ran

	// SLO is the p99 latency objective that the knee of a rate sweep is
	// measured against (0 = DefaultSLO). results.json holds it as
	// "slo_us", microseconds like every latency there (see MarshalJSON).
	SLO time.Duration `json:"-"`

	// Summary is the run's verdict, one entry per scenario and
	// architecture (Summaries), filled in when the run ends; absent in
	// results.json files from before it.
	Summary []SummaryEntry `json:"summary,omitempty"`

	// Interrupted says the run was stopped early (SIGINT, an error); the
	// samples present are complete.
	Interrupted string `json:"interrupted,omitempty"`

	// Stopped says what ended the run: StopResolved, StopBudget,
	// StopMaxReps or StopInterrupted ("" in a results.json from before).
	Stopped string `json:"stopped"`
	// Budget is the time budget in seconds (0 = a fixed design of Reps
	// repetitions); Reps is then the minimum and MaxReps the most any
	// scenario × architecture got.
	Budget  float64 `json:"budget_s,omitempty"`
	MaxReps int     `json:"max_reps,omitempty"`
	// Seed is the seed of the run order's shuffle: the same seed gives the
	// same order for the same suite, architectures and repetitions.
	Seed int64 `json:"seed"`
}

// What stopped a run (Run.Stopped).
const (
	StopResolved    = "resolved"    // nothing pending: the ranking is decided
	StopBudget      = "budget"      // the next repetition would not fit in the budget
	StopMaxReps     = "max-reps"    // the pending cells reached MaxReps, or a fixed design ran its Reps
	StopInterrupted = "interrupted" // SIGINT, SIGTERM or an error; the samples present are complete
)

// Env is the machine and the software the run measured.
type Env struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Kernel     string `json:"kernel"`    // uname: sysname release version machine
	CPUModel   string `json:"cpu_model"` // /proc/cpuinfo model name
	Cores      int    `json:"cores"`     // logical CPUs available
	GOMAXPROCS int    `json:"gomaxprocs"`
	// ServerCPUs and ClientCPUs are the CPU lists the server processes and
	// the load generator were pinned to, or "unpinned".
	ServerCPUs string `json:"server_cpus"`
	ClientCPUs string `json:"client_cpus"`
	FDLimit    uint64 `json:"fd_limit"`   // RLIMIT_NOFILE hard limit
	GitCommit  string `json:"git_commit"` // or "unknown"
	// Libraries maps module path to version for every dependency built in
	// (gnet, evio, hdrhistogram-go, ...).
	Libraries map[string]string `json:"libraries"`
}

// Scenario is one scenario as it ran: its settings with every default
// filled in (Addr empty: each server run picks a free port).
type Scenario struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Archs       []string       `json:"archs,omitempty"` // applies only to these (empty = all)
	Server      servers.Config `json:"server"`
	Load        loadgen.Config `json:"load"`
	// Sweep marks one run of a rate sweep; Load.Rate is then 0 and each
	// sample's result holds the rate it was offered (target_rps).
	Sweep *SweepStep `json:"rate_sweep,omitempty"`
}

// SweepStep is one run of a rate sweep: the closed-loop saturation run
// (Fraction 0) or an open loop at Fraction times the saturation rate that
// the same architecture reached in the same repetition.
type SweepStep struct {
	Of       string  `json:"of"`       // the suite's scenario
	Fraction float64 `json:"fraction"` // of the saturation rate; 0 = the saturation run
}

// SweepName names a rate sweep's run: "rate-sweep@sat", "rate-sweep@40%".
func SweepName(of string, fraction float64) string {
	if fraction == 0 {
		return of + "@sat"
	}
	return fmt.Sprintf("%s@%.0f%%", of, fraction*100)
}

// OpenLoop reports whether the scenario runs an open loop (a fixed rate, or
// a rate-sweep step).
func (s Scenario) OpenLoop() bool {
	return s.Load.Rate > 0 || (s.Sweep != nil && s.Sweep.Fraction > 0)
}

// External is an external server of a run.
type External struct {
	Name    string `json:"name"`
	Command string `json:"command"`
	// Unavailable says why it could not run on the machine ("" = it ran).
	Unavailable string `json:"unavailable,omitempty"`
}

// IsExternal reports whether arch is one of r's external servers.
func (r *Run) IsExternal(arch string) bool {
	for _, x := range r.External {
		if x.Name == arch {
			return true
		}
	}
	return false
}

// Exit is how a server process ended after the runner's SIGTERM.
type Exit string

const (
	ExitClean Exit = "clean" // exited 0 within the grace period
	ExitCrash Exit = "crash" // died on its own or exited non-zero
	ExitHang  Exit = "hang"  // did not exit within the grace period; killed
	ExitNone  Exit = ""      // never started
)

// Sample is one repetition of one scenario on one architecture.
type Sample struct {
	Scenario string    `json:"scenario"`
	Arch     string    `json:"arch"`
	Rep      int       `json:"rep"` // 1-based
	Start    time.Time `json:"start"`
	Wall     float64   `json:"wall_s"` // seconds from server start to exit

	// Result is the load generator's measurement; nil if it did not run.
	Result *loadgen.Result `json:"result,omitempty"`

	ServerCPU     float64 `json:"server_cpu_s"`          // server utime+stime during the load (warm-up included)
	ServerPeakRSS int64   `json:"server_peak_rss_bytes"` // VmHWM at the end of the load
	ClientCPU     float64 `json:"client_cpu_s"`          // the generator's process CPU during the load

	// ServerStats are the server's own counters as it exited (accepted
	// and rejected connections, its system calls where it counts them);
	// nil if it printed none (a crash, or a results.json from before).
	ServerStats *servers.Stats `json:"server_stats,omitempty"`

	Exit       Exit   `json:"server_exit"`
	ExitDetail string `json:"server_exit_detail,omitempty"` // exit status and the tail of its stderr
	Error      string `json:"error,omitempty"`              // what kept the sample from being measured
	// Unavailable is the reason the server gave for not running on this
	// machine at all (servers.ErrUnavailable: io_uring switched off, ...);
	// Error is set too. A result about the machine, not a failure.
	Unavailable string `json:"unavailable,omitempty"`
}

// OK reports whether the sample has a measurement and its server stopped cleanly.
func (s Sample) OK() bool { return s.Result != nil && s.Error == "" && s.Exit == ExitClean }

// ErrSchema: results.json has a schema this version cannot read.
var ErrSchema = errors.New("results: unsupported schema")

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("results: encode json: %w", err)
	}
	return nil
}

// runJSON is Run's JSON form: Run's fields, and SLO as "slo_us".
type runJSON struct {
	runFields
	SLOus float64 `json:"slo_us,omitempty"`
}

// runFields is Run without its methods, so runJSON does not recurse.
type runFields Run

// MarshalJSON writes r with SLO in microseconds ("slo_us").
func (r Run) MarshalJSON() ([]byte, error) {
	return json.Marshal(runJSON{runFields: runFields(r), SLOus: Micros(r.SLO)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Run) UnmarshalJSON(b []byte) error {
	var v runJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Run(v.runFields)
	r.SLO = time.Duration(math.Round(v.SLOus * float64(time.Microsecond)))
	return nil
}

// ReadJSON reads a Run written by WriteJSON.
func ReadJSON(rd io.Reader) (*Run, error) {
	var r Run
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("results: decode json: %w", err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("%w %d (this archbench reads %d)", ErrSchema, r.Schema, SchemaVersion)
	}
	return &r, nil
}

// The files of a results folder: results.json, written by `archbench run`
// (WriteJSON), and what package report renders from it alone.
const (
	FileJSON  = "results.json"
	FileMD    = "results.md"
	FileCSV   = "results.csv"
	FileBench = "results.bench.txt"
)
