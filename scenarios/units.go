package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"archbench/protocol"
)

// Duration is a time.Duration written as in Go: "300ms", "1.5s", "2m".
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts a Go duration string; a bare number is refused
// because its unit would be a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "want a duration such as 300ms or 1.5s")
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return typeErrorf(n, "bad duration %q: want a number with a unit, e.g. 300ms, 1.5s or 2m", n.Value)
	}
	if v < 0 {
		return typeErrorf(n, "duration %q must not be negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Size is a byte count written as a number (16384) or with a unit:
// B, KiB, MiB, GiB, KB, MB, GB ("16KiB", "1MiB").
type Size int

// UnmarshalYAML accepts a non-negative integer or a number with a unit.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "want a size such as 16384 or 16KiB")
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return typeErrorf(n, "%v", err)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses a byte count with an optional unit.
func ParseSize(s string) (int, error) {
	str := strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if strings.HasSuffix(str, u.suffix) {
			str, mult = strings.TrimSpace(strings.TrimSuffix(str, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(str)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q: want bytes, e.g. 16384, 16KiB or 1MiB", s)
	}
	return n * mult, nil
}

func typeErrorf(n *yaml.Node, format string, a ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, a...))}}
}

// Framing is a protocol.Framing written by name: raw, line or length.
type Framing protocol.Framing

func (f Framing) String() string { return protocol.Framing(f).String() }

// UnmarshalYAML accepts raw, line or length.
func (f *Framing) UnmarshalYAML(n *yaml.Node) error {
	v, err := protocol.ParseFraming(strings.TrimSpace(n.Value))
	if n.Kind != yaml.ScalarNode || err != nil {
		return typeErrorf(n, "bad framing %q: want raw, line or length", n.Value)
	}
	*f = Framing(v)
	return nil
}

// MarshalYAML writes f by name.
func (f Framing) MarshalYAML() (any, error) { return f.String(), nil }
