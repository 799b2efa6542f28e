package settings

import (
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

// TestParseSize holds the cases of both parsers it replaced: the scenario
// files' (no K, M, G) and the flags' (also K, M, G).
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{
		"0": 0, "16": 16, "4096": 4096, "16B": 16, "512B": 512, "16KiB": 16384, "64KiB": 64 << 10, "1MiB": 1 << 20,
		"2 MiB": 2 << 20, "1GiB": 1 << 30, "4MB": 4000000, " 2 KB ": 2000, "1GB": 1e9, "1K": 1 << 10, "4M": 4 << 20, "1G": 1 << 30,
	} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "-1", "1.5KiB", "1.5MiB", "KiB", "16k", "1TiB", "16 kilobytes", "99999999999GiB"} {
		_, err := ParseSize(in)
		assert.Error(t, err, in)
	}
}

func TestParseDuration(t *testing.T) {
	d, err := ParseDuration(" 1.5s ")
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)
	for _, in := range []string{"", "1.5", "300", "soon", "-1s"} {
		_, err := ParseDuration(in)
		assert.Error(t, err, in)
	}
}

// TestEveryFieldHasHelp is the doc test of the schema: every setting of
// both configs has a flag with help text, and the names are unique.
func TestEveryFieldHasHelp(t *testing.T) {
	for _, cfg := range []any{servers.Config{}, loadgen.Config{}} {
		seen := map[string]bool{}
		for _, f := range Fields(reflect.TypeOf(cfg)) {
			assert.NotEmpty(t, strings.TrimSpace(f.Help), "%T: %s has no help tag", cfg, f.Key)
			assert.False(t, seen[f.Flag], "%T: flag --%s twice", cfg, f.Flag)
			seen[f.Flag] = true
		}
	}
}

// TestFields pins the derived names: YAML/JSON key and flag of each setting.
// fieldsFixture has one of each kind of field Fields must handle.
type fieldsFixture struct {
	Name    string        `json:"name,omitempty" help:"a string"`
	MaxSize int           `json:"max_size" unit:"bytes" help:"a size"`
	Nested  protocol.Work `json:"work"`
	Plain   int           // no tag: its lower-case name
	Hidden  int           `json:"-"`
	Timeout time.Duration `json:"timeout_after,omitempty"`
	private int
}

func TestFields(t *testing.T) {
	var got []string
	for _, f := range Fields(reflect.TypeOf(fieldsFixture{})) {
		s := f.Key + " --" + f.Flag
		if f.Size {
			s += " size"
		}
		got = append(got, s)
	}
	assert.Equal(t, []string{"name --name", "max_size --max-size size", "work.cpu --work-cpu", "work.sleep --work-sleep",
		"plain --plain", "timeout_after --timeout-after"}, got)
	_ = fieldsFixture{}.private
}

func TestBindFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := servers.Config{Workers: 4, MaxMsg: 1 << 20}
	BindFlags(fs, &cfg)
	assert.Equal(t, "4", fs.Lookup("workers").DefValue, "the value at binding is the default")
	assert.Contains(t, fs.Lookup("workers").Usage, "(0 means the default)")
	assert.NotContains(t, fs.Lookup("max-conns").Usage, "means the default", "its default is 0 itself")
	assert.Equal(t, "1MiB", fs.Lookup("max-msg").DefValue, "a size in its unit")
	cfg.MaxMsg = 0
	assert.Equal(t, "raw", fs.Lookup("framing").DefValue)
	require.NoError(t, fs.Parse([]string{"--framing", "line", "--out-cap", "64KiB", "--work-sleep", "1ms", "--idle-timeout", "2s"}))
	assert.Equal(t, servers.Config{Framing: protocol.Line, Workers: 4, OutCap: 64 << 10, Work: protocol.Work{Sleep: time.Millisecond}, IdleTimeout: 2 * time.Second}, cfg)
	for _, args := range [][]string{{"--out-cap", "lots"}, {"--idle-timeout", "10"}, {"--framing", "json"}, {"--loops", "x"}} {
		err := fs.Parse(args)
		assert.Error(t, err, args)
	}
}

func decode(t *testing.T, src string, cfg any, owned map[string]string) error {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return DecodeYAML(doc.Content[0], cfg, "load", owned)
}

func TestDecodeYAML(t *testing.T) {
	cfg := loadgen.Config{Conns: 9, Duration: time.Second}
	require.NoError(t, decode(t, "{size: 16KiB, warmup: 300ms, rate: 1.5e3, content: utf8, churn: true, seed: 3}", &cfg, nil))
	assert.Equal(t, loadgen.Config{Conns: 9, Duration: time.Second, Size: 16 << 10, Warmup: 300 * time.Millisecond, Rate: 1500,
		Content: loadgen.UTF8, Churn: true, Seed: 3}, cfg, "keys not named keep their values")

	err := decode(t, "size: 1\nwarmup: 5\nframing: line\nconnz: 2\nconns: [1]\ndepth: 1.5\n", &cfg, map[string]string{"framing": "the runner's"})
	var te *yaml.TypeError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, []string{
		`line 2: load.warmup: bad duration "5": want a number with a unit, e.g. 300ms, 1.5s or 2m`,
		`line 3: load.framing cannot be set in a scenario: the runner's`,
		`line 4: unknown key "connz" in load (known keys: ` + jsonKeysBut(loadgen.Config{}, "framing") + `)`,
		`line 5: load.conns: want a single value, not a list`,
		`line 6: load.depth: 1.5 is not a whole number`,
	}, te.Errors)

	var srv servers.Config
	require.NoError(t, decode(t, "{work: {cpu: 1ms}, framing: length, max_msg: 2KB}", &srv, nil))
	assert.Equal(t, servers.Config{Work: protocol.Work{CPU: time.Millisecond}, Framing: protocol.Length, MaxMsg: 2000}, srv)
	require.NoError(t, decode(t, "null", &srv, nil), "an empty section sets nothing")
}

// jsonKeysBut lists cfg's top-level json keys in order, but the ones
// named ("network, addr, conns, depth, ..." for loadgen.Config), so that a
// new setting needs no edit here.
func jsonKeysBut(cfg any, but ...string) string {
	var keys []string
	t := reflect.TypeOf(cfg)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && !slices.Contains(but, name) {
			keys = append(keys, name)
		}
	}
	return strings.Join(keys, ", ")
}
