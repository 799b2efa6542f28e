package scenarios

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"archbench/internal/settings"
	"archbench/protocol"
)

//go:embed *.yaml
var embedded embed.FS

// Errors the package reports; each is wrapped with the file, line and
// scenario it concerns.
var (
	// ErrUnknownSuite: no embedded suite of that name and no such file.
	ErrUnknownSuite = errors.New("scenarios: unknown suite")
	// ErrSyntax: the file is not valid YAML for the schema (unknown key, wrong type, bad duration).
	ErrSyntax = errors.New("scenarios: bad suite file")
	// ErrInvalid: a setting cannot work (conns above the fd limit, framing mismatch, unknown architecture, ...).
	ErrInvalid = errors.New("scenarios: invalid scenario")
)

// DefaultSuite is what `archbench run` and `make bench` run.
const DefaultSuite = "quick"

// Names lists the embedded suites.
func Names() []string {
	ents, err := embedded.ReadDir(".")
	if err != nil {
		return nil
	}
	var n []string
	for _, e := range ents {
		n = append(n, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(n)
	return n
}

// Embedded parses the embedded suite called name ("quick", "full").
func Embedded(name string) (*Suite, error) {
	data, err := embedded.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w %q (embedded suites: %s)", ErrUnknownSuite, name, strings.Join(Names(), ", "))
	}
	return Parse(name+".yaml", data)
}

// Open returns the embedded suite called nameOrPath, or else parses the
// file at that path.
func Open(nameOrPath string) (*Suite, error) {
	if slices.Contains(Names(), nameOrPath) {
		return Embedded(nameOrPath)
	}
	f, err := os.Open(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("%w %q: not an embedded suite (%s) and not a readable file: %w",
			ErrUnknownSuite, nameOrPath, strings.Join(Names(), ", "), err)
	}
	defer f.Close()
	// Read one byte past the cap: a larger file is refused before parsing.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("suite file %s: %w", nameOrPath, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: suite file %s is over %d KiB: not a scenario file", ErrInvalid, nameOrPath, MaxFileSize>>10)
	}
	return Parse(nameOrPath, data)
}

// MaxFileSize bounds a suite file; a larger one is refused unread (the
// full suite is 10 KiB).
const MaxFileSize = 1 << 20

// The file's form. The server: and load: sections stay YAML nodes here and
// are decoded into servers.Config and loadgen.Config by internal/settings,
// the defaults first and each scenario's over a copy of them.
type (
	suiteFile struct {
		Name        string         `yaml:"suite"`
		Description string         `yaml:"description"`
		Budget      *time.Duration `yaml:"budget"`
		Defaults    sectionsFile   `yaml:"defaults"`
		Scenarios   []scenarioFile `yaml:"scenarios"`
	}
	scenarioFile struct {
		Name         string     `yaml:"name"`
		Description  string     `yaml:"description"`
		Archs        []string   `yaml:"archs"`
		RateSweep    *RateSweep `yaml:"rate_sweep"`
		sectionsFile `yaml:",inline"`
	}
	sectionsFile struct {
		Server yaml.Node `yaml:"server"`
		Load   yaml.Node `yaml:"load"`
	}
)

// runnerOwned are the settings a scenario cannot set, by section and key,
// with the reason the error gives.
var runnerOwned = map[string]map[string]string{
	"server": {
		"network": "the runner serves on tcp",
		"addr":    "the runner picks 127.0.0.1:0",
	},
	"load": {
		"network": "the load uses the server's network",
		"addr":    "the load connects to the server's address",
		"framing": "the load always uses the server's framing (set server.framing)",
	},
}

