// Package eviosrv is the evio architecture: the uppercase-echo protocol on
// github.com/tidwall/evio (v1.0.8), a small reactor library of
// level-triggered epoll loops, the model gnet started from.
//
// Goroutines: Config.Loops event loops, the goroutine blocked in
// evio.Serve, and, with an idle timeout, our sweep goroutine, which wakes
// idle connections (evio's own Tick goroutine is not used: it outlives
// Serve and may write to an eventfd that was closed).
//
// Descriptors: evio binds the one listener (through net.Listen, then a dup
// of it) that every loop watches, and owns every connection. We own the
// control connection's client end: a connection of our own that Shutdown
// wakes, because an Action returned from an event is the only way to stop
// evio. Once at start we look through /proc/self/fd, to count descriptors
// and to set TCP_NODELAY on evio's listener (accepted sockets inherit it;
// evio sets it nowhere).
//
// Shutdown: new connections are closed in Opened; every open one is woken
// and returns Close, which evio carries out once the connection's pending
// output is written; when none is left, or ctx ends, the control
// connection returns Shutdown and evio closes whatever is left.
//
// Library defects and how this package meets them, measured with the tests
// in this package:
//
//   - Half-close: evio reads a connection only when its output is drained,
//     so complete replies are always flushed; but on read EOF it closes at
//     once, without an event, so what is owed only at end of input (a
//     held-back incomplete UTF-8 sequence, an unterminated last line) is
//     never sent, and the same is lost at Shutdown. No workaround: a
//     Defect.
//   - A client that writes without reading: evio stops reading (output per
//     connection is one Data reply, so memory stays bounded) but leaves
//     EPOLLIN armed, so its loop spins at 100% CPU for as long as the client
//     stays. Actions wait for the output to drain, so the connection cannot
//     even be closed, by the idle timeout or otherwise. A Defect.
//   - EMFILE: an accept error ends evio's loop, silently, and Serve returns
//     nil. A connection is closed in Opened when the open connections reach
//     RLIMIT_NOFILE less the descriptors open at start and 32 in reserve
//     (evio accepts one connection per readiness event and opens it in the
//     next, so our own connections cannot exhaust the table). Descriptors
//     used up by anything else still end the loop, which is the conformance
//     case's scenario, so it is a declared Defect: Serve returning without
//     Shutdown is reported as servers.ErrStopped through Done and Err.
//   - A Wake's output replaces output still pending, so a Wake never
//     returns output here.
//
// Datagrams (network udp, udp6; udp.go): evio binds one socket (a plain
// bind: a port someone holds is refused) and every loop polls it; a
// readable event reads one datagram with recvfrom and Data's return is sent
// back with sendto, whose error evio ignores (a reply larger than a
// datagram is therefore counted and not handed over). evio takes the
// scheme "udp" only, the address picking the family; it reports an IPv4
// sender as ::a.b.c.d in a *net.TCPAddr. Its socket buffers are set on the
// socket found among our descriptors. A zero-length datagram never reaches
// Data (a Defect). evio stops only on an event's Action, so Shutdown sends
// a stop datagram (a random token) from a control socket of ours, again
// every 10 ms until evio stopped.
//
// Tradeoff: evio is a few hundred lines with a simple, single-threaded
// callback model and copies output once, which makes it fast on small
// messages. It cannot be told to stop reading, to close a connection with
// pending output, or to survive an accept error, and it panics on a failed
// epoll_ctl, so it is not fit to face untrusted clients.
package eviosrv
