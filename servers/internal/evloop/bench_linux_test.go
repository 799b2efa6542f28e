package evloop

import (
	"fmt"
	"net"
	"testing"

	"archbench/servers"
	"archbench/servers/internal/blocking"
	"archbench/servers/internal/testkit"
)

// BenchmarkPingPong: conns clients, each sending a 16-byte message and
// waiting for its reply, over loopback TCP with raw framing. The goroutine
// architecture runs alongside as the reference. Clients and server share
// the machine's cores, so this is a sanity check, not the benchmark.
func BenchmarkPingPong(b *testing.B) {
	type arch struct {
		name string
		new  func(servers.Config) (servers.Server, error)
	}
	archs := []arch{{"goroutine", func(cfg servers.Config) (servers.Server, error) {
		return blocking.NewServer(cfg, blocking.Dispatch{Acceptors: 1, Spawn: true}), nil
	}}}
	for _, p := range pollers {
		archs = append(archs, arch{p.name, func(cfg servers.Config) (servers.Server, error) { return NewServer(cfg, p.new) }})
	}
	for _, a := range archs {
		for _, conns := range []int{1, 16} {
			b.Run(fmt.Sprintf("arch=%s/conns=%d", a.name, conns), func(b *testing.B) {
				cfg, _ := testConfig(b, "tcp")
				srv, err := a.new(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := srv.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = srv.Shutdown(b.Context()) })
				cs := make([]net.Conn, conns)
				for i := range cs {
					cs[i] = dial(b, srv)
				}
				b.ResetTimer()
				testkit.PingPong(b, cs, []byte("0123456789abcdef"))
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}
