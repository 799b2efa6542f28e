// Package reuseport runs N accept loops (Config.Loops, default 1; use 2 or
// more), each on its own SO_REUSEPORT listener bound to the same port, with
// one goroutine per accepted connection.
//
// Goroutines: one accept loop per listener; one goroutine per open connection.
//
// Descriptors: each listener belongs to its accept loop; each connection's fd
// to its goroutine. Stats().PerLoop counts the connections each loop took,
// and Shutdown logs them: the kernel hashes each connection's 4-tuple to a
// listener, so the split is even only on average.
//
// Shutdown: every listener is closed, then connections flush what they owe
// and close, as in the goroutine architecture.
//
// Tradeoff: no shared accept queue, so no lock contention between acceptors
// and connection setup scales across cores. The kernel's hash ignores load:
// a loop can get more than its share, and a listener closed with pending
// connections in its queue drops them.
package reuseport
