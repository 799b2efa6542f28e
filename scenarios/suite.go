package scenarios

import (
	"bytes"
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

	"go.yaml.in/yaml/v3"

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
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("%w %q: not an embedded suite (%s) and not a readable file: %w",
			ErrUnknownSuite, nameOrPath, strings.Join(Names(), ", "), err)
	}
	return Parse(nameOrPath, data)
}

// Parse reads one suite file. Unknown keys and values of the wrong type are
// errors naming the file and line; the scenario settings are merged with the
// suite's defaults but not yet validated (see Validate).
func Parse(file string, data []byte) (*Suite, error) {
	s := &Suite{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w %s: empty file", ErrSyntax, file)
		}
		return nil, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w %s: more than one YAML document; want one suite per file", ErrSyntax, file)
	}
	s.File = file
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
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
	for i := range s.Scenarios {
		s.Scenarios[i].Settings = s.Scenarios[i].Settings.withDefaults(s.Defaults)
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
	"the suite":   reflect.TypeOf(Suite{}),
	"a scenario":  reflect.TypeOf(Scenario{}),
	"defaults":    reflect.TypeOf(Settings{}),
	"server":      reflect.TypeOf(Server{}),
	"server.work": reflect.TypeOf(Work{}),
	"load":        reflect.TypeOf(Load{}),
	"rate_sweep":  reflect.TypeOf(RateSweep{}),
}

// syntaxError rewrites yaml's type errors to name the file, the line and,
// for an unknown key, the keys that section accepts.
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
		case name == "-" || !f.IsExported():
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
			}
		}
		srv := sc.ServerConfig()
		srv.Addr = "127.0.0.1:0"
		if err := srv.Validate(); err != nil {
			bad(sc, "server: %v", err)
		}
		if f := sc.Load.Framing; f != nil && *f != sc.Server.Framing {
			bad(sc, "framing mismatch: load uses %s but the server uses %s (set server.framing; the load follows it)", *f, sc.Server.Framing)
		}
		load := sc.LoadConfig()
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
