package loadgen_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/servers"
	_ "archbench/servers/xmlrpc"
	rpc "archbench/xmlrpc"
)

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

func TestXMLRPCLoad(t *testing.T) {
	addr := startXMLRPC(t)
	for _, c := range []struct {
		name      string
		multicall int
		content   loadgen.Content
	}{{"single", 0, loadgen.ASCII}, {"multicall", 4, loadgen.UTF8}} {
		t.Run(c.name, func(t *testing.T) {
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr: addr, Protocol: loadgen.ProtocolXMLRPC, Multicall: c.multicall, Content: c.content,
				Conns: 3, Size: 100, Duration: 300 * time.Millisecond,
			})
			require.NoError(t, err)
			assert.Positive(t, res.Requests)
			for k, n := range res.Errors {
				assert.Zero(t, n, "errors[%s]", k)
			}
			if c.multicall > 0 {
				assert.Zero(t, res.Requests%int64(c.multicall), "a multicall counts its calls")
			}
			assert.Equal(t, res.Requests+res.Abandoned+res.Unanswered, res.Latency.Count)
			assert.Equal(t, 3, res.ConnsServed)
			assert.LessOrEqual(t, res.Connects, int64(3), "keep-alive: one connection per slot")
			assert.Greater(t, res.WireOut, 100.0)
			assert.Greater(t, res.WireIn, 100.0)
		})
	}
}

// TestXMLRPCVerifies: a wrong result is a mismatch; another server's
// equivalent encoding (a bare <value>, whitespace) is verified.
func TestXMLRPCVerifies(t *testing.T) {
	for _, c := range []struct {
		name  string
		upper func(string) string
		bare  bool
		ok    bool
	}{
		{"wrong result", func(s string) string { return s }, false, false},
		{"other encoding", strings.ToUpper, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				call, err := rpc.DecodeCall(r.Body, rpc.Limits{})
				if err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				out := c.upper(call.Params[0].(string))
				if c.bare {
					_, _ = io.WriteString(w, "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value>"+out+"</value>\n</param>\n</params>\n</methodResponse>\n")
					return
				}
				b, _ := rpc.AppendResponse(nil, out)
				_, _ = w.Write(b)
			}))
			defer srv.Close()
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr: strings.TrimPrefix(srv.URL, "http://"), Protocol: loadgen.ProtocolXMLRPC,
				Conns: 1, Duration: 200 * time.Millisecond,
			})
			require.NoError(t, err)
			if c.ok {
				assert.Positive(t, res.Requests)
				assert.Zero(t, res.Mismatches)
			} else {
				assert.Zero(t, res.Requests)
				assert.Positive(t, res.Mismatches)
			}
		})
	}
}

func TestXMLRPCConfig(t *testing.T) {
	for _, cfg := range []loadgen.Config{
		{Addr: "x:1", Protocol: "soap"},
		{Addr: "x:1", Multicall: 4},
		{Addr: "x:1", Protocol: loadgen.ProtocolXMLRPC, Depth: 2},
		{Addr: "x:1", Protocol: loadgen.ProtocolXMLRPC, Rate: 10},
		{Addr: "x:1", Protocol: loadgen.ProtocolXMLRPC, Multicall: loadgen.MaxMulticall + 1},
	} {
		err := cfg.Validate()
		assert.True(t, errors.Is(err, loadgen.ErrConfig), "%+v: %v", cfg, err)
	}
}
