// Package epoll is the epoll architecture: the event loop of
// archbench/servers/internal/evloop running on epoll(7), level-triggered.
//
// Goroutines: Config.Loops event loops (default 1), nothing else.
//
// Descriptors: every loop watches the one shared listener and owns its
// epoll descriptor, its wake eventfd and the connections it accepts; the
// last loop to stop watching the listener closes it.
//
// Shutdown: the loops are woken, stop accepting and reading, flush each
// connection's pending output and close it; when the context ends first,
// the rest are closed at once.
//
// Tradeoff: the kernel keeps the interest set and returns only the ready
// sockets, so a wakeup costs in proportion to activity, not to open
// connections: the design under Go's own runtime, nginx and gnet. It is
// Linux-only, and every change of interest (backpressure, pending output)
// is one more system call, epoll_ctl.
package epoll
