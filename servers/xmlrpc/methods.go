package xmlrpc

import (
	"fmt"
	"math"
	"slices"

	"archbench/protocol"
	rpc "archbench/xmlrpc"
)

// method is one callable method: its implementation, its help and its
// signatures (result type first, as system.methodSignature returns them;
// nil when it takes any number of arguments).
type method struct {
	call func(params []any) (any, error)
	help string
	sigs [][]string
}

// Methods serves the methods of the xmlrpc architecture. It is safe for
// concurrent use once built.
type Methods struct {
	table map[string]method
	work  protocol.Work
}

// NewMethods is the method table; work is the modelled handler cost of
// each upper call (the per-message work of the other architectures).
func NewMethods(work protocol.Work) *Methods {
	m := &Methods{work: work}
	m.table = map[string]method{
		"upper": {call: m.upper, help: "upper(s) returns s upper-cased by archbench's protocol transform. " +
			"A string carries valid UTF-8 only; send any bytes as base64 to get base64 back, invalid bytes unchanged.",
			sigs: [][]string{{"string", "string"}, {"base64", "base64"}}},
		"addtogether": {call: addTogether, help: "addtogether(*things) adds its arguments as Python's reduce(add, things) does: " +
			"the sum of numbers, the concatenation of strings, the join of arrays; mixed types are a fault."},
		"quadratic": {call: quadratic, help: "quadratic(a, b, c) returns the distinct real roots of a*x**2 + b*x + c = 0, sorted. " +
			"No real root, or a = 0 (a linear equation), is a fault.",
			sigs: [][]string{{"array", "double", "double", "double"}}},
		"system.listMethods": {call: m.listMethods, help: "system.listMethods() returns the names of the methods, sorted.",
			sigs: [][]string{{"array"}}},
		"system.methodHelp": {call: m.methodHelp, help: "system.methodHelp(name) returns the help text of a method.",
			sigs: [][]string{{"string", "string"}}},
		"system.methodSignature": {call: m.methodSignature, help: "system.methodSignature(name) returns the signatures of a method " +
			"(result type first), or the string 'signatures not supported' for one that takes any arguments.",
			sigs: [][]string{{"array", "string"}}},
		"system.multicall": {call: m.multicall, help: "system.multicall(calls) runs an array of {methodName, params} structs " +
			"in order and returns an array with, for each, an array holding its result or a fault struct. " +
			"A nested system.multicall is a fault.",
			sigs: [][]string{{"array", "array"}}},
	}
	return m
}

// Call runs one call. Its error is always a *rpc.Fault.
func (m *Methods) Call(name string, params []any) (any, error) {
	md, ok := m.table[name]
	if !ok {
		return nil, rpc.Faultf(rpc.FaultMethod, "method %q is not supported", name)
	}
	return md.call(params)
}

func paramsFault(format string, a ...any) error {
	return rpc.Faultf(rpc.FaultParams, format, a...)
}

func (m *Methods) upper(params []any) (any, error) {
	if len(params) != 1 {
		return nil, paramsFault("upper takes 1 argument, got %d", len(params))
	}
	m.work.Do()
	switch s := params[0].(type) {
	case string:
		return string(protocol.AppendUpper(make([]byte, 0, len(s)+len(s)/2), []byte(s))), nil
	case []byte:
		return protocol.AppendUpper(make([]byte, 0, len(s)+len(s)/2), s), nil
	}
	return nil, paramsFault("upper wants a string or base64, got %s", typeName(params[0]))
}

// addTogether is Python's reduce(add, things) over XML-RPC values: int and
// boolean add as integers (a double makes the sum a double), strings
// concatenate, arrays join; one argument comes back as it is.
func addTogether(params []any) (any, error) {
	if len(params) == 0 {
		return nil, paramsFault("addtogether needs at least 1 argument")
	}
	acc := params[0]
	for _, v := range params[1:] {
		var ok bool
		if acc, ok = add(acc, v); !ok {
			return nil, rpc.Faultf(rpc.FaultApplication, "addtogether: cannot add %s and %s", typeName(acc), typeName(v))
		}
	}
	if n, ok := acc.(int64); ok && (n < math.MinInt32 || n > math.MaxInt32) {
		return nil, rpc.Faultf(rpc.FaultApplication, "addtogether: %d exceeds XML-RPC's 32-bit int", n)
	}
	return acc, nil
}

func add(a, b any) (any, bool) {
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return a + s, ok
	case []any:
		s, ok := b.([]any)
		return append(slices.Clip(a), s...), ok
	}
	x, xf, ok1 := number(a)
	y, yf, ok2 := number(b)
	if !ok1 || !ok2 {
		return nil, false
	}
	if xf || yf {
		return x + y, true
	}
	return int64(x) + int64(y), true
}

// number is v as a float64, whether it is a double, for int, boolean and
// double values. (int64 sums stay exact: |v| < 2^31 for every decoded int,
// and sums of at most a million of them fit in 2^53.)
func number(v any) (f float64, isFloat, ok bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), false, true
	case bool:
		if v {
			return 1, false, true
		}
		return 0, false, true
	case float64:
		return v, true, true
	}
	return 0, false, false
}

