// Package evloop is the one hand-written event loop behind the select,
// poll and epoll architectures: non-blocking sockets, level-triggered
// readiness, and a pluggable Poller (NewSelect, NewPoll, NewEpoll) that is
// the only thing those three architectures differ in.
//
// # Goroutines
//
// Config.Loops goroutines, one per loop, and nothing else: no acceptor, no
// timers, no per-connection goroutine. A loop blocks in its poller's wait
// system call; the Go runtime hands its P to other goroutines meanwhile.
// Loops do not call runtime.LockOSThread: a loop keeps no thread-local
// state, and locking would only force a thread handoff whenever another
// goroutine (a test client, the load generator) needs the CPU.
//
// # Accepting
//
// Every loop watches the one shared non-blocking listening socket
// (servers.ListenRaw) and accepts up to 16 connections per readiness; a
// connection belongs to the loop that accepted it for its whole life.
// There is no acceptor goroutine handing descriptors over, which would cost
// a cross-CPU wakeup per connection. The price is a thundering herd: with
// several loops, each new connection wakes all of them and all but one find
// nothing (EAGAIN). Accept errors such as EMFILE make that loop stop
// watching the listener for a back-off delay (servers.Backoff, 5 ms
// doubling to 1 s) — a level-triggered listener left in the set would be
// reported ready at once and spin — and then resume; a loop never exits on
// them. select(2) cannot watch a descriptor at or above FD_SETSIZE (1024):
// such a connection is closed at once and counted as rejected.
//
// # Connections
//
// Each loop has one 64 KiB read buffer shared by its connections. A
// readable connection is read once, its bytes go through its
// protocol.Codec, and the replies are written at once; what the socket does
// not take stays in the connection's pending output and the loop watches
// for writability. When pending output reaches Config.OutCap the loop stops
// watching the connection for reading until it halves: the client's writes
// then stall in the kernel (backpressure, no CPU spin). On EOF the codec is
// finished, every pending byte is written, then the connection is closed;
// after a protocol error the replies before it are written, one line is
// logged, and the connection is closed; a failed read or write (ECONNRESET,
// EPIPE) closes it at once. IdleTimeout is enforced by a sweep every
// quarter of the timeout, driven by the wait timeout, not per-read timers.
// Handler work (Config.Work) runs on the loop itself: while one message
// sleeps, every connection of that loop waits, which is the event loop's
// known weakness that the benchmark is there to show.
//
// Once warm, a message costs no allocation: the read buffer is the loop's,
// and a connection's output buffer only grows (a drained one larger than
// 256 KiB is dropped). Nothing on that path takes a lock; each wakeup reads
// two atomic shutdown flags.
//
// # Descriptors
//
// The listener is shared by the loops; the last loop to stop watching it
// closes it (which also removes a unix socket's file). Each loop owns its
// poller (an epoll descriptor for epoll), its wake eventfd and the
// connections it accepted, and closes them all before its goroutine ends.
//
// # Shutdown
//
// Shutdown marks the server stopping and writes each loop's eventfd. Each
// loop unwatches the listener, stops reading, finishes every codec and
// closes each connection once its output is written; when the last
// connection is gone the loop exits. If the shutdown context ends first,
// the loops are woken again and close the rest at once. Shutdown returns
// when every loop goroutine has returned and every descriptor is closed. A
// loop whose wait fails with anything but EINTR stops the whole server
// this way, and Err reports servers.ErrStopped wrapping the cause.
package evloop
