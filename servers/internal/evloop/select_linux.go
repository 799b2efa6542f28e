package evloop

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// selectPoller watches descriptors with select(2): two bitmaps of
// FD_SETSIZE (1024) bits, copied in and scanned on every call.
type selectPoller struct {
	watch      [unix.FD_SETSIZE]bool // registered descriptors
	rset, wset unix.FdSet            // interest
	rres, wres unix.FdSet            // result of the last Wait
	tv         unix.Timeval
	maxFD      int // highest registered descriptor, -1 for none
	calls      int64
}

// NewSelect returns a Poller on select(2). It cannot watch descriptors at
// or above FD_SETSIZE (1024): Add refuses them with ErrFDTooHigh.
func NewSelect() (Poller, error) { return &selectPoller{maxFD: -1}, nil }

func (p *selectPoller) Name() string { return "select" }
func (p *selectPoller) MaxFD() int   { return unix.FD_SETSIZE - 1 }

func (p *selectPoller) Add(fd int, ev Events) error {
	if fd < 0 || fd >= unix.FD_SETSIZE {
		return fmt.Errorf("select: fd %d, FD_SETSIZE %d: %w", fd, unix.FD_SETSIZE, ErrFDTooHigh)
	}
	if p.watch[fd] {
		return fmt.Errorf("select: add fd %d: %w", fd, unix.EEXIST)
	}
	p.watch[fd] = true
	p.maxFD = max(p.maxFD, fd)
	p.set(fd, ev)
	return nil
}

func (p *selectPoller) Mod(fd int, ev Events) error {
	if fd < 0 || fd >= unix.FD_SETSIZE || !p.watch[fd] {
		return fmt.Errorf("select: modify fd %d: %w", fd, unix.ENOENT)
	}
	p.set(fd, ev)
	return nil
}

func (p *selectPoller) Del(fd int) error {
	if fd < 0 || fd >= unix.FD_SETSIZE || !p.watch[fd] {
		return fmt.Errorf("select: delete fd %d: %w", fd, unix.ENOENT)
	}
	p.watch[fd] = false
	p.set(fd, 0)
	for p.maxFD >= 0 && !p.watch[p.maxFD] {
		p.maxFD--
	}
	return nil
}

func (p *selectPoller) set(fd int, ev Events) {
	if ev&Readable != 0 {
		p.rset.Set(fd)
	} else {
		p.rset.Clear(fd)
	}
	if ev&Writable != 0 {
		p.wset.Set(fd)
	} else {
		p.wset.Clear(fd)
	}
}

func (p *selectPoller) Wait(dst []Event, timeout time.Duration) ([]Event, error) {
	// select(2) overwrites its sets (and, on Linux, the timeout): pass
	// copies. They live in p so that taking their address allocates nothing.
	p.rres, p.wres = p.rset, p.wset
	var tv *unix.Timeval
	if timeout >= 0 {
		p.tv = unix.NsecToTimeval(int64(timeout))
		tv = &p.tv
	}
	p.calls++
	n, err := unix.Select(p.maxFD+1, &p.rres, &p.wres, nil, tv)
	if err == unix.EINTR {
		return dst, nil
	}
	if err != nil {
		return dst, fmt.Errorf("select: %w", err)
	}
	for fd := 0; n > 0 && fd <= p.maxFD; fd++ {
		var ev Events
		if p.rres.IsSet(fd) {
			ev |= Readable
			n--
		}
		if p.wres.IsSet(fd) {
			ev |= Writable
			n--
		}
		if ev != 0 {
			dst = append(dst, Event{FD: fd, Events: ev})
		}
	}
	return dst, nil
}

func (p *selectPoller) Close() error { return nil }
func (p *selectPoller) Calls() int64 { return p.calls }
