// Package poll is the poll architecture: the event loop of
// archbench/servers/internal/evloop running on poll(2).
//
// Goroutines: Config.Loops event loops (default 1), nothing else.
//
// Descriptors: every loop watches the one shared listener and owns the
// connections it accepts and its wake eventfd; the last loop to stop
// watching the listener closes it.
//
// Shutdown: the loops are woken, stop accepting and reading, flush each
// connection's pending output and close it; when the context ends first,
// the rest are closed at once.
//
// Tradeoff: select(2) without the 1024-descriptor limit, on a dense array
// of just the watched sockets. The whole array is still copied into the
// kernel and scanned on every call, so each wakeup costs in proportion to
// the open connections, idle ones included.
package poll
