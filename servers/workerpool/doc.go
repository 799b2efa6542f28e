// Package workerpool is the textbook thread pool: a fixed number of
// goroutines (Config.Workers, default 4), each looping Accept on the one
// shared listener and serving its connection to the end.
//
// Goroutines: exactly Workers, each accepting and then serving one
// connection at a time.
//
// Descriptors: the listener is shared by all workers; each connection's fd
// belongs to the worker that accepted it.
//
// Shutdown: the listener is closed; each worker's connection is woken by a
// read deadline, flushes what it owes and closes, and the workers return.
//
// Tradeoff: concurrency and memory are capped at N no matter how many
// clients come, which protects the machine. Client N+1 waits in the backlog
// until a worker frees up, so N slow clients stop everyone else.
package workerpool
