package xmlrpc_test

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"archbench/servers"
	rpc "archbench/xmlrpc"
)

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the interop tests with Python's xmlrpc need it")
	}
	return p
}

// TestPythonClient: Python's own xmlrpc.client makes the textbook's calls,
// a MultiCall among them, against the xmlrpc architecture.
func TestPythonClient(t *testing.T) {
	py := python(t)
	s := start(t, servers.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/textbook_client.py", s.Addr().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		`'xyz'`,
		`15`,
		`<Fault -32500: 'addtogether: cannot add string and int'>`,
		`[-1.0]`,
		`[0.0, 2.0]`,
		`<Fault -32500: 'quadratic: no real roots (discriminant -4)'>`,
		`'HELLO, WÖRLD'`,
		`b'A\xffB'`,
		`['addtogether', 'quadratic', 'system.listMethods', 'system.methodHelp', 'system.methodSignature', 'system.multicall', 'upper']`,
		`"addtogether(*things) adds its arguments as Python's reduce(add, things) does: the sum of numbers, the concatenation of strings, the join of arrays; mixed types are a fault."`,
		`[['array', 'double', 'double', 'double']]`,
		`<Fault -32601: 'method "nope" is not supported'>`,
		`'ab', [1.0, 2.0], 'MULTI', <Fault -32500: 'quadratic: a = 0 makes the equation linear, not quadratic'>`,
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("python printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: python printed\n  %s\nwant\n  %s", i+1, got[i], want[i])
		}
	}
}

// TestPythonServer: archbench's client (what `archbench call` uses, and its
// Repr, what call prints) against Python's SimpleXMLRPCServer with the
// textbook's functions, introspection and multicall.
func TestPythonServer(t *testing.T) {
	py := python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/textbook_server.py")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the server stops when its stdin closes
		if err := cmd.Wait(); err != nil {
			t.Errorf("python server: %v", err)
		}
	}()
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("python server printed no port: %v", err)
	}
	c := &rpc.Client{Addr: "127.0.0.1:" + strings.TrimSpace(port), Timeout: 10 * time.Second}
	defer c.Close()
	for _, tc := range []struct {
		method string
		params []any
		want   string
	}{
		{"addtogether", []any{"x", "y", "z"}, `'xyz'`},
		{"addtogether", []any{int64(1), int64(2), int64(3), int64(4), int64(5)}, `15`},
		{"quadratic", []any{int64(1), int64(2), int64(1)}, `[-1.0]`},
		// The textbook's arithmetic: divided by 2, then multiplied by a.
		{"quadratic", []any{int64(2), int64(-4), int64(0)}, `[0.0, 8.0]`},
		{"remote_repr", []any{[]any{int64(1), 2.0, "three", map[string]any{"k": true}}}, `[1, 2.0, 'three', {'k': True}]`},
		{"system.listMethods", nil, `['addtogether', 'quadratic', 'remote_repr', 'system.listMethods', 'system.methodHelp', 'system.methodSignature', 'system.multicall']`},
		{"system.methodHelp", []any{"addtogether"}, "'Add together everything in the list `things`.'"},
		{"system.multicall", []any{[]any{
			map[string]any{"methodName": "addtogether", "params": []any{"a", "b"}},
			map[string]any{"methodName": "quadratic", "params": []any{int64(1), int64(0), int64(1)}},
		}}, `[['ab'], {'faultCode': 1, 'faultString': "<class 'ValueError'>:math domain error"}]`},
	} {
		v, err := c.Call(ctx, tc.method, tc.params...)
		if err != nil {
			t.Errorf("%s: %v", tc.method, err)
			continue
		}
		if got := rpc.Repr(v); got != tc.want {
			t.Errorf("%s%v = %s, want %s", tc.method, tc.params, got, tc.want)
		}
	}
	// A fault from Python's server, as ServerProxy shows it.
	_, err = c.Call(ctx, "addtogether", "x", int64(1))
	var f *rpc.Fault
	if !errors.As(err, &f) || f.Code != 1 || !strings.Contains(f.String, "TypeError") {
		t.Fatalf("mixed types: %v", err)
	}
	_, err = c.Call(ctx, "nope")
	if !errors.As(err, &f) || !strings.Contains(rpc.ReprFault(f), `method "nope" is not supported`) {
		t.Fatalf("unknown method: %v", err)
	}
}
