// Package epollpool is the epoll-pool architecture: an epoll(7) event loop
// that cuts each connection's input into framed messages and hands them to
// a bounded pool of goroutines, which spend the handler work
// (protocol.Work) and build the replies; the loop writes the replies back.
// It is the reactor plus worker pool of production servers, as in Netty
// with a handler on an EventExecutorGroup.
//
// The loops are archbench/servers/internal/evloop's, on epoll, the very
// loop of the select, poll and epoll architectures; this package is the
// pool they hand messages to (an evloop.Pool). The hand-off itself
// (message queues, slots, completions) is described in evloop's package
// documentation.
//
// # Goroutines
//
// Config.Loops event loops (default 1) and Config.Workers workers (default
// 4), nothing else. Every loop watches the shared listener, accepts, reads,
// writes and closes; workers never touch a descriptor. Workers take jobs
// from one channel of capacity 2×Workers (Workers running, Workers queued,
// so a worker that finishes finds the next job without waiting for a
// loop): those are the pool's slots. A loop takes a slot before it sends,
// so the send never blocks; a worker frees the slot, then gives the job
// back to its loop (evloop.Job.Done), which wakes it through its eventfd.
//
// # Order
//
// Each connection has at most one job in the pool, and the messages that
// arrive meanwhile wait in the connection's own queue. Replies on a
// connection therefore leave in request order with no sequence numbers and
// no reorder buffer, however the workers' finishing order falls, and one
// pipelining client cannot hold more than one worker (Netty keeps a channel
// on one executor for the same reason). The price: one connection's
// messages never run in parallel. With handler work (Config.Work nonzero) a
// job is one message, so each reply leaves as soon as its message is done;
// without, a job is every message waiting, because the transform costs
// less than a hand-off.
//
// # Backpressure
//
// A connection whose messages wait for a pool slot (the pool is full) is
// not read: its client's writes stall in the kernel. One whose messages
// wait only behind its own job is read until they hold 256 KiB. So a
// connection holds at most that plus one read (64 KiB) plus its partial
// message (MaxMsg). Waiting connections get slots first come, first
// served; a loop that finds the pool full marks itself starved and sleeps
// in epoll_wait until a worker frees a slot and wakes it: it neither
// blocks nor spins. As in the epoll architecture, pending output at
// Config.OutCap also stops reading until it halves, and IdleTimeout closes
// connections that made no progress, never one whose messages the server
// still owes.
//
// # Raw framing
//
// Raw has no messages to hand off: with Raw, New returns the epoll
// architecture itself (archbench/servers/internal/evloop on epoll, which
// transforms inline) and no pool is started.
//
// # Descriptors
//
// The listener is shared by the loops; the last loop to stop watching it
// closes it (which also removes a unix socket's file). Each loop owns its
// epoll descriptor, its wake eventfd and the connections it accepted, and
// closes them before its goroutine ends. A connection closed while its job
// is in the pool cancels the job (the worker skips its remaining
// messages); the completion is dropped, so a reused descriptor number
// never receives a stale reply.
//
// # Shutdown
//
// Shutdown marks the server stopping and wakes each loop. A loop releases
// the listener, stops reading, ends every connection's input (an
// unterminated last line becomes one more message) and closes each
// connection once its pooled messages are answered and all its output is
// written: half-closed and stopping connections get every reply they are
// owed. If the context ends first, workers abandon the remaining messages
// and the loops close the rest at once. The last loop to exit closes the
// job channel and waits for the workers; Shutdown returns after that, with
// no goroutine or descriptor left.
//
// # Tradeoff
//
// A blocking or CPU-heavy handler no longer stalls every connection of a
// loop: up to Workers messages run at once while the loop keeps accepting,
// reading and writing. Each job costs two cross-goroutine hand-offs (a
// channel send, an eventfd wakeup) that the inline epoll loop does not pay,
// and with blocking work throughput is capped at Workers divided by the
// work's duration, where goroutine-per-connection has no such cap.
package epollpool
