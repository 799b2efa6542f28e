// Package goroutine is the goroutine-per-connection architecture, Go's
// idiomatic server.
//
// Goroutines: one accept loop; one goroutine per open connection, doing
// blocking reads and writes through Go's runtime poller (which is itself an
// epoll loop underneath).
//
// Descriptors: the listener belongs to the accept loop; each connection's fd
// belongs to its goroutine, which closes it when the connection ends.
//
// Shutdown: the listener is closed, every connection's pending read is woken
// by a deadline, each goroutine flushes what it owes and closes; when the
// shutdown context ends, the rest are closed at once.
//
// Tradeoff: the simplest code that scales to many connections and spreads
// over all cores. Each connection costs a goroutine stack and a read buffer
// (about 24 KiB here) even when idle, and blocking work only blocks its own
// connection.
package goroutine
