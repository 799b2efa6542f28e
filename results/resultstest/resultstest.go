// Package resultstest holds the results.Run fixtures that the tests of
// results and report share: made-up runs whose every number is chosen.
package resultstest

import (
	"time"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/results"
	"archbench/servers"
)

// T0 is the fixtures' start time.
var T0 = time.Date(2025, 11, 22, 10, 30, 0, 0, time.UTC)

// errorKinds are the load generator's error kinds; a result has a count
// (0 or more) for each.
var errorKinds = loadgen.ErrorKinds()

// Result is a closed-loop load result of 64 connections at rps with the
// given latencies (µs) and error counts.
func Result(rps, p50, p99, p999 float64, errs map[string]int64) *loadgen.Result {
	all := map[string]int64{}
	for _, k := range errorKinds {
		all[k] = errs[k]
	}
	req := int64(rps * 1.25)
	return &loadgen.Result{
		Schema:     loadgen.SchemaVersion,
		Config:     loadgen.Config{Addr: "127.0.0.1:40000", Conns: 64, Depth: 1, Size: 16, Duration: 1250 * time.Millisecond},
		Start:      T0,
		Elapsed:    1.25,
		Requests:   req,
		Errors:     all,
		Mismatches: all[loadgen.ErrMismatch],
		RPS:        rps,
		MBps:       rps * 16 / 1e6,
		Latency:    loadgen.LatencyUS{Min: p50 / 2, Mean: p50 * 1.1, P50: p50, P90: p99 * 0.8, P99: p99, P999: p999, P9999: p999 * 1.5, Max: p999 * 2, Count: req},
		Series:     []loadgen.Second{{T: 0, RPS: rps, P99: p99}},
		Histogram:  []byte{1, 2, 3},
	}
}

// Quick is a results.Run with a closed-loop and an open-loop scenario covering a
// noisy row, errors, a crash, a hang and an unmeasured repetition.
func Quick() *results.Run {
	r := &results.Run{
		Schema:    results.SchemaVersion,
		Suite:     "quick",
		SuiteFile: "quick.yaml",
		Start:     T0,
		Elapsed:   201.4,
		Env: results.Env{
			GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Kernel: "Linux 6.18.44 #1 SMP x86_64",
			CPUModel: "AMD EPYC", Cores: 2, GOMAXPROCS: 2, ServerCPUs: "unpinned", ClientCPUs: "unpinned",
			FDLimit: 20000, GitCommit: "0123456789abcdef0123456789abcdef01234567",
			Libraries: map[string]string{"github.com/panjf2000/gnet/v2": "v2.10.0", "github.com/tidwall/evio": "v1.0.8"},
		},
		Archs: []string{"sequential", "goroutine", "epoll"},
		Reps:  3,
		Scenarios: []results.Scenario{
			{
				Name:        "conns-64",
				Description: "64 connections, one message in flight each: throughput under concurrency.",
				Server:      servers.Config{Network: "tcp"},
				Load:        loadgen.Config{Network: "tcp", Conns: 64, Depth: 1, Size: 16, Content: loadgen.ASCII, Warmup: 250 * time.Millisecond, Duration: 1250 * time.Millisecond, Timeout: time.Second, Seed: 1},
			},
			{
				Name:        "open-1000c-20k",
				Description: "1,000 connections sharing an open-loop schedule of 20,000 msg/s.",
				Server:      servers.Config{Network: "tcp", Framing: protocol.Line, Work: protocol.Work{CPU: 10 * time.Microsecond}},
				Load:        loadgen.Config{Network: "tcp", Framing: protocol.Line, Conns: 1000, Depth: 1, Rate: 20000, Size: 16, Content: loadgen.ASCII, Warmup: 250 * time.Millisecond, Duration: 1250 * time.Millisecond, Timeout: time.Second, Seed: 1},
				Archs:       []string{"goroutine", "epoll"},
			},
		},
	}
	add := func(sc, arch string, rep int, res *loadgen.Result, exit results.Exit, errMsg string) {
		s := results.Sample{Scenario: sc, Arch: arch, Rep: rep, Start: T0.Add(time.Duration(len(r.Samples)) * 2 * time.Second),
			Wall: 1.7, Result: res, Exit: exit, Error: errMsg}
		if res != nil {
			s.ServerCPU = float64(res.Requests) * 8e-6
			s.ServerPeakRSS = 9<<20 + int64(rep)<<16
			s.ClientCPU = float64(res.Requests) * 6e-6
		}
		if exit == results.ExitCrash {
			s.ExitDetail = "exit status 2: panic: boom"
		}
		r.Samples = append(r.Samples, s)
	}
	for rep := 1; rep <= 3; rep++ {
		add("conns-64", "sequential", rep, Result(1210+float64(rep)*5, 40, 1e6, 1e6, map[string]int64{loadgen.ErrTimeout: 63, loadgen.ErrConnect: 2}), results.ExitClean, "")
		add("conns-64", "goroutine", rep, Result([]float64{52000, 81000, 64000}[rep-1], 700, 2100, 4800, nil), results.ExitClean, "")
		if rep == 2 {
			add("conns-64", "epoll", rep, nil, results.ExitCrash, "server exited during the load")
		} else {
			add("conns-64", "epoll", rep, Result(98000+float64(rep)*100, 610, 1500, 2500, nil), results.ExitClean, "")
		}
	}
	for rep := 1; rep <= 3; rep++ {
		add("open-1000c-20k", "goroutine", rep, Result(19990, 45, 380+float64(rep), 2100, nil), results.ExitClean, "")
		exit := results.ExitClean
		if rep == 3 {
			exit = results.ExitHang
		}
		add("open-1000c-20k", "epoll", rep, Result(19995, 38, 210, 900, nil), exit, "")
	}
	return r
}

