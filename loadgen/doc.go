// Package loadgen is archbench's load generator: it drives one server over
// many connections, verifies every reply byte for byte against the protocol
// package's transform, and measures latency in an HdrHistogram.
//
// # Loops
//
// Closed loop (Config.Rate = 0): each of Conns connections keeps Depth
// messages in flight (pipelining above 1); a verified reply sends the next
// message. Latency runs from the write of a message to the last byte of its
// reply.
//
// In both loops a message that is never answered is still in the latency
// histogram, at its age when given up (a lower bound of its latency): when
// its connection fails (a timeout, a dropped connection: Abandoned) and when
// the run ends (Unanswered). Otherwise a server that starves some
// connections would look fast, its starved messages never waited for. How
// evenly the replies were spread over the connections is in ConnsServed and
// Fairness (Jain's index and the per-connection min/median/max).
//
// Open loop (Rate > 0): Rate messages per second in total on a fixed
// schedule: connection g's k-th message is due at (g + k·Conns)/Rate seconds
// after the start, so sends are spread evenly across the connections and
// time. A message is sent when due, whether or not earlier replies have come
// back. Its latency runs from its intended send time, not from when it was
// actually written (wrk2's correction for coordinated omission): a server
// stall shows in the latency of every message scheduled during it, and the
// generator's own lateness (SendLag) cannot hide anything either. A message
// whose connection is down (or whose send queue is full) when it is due is
// not sent (Result.Unsent); it is in the latency at its age when the run
// ends, a lower bound like an unanswered message's, so a server that closes
// its connections cannot look fast on the few messages it did answer.
//
// # Verification and errors
//
// A small set of messages and their exact replies is generated up front
// (protocol.AppendRequest and protocol.AppendReply), so the hot path only
// compares bytes. A connection's replies must arrive in order; with raw
// framing a reply is the transform's output length of bytes. A wrong byte is
// a mismatch; a clean close before a reply is complete is a short_read; a
// failed connect, read or write, or a connect, read or write that makes no
// progress for Config.Timeout, are counted by kind (see Targets and error
// kinds). After any error the connection is closed and replaced by
// a fresh one with nothing in flight, so late bytes are never matched to
// the wrong message. Replacements back off 10 ms doubling to 500 ms per
// connection (reset by a verified reply), so a dead server is not hammered.
//
// # Targets and error kinds
//
// Config.Addr is HOST:PORT or HOST:SERVICE, a service name looked up in the
// system's services database (/etc/services, as getservbyname reads it;
// net.LookupPort). Run resolves the host once, before the run (the time is
// Result.Target.ResolveUS), and keeps the addresses of Config.Network's
// family (tcp: both, tcp6: IPv6) in net.Dialer's order: the resolver's
// first address's family first, then the other. Every connection (event
// loops, churn clients, side connections) dials them in order, one at a
// time, each with the full Config.Timeout (the idle side connections
// share their opening time instead; net.Dialer races the second
// family after 300 ms and splits its deadline; a benchmark wants one
// address per connection and no race), starting from the first address
// that worked for any connection: so a name whose first address refuses
// costs one failed connect per run, not one per connection (and every
// connection of a run ends up on the same address, as a benchmark wants).
// A connection counts an error only when every address failed, of the
// kind of its first failure (net.Dialer too returns its first error). The
// address that worked first, its connect time, and the failures met before
// it (or, if none worked, the first connection's) are in Result.Target,
// one line each naming the host, the address and the cause.
//
// A malformed address (no port, port 0 or above 65535, an unknown
// service) is ErrConfig. A host that does not resolve (kind resolve: no
// such host, or the resolver failed) or has no address of the family
// (no_address) ends Run before it starts with a *NetError, one line naming
// the host; `archbench load` exits 2 for no such host and no_address (the
// address is wrong) and 1 for a resolver failure (the address may be
// right). Those two kinds are therefore keys of Result.Errors that a run
// always counts 0: they keep the set of kinds one set.
//
// Result.Errors counts, by kind: refused (ECONNREFUSED; for unix, no socket
// file), unreachable (ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN),
// connect_timeout (no answer to a connect within Config.Timeout, or the
// kernel's ETIMEDOUT), reset (ECONNRESET on a read or write, or EPIPE: a
// write to a connection the server closed), timeout (no reply progress
// within Config.Timeout), short_read, mismatch, and the catch-alls from
// before these existed: connect (any other connect failure: out of
// descriptors or local ports, a unix socket's full backlog), read (any other
// read failure, or the server closing a connection with nothing in
// flight), write (any other write failure). Until December 2026 connect
// held what is now refused, unreachable and connect_timeout too, and read
// and write held the resets: a reader summing kinds across old and new
// results sums refused+unreachable+connect_timeout+connect for the old
// connect.
//
// # Event loops
//
// Config.Loops event loops (goroutines locked to OS threads; DefaultLoops:
// max(1, GOMAXPROCS/4)), each with its own epoll instance, own every
// Loops-th connection on non-blocking sockets and share nothing while
// running. This is the shape of
// a C client (one loop per core) rather than a goroutine per connection,
// which reaches only about 0.45× the C reference client's rate on a 2-core
// machine (../shared/yardstick). Reads and writes are raw system calls; the clock is read after
// each epoll_wait and every 4 events; each reply costs one histogram
// record. Each loop keeps its own histograms, merged at the end.
//
// The connections open at the start (at most 256 connecting per loop at a
// time), inside the warm-up: give many connections enough warm-up. Run ends
// at Warmup+Duration whatever the server does: epoll waits never outlast
// the next timeout check (5 ms). Run raises RLIMIT_NOFILE's soft limit to
// the hard limit and refuses (ErrFDLimit) a Conns that cannot fit.
//
// # Side load and churn
//
// Slow connections (Config.SlowConns) and idle ones (Config.IdleConns)
// connect before the load starts, slow ones first, so that a server that
// serves connections in accept order meets them first. They are plain
// net.Conns on goroutines: they are not the measured path. A slow
// connection writes its message (a one-byte payload, framed) one byte per
// SlowInterval, then reads and verifies the reply and starts again; an
// error replaces the connection. An idle connection sends nothing; at the
// end each is read once without waiting to find whether the server closed
// it. Opening the idle connections is bounded by Timeout plus a second per
// 5,000 of them (a server that does not accept fills its backlog).
//
// Churn (Config.Churn) opens a connection per message: connect, send,
// read and verify the reply, close, on Conns goroutines (blocking calls;
// connect and close dominate). The client closes first, normally, so its
// ports sit in TIME_WAIT; Linux reuses them for loopback connects
// (net.ipv4.tcp_tw_reuse = 2, the default), see churn.go.
//
// # JSON schema of Result (schema 1)
//
// Stability: fields are only added. A field that changes meaning or goes
// away bumps "schema". Times are microseconds unless the name says
// otherwise; everything counted is counted after the warm-up only.
//
//	schema        int     SchemaVersion (1)
//	config        object  the Config run, defaults filled in, loops = loops used:
//	                        network, addr, framing ("raw"|"line"|"length"), conns,
//	                        depth, rate (msg/s, omitted = closed loop), size (bytes),
//	                        content ("ascii"|"utf8"), warmup, duration, timeout
//	                        (Go durations in nanoseconds), loops (called
//	                        workers before December 2026), seed
//	start         string  RFC 3339 UTC time the run (warm-up included) started
//	elapsed_s     float   measured seconds (Duration, less if cancelled)
//	requests      int     replies received and verified byte for byte
//	warmup_requests int   replies verified during the warm-up (not measured)
//	errors        object  count by kind, every kind present: connect, read,
//	                        write, timeout, short_read, mismatch, and since
//	                        December 2026 resolve, no_address (always 0: see
//	                        Targets and error kinds), refused, unreachable,
//	                        connect_timeout, reset, which connect, read and
//	                        write held before (they now hold only the rest)
//	mismatches    int     = errors.mismatch
//	unsent        int     open loop: due messages not sent (connection down or
//	                        its in-flight queue full), after the warm-up; each
//	                        is in latency_us at its age when the run ended, from
//	                        its intended time (a lower bound; before issue 13
//	                        they were left out)
//	abandoned     int     messages in flight on connections dropped for errors
//	unanswered    int     messages still in flight when the run ended (sent
//	                        before it); these and the abandoned ones are also
//	                        recorded in latency_us at their age when given up
//	                        (a lower bound), closed and open loop alike, so a
//	                        server that stops answering, starves or closes
//	                        connections cannot look fast: latency_us.count =
//	                        requests + abandoned + unanswered + unsent (before
//	                        fairness existed the closed loop left them out)
//	connects      int     connections established, warm-up included
//	conns_served  int     connection slots (of config.conns; a slot is a
//	                        connection and its replacements) with at least one
//	                        verified reply
//	fairness      object  how evenly the verified replies were spread over the
//	                        config.conns slots (absent in results from before
//	                        it existed): jain, Jain's index (Σx)²/(n·Σx²) of
//	                        the per-slot counts x (1 = even, k/n = k equal
//	                        slots and the rest nothing, 0 = no reply at all);
//	                        min, median (the lower middle one for even n), max:
//	                        per-slot counts
//	rps           float   requests / elapsed_s (achieved)
//	target_rps    float   config.rate; 0 for a closed loop
//	mb_per_s      float   payload megabytes (10^6 bytes) per second, each way
//	wire_out_per_msg float bytes on the wire per verified message, client to
//	                        server, above TCP: framing included (raw: the
//	                        payload; line: +1; length: +4), for xmlrpc the
//	                        HTTP request line and headers and the XML, a
//	                        multicall request's bytes divided among its calls;
//	                        byte protocol: from the messages, xmlrpc: counted
//	                        over the measured verified exchanges (absent in
//	                        results from before it existed)
//	wire_in_per_msg  float the same, server to client (xmlrpc: status line,
//	                        headers and body of the responses)
//	latency_us    object  min, mean, p50, p90, p99, p999, p9999, max (µs,
//	                        rounded to 1 µs, 3 significant digits) and count;
//	                        all 0 when nothing was verified
//	send_lag_us   object  same shape: open loop, how late each message was
//	                        written against its schedule; zero for a closed loop
//	series        array   one object per measured second: t (seconds since
//	                        the warm-up ended), requests, rps (requests over the
//	                        second's length; the last may be partial), p99_us
//	                        (2 significant digits), errors
//	histogram     string  base64 of the merged latency histogram (µs) in
//	                        HdrHistogram's V2 compressed encoding: decode with
//	                        hdrhistogram.Decode or Result.DecodeHistogram
//	side          object  only with slow or idle connections (config.slow_conns,
//	                        config.idle_conns; config.slow_interval in ns);
//	                        counted over the whole run, warm-up included; their
//	                        errors are here, never in errors:
//	  side.slow   object  conns, bytes_sent, replies (verified byte for byte),
//	                        errors (object by kind, every kind present)
//	  side.idle   object  conns (asked), opened (connected before the load),
//	                        held (still open at the end), errors (the connect
//	                        kinds: not connected; short_read: closed by the
//	                        server; read: reset; mismatch: the server sent
//	                        bytes unasked)
//	target        object  absent in results from before December 2026:
//	  target.host string  the host of config.addr as given (unix: the path)
//	  target.port int     the port, a service name looked up (absent for unix)
//	  target.addrs array  the addresses it resolved to, of config.network's
//	                        family, in the order every connection dials them
//	  target.addr string  the first address a connection was established to
//	                        (later ones start there); absent if none was
//	  target.resolve_us   float  time to resolve the host (0 for an IP literal)
//	  target.connect_us   float  the connect time of that first connection,
//	                        from its first attempt (failed addresses included)
//	  target.failed array the failures before it (or, with none established,
//	                        of the first connection that failed on every
//	                        address): one line each, "host H, address A:
//	                        KIND: cause"
//
// A churn run (config.churn true) has the same fields: requests and rps
// count connections (one message each), latency runs from the start of the
// connect to the reply's last byte (a failed exchange: to its failure, an
// exchange cut by the end of the run: to the end, counted in unanswered;
// so latency_us.count = requests + the errors + unanswered), connects
// counts connections made, warm-up included, a slot of conns_served and
// fairness is a client goroutine, and config.loops is the number of client
// goroutines (= conns).
//
// An XML-RPC run (config.protocol "xmlrpc", see xmlrpc.go) has the same
// fields too: a message is one upper call, so requests, rps and the wire
// bytes count calls, and each call of a system.multicall request
// (config.multicall) is recorded with the request's latency (from the
// write of the HTTP request to the last byte of its response); a failed
// request is one error and all its calls abandoned; connects counts
// kept-alive connections made (1 per slot unless the server closed one),
// and config.loops is the number of client goroutines (= conns).
//
// # The XML-RPC client's hot path
//
// Hand-written HTTP/1.1 (xmlrpc.AppendPost, xmlrpc.ReadResponse) on one
// blocking goroutine per connection, requests encoded before the run and
// responses compared byte for byte; not net/http's client and not the epoll
// loops (one request in flight per connection, nothing to pipeline).
// Measured against the xmlrpc architecture, 64 connections, 16-byte
// messages, 3 s, on this 2-core machine shared with other jobs (load
// average 11): single calls 4.3k calls/s, the generator used 0.60 CPU-s and
// the server 1.29 CPU-s (47 µs against 100 µs per call); multicall of 16,
// 15.8k calls/s, 0.30 against 1.63 CPU-s (6 µs against 34 µs per call).
// The generator is not the bottleneck: the server needs 2–5 times its CPU
// per call.
package loadgen
