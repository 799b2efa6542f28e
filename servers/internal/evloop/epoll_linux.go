package evloop

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// epollMaxEvents is how many ready descriptors one epoll_wait returns; more
// are reported by the next call (level-triggered).
const epollMaxEvents = 256

// epollPoller watches descriptors with epoll(7), level-triggered: the
// kernel keeps the interest set and returns only ready descriptors.
type epollPoller struct {
	epfd  int
	buf   []unix.EpollEvent
	calls int64
}

// NewEpoll returns a Poller on epoll(7). It owns an epoll descriptor; Close
// releases it.
func NewEpoll() (Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &epollPoller{epfd: fd, buf: make([]unix.EpollEvent, epollMaxEvents)}, nil
}

func (p *epollPoller) Name() string { return "epoll" }
func (p *epollPoller) MaxFD() int   { return 1<<31 - 1 }

func epollEvents(ev Events) uint32 {
	var e uint32
	if ev&Readable != 0 {
		e |= unix.EPOLLIN
	}
	if ev&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	return e
}

func (p *epollPoller) ctl(op, fd int, ev Events) error {
	e := unix.EpollEvent{Events: epollEvents(ev), Fd: int32(fd)}
	p.calls++
	return unix.EpollCtl(p.epfd, op, fd, &e)
}

func (p *epollPoller) Add(fd int, ev Events) error {
	if err := p.ctl(unix.EPOLL_CTL_ADD, fd, ev); err != nil {
		return fmt.Errorf("epoll_ctl add fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) Mod(fd int, ev Events) error {
	if err := p.ctl(unix.EPOLL_CTL_MOD, fd, ev); err != nil {
		return fmt.Errorf("epoll_ctl mod fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) Del(fd int) error {
	if err := p.ctl(unix.EPOLL_CTL_DEL, fd, 0); err != nil {
		return fmt.Errorf("epoll_ctl del fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) Wait(dst []Event, timeout time.Duration) ([]Event, error) {
	p.calls++
	n, err := unix.EpollWait(p.epfd, p.buf, ms(timeout))
	if err == unix.EINTR {
		return dst, nil
	}
	if err != nil {
		return dst, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, e := range p.buf[:n] {
		var ev Events
		if e.Events&unix.EPOLLIN != 0 {
			ev |= Readable
		}
		if e.Events&unix.EPOLLOUT != 0 {
			ev |= Writable
		}
		if e.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			ev |= Readable | Writable | Hangup
		}
		dst = append(dst, Event{FD: int(e.Fd), Events: ev})
	}
	return dst, nil
}

func (p *epollPoller) Close() error { return unix.Close(p.epfd) }
func (p *epollPoller) Calls() int64 { return p.calls }