// Tradeoffs has a rate sweep (two architectures, one of which never
// meets the SLO), idle connections with their baseline, and bulk messages.
func Tradeoffs() *results.Run {
	load := loadgen.Config{Network: "tcp", Conns: 16, Depth: 1, Size: 16, Content: loadgen.ASCII,
		Warmup: 250 * time.Millisecond, Duration: time.Second, Timeout: time.Second, Seed: 1}
	r := &results.Run{Schema: results.SchemaVersion, Suite: "tradeoffs", Start: T0, Archs: []string{"goroutine", "select"}, Reps: 1, SLO: time.Millisecond}
	sc := func(name string, l loadgen.Config, sw *results.SweepStep) {
		r.Scenarios = append(r.Scenarios, results.Scenario{Name: name, Description: name + " shows something.",
			Server: servers.Config{Network: "tcp"}, Load: l, Sweep: sw})
	}
	add := func(name, arch string, res *loadgen.Result, rss int64) {
		r.Samples = append(r.Samples, results.Sample{Scenario: name, Arch: arch, Rep: 1, Start: T0, Wall: 1.5,
			Result: res, ServerCPU: 0.1, ServerPeakRSS: rss, Exit: results.ExitClean})
	}
	// Rate sweep: goroutine saturates at 100k, select at 40k.
	sc("rs@sat", load, &results.SweepStep{Of: "rs"})
	for _, f := range []float64{0.5, 1} {
		sc(results.SweepName("rs", f), load, &results.SweepStep{Of: "rs", Fraction: f})
	}
	add("rs@sat", "goroutine", Result(100000, 100, 400, 800, nil), 10<<20)
	add("rs@sat", "select", Result(40000, 100, 400, 800, nil), 10<<20)
	open := func(target, rps, p99 float64, errs map[string]int64) *loadgen.Result {
		res := Result(rps, p99/4, p99, p99*2, errs)
		res.TargetRPS = target
		return res
	}
	add("rs@50%", "goroutine", open(50000, 50000, 300, nil), 10<<20)
	add("rs@100%", "goroutine", open(100000, 92000, 5000, nil), 10<<20)                      // over the SLO
	add("rs@50%", "select", open(20000, 20000, 600, map[string]int64{"timeout": 3}), 10<<20) // errors disqualify
	add("rs@100%", "select", open(40000, 30000, 9000, nil), 10<<20)

	// Idle connections: goroutine holds all 1,000 (+8 MiB), select 1,000 of
	// them too but refuses the active ones.
	sc("idle-0", load, nil)
	idle := load
	idle.IdleConns = 1000
	sc("idle-1k", idle, nil)
	add("idle-0", "goroutine", Result(60000, 200, 500, 900, nil), 10<<20)
	add("idle-0", "select", Result(50000, 200, 500, 900, nil), 8<<20)
	withIdle := func(res *loadgen.Result, held int) *loadgen.Result {
		res.Side = &loadgen.SideResult{Idle: &loadgen.IdleResult{Conns: 1000, Opened: 1000, Held: held, Errors: map[string]int64{"short_read": int64(1000 - held)}}}
		return res
	}
	add("idle-1k", "goroutine", withIdle(Result(59000, 200, 520, 900, nil), 1000), 18<<20)
	add("idle-1k", "select", withIdle(Result(0, 0, 0, 0, map[string]int64{"short_read": 16}), 1000), 9<<20)

	// Bulk: MB/s.
	bulk := load
	bulk.Size, bulk.Conns = 1<<20, 4
	sc("bulk-1m", bulk, nil)
	b := Result(900, 4000, 9000, 12000, nil)
	b.MBps = 900 * (1 << 20) / 1e6
	add("bulk-1m", "goroutine", b, 30<<20)
	return r
}
