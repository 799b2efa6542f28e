// Package gnetsrv is the gnet architecture: the uppercase-echo protocol on
// github.com/panjf2000/gnet/v2 (v2.10.0), a reactor library of
// level-triggered epoll loops.
//
// Goroutines: Config.Loops event loops, gnet's ticker (which runs OnTick:
// the idle sweep) and the goroutine blocked in gnet.Run. For TCP every loop
// has its own SO_REUSEPORT listener and accepts on it (the kernel spreads
// connections by hash); gnet forbids SO_REUSEPORT for unix sockets, so
// there a main reactor goroutine accepts and hands connections to the loops
// in turn. gnet also starts an ants worker pool when it is imported (its
// purge goroutines live for the whole process).
//
// Descriptors: gnet binds and owns the listeners and every connection; we
// only borrow fds: a duplicate of the listener in OnBoot to learn the bound
// address, and for TCP port 0 a bound, non-listening SO_REUSEPORT socket
// that picks the port and holds it until every loop's listener has joined
// it. A fixed port is first tried with a plain bind: with SO_REUSEPORT
// alone, another server of the same user could silently share the port.
//
// Shutdown: new connections are closed in OnOpen; each open one is asked,
// on its own loop, to queue what it owes at end of input and is closed once
// gnet's outbound buffer is empty; when the context ends, gnet's engine
// stops and closes the rest (gnet.Engine.Stop polls every 500 ms, so it is
// called with a context already over and Shutdown waits for gnet.Run).
//
// Protocol side: a Replier per connection turns what gnet reads into
// replies; here it is a protocol.Codec answering on the loop. gnet-pool
// (archbench/servers/gnetpool) runs this same server through NewWith with
// its own Replier, which hands messages to a worker pool, so everything
// below holds for it too.
//
// Library defects and how this package meets them, measured with the tests
// in this package:
//
//   - Half-close: gnet closes a connection as soon as read returns 0 and
//     writes the outbound buffer once, non-blocking, giving up at the first
//     EAGAIN (eventloop_unix.go, eventloop.close), so the replies owed to a
//     client that half-closed are lost whenever they did not fit the socket
//     buffers. OnClose runs just before that write: there the socket is made
//     blocking with SO_SNDTIMEO (1 s, or the idle timeout, or what is left of
//     Shutdown's deadline), so the write waits for the peer; the cost is that
//     the event loop, and every connection on it, waits too, at most that
//     long per write that makes no progress.
//   - A client that writes without reading: gnet reads on regardless and
//     buffers output without bound. There is no way to stop reading one
//     connection, so a connection whose outbound buffer passes Config.OutCap
//     is closed (Redis' client-output-buffer-limit does the same).
//   - EMFILE: an accept error ends gnet's event loop, and gnet.Run still
//     returns nil (acceptor_unix.go). Descriptors are allocated lowest first,
//     so a connection whose fd is within 32 of RLIMIT_NOFILE is closed at
//     once in OnOpen (Redis reserves 32 the same way); with per-loop
//     listeners OnOpen runs right after each accept, so our own connections
//     cannot exhaust the table. Descriptors used up by anything else still
//     end the loop, which is the conformance case's scenario, so it is a
//     declared Defect: gnet.Run returning without Shutdown is reported as
//     servers.ErrStopped with gnet's last logged error, through Done and Err.
//
// Datagrams (network udp, udp6; udp.go): every loop binds its own
// SO_REUSEPORT socket to the address (after a plain bind proved nobody
// else holds it), reads one datagram per readiness event with recvfrom
// into its 64 KiB buffer, and the handler answers with one sendto on the
// loop. There are no connections: Shutdown stops the engine, after the
// datagram in hand is answered. The counters are one dgram.Counters shared
// by the loops.
//
// Tradeoff: gnet gives multi-loop epoll serving, buffering and
// load-balancing without hand-written syscalls, in the callback style of
// Netty. Its choices are not ours to change: it reads whether or not the
// client keeps up, it drops output at close, and one accept error stops the
// whole engine, so robustness is bought back with the workarounds above.
package gnetsrv
