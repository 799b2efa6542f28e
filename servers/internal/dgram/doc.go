// Package dgram is what the datagram (UDP) architectures share: binding one
// address with one or more sockets (SO_REUSEPORT for several, after an
// exclusive probe so a port someone else holds is refused, never joined),
// socket buffer sizes, the counters of servers.Stats (datagrams, replies,
// truncated, send errors, the kernel's drop count of the bound sockets, the
// granted buffer sizes), the graceful stop, and the textbook read-transform-
// reply loop that udp-loop, udp-workers and udp-reuseport run.
//
// Goroutines: Server runs Plan.Readers goroutines per socket, each running
// Plan.Serve (the textbook loop by default) until Shutdown.
//
// Descriptors: the Server owns every socket; loops only read and write
// them. Shutdown sets a read deadline in the past on each socket, which
// wakes every blocked read; each loop finishes the reply it is writing and
// returns; then the drop count is read one last time and the sockets are
// closed. If the shutdown context ends first, the sockets are closed at
// once (a write blocked on a full send buffer fails) and the loops end.
//
// A datagram server has no connections: Stats.Accepted and Active stay 0,
// and MaxConns, OutCap and IdleTimeout do not apply.
package dgram
