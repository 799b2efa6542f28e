package xmlrpc

import (
	"testing"
	"time"
)

// TestRepr pins the forms Python's repr gives (checked with python3 3.11).
func TestRepr(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{1e16, "1e+16"}, {1.5e-05, "1.5e-05"}, {0.0001, "0.0001"}, {123.456, "123.456"}, {-2.0, "-2.0"},
		{1e300, "1e+300"}, {int64(-3), "-3"}, {true, "True"}, {nil, "None"},
		{"it's", `"it's"`}, {`a'b"c`, `'a\'b"c'`}, {"é\n\x01\u200b", `'é\n\x01\u200b'`},
		{[]byte("a'\xff"), `b"a'\xff"`},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "<DateTime '20260102T03:04:05'>"},
		{[]any{int64(1), map[string]any{"b": 2.5, "a": []any{}}}, "[1, {'a': [], 'b': 2.5}]"},
		{&Fault{Code: 1, String: "x"}, "<Fault 1: 'x'>"},
	} {
		if got := Repr(c.v); got != c.want {
			t.Errorf("Repr(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}
