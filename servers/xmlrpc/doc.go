// Package xmlrpc is the xmlrpc architecture: the textbook's XML-RPC server,
// HTTP/1.1 with keep-alive (net/http) at /RPC2 and /, the codec of package
// archbench/xmlrpc, and the methods upper (the protocol package's transform,
// with the modelled work per call), addtogether, quadratic and
// system.listMethods, system.methodHelp, system.methodSignature and
// system.multicall.
//
// It does not speak the uppercase-echo byte protocol (its Arch.Protocol is
// "xmlrpc"): the TCP conformance suite and the byte-protocol suites skip it,
// its own conformance cases are in this package's tests, and `archbench
// load --protocol xmlrpc` and `archbench call` are its clients.
//
// Goroutines: net/http's accept loop (Serve) and one goroutine per
// connection, which reads a request, runs the method and writes the
// response, then waits for the next request on the kept-alive connection.
//
// Descriptors: the listener belongs to Serve; each connection to its
// goroutine. connState admits connections under --max-conns and counts
// them in Stats.
//
// Bounds: a body declared over --max-msg is answered with a fault
// (-32001) without being read, and the connection closed; a body that
// turns out larger (chunked), nested deeper than 64 elements or holding
// more than 2^18 elements, or malformed, is a fault (-32001, -32700), and
// the connection is kept when net/http can drain the rest of the body
// (up to 256 KiB), closed otherwise. --idle-timeout closes a connection idle for that
// long, and one whose request makes no progress for that long.
//
// Shutdown: http.Server.Shutdown closes the listener, lets every request in
// progress finish, closes idle keep-alive connections; when the shutdown
// context ends first, Close ends the rest.
//
// Tradeoff: each call pays HTTP headers and an XML document each way and an
// allocation-heavy parse, so one upper call costs several times the bytes
// and CPU of a framed message; in return any XML-RPC client in any language
// can call it, and multicall amortises the HTTP part over many calls.
package xmlrpc
