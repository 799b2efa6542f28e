package uring

import "unsafe"

// The Prep methods fill a zeroed SQE (from Ring.GetSQE) for one operation,
// as liburing's io_uring_prep_* helpers do. user_data is the caller's to
// set. A buffer passed by address must stay reachable and unchanged until
// the operation's completion has been reaped.

// PrepNop prepares a no-op: it completes with res 0.
func (s *SQE) PrepNop() { s.Opcode = OpNop }

// PrepAccept prepares accept4(fd, NULL, NULL, flags) (flags: SOCK_CLOEXEC
// and the like). Multishot (Linux 5.19) posts one completion per accepted
// connection, each with CQEFMore while it stays armed.
func (s *SQE) PrepAccept(fd int, flags uint32, multishot bool) {
	s.Opcode, s.FD, s.OpFlags = OpAccept, int32(fd), flags
	if multishot {
		s.IOPrio |= AcceptMultishot
	}
}

// PrepRecvSelect prepares recv(fd) into a buffer the kernel picks from the
// provided-buffer group when data arrives (IOSQE_BUFFER_SELECT): the
// completion's flags carry its ID (CQE.BufferID). Multishot (Linux 6.0)
// posts one completion per receive while it stays armed.
func (s *SQE) PrepRecvSelect(fd int, group uint16, multishot bool) {
	s.Opcode, s.FD, s.Flags, s.BufGroup = OpRecv, int32(fd), SQEBufferSelect, group
	if multishot {
		s.IOPrio |= RecvMultishot
	}
}

// PrepSend prepares send(fd, p, flags) (flags: MSG_NOSIGNAL and the like).
// p must stay reachable and unchanged until the completion.
func (s *SQE) PrepSend(fd int, p []byte, flags uint32) {
	s.Opcode, s.FD, s.OpFlags, s.Len = OpSend, int32(fd), flags, uint32(len(p))
	if len(p) > 0 {
		s.Addr = uint64(uintptr(unsafe.Pointer(&p[0])))
	}
}

// PrepRead prepares read(fd, p) at the current file position. p must stay
// reachable until the completion.
func (s *SQE) PrepRead(fd int, p []byte) {
	s.Opcode, s.FD, s.Len, s.Off = OpRead, int32(fd), uint32(len(p)), ^uint64(0)
	if len(p) > 0 {
		s.Addr = uint64(uintptr(unsafe.Pointer(&p[0])))
	}
}

// PrepCancel prepares the cancellation of the request submitted with
// userData (ASYNC_CANCEL, the first match). Its completion says 0, -ENOENT
// (none found) or -EALREADY (running, cannot be stopped); the cancelled
// request completes on its own with -ECANCELED.
func (s *SQE) PrepCancel(userData uint64) {
	s.Opcode, s.Addr, s.FD = OpAsyncCancel, userData, -1
}

// PrepCancelFD prepares the cancellation of every request on fd (Linux
// 5.19); the completion's res is how many were found.
func (s *SQE) PrepCancelFD(fd int) {
	s.Opcode, s.FD, s.OpFlags = OpAsyncCancel, int32(fd), CancelFD|CancelAll
}

// PrepCancelAny prepares the cancellation of every request in flight on
// the ring (Linux 5.19); the completion's res is how many were found.
func (s *SQE) PrepCancelAny() {
	s.Opcode, s.FD, s.OpFlags = OpAsyncCancel, -1, CancelAny|CancelAll
}

// PrepClose prepares close(fd).
func (s *SQE) PrepClose(fd int) { s.Opcode, s.FD = OpClose, int32(fd) }

// More reports whether a multishot request that posted c stays armed.
func (c CQE) More() bool { return c.Flags&CQEFMore != 0 }

// BufferID reports the provided buffer a completion used, if any.
func (c CQE) BufferID() (id uint16, ok bool) {
	return uint16(c.Flags >> CQEBufferShift), c.Flags&CQEFBuffer != 0
}
