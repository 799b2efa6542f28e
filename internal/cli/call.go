package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"archbench/servers"
	rpc "archbench/xmlrpc"
)

func init() {
	register("call", "make one XML-RPC call (arguments as JSON values) and print the result as Python's ServerProxy does", runCall)
}

// errFault is call's error when the server answered with a fault: exit 1,
// the fault itself already printed.
var errFault = errors.New("call: the server answered with a fault")

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("call", "[--addr HOST:PORT] METHOD [ARG...]   (each ARG a JSON value: '\"text\"' 3 2.5 true null '[1,2]' '{\"k\":1}')", stderr)
	addr := fs.String("addr", servers.DefaultAddr, "server address host:port")
	network := fs.String("network", "tcp", "tcp, tcp6 or unix (--addr is then a socket path)")
	path := fs.String("path", "/RPC2", "HTTP path of the XML-RPC endpoint")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of the connect, the request and the response")
	if err := parseWithArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		return usagef("call: no method given (archbench call --addr HOST:PORT METHOD [ARG...])")
	}
	switch *network {
	case "tcp", "tcp6", "unix":
	default:
		return usagef("call: --network %q: want tcp, tcp6 or unix", *network)
	}
	if *timeout <= 0 {
		return usagef("call: --timeout must be positive")
	}
	method := fs.Arg(0)
	var params []any
	for i, a := range fs.Args()[1:] {
		v, err := jsonArg(a)
		if err != nil {
			return usagef("call: argument %d %q is not a JSON value: %v (quote strings: '\"text\"')", i+1, a, err)
		}
		params = append(params, v)
	}
	c := &rpc.Client{Network: *network, Addr: *addr, Path: *path, Timeout: *timeout}
	defer c.Close()
	v, err := c.Call(ctx, method, params...)
	var f *rpc.Fault
	switch {
	case errors.As(err, &f):
		fmt.Fprintln(stdout, rpc.ReprFault(f))
		return errFault
	case errors.Is(err, rpc.ErrNotXMLText), errors.Is(err, rpc.ErrType):
		return usagef("call: %v", err)
	case err != nil:
		return fmt.Errorf("call %s: %w", *addr, err)
	}
	fmt.Fprintln(stdout, rpc.Repr(v))
	return nil
}

// jsonArg decodes one JSON value into an XML-RPC value: a number without a
// fraction or exponent is an int, any other a double; null is nil.
func jsonArg(s string) (any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one value")
	}
	return fromJSON(v)
}

func fromJSON(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("%d is outside XML-RPC's 32-bit int", n)
			}
			return n, nil
		}
		return v.Float64()
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = fromJSON(e); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = fromJSON(e); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
	return v, nil
}