// Parse reads one suite file. Unknown keys, settings the runner owns and
// values of the wrong type are errors naming the file and line; the
// scenario settings are merged with the suite's defaults but not yet
// validated (see Validate).
func Parse(file string, data []byte) (*Suite, error) {
	var f suiteFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w %s: empty file", ErrSyntax, file)
		}
		return nil, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w %s: more than one YAML document; want one suite per file", ErrSyntax, file)
	}
	s := &Suite{File: file, Name: f.Name, Description: f.Description}
	if f.Budget != nil {
		if *f.Budget <= 0 {
			return nil, fmt.Errorf("%w %s: budget %v: want a positive duration such as 4m30s (leave it out for a fixed number of repetitions)", ErrSyntax, file, *f.Budget)
		}
		s.Budget = *f.Budget
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	var errs []string
	decode := func(into *Settings, from sectionsFile) {
		for _, sec := range []struct {
			name string
			node *yaml.Node
			cfg  any
		}{{"server", &from.Server, &into.Server}, {"load", &from.Load, &into.Load}} {
			var te *yaml.TypeError
			if err := settings.DecodeYAML(sec.node, sec.cfg, sec.name, runnerOwned[sec.name]); errors.As(err, &te) {
				errs = append(errs, te.Errors...)
			}
		}
	}
	decode(&s.Defaults, f.Defaults)
	for _, sf := range f.Scenarios {
		sc := Scenario{Name: sf.Name, Description: sf.Description, Archs: sf.Archs, RateSweep: sf.RateSweep, Settings: s.Defaults}
		decode(&sc.Settings, sf.sectionsFile)
		sc.Server.Network = "tcp"
		sc.Load.Network, sc.Load.Framing = "tcp", sc.Server.Framing
		s.Scenarios = append(s.Scenarios, sc)
	}
	if len(errs) > 0 {
		return nil, syntaxError(file, &yaml.TypeError{Errors: errs})
	}
	// A second pass for the line of each scenario, so that later errors
	// can point at it.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		lines := scenarioLines(&doc)
		for i := range s.Scenarios {
			if i < len(lines) {
				s.Scenarios[i].line = lines[i]
			}
		}
	}
	return s, nil
}

func scenarioLines(doc *yaml.Node) []int {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "scenarios" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, it := range m.Content[i+1].Content {
				lines = append(lines, it.Line)
			}
			return lines
		}
	}
	return nil
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

// sections names the YAML section each schema type is decoded from.
var sections = map[string]reflect.Type{
	"the suite":  reflect.TypeOf(suiteFile{}),
	"a scenario": reflect.TypeOf(scenarioFile{}),
	"defaults":   reflect.TypeOf(sectionsFile{}),
	"rate_sweep": reflect.TypeOf(RateSweep{}),
}

// syntaxError rewrites yaml's type errors to name the file, the line and,
// for an unknown key, the keys that section accepts (settings.DecodeYAML
// words its own that way already).
func syntaxError(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%w %s: %w", ErrSyntax, file, err)
	}
	var msgs []string
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			section, keys := "", []string(nil)
			for name, t := range sections {
				if t.String() == m[3] {
					section, keys = name, yamlKeys(t)
				}
			}
			e = fmt.Sprintf("line %s: unknown key %q in %s (known keys: %s)", m[1], m[2], section, strings.Join(keys, ", "))
		}
		msgs = append(msgs, file+": "+e)
	}
	return fmt.Errorf("%w: %s", ErrSyntax, strings.Join(msgs, "; "))
}

