package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/results"
	"archbench/results/resultstest"
	"archbench/servers"
)

// stackRun is a run of three stacks of one work: raw and line framing on
// goroutine, XML-RPC on xmlrpc, every number chosen.
func stackRun() *results.Run {
	load := loadgen.Config{Network: "tcp", Conns: 64, Depth: 1, Size: 16, Content: loadgen.ASCII, Duration: 1250 * time.Millisecond, Timeout: time.Second, Seed: 1}
	xl := load
	xl.Protocol = loadgen.ProtocolXMLRPC
	r := &results.Run{Schema: results.SchemaVersion, Suite: "stack", Archs: []string{"goroutine", "xmlrpc"}, Reps: 1,
		Scenarios: []results.Scenario{
			{Name: "s-raw", Description: "raw", Server: servers.Config{Network: "tcp"}, Load: load, Archs: []string{"goroutine"}},
			{Name: "s-line", Description: "line", Server: servers.Config{Network: "tcp", Framing: protocol.Line}, Load: load, Archs: []string{"goroutine"}},
			{Name: "s-xmlrpc", Description: "xmlrpc", Server: servers.Config{Network: "tcp"}, Load: xl},
			{Name: "other", Description: "alone", Server: servers.Config{Network: "tcp"}, Load: loadgen.Config{Conns: 1, Size: 16}},
		}}
	add := func(sc, arch string, rps, cpuPerMsg, out, in float64) {
		res := resultstest.Result(rps, 100, 200, 300, nil)
		res.WireOut, res.WireIn = out, in
		r.Samples = append(r.Samples, results.Sample{Scenario: sc, Arch: arch, Rep: 1, Result: res,
			ServerCPU: float64(res.Requests) * cpuPerMsg})
	}
	add("s-raw", "goroutine", 100000, 10e-6, 16, 16)
	add("s-line", "goroutine", 80000, 12e-6, 17, 17)
	add("s-xmlrpc", "xmlrpc", 5000, 150e-6, 271, 237)
	add("other", "goroutine", 1, 1, 1, 1)
	return r
}

func TestStackTable(t *testing.T) {
	r := stackRun()
	st := stackTable(r, results.Summarize(r))
	require.NotNil(t, st)
	want := [][]string{
		{"s-raw", "raw", "goroutine", "100.0k", "100µs", "200µs", "10.00", "32", "1.00", "1.00", "1.00"},
		{"s-line", "line", "goroutine", "80.0k", "100µs", "200µs", "12.00", "34", "0.80", "1.20", "1.06"},
		{"s-xmlrpc", "xmlrpc", "xmlrpc", "5.00k", "100µs", "200µs", "150", "508", "0.05", "15", "16"},
	}
	assert.Equal(t, want, st.Rows)
	assert.Nil(t, stackTable(resultstest.Quick(), results.Summarize(resultstest.Quick())), "no stacks to compare")
}
