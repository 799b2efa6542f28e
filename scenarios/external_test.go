package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExternal(t *testing.T) {
	x, err := ParseExternal("mine=./srv --port {port}")
	require.NoError(t, err)
	assert.Equal(t, External{Name: "mine", Command: "./srv --port {port}"}, x)
	for _, bad := range []string{"mine", "=cmd", "mine=", "Bad Name=cmd"} {
		_, err := ParseExternal(bad)
		assert.Error(t, err, bad)
	}
}

func TestSuiteExternal(t *testing.T) {
	const head = "suite: x\ndescription: d\ndefaults: {load: {duration: 1s}}\n"
	const sc = "scenarios:\n  - name: a\n    description: d\n    archs: [mine, c-epoll, sequential]\n"
	isBaseline := func(n string) bool { return n == "c-epoll" }
	env := Env{Archs: []string{"sequential"}, Baseline: isBaseline}

	s, err := Parse("x.yaml", []byte(head+"external:\n  - name: mine\n    command: ./srv {port}\n  - name: c-epoll\n"+sc))
	require.NoError(t, err)
	require.NoError(t, s.Validate(env))
	assert.Equal(t, []External{{Name: "mine", Command: "./srv {port}"}, {Name: "c-epoll"}}, s.External)

	for _, tt := range []struct{ ext, want string }{
		{ext: "  - name: mine\n", want: `external "mine" has no command and is not a shipped baseline`},
		{ext: "  - name: sequential\n    command: x\n", want: "name of a built-in architecture"},
		{ext: "  - name: c-epoll\n  - name: c-epoll\n", want: "listed twice"},
	} {
		s, err := Parse("x.yaml", []byte(head+"external:\n"+tt.ext+sc))
		require.NoError(t, err)
		err = s.Validate(env)
		require.Error(t, err, tt.ext)
		assert.True(t, strings.Contains(err.Error(), tt.want), "%v, want %q", err, tt.want)
	}
	_, err = Parse("x.yaml", []byte(head+"external:\n  - name: a\n    cmd: x\n"+sc))
	assert.ErrorContains(t, err, `unknown key "cmd" in external`)
}
