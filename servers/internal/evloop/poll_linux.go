package evloop

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// pollPoller watches descriptors with poll(2): a dense array of the watched
// descriptors, copied in and scanned on every call.
type pollPoller struct {
	fds   []unix.PollFd
	pos   []int32 // fd -> index in fds + 1; 0 when not watched
	calls int64
}

// NewPoll returns a Poller on poll(2).
func NewPoll() (Poller, error) { return &pollPoller{}, nil }

func (p *pollPoller) Name() string { return "poll" }
func (p *pollPoller) MaxFD() int   { return 1<<31 - 1 }

func pollEvents(ev Events) int16 {
	var e int16
	if ev&Readable != 0 {
		e |= unix.POLLIN
	}
	if ev&Writable != 0 {
		e |= unix.POLLOUT
	}
	return e
}

func (p *pollPoller) index(fd int) int {
	if fd < 0 || fd >= len(p.pos) {
		return -1
	}
	return int(p.pos[fd]) - 1
}

func (p *pollPoller) Add(fd int, ev Events) error {
	if fd < 0 {
		return fmt.Errorf("poll: add fd %d: %w", fd, unix.EBADF)
	}
	if p.index(fd) >= 0 {
		return fmt.Errorf("poll: add fd %d: %w", fd, unix.EEXIST)
	}
	if fd >= len(p.pos) {
		p.pos = append(p.pos, make([]int32, fd+1-len(p.pos))...)
	}
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(ev)})
	p.pos[fd] = int32(len(p.fds))
	return nil
}

func (p *pollPoller) Mod(fd int, ev Events) error {
	i := p.index(fd)
	if i < 0 {
		return fmt.Errorf("poll: modify fd %d: %w", fd, unix.ENOENT)
	}
	p.fds[i].Events = pollEvents(ev)
	return nil
}

func (p *pollPoller) Del(fd int) error {
	i := p.index(fd)
	if i < 0 {
		return fmt.Errorf("poll: delete fd %d: %w", fd, unix.ENOENT)
	}
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.pos[p.fds[i].Fd] = int32(i + 1)
	}
	p.fds = p.fds[:last]
	p.pos[fd] = 0
	return nil
}

func (p *pollPoller) Wait(dst []Event, timeout time.Duration) ([]Event, error) {
	p.calls++
	n, err := unix.Poll(p.fds, ms(timeout))
	if err == unix.EINTR {
		return dst, nil
	}
	if err != nil {
		return dst, fmt.Errorf("poll: %w", err)
	}
	for i := 0; n > 0 && i < len(p.fds); i++ {
		re := p.fds[i].Revents
		if re == 0 {
			continue
		}
		n--
		var ev Events
		if re&unix.POLLIN != 0 {
			ev |= Readable
		}
		if re&unix.POLLOUT != 0 {
			ev |= Writable
		}
		if re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			ev |= Readable | Writable | Hangup
		}
		dst = append(dst, Event{FD: int(p.fds[i].Fd), Events: ev})
	}
	return dst, nil
}

func (p *pollPoller) Close() error { return nil }
func (p *pollPoller) Calls() int64 { return p.calls }