// yamlKeys lists the keys a struct type accepts, inlined structs included.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
		case strings.Contains(opts, "inline"):
			keys = append(keys, yamlKeys(f.Type)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// Env is what validation checks a suite against.
type Env struct {
	// Archs are the known architecture names.
	Archs []string
	// MaxFDs is the per-process file descriptor limit (the RLIMIT_NOFILE
	// hard limit; 0 = do not check). Both the server and the generator hold
	// one descriptor per connection.
	MaxFDs uint64
}

// MaxSweepSteps bounds a rate sweep's steps.
const MaxSweepSteps = 50

// FDReserve is the descriptors a process needs besides its connections
// (stdio, listener, epoll, pipes, ...).
const FDReserve = 64

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Validate reports every problem of the suite at once, each naming the
// file, line and scenario, joined into one error wrapping ErrInvalid.
func (s *Suite) Validate(env Env) error {
	var errs []error
	bad := func(sc *Scenario, format string, a ...any) {
		where := s.File
		if sc != nil {
			if sc.line > 0 {
				where = fmt.Sprintf("%s:%d", where, sc.line)
			}
			where += fmt.Sprintf(": scenario %q", sc.Name)
		}
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, where, fmt.Sprintf(format, a...)))
	}
	if !nameRE.MatchString(s.Name) {
		bad(nil, "suite name %q: use a-z, 0-9, '.', '_' and '-'", s.Name)
	}
	if len(s.Scenarios) == 0 {
		bad(nil, "no scenarios")
	}
	seen := map[string]bool{}
	for i := range s.Scenarios {
		sc := &s.Scenarios[i]
		switch {
		case sc.Name == "":
			bad(sc, "missing name")
		case !nameRE.MatchString(sc.Name):
			bad(sc, "name %q: use a-z, 0-9, '.', '_' and '-' (it appears in benchmark names)", sc.Name)
		case seen[sc.Name]:
			bad(sc, "duplicate name")
		}
		seen[sc.Name] = true
		if strings.TrimSpace(sc.Description) == "" {
			bad(sc, "missing description: say what the scenario shows")
		}
		for _, a := range sc.Archs {
			if !slices.Contains(env.Archs, a) {
				bad(sc, "unknown architecture %q (known: %s)", a, strings.Join(env.Archs, ", "))
			} else if !sc.AppliesTo(a) {
				bad(sc, "architecture %q does not speak the scenario's protocol %q", a, cmp.Or(sc.Load.Protocol, "byte protocol"))
			}
		}
		srv := sc.Server
		srv.Addr = "127.0.0.1:0"
		if err := srv.Validate(); err != nil {
			bad(sc, "server: %v", err)
		}
		load := sc.Load.WithDefaults()
		load.Addr = "127.0.0.1:1"
		if err := load.Validate(); err != nil {
			bad(sc, "load: %v", err)
		}
		if sc.Load.Duration <= 0 {
			bad(sc, "load: missing duration (e.g. duration: 1.5s, or set it under defaults)")
		}
		if maxMsg := srv.MaxMsg; srv.Framing != protocol.Raw {
			if maxMsg == 0 {
				maxMsg = protocol.DefaultMaxMsg
			}
			if load.Size > maxMsg {
				bad(sc, "load size %d exceeds the server's max_msg %d: every message would be refused", load.Size, maxMsg)
			}
		}
		if n := load.Conns + load.SlowConns + load.IdleConns; env.MaxFDs > 0 && uint64(n)+FDReserve > env.MaxFDs {
			bad(sc, "load conns %d + slow_conns %d + idle_conns %d needs %d file descriptors in the server and as many in the generator, above the RLIMIT_NOFILE hard limit %d (lower them or raise the limit: ulimit -Hn)",
				load.Conns, load.SlowConns, load.IdleConns, n+FDReserve, env.MaxFDs)
		}
		if rs := sc.RateSweep; rs != nil {
			if rs.From <= 0 || rs.To <= rs.From {
				bad(sc, "rate_sweep: from %v to %v: want 0 < from < to (fractions of the saturation rate, e.g. from: 0.1, to: 1.2)", rs.From, rs.To)
			}
			if rs.Steps < 2 || rs.Steps > MaxSweepSteps {
				bad(sc, "rate_sweep: steps %d: want 2 to %d", rs.Steps, MaxSweepSteps)
			}
			if load.Rate > 0 || load.Depth > 1 || load.Churn {
				bad(sc, "rate_sweep sets the rate itself: leave load.rate, depth and churn out (the saturation run is a closed loop of depth 1)")
			}
		}
	}
	return errors.Join(errs...)
}
