// Package udpmmsg serves UDP in batches: recvmmsg(2) takes up to Batch
// datagrams in one system call, each is transformed, and sendmmsg(2) sends
// all the replies in one more. --loops sockets share the address with
// SO_REUSEPORT (one socket, plainly bound, with --loops 1), one goroutine
// each. The loop is written by hand on golang.org/x/sys/unix, through the
// socket's syscall.RawConn so that Go's poller still parks the goroutine
// while the socket is empty: the receive buffers, addresses and message
// headers are allocated once per loop, nothing per datagram or per batch
// (a test counts 0 allocations per cycle; golang.org/x/net/ipv4's
// ReadBatch would hand out a net.Addr per message).
//
// Goroutines: Config.Loops loops, one per socket. Descriptors: the sockets
// belong to the server (archbench/servers/internal/dgram); each loop reads
// and writes its own. Shutdown: a read deadline in the past wakes each
// loop's wait; a loop sends the batch it holds before it returns; then the
// sockets are closed.
//
// Tradeoff: under load one system call moves up to 32 datagrams each way,
// where the textbook loop makes two calls per datagram, so more datagrams
// fit in a core's second before the queue overflows; at low load a batch
// is one datagram and nothing is gained, and each loop holds 2 MiB of
// receive buffers.
package udpmmsg
