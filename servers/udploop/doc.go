// Package udploop is the textbook UDP server: one socket, one goroutine,
// receive a datagram, send its transform back to the sender, repeat
// (recvfrom/sendto; here recvmsg, only to see MSG_TRUNC).
//
// Goroutines: one, the loop. Descriptors: the one socket belongs to the
// server (archbench/servers/internal/dgram); the loop only reads and writes
// it. Shutdown: a read deadline in the past wakes the loop, which finishes
// the reply it is writing and returns; then the socket is closed.
//
// Tradeoff: the least code and no locking, and on loopback one core's
// worth of datagrams per second; past that the socket's receive queue
// fills and the kernel drops what arrives (Stats.Drops), where TCP would
// have slowed the sender down.
package udploop
