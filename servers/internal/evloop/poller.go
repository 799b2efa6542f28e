package evloop

import (
	"errors"
	"time"
)

// ErrFDTooHigh: the poller cannot watch a descriptor that large
// (select(2) stops at FD_SETSIZE, 1024).
var ErrFDTooHigh = errors.New("evloop: descriptor too high for the poller")

// Events is a set of readiness conditions.
type Events uint8

const (
	// Readable: a read (or accept) will not block.
	Readable Events = 1 << iota
	// Writable: a write will not block.
	Writable
	// Hangup: the kernel reports an error or hang-up on the socket
	// (POLLERR, POLLHUP, EPOLLERR, EPOLLHUP). Pollers report it together with
	// Readable and Writable so the next read or write finds out what happened.
	Hangup
)

// Event is one ready descriptor.
type Event struct {
	FD     int
	Events Events
}

// Poller is the readiness system call an event loop runs on. A Poller is
// used by one goroutine only. Its watch is level-triggered: a descriptor is
// reported on every Wait for as long as it is ready.
type Poller interface {
	// Name is the system call: "select", "poll" or "epoll".
	Name() string
	// MaxFD is the highest descriptor the poller can watch.
	MaxFD() int
	// Add starts watching fd for ev; Mod changes what fd is watched for
	// (ev may be 0: only Hangup is then reported, by poll and epoll);
	// Del stops watching fd. Del must come before the fd is closed.
	Add(fd int, ev Events) error
	Mod(fd int, ev Events) error
	Del(fd int) error
	// Wait blocks until a watched descriptor is ready or timeout has passed
	// (negative: no timeout) and appends the ready descriptors to dst. A
	// wait interrupted by a signal (EINTR) returns dst and no error.
	Wait(dst []Event, timeout time.Duration) ([]Event, error)
	// Close releases the poller's own descriptor, if it has one.
	Close() error
	// Calls counts the system calls the poller has made: every Wait, and
	// for epoll every Add, Mod and Del too (select and poll keep their
	// interest set in user space).
	Calls() int64
}

// ms rounds a timeout up to whole milliseconds, as poll(2) and
// epoll_wait(2) take it: rounding down would make a 0.4 ms wait a busy poll.
func ms(timeout time.Duration) int {
	if timeout < 0 {
		return -1
	}
	return int((timeout + time.Millisecond - 1) / time.Millisecond)
}
