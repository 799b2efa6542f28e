package protocol

import "encoding/binary"

// AppendRequest appends payload to dst framed as a client sends it: as is
// for Raw, followed by '\n' for Line (payload must not contain '\n'), behind
// a 4-byte big-endian length for Length.
func AppendRequest(dst []byte, f Framing, payload []byte) []byte {
	switch f {
	case Line:
		dst = append(dst, payload...)
		return append(dst, '\n')
	case Length:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
		return append(dst, payload...)
	default:
		return append(dst, payload...)
	}
}

// AppendReply appends the exact reply a server owes for the request that
// AppendRequest(nil, f, payload) builds, given as a whole message.
func AppendReply(dst []byte, f Framing, payload []byte) []byte {
	switch f {
	case Line:
		dst = AppendUpper(dst, payload)
		return append(dst, '\n')
	case Length:
		dst = binary.BigEndian.AppendUint32(dst, uint32(UpperLen(payload)))
		return AppendUpper(dst, payload)
	default:
		return AppendUpper(dst, payload)
	}
}
