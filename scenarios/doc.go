// Package scenarios holds archbench's benchmark scenarios: YAML suite files
// embedded in the binary (quick.yaml, full.yaml, tradeoffs.yaml), parsed strictly and
// validated before anything runs.
//
// A suite file looks like this; every key is optional unless marked:
//
//	suite: quick                # name (default: the file's base name)
//	description: what the suite is for
//	defaults:                   # every scenario's server: and load: are decoded over these
//	  server: {...}
//	  load: {...}
//	scenarios:                  # required, run in this order
//	  - name: conns-64          # required; a-z 0-9 . _ - (it appears in benchmark names)
//	    description: ...        # required; what the scenario shows
//	    archs: [epoll, gnet]    # only these architectures (default: all)
//	    server:                 # servers.Config, keys = its json tags
//	      framing: raw          # raw | line | length
//	      max_msg: 1MiB         # sizes: 16384, 512B, 16KiB, 1MiB, 1GiB, 4MB, 1M (M = MiB)
//	      work: {cpu: 50us, sleep: 1ms}   # framed protocols only
//	      workers: 4            # workerpool
//	      loops: 1              # event-loop architectures
//	      max_conns: 0          # 0 = no cap
//	      out_cap: 4MiB
//	      idle_timeout: 0s      # durations: 300ms, 1.5s, 2m
//	    load:                   # loadgen.Config, keys = its json tags
//	      conns: 64
//	      depth: 1              # closed loop: messages in flight per connection
//	      rate: 0               # > 0: open loop, messages per second in total
//	      size: 16
//	      content: ascii        # ascii | utf8
//	      warmup: 250ms
//	      duration: 1250ms      # required (here or under defaults)
//	      timeout: 1s
//	      loops: 0              # generator event loops (0 = max(1, GOMAXPROCS/4))
//	      seed: 1
//	      slow_conns: 8         # side load: connect first, trickle one byte per slow_interval
//	      slow_interval: 1s
//	      idle_conns: 5000      # side load: connect first, stay idle (counted against the fd limit)
//	      churn: false          # true: a new connection per message
//	    rate_sweep:             # open loop at fractions of each architecture's saturation
//	      {from: 0.1, to: 1.2, steps: 6}   # (measured first as a closed loop; load.rate unset)
//
// The sections decode straight into servers.Config and loadgen.Config
// (archbench/internal/settings): a new field there is a new key here. The
// runner owns server network and addr and load network, addr and framing
// (the load always uses the server's framing), so a file cannot set them.
//
// Parse rejects unknown keys, settings the runner owns, wrong types and bad
// durations or sizes with the file and line; Suite.Validate then checks what
// cannot work: connections above the file descriptor limit, a message larger
// than the server's max_msg, an unknown architecture, handler work on raw
// framing.
package scenarios
