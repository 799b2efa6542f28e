// Package scenarios holds archbench's benchmark scenarios: YAML suite files
// embedded in the binary (quick.yaml, full.yaml, tradeoffs.yaml), parsed strictly and
// validated before anything runs.
//
// A suite file looks like this; every key is optional unless marked:
//
//	suite: quick                # name (default: the file's base name)
//	description: what the suite is for
//	defaults:                   # filled into every scenario that leaves a setting out or zero
//	  server: {...}
//	  load: {...}
//	scenarios:                  # required, run in this order
//	  - name: conns-64          # required; a-z 0-9 . _ - (it appears in benchmark names)
//	    description: ...        # required; what the scenario shows
//	    archs: [epoll, gnet]    # only these architectures (default: all)
//	    server:                 # a subset of servers.Config
//	      framing: raw          # raw | line | length
//	      max_msg: 1MiB         # sizes: 16384, 16KiB, 1MiB, 4MB
//	      work: {cpu: 50us, sleep: 1ms}   # framed protocols only
//	      workers: 4            # workerpool
//	      loops: 1              # event-loop architectures
//	      max_conns: 0          # 0 = no cap
//	      out_cap: 4MiB
//	      idle_timeout: 0s      # durations: 300ms, 1.5s, 2m
//	    load:                   # a subset of loadgen.Config
//	      framing: raw          # if given, must equal server.framing
//	      conns: 64
//	      depth: 1              # closed loop: messages in flight per connection
//	      rate: 0               # > 0: open loop, messages per second in total
//	      size: 16
//	      content: ascii        # ascii | utf8
//	      warmup: 250ms
//	      duration: 1250ms      # required (here or under defaults)
//	      timeout: 1s
//	      slow_conns: 8         # side load: connect first, trickle one byte per slow_interval
//	      slow_interval: 1s
//	      idle_conns: 5000      # side load: connect first, stay idle (counted against the fd limit)
//	      churn: false          # true: a new connection per message
//	    rate_sweep:             # open loop at fractions of each architecture's saturation
//	      {from: 0.1, to: 1.2, steps: 6}   # (measured first as a closed loop; load.rate unset)
//
// Parse rejects unknown keys, wrong types and bad durations with the file
// and line; Suite.Validate then checks what cannot work: connections above
// the file descriptor limit, a framing mismatch, a message larger than the
// server's max_msg, an unknown architecture, handler work on raw framing.
package scenarios
