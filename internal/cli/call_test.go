package cli

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/testnet"
	"archbench/servers"
)

// startXMLRPC runs the xmlrpc architecture in-process for a test.
func startXMLRPC(t *testing.T) string {
	t.Helper()
	s, err := servers.New("xmlrpc", servers.Config{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s.Addr().String()
}

func TestCall(t *testing.T) {
	addr := startXMLRPC(t)
	for _, c := range []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"addtogether", `"x"`, `"y"`, `"z"`}, "'xyz'\n", 0},
		{[]string{"addtogether", "1", "2", "3", "4", "5"}, "15\n", 0},
		{[]string{"quadratic", "1", "2", "1"}, "[-1.0]\n", 0},
		{[]string{"quadratic", "2", "-4", "0"}, "[0.0, 2.0]\n", 0},
		{[]string{"addtogether", `[1, "a"]`, `[{"k": null}]`}, "[1, 'a', {'k': None}]\n", 0},
		{[]string{"upper", `"it's"`}, "\"IT'S\"\n", 0},
		{[]string{"quadratic", "0", "1", "1"}, "<Fault -32500: 'quadratic: a = 0 makes the equation linear, not quadratic'>\n", 1},
		{[]string{"nope"}, "<Fault -32601: 'method \"nope\" is not supported'>\n", 1},
		{[]string{"upper", "oops"}, "", 2},
		{[]string{"upper", `"\u0001"`}, "", 2},
		{[]string{"addtogether", "3000000000"}, "", 2},
		{nil, "", 2},
	} {
		out, stderr, code := run(append([]string{"call", "--addr", addr}, c.args...)...)
		assert.Equal(t, c.out, out, "call %v", c.args)
		assert.Equal(t, c.code, code, "call %v: %s", c.args, stderr)
		if c.code == 2 {
			err := Run(context.Background(), append([]string{"call", "--addr", addr}, c.args...), io.Discard, io.Discard)
			assert.NotContains(t, err.Error(), "\n", "call %v: one line", c.args)
		}
	}
	_, _, code := run("call", "--addr", testnet.ClosedAddr(t), "upper", `"x"`)
	assert.Equal(t, 1, code, "no server")
}
