package iouring

import (
	"context"
	"net"
	"testing"
	"time"

	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// BenchmarkEcho runs 16 ping-pong clients of 16-byte messages against each
// receive mode and reports the loop's system calls per message, e.g.
//
//	go test -run '^$' -bench Echo ./servers/iouring
func BenchmarkEcho(b *testing.B) {
	const clients = 16
	for _, m := range []struct {
		name   string
		single bool
	}{{"recv=multishot", false}, {"recv=single", true}} {
		b.Run(m.name, func(b *testing.B) {
			r, err := newBenchServer(b, m.single)
			if err != nil {
				b.Skip(err)
			}
			conns := make([]net.Conn, clients)
			for i := range conns {
				if conns[i], err = net.Dial("tcp", r.Addr().String()); err != nil {
					b.Fatal(err)
				}
				_ = conns[i].SetDeadline(time.Now().Add(time.Minute))
				defer conns[i].Close()
			}
			before := r.Syscalls()
			b.ResetTimer()
			testkit.PingPong(b, conns, []byte("hello, io_uring!"))
			b.StopTimer()
			b.ReportMetric(float64(r.Syscalls()-before)/float64(b.N), "syscalls/msg")
		})
	}
}

func newBenchServer(b *testing.B, single bool) (*Server, error) {
	s, err := NewServer(servers.Config{Network: "tcp", Addr: "127.0.0.1:0"}, Options{SingleShotRecv: single})
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, nil
}
