package protocol

// Splitter cuts one connection's input into framed messages without
// answering them, for servers that hand messages to other goroutines (a
// worker pool) and build the replies there with AppendMessageReply. It runs
// the very framing a Codec runs, so Splitter plus AppendMessageReply gives
// byte for byte what Codec.Feed and Codec.Finish give. It is not safe for
// concurrent use; each connection owns one.
//
// A Splitter needs Line or Length framing: Raw has no messages (Next
// consumes all of src and returns none).
type Splitter struct {
	framer
}

// NewSplitter returns a Splitter for cfg, which must be valid; cfg.Work is
// ignored (whoever answers a message spends it).
func NewSplitter(cfg CodecConfig) *Splitter {
	s := &Splitter{}
	s.Reset(cfg)
	return s
}

// Reset makes s a fresh splitter for cfg, keeping its buffer.
func (s *Splitter) Reset(cfg CodecConfig) { s.framer = newFramer(cfg, s.partial) }

// Buffered reports how many input bytes are held for an incomplete message.
func (s *Splitter) Buffered() int { return len(s.partial) }

// Next consumes src up to the end of the first message it completes. It
// returns that message, the number of bytes of src consumed, and ok true;
// or, when src does not complete a message, ok false with all of src
// consumed and held for the next call. On error (ErrTooLarge) the splitter
// must not be used again.
//
// Slice semantics: msg aliases src or the splitter's own buffer. It is
// valid until the next call of Next, Finish or Reset and until src is
// changed, and must not be modified; copy it to keep it. For Line, msg
// includes its '\n'; for Length, msg is the body without its header.
func (s *Splitter) Next(src []byte) (msg []byte, n int, ok bool, err error) {
	if s.framing == Raw {
		return nil, len(src), false, nil
	}
	return s.next(src)
}

// Finish ends the input. With Line an unterminated last line is returned
// as a message (ok true; it has no '\n' and is answered like any other);
// with Length an incomplete frame is ErrTruncated. msg follows Next's
// slice semantics.
func (s *Splitter) Finish() (msg []byte, ok bool, err error) {
	if s.framing == Raw {
		return nil, false, nil
	}
	return s.finish()
}
