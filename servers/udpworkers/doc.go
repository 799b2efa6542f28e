// Package udpworkers serves UDP with --workers goroutines reading one
// socket: each runs the textbook loop (receive, transform, send back), and
// the kernel hands each datagram to one of the blocked readers.
//
// Goroutines: Config.Workers readers. Descriptors: the one socket belongs
// to the server (archbench/servers/internal/dgram); every reader reads and
// writes it. Shutdown: a read deadline in the past wakes every reader; each
// finishes the reply it is writing and returns; then the socket is closed.
//
// Tradeoff: more cores transform and send replies at once with no code
// beyond the loop, but every reader contends for the one socket's receive
// queue lock (udp-reuseport gives each reader its own queue instead), and
// datagrams of one client may be answered out of order.
package udpworkers
