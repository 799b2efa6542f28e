package uring

import "errors"

// Errors of the package; every other error is a system call's errno wrapped
// as "uring: <call>: <errno>".
var (
	// ErrUnavailable: io_uring cannot be set up here (a kernel without it,
	// the kernel.io_uring_disabled sysctl, a seccomp filter), or the kernel
	// lacks something the caller needs. The error says why in one line.
	ErrUnavailable = errors.New("uring: io_uring unavailable")
	// ErrClosed: the ring or buffer ring has been closed.
	ErrClosed = errors.New("uring: ring closed")
)