// quadratic returns the distinct real roots of ax² + bx + c, sorted. The
// textbook's version divides by 2 and then multiplies by a, which is right
// only for a = 1; this one divides by 2a.
func quadratic(params []any) (any, error) {
	if len(params) != 3 {
		return nil, paramsFault("quadratic takes 3 arguments (a, b, c), got %d", len(params))
	}
	var k [3]float64
	for i, p := range params {
		f, _, ok := number(p)
		if _, isBool := p.(bool); !ok || isBool {
			return nil, paramsFault("quadratic: argument %d is %s, want a number", i+1, typeName(p))
		}
		k[i] = f
	}
	a, b, c := k[0], k[1], k[2]
	if a == 0 {
		return nil, rpc.Faultf(rpc.FaultApplication, "quadratic: a = 0 makes the equation linear, not quadratic")
	}
	d := b*b - 4*a*c
	if math.IsInf(d, 0) {
		return nil, rpc.Faultf(rpc.FaultApplication, "quadratic: the discriminant overflows a double")
	}
	if d < 0 {
		return nil, rpc.Faultf(rpc.FaultApplication, "quadratic: no real roots (discriminant %g)", d)
	}
	if d == 0 {
		return []any{-b / (2 * a)}, nil
	}
	s := math.Sqrt(d)
	r1, r2 := (-b-s)/(2*a), (-b+s)/(2*a)
	if r1 > r2 {
		r1, r2 = r2, r1
	}
	if r1 == r2 { // distinct in exact arithmetic, equal in doubles
		return []any{r1}, nil
	}
	return []any{r1, r2}, nil
}

func (m *Methods) names() []string {
	var names []string
	for n := range m.table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (m *Methods) listMethods(params []any) (any, error) {
	if len(params) != 0 {
		return nil, paramsFault("system.listMethods takes no arguments, got %d", len(params))
	}
	var out []any
	for _, n := range m.names() {
		out = append(out, n)
	}
	return out, nil
}

func (m *Methods) lookupArg(name string, params []any) (method, error) {
	if len(params) != 1 {
		return method{}, paramsFault("%s takes 1 argument (a method name), got %d", name, len(params))
	}
	s, ok := params[0].(string)
	if !ok {
		return method{}, paramsFault("%s wants a method name (string), got %s", name, typeName(params[0]))
	}
	md, ok := m.table[s]
	if !ok {
		return method{}, rpc.Faultf(rpc.FaultMethod, "method %q is not supported", s)
	}
	return md, nil
}

func (m *Methods) methodHelp(params []any) (any, error) {
	md, err := m.lookupArg("system.methodHelp", params)
	if err != nil {
		return nil, err
	}
	return md.help, nil
}

func (m *Methods) methodSignature(params []any) (any, error) {
	md, err := m.lookupArg("system.methodSignature", params)
	if err != nil {
		return nil, err
	}
	if md.sigs == nil {
		return "signatures not supported", nil
	}
	var out []any
	for _, sig := range md.sigs {
		var s []any
		for _, t := range sig {
			s = append(s, t)
		}
		out = append(out, s)
	}
	return out, nil
}

// multicall runs the calls in order: each result comes back as a
// one-element array, each fault as its fault struct (the convention of
// Python and of the original multicall proposal).
func (m *Methods) multicall(params []any) (any, error) {
	if len(params) != 1 {
		return nil, paramsFault("system.multicall takes 1 argument (an array of calls), got %d", len(params))
	}
	calls, ok := params[0].([]any)
	if !ok {
		return nil, paramsFault("system.multicall wants an array of calls, got %s", typeName(params[0]))
	}
	out := make([]any, 0, len(calls))
	for i, c := range calls {
		v, err := m.oneOf(i, c)
		if err != nil {
			f := err.(*rpc.Fault)
			out = append(out, map[string]any{"faultCode": int64(f.Code), "faultString": f.String})
			continue
		}
		out = append(out, []any{v})
	}
	return out, nil
}

func (m *Methods) oneOf(i int, c any) (any, error) {
	st, ok := c.(map[string]any)
	if !ok {
		return nil, paramsFault("system.multicall: call %d is %s, want a struct", i, typeName(c))
	}
	name, ok := st["methodName"].(string)
	if !ok {
		return nil, paramsFault("system.multicall: call %d has no methodName string", i)
	}
	ps, ok := st["params"].([]any)
	if !ok {
		return nil, paramsFault("system.multicall: call %d has no params array", i)
	}
	if name == "system.multicall" {
		return nil, rpc.Faultf(rpc.FaultInvalid, "system.multicall: recursive system.multicall is not allowed")
	}
	return m.Call(name, ps)
}

// typeName is the XML-RPC type name of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case int64:
		return "int"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "double"
	case []byte:
		return "base64"
	case []any:
		return "array"
	case map[string]any:
		return "struct"
	}
	if _, ok := v.(interface{ IsZero() bool }); ok {
		return "dateTime.iso8601"
	}
	return fmt.Sprintf("%T", v)
}
