// Package sequential is the iterative server of every networking textbook:
// accept one connection, serve it to its end, then accept the next.
//
// Goroutines: one, which accepts and serves.
//
// Descriptors: the listener and the one open connection both belong to that
// goroutine; waiting clients sit in the kernel's accept backlog.
//
// Shutdown: the listener is closed and the connection being served is woken
// by a read deadline, flushes what it owes and closes.
//
// Tradeoff: the least code and no concurrency bugs, with the best latency a
// single client can get. One slow or idle client stops every other client,
// so it fails any test with more than one client at a time, by design.
package sequential
