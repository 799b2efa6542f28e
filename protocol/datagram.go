package protocol

// The largest datagram payloads: UDP over IPv4 (65,535 less the 20-byte
// IPv4 and 8-byte UDP headers) and over IPv6 (65,535 less the UDP header;
// IPv6's header is not counted in its payload length), jumbograms aside.
const (
	MaxDatagram4 = 65507
	MaxDatagram6 = 65527
)
