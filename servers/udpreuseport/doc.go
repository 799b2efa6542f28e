// Package udpreuseport serves UDP with --loops sockets bound to one address
// with SO_REUSEPORT, one goroutine each running the textbook loop; the
// kernel spreads datagrams over the sockets by a hash of the sender's
// address and port.
//
// Goroutines: Config.Loops readers, one per socket. Descriptors: the
// sockets belong to the server (archbench/servers/internal/dgram); each
// reader reads and writes its own. Before binding the group, an exclusive
// bind of the address proves that no other socket holds it: a port someone
// else bound with SO_REUSEPORT is refused, never shared. Shutdown: a read
// deadline in the past wakes every reader; each finishes the reply it is
// writing and returns; then the sockets are closed.
//
// Tradeoff: no socket is shared, so readers scale with cores and one
// client's datagrams stay in order on one socket; but a client always lands
// on the same socket, so a few heavy senders can overflow one queue
// (Stats.PerLoop shows the spread) while the others idle.
package udpreuseport
