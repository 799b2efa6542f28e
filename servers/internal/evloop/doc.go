// Package evloop is the one hand-written event loop behind the select,
// poll, epoll and epoll-pool architectures: non-blocking sockets,
// level-triggered readiness, and a pluggable Poller (NewSelect, NewPoll,
// NewEpoll) that is the only thing the first three differ in. epoll-pool
// adds a Pool (Options.Pool) that the loops hand their messages to; see
// "Hand-off" below.
//
// # Goroutines
//
// Config.Loops goroutines, one per loop, and nothing else: no acceptor, no
// timers, no per-connection goroutine (a Pool adds its own workers). A loop blocks in its poller's wait
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
// Once warm, an inline message costs no allocation: the read buffer is the loop's,
// and a connection's output buffer only grows (a drained one larger than
// 256 KiB is dropped). Nothing on that path takes a lock; each wakeup reads
// two atomic shutdown flags.
//
// # Hand-off
//
// With a Pool, a loop does not answer messages: it cuts each connection's
// input into framed messages (protocol.Splitter), copies them into the
// connection's wait queue, and hands them to the pool as the connection's
// one Job: every waiting message, or only the first when Config.Work is
// nonzero, so that each reply leaves as soon as its message is done. A
// connection has at most one job out, so its replies leave in request
// order. A loop takes a pool slot (Pool.TryAcquire) before it sends, so
// the send never blocks; a connection that finds no slot queues on the
// loop, first come first served, and is not read meanwhile; the loop marks
// itself starved and sleeps until a freed slot wakes it (Job.Done), so it
// neither blocks nor spins. A connection whose messages wait only behind
// its own job is read until they hold 256 KiB. Finished jobs come back on
// the loop's mutex-guarded completion queue plus a write to its eventfd,
// made only when the loop has read the eventfd since the last write, so a
// burst of completions costs one wakeup. A connection that owes replies
// is never closed as idle, nor closed at EOF or in a graceful shutdown
// before they are written; one closed while its job is out cancels the job
// and drops its completion.
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
// loop unwatches the listener, stops reading, finishes every codec (or
// splitter: an unterminated last line becomes one more message) and closes
// each connection once its messages are answered and its output is
// written; when the last connection is gone the loop exits, and the last
// loop to exit stops the Pool. If the shutdown context ends first, the
// loops are woken again and close the rest at once, and the pool abandons
// the messages it still holds. Shutdown returns when every loop goroutine
// (and pool worker) has returned and every descriptor is closed. A
// loop whose wait fails with anything but EINTR stops the whole server
// this way, and Err reports servers.ErrStopped wrapping the cause. This
// life cycle, and each loop's accept back-off and idle-sweep timers, are
// servers/internal/loopgroup's, shared with the io_uring loops.
package evloop
