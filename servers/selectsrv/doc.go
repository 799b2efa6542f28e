// Package selectsrv is the select architecture: the event loop of
// archbench/servers/internal/evloop running on select(2). (select is a Go
// keyword, so the package and its directory are selectsrv.)
//
// Goroutines: Config.Loops event loops (default 1), nothing else.
//
// Descriptors: every loop watches the one shared listener and owns the
// connections it accepts and its wake eventfd; the last loop to stop
// watching the listener closes it. A connection whose descriptor is 1024
// (FD_SETSIZE) or higher is closed at once, counted as rejected and logged:
// putting it in an fd_set would corrupt memory.
//
// Shutdown: the loops are woken, stop accepting and reading, flush each
// connection's pending output and close it; when the context ends first,
// the rest are closed at once.
//
// Tradeoff: the oldest portable readiness call, one system call watching
// many sockets on one thread. Every call copies two 128-byte bitmaps in and
// out and the kernel and the loop scan every descriptor up to the highest
// one, and descriptors from 1024 up cannot be watched at all.
package selectsrv
