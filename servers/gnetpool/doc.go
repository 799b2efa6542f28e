// Package gnetpool is the gnet-pool architecture: gnet v2 (v2.10.0) event
// loops cut each connection's input into framed messages
// (protocol.Splitter) and hand them to a bounded pool of Config.Workers
// goroutines, which spend the handler work (protocol.Work) and build the
// replies; the connection's loop writes them. It is the reactor plus
// worker pool of production servers, on gnet, as epoll-pool is on a
// hand-written epoll loop.
//
// It is the gnet architecture's server (archbench/servers/gnetsrv) with
// another protocol side (gnetsrv.Hooks, gnetsrv.Replier): binding, the
// descriptor guard, the OutCap close, the idle sweep, the flush at close
// and Shutdown are that package's; this one is the pool and a Replier per
// connection. With raw framing there are no messages to hand off: New
// returns the gnet architecture itself and no pool is started.
//
// # Goroutines
//
// gnet's (Config.Loops event loops, its ticker, the goroutine blocked in
// gnet.Run, and the ants pool gnet starts when imported) plus
// Config.Workers workers, started by Start and ended once gnet.Run has
// returned. Workers take jobs from one FIFO (a mutex and a sync.Cond):
// handing a job over never blocks a loop, and idle workers sleep on the
// Cond. A finished job goes back to its loop as a task on gnet's queue
// (EventLoop.Execute), which writes the replies with Conn.Write.
//
// Why not Conn.AsyncWrite: its task writes the bytes it was given whenever
// it runs, so a loop could never take a finished reply back; the task here
// pulls the replies, so whichever comes first, it or the loop, takes them.
// The cost is the same: one task on gnet's queue and one eventfd wakeup.
//
// # Order
//
// A connection has one job and at most one in the pool; the messages that
// arrive meanwhile wait in the connection's own queue. Replies therefore
// leave in request order with no sequence numbers, and one pipelining
// client holds at most one worker. With handler work a job is one message,
// so each reply leaves as soon as it is made; without, a job is every
// message waiting, because the transform costs less than a hand-off.
//
// # Backpressure
//
// gnet cannot stop reading one connection: its loop reads whenever the
// socket is readable, and OnTraffic can only return None, Close or
// Shutdown. Leaving input unconsumed (Peek instead of Next) does not stop
// the reads either; gnet appends what it read to the connection's inbound
// buffer, which grows without bound (eventloop_unix.go, eventloop.read;
// gnet issues 712 and 722 asked for a pause and were closed without one).
// So the bound is what a connection is owed: its messages waiting or in
// the pool plus gnet's outbound buffer. Past Config.OutCap the connection
// is closed, as the gnet architecture closes one whose output passes it.
//
// With no handler work, a connection owed more than OutCap/8 is answered
// on its loop instead (caller-runs, as Java's CallerRunsPolicy): the loop
// takes the job back (a queued one, or the replies of a done one; a
// running one is answered again on the loop and the worker's result
// dropped, since a reply is then a pure function of its message), answers
// everything waiting, and reads no more meanwhile. A client that streams
// faster than the pool is slowed to the gnet architecture's pace instead
// of being closed. With handler work the loop never spends it, since that
// would stall every connection on the loop: a client that pipelines faster
// than the pool answers is closed at OutCap.
//
// # Half-close
//
// gnet closes a connection as soon as read returns 0, and OnClose is the
// last word, so every reply still owed is made there, the end-of-input one
// included: a queued job and the waiting messages are answered on the
// loop, a done job gives its replies, a running one is waited for (with
// handler work) or answered again (without). A client that half-closes
// with n messages unanswered stalls its loop for about n times the work;
// then the gnet architecture's blocking flush sends them.
//
// # Descriptors
//
// gnet binds and owns the listeners and every connection, as in the gnet
// architecture; workers touch no descriptor.
//
// # Shutdown
//
// As in the gnet architecture: new connections are closed, each open one
// has its input ended (an unterminated last line is one more message) and
// is closed once it is owed nothing and gnet's outbound buffer is empty;
// at the context's end gnet closes the rest, whose jobs are abandoned (a
// running one stops before its next message, and its result is dropped).
// Once gnet.Run has returned, every OnClose has run, so no worker will
// address a loop again: the workers are stopped and waited for, and
// Shutdown returns after that.
//
// # Defects
//
// gnet's accept error that ends the engine (EMFILE) holds here as in the
// gnet architecture and is declared; the guard that keeps the server's
// own connections from causing it is the gnet architecture's.
//
// # Tradeoff
//
// A blocking or CPU-heavy handler no longer stalls a gnet loop: up to
// Workers messages run at once while the loop keeps reading and writing
// (line framing, 10 ms sleep per message, 64 connections: 388 msg/s
// against gnet's 96, the ceiling being Workers/10 ms = 400). The price is
// two hand-offs per job, throughput capped at Workers over the work's
// duration, and, because gnet cannot stop reading a connection, a client
// that outruns a pool with handler work is closed rather than slowed.
package gnetpool
