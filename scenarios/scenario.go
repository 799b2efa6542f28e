package scenarios

import (
	"time"

	"archbench/loadgen"
	"archbench/servers"
)

// Suite is a named list of scenarios, one YAML file (see Parse for its form).
type Suite struct {
	// Name identifies the suite in results ("quick"); it defaults to the
	// file's base name without its extension.
	Name string
	// Description says what the suite is for.
	Description string
	// Budget is the time `archbench run` spends on the suite unless its
	// flags say otherwise (--budget, or --reps for a fixed design): after
	// the minimum repetitions, the rest goes to the cells that decide the
	// ranking (runner.Options.Budget). 0 = no budget: a fixed number of
	// repetitions. In the file, "budget: 4m30s" at the top; it must be
	// positive when present.
	Budget time.Duration
	// Defaults are the settings every scenario starts from: a scenario's
	// server: and load: sections are decoded over a copy of them, so a
	// setting the scenario leaves out keeps its default. Typically warmup,
	// duration and timeout.
	Defaults Settings
	// Scenarios run in this order.
	Scenarios []Scenario

	// File is where the suite was read from ("quick.yaml" for an embedded
	// suite, the path for a user's file); it prefixes every error.
	File string
}

// Settings is a scenario's server and load settings, decoded straight into
// the configs the runner uses. The runner owns the server's and the load's
// network and address and the load's framing: Network is always tcp and
// Load.Framing the server's; Addr is left for the runner. Load holds what the
// file says, defaults not filled: Load.WithDefaults() is what runs.
type Settings struct {
	Server servers.Config
	Load   loadgen.Config
}

// Scenario is one load shape applied to every architecture (or to those
// listed in Archs).
type Scenario struct {
	// Name is short and URL-safe (a-z, 0-9, '.', '_', '-'): it appears in
	// benchmark names as scenario=NAME.
	Name string
	// Description says what the scenario shows.
	Description string
	// Archs restricts the scenario to these architectures (empty = all).
	Archs []string
	// RateSweep, if set, makes the scenario a rate sweep: the runner first
	// measures each architecture's saturation (the scenario as a closed
	// loop), then runs it as an open loop at each fraction of that rate.
	RateSweep *RateSweep

	Settings

	line int // where the scenario starts in its file, for errors
}

// RateSweep is a rate sweep relative to each architecture's saturation:
// Steps offered rates evenly spaced from From to To times the closed-loop
// rate measured first (0.1 to 1.2 in 6 steps: 10%, 32%, 54%, 76%, 98%, 120%).
type RateSweep struct {
	From  float64 `yaml:"from"`
	To    float64 `yaml:"to"`
	Steps int     `yaml:"steps"`
}

// Fractions are the sweep's steps as fractions of the saturation rate.
func (r RateSweep) Fractions() []float64 {
	if r.Steps < 2 {
		return []float64{r.From}
	}
	f := make([]float64, r.Steps)
	for i := range f {
		f[i] = r.From + (r.To-r.From)*float64(i)/float64(r.Steps-1)
	}
	return f
}

// AppliesTo reports whether the scenario runs on arch: arch speaks the
// scenario's protocol (its Arch.Protocol equals Load.Protocol; a name not
// registered speaks the byte protocol) and is in Archs, if set.
func (s Scenario) AppliesTo(arch string) bool {
	speaks := ""
	if a, err := servers.Lookup(arch); err == nil {
		speaks = a.Protocol
	}
	if speaks != s.Load.Protocol {
		return false
	}
	if len(s.Archs) == 0 {
		return true
	}
	for _, a := range s.Archs {
		if a == arch {
			return true
		}
	}
	return false
}

// Line is the line of the suite file where the scenario starts (0 if unknown).
func (s Scenario) Line() int { return s.line }
