// Package uring is a small io_uring(7) binding on raw system calls, enough
// for a network event loop: set a ring up (io_uring_setup with the SQ and
// CQ mmaps, one mapping with IORING_FEAT_SINGLE_MMAP), prepare SQEs,
// submit and wait in one io_uring_enter with a timeout
// (IORING_ENTER_EXT_ARG), reap CQEs, probe the opcodes the kernel supports
// (IORING_REGISTER_PROBE) and register a provided-buffer ring
// (IORING_REGISTER_PBUF_RING). Structures and flags are transcribed from
// the kernel's UAPI header, include/uapi/linux/io_uring.h; golang.org/x/sys
// has only the system call numbers.
//
// # Goroutines and ownership
//
// The package starts no goroutine. A Ring and its BufRings belong to one
// goroutine; only Syscalls may be read from others. With
// SetupSingleIssuer the kernel also holds the ring to one thread, so that
// goroutine must call runtime.LockOSThread before New and keep it until
// Close. The Ring owns its descriptor and mappings; BufRing owns its ring
// and buffer mappings, which live outside the Go heap.
//
// # Memory shared with the kernel
//
// The SQ and CQ heads and tails and a buffer ring's tail are written by
// one side and read by the other while both run: they are accessed only
// through sync/atomic (release stores, acquire loads, as liburing's
// io_uring_smp_store_release and io_uring_smp_load_acquire). The race
// detector cannot see what the kernel writes, so these rules are what keep
// the program correct. A buffer handed to the kernel by address (a send's
// bytes) must stay reachable and unchanged until its completion is reaped;
// received bytes land in BufRing memory, which Close unmaps only after the
// kernel can no longer pick from it.
//
// # Errors
//
// Errors say "uring: <call>: <errno>" and wrap the errno. When io_uring
// cannot be set up at all (ENOSYS; EPERM from the kernel.io_uring_disabled
// sysctl, a seccomp filter or a security module) or lacks a facility the
// caller needs, the error wraps ErrUnavailable and says why in one line.
//
// # Tradeoff
//
// Completion-based I/O batches many operations into one system call and
// delivers the data with the completion, so a message can cost a fraction
// of a system call. Readiness APIs (epoll) need a wait, then a read, then a
// write per message, but they are simpler, older and allowed everywhere
// io_uring is often switched off.
package uring
