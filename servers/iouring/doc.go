// Package iouring is the io_uring architecture: a hand-written completion
// loop on io_uring(7), on the ring of archbench/servers/internal/uring.
// Where the readiness loops (servers/internal/evloop) wait to be told a
// socket is ready and then read and write it themselves, each loop here
// queues the operations (accept, receive, send, close) on its ring and is
// told when they are done, many at a time, in one io_uring_enter.
//
// # Goroutines
//
// Config.Loops goroutines, one per loop, and nothing else. Each is locked to
// its thread for its whole life (runtime.LockOSThread, never undone, so the
// thread ends with it): the ring is set up with IORING_SETUP_SINGLE_ISSUER
// and IORING_SETUP_DEFER_TASKRUN where the kernel has them (Linux 6.1),
// which admit submissions from the creating thread only and run the ring's
// deferred work when that thread waits; and whatever the flags, the
// kernel queues a ring's task work to the thread that submitted. A loop
// blocks in io_uring_enter; the Go runtime hands its P to other goroutines
// meanwhile.
//
// # Accepting
//
// Each loop arms one multishot accept (IORING_ACCEPT_MULTISHOT, Linux
// 5.19) on the one shared listening socket from servers.ListenRaw; it posts
// a completion per connection, and a connection belongs to the loop whose
// ring accepted it. TCP_NODELAY is set once on the listener, which accepted
// sockets inherit. An accept error such as EMFILE ends the multishot
// request; the loop counts it and re-arms it after a back-off delay
// (servers.Backoff: 5 ms doubling to 1 s) kept by its wait timeout, so it
// neither exits nor spins. ECONNABORTED and kin re-arm at once. Over
// Config.MaxConns a connection is counted as rejected and closed at once.
//
// # Connections
//
// Each loop registers a provided-buffer ring (IORING_REGISTER_PBUF_RING) of
// 256 buffers of 16 KiB and arms one multishot receive per connection
// (IORING_RECV_MULTISHOT, Linux 6.0) that takes a buffer only when data
// arrives; Options.SingleShotRecv arms one receive at a time instead, to
// measure the difference. The bytes go through the connection's
// protocol.Codec and the buffer goes back to the kernel at once. A
// connection has at most one send in flight, of the bytes in its sending
// buffer, which nothing touches until the completion; replies made
// meanwhile gather in a second buffer, and the two swap when the first
// drains. A partial send continues from where it stopped. When pending
// output reaches Config.OutCap the receive is cancelled until the output
// halves, so the client's writes stall in the kernel. On EOF the codec is
// finished, every owed byte is sent, then the connection is closed; after
// a protocol error the replies before it are sent, one line is logged, and
// the connection is closed; a failed receive or send (ECONNRESET, EPIPE)
// closes it at once. Config.IdleTimeout is enforced by a sweep every
// quarter of the timeout, driven by the wait's timeout. Handler work
// (Config.Work) runs on the loop, as in evloop: while one message sleeps,
// every connection of that loop waits.
//
// # Descriptors
//
// The listener is shared by the loops; the last loop to stop accepting
// closes it (which removes a unix socket's file). Each loop owns its ring,
// its buffer ring, its wake eventfd and the connections it accepted. A
// connection's descriptor is closed (IORING_OP_CLOSE) only after every
// request on it has completed, its requests cancelled first
// (IORING_ASYNC_CANCEL_FD): a request holds the socket open, so closing
// the descriptor alone would neither send a FIN nor free the socket.
//
// # Shutdown
//
// Shutdown marks the server stopping and writes each loop's eventfd, which
// a read on every ring waits for. Each loop cancels its accept, stops
// receiving, finishes every codec, and closes each connection once its
// output is sent; when the last is gone the loop exits. If the shutdown
// context ends first, the loops are woken again, cancel every request,
// reap the cancellations (for at most a second), and close what is left.
// Then the buffer ring is unregistered and unmapped, and the ring and the
// eventfd are closed. Shutdown returns when every loop goroutine has.
// A loop whose io_uring_enter fails for good stops the whole server this
// way, and Err reports servers.ErrStopped wrapping the cause. This life
// cycle, and each loop's accept back-off and idle-sweep timers, are
// servers/internal/loopgroup's, shared with evloop.
//
// # Unavailable
//
// The rings are set up in Start. Where io_uring is off (no kernel support,
// the kernel.io_uring_disabled sysctl, a seccomp filter) or lacks what
// the loop needs (the IORING_FEAT_EXT_ARG wait timeout, a probed opcode,
// buffer rings), Start returns an error wrapping uring.ErrUnavailable that
// says why in one line: a result to record, not a crash. Features says what
// the kernel offered and the loops use; Syscalls counts the loops' system
// calls, for system calls per message.
//
// # Tradeoff
//
// Completion-based I/O batches the submissions of every connection into
// one system call that also collects their results, so a busy loop spends
// far less than a system call per message; epoll needs a wait, then a read
// and a write per ready socket. The price is a younger, larger kernel
// interface that is often switched off, and buffers the kernel owns until
// completion, which the program must track by hand.
package iouring
