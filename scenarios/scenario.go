package scenarios

import (
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

// Suite is a named list of scenarios, one YAML file.
type Suite struct {
	// Name identifies the suite in results ("quick"); it defaults to the
	// file's base name without its extension.
	Name string `yaml:"suite,omitempty"`
	// Description says what the suite is for.
	Description string `yaml:"description,omitempty"`
	// Defaults fill every scenario setting that the scenario leaves out (or
	// sets to zero), typically warmup, duration and timeout.
	Defaults Settings `yaml:"defaults,omitempty"`
	// Scenarios run in this order.
	Scenarios []Scenario `yaml:"scenarios"`

	// File is where the suite was read from ("quick.yaml" for an embedded
	// suite, the path for a user's file); it prefixes every error.
	File string `yaml:"-"`
}

// Settings is a scenario's server and load settings.
type Settings struct {
	Server Server `yaml:"server,omitempty"`
	Load   Load   `yaml:"load,omitempty"`
}

// Scenario is one load shape applied to every architecture (or to those
// listed in Archs).
type Scenario struct {
	// Name is short and URL-safe (a-z, 0-9, '.', '_', '-'): it appears in
	// benchmark names as scenario=NAME.
	Name string `yaml:"name"`
	// Description says what the scenario shows.
	Description string `yaml:"description"`
	// Archs restricts the scenario to these architectures (empty = all).
	Archs []string `yaml:"archs,omitempty"`
	// RateSweep, if set, makes the scenario a rate sweep: the runner first
	// measures each architecture's saturation (the scenario as a closed
	// loop), then runs it as an open loop at each fraction of that rate.
	RateSweep *RateSweep `yaml:"rate_sweep,omitempty"`

	Settings `yaml:",inline"`

	line int // where the scenario starts in its file, for errors
}

// Server is the subset of servers.Config a scenario sets. The address is
// always 127.0.0.1:0 and the network tcp: the runner picks them.
type Server struct {
	Framing     Framing  `yaml:"framing,omitempty"`      // raw (default), line or length
	MaxMsg      Size     `yaml:"max_msg,omitempty"`      // largest framed message (0 = 1 MiB)
	Work        Work     `yaml:"work,omitempty"`         // per-message handler cost
	Workers     int      `yaml:"workers,omitempty"`      // workerpool goroutines (0 = 4)
	Loops       int      `yaml:"loops,omitempty"`        // event loops (0 = 1)
	MaxConns    int      `yaml:"max_conns,omitempty"`    // 0 = no cap
	OutCap      Size     `yaml:"out_cap,omitempty"`      // pending output cap (0 = 4 MiB)
	IdleTimeout Duration `yaml:"idle_timeout,omitempty"` // 0 = never
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

// Work is the per-message handler cost (framed protocols only).
type Work struct {
	CPU   Duration `yaml:"cpu,omitempty"`
	Sleep Duration `yaml:"sleep,omitempty"`
}

// Load is the subset of loadgen.Config a scenario sets.
type Load struct {
	// Framing, if given, must equal the server's; the generator always
	// uses the server's framing.
	Framing  *Framing        `yaml:"framing,omitempty"`
	Conns    int             `yaml:"conns,omitempty"`    // connections (0 = 1)
	Depth    int             `yaml:"depth,omitempty"`    // closed loop: messages in flight per connection (0 = 1)
	Rate     float64         `yaml:"rate,omitempty"`     // open loop: messages per second in total (0 = closed loop)
	Size     Size            `yaml:"size,omitempty"`     // payload bytes (0 = 16)
	Content  loadgen.Content `yaml:"content,omitempty"`  // ascii (default) or utf8
	Warmup   Duration        `yaml:"warmup,omitempty"`   // excluded from the measurement
	Duration Duration        `yaml:"duration,omitempty"` // measured time (required)
	Timeout  Duration        `yaml:"timeout,omitempty"`  // per read and write (0 = 2s)

	SlowConns    int      `yaml:"slow_conns,omitempty"`    // side load: connections trickling one byte per slow_interval
	SlowInterval Duration `yaml:"slow_interval,omitempty"` // pause between a slow connection's bytes (0 = 1s)
	IdleConns    int      `yaml:"idle_conns,omitempty"`    // side load: connections held idle
	Churn        bool     `yaml:"churn,omitempty"`         // a new connection per message
}

// ServerConfig is the servers.Config the scenario's server runs with; Addr
// is left for the runner.
func (s Scenario) ServerConfig() servers.Config {
	v := s.Server
	return servers.Config{
		Network:     "tcp",
		Framing:     protocol.Framing(v.Framing),
		MaxMsg:      int(v.MaxMsg),
		Work:        protocol.Work{CPU: v.Work.CPU.D(), Sleep: v.Work.Sleep.D()},
		Workers:     v.Workers,
		Loops:       v.Loops,
		MaxConns:    v.MaxConns,
		OutCap:      int(v.OutCap),
		IdleTimeout: v.IdleTimeout.D(),
	}
}

// LoadConfig is the loadgen.Config the scenario's load runs with, zero
// values filled with loadgen's defaults; Addr is left for the runner.
func (s Scenario) LoadConfig() loadgen.Config {
	v := s.Load
	return loadgen.Config{
		Network:  "tcp",
		Framing:  protocol.Framing(s.Server.Framing),
		Conns:    v.Conns,
		Depth:    v.Depth,
		Rate:     v.Rate,
		Size:     int(v.Size),
		Content:  v.Content,
		Warmup:   v.Warmup.D(),
		Duration: v.Duration.D(),
		Timeout:  v.Timeout.D(),

		SlowConns:    v.SlowConns,
		SlowInterval: v.SlowInterval.D(),
		IdleConns:    v.IdleConns,
		Churn:        v.Churn,
	}.WithDefaults()
}

// AppliesTo reports whether the scenario runs on arch.
func (s Scenario) AppliesTo(arch string) bool {
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

// withDefaults fills s's zero settings from d.
func (s Settings) withDefaults(d Settings) Settings {
	fill(&s.Server.Framing, d.Server.Framing)
	fill(&s.Server.MaxMsg, d.Server.MaxMsg)
	fill(&s.Server.Work.CPU, d.Server.Work.CPU)
	fill(&s.Server.Work.Sleep, d.Server.Work.Sleep)
	fill(&s.Server.Workers, d.Server.Workers)
	fill(&s.Server.Loops, d.Server.Loops)
	fill(&s.Server.MaxConns, d.Server.MaxConns)
	fill(&s.Server.OutCap, d.Server.OutCap)
	fill(&s.Server.IdleTimeout, d.Server.IdleTimeout)
	if s.Load.Framing == nil {
		s.Load.Framing = d.Load.Framing
	}
	fill(&s.Load.Conns, d.Load.Conns)
	fill(&s.Load.Depth, d.Load.Depth)
	fill(&s.Load.Rate, d.Load.Rate)
	fill(&s.Load.Size, d.Load.Size)
	fill(&s.Load.Content, d.Load.Content)
	fill(&s.Load.Warmup, d.Load.Warmup)
	fill(&s.Load.Duration, d.Load.Duration)
	fill(&s.Load.Timeout, d.Load.Timeout)
	fill(&s.Load.SlowConns, d.Load.SlowConns)
	fill(&s.Load.SlowInterval, d.Load.SlowInterval)
	fill(&s.Load.IdleConns, d.Load.IdleConns)
	fill(&s.Load.Churn, d.Load.Churn)
	return s
}

func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
