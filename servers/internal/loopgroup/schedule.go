package loopgroup

import (
	"time"

	"archbench/servers"
)

// Schedule is one loop's timers: accepting paused after an accept error
// until a back-off delay has passed, and the idle sweep, every quarter of
// the idle timeout (at least 1 ms, at most 1 s). Only its loop touches it.
// A loop waits for at most Timeout, then checks ResumeDue and SweepDue.
type Schedule struct {
	idle      time.Duration // Config.IdleTimeout; zero: no sweeps
	sweepIvl  time.Duration
	nextSweep time.Time
	resumeAt  time.Time // accepting resumes then (zero: not paused)
	draining  bool      // accepting is over for good
	backoff   servers.Backoff
}

// NewSchedule returns the timers of a loop started at now whose
// connections close after idle without progress (zero: never).
func NewSchedule(idle time.Duration, now time.Time) Schedule {
	s := Schedule{idle: idle}
	if idle > 0 {
		s.sweepIvl = min(max(idle/4, time.Millisecond), time.Second)
		s.nextSweep = now.Add(s.sweepIvl)
	}
	return s
}

// Timeout is how long the loop's wait may block at now: until accepting
// resumes or the next idle sweep, or forever (-1). Draining, it is
// forever: only the wake-up and flushing connections matter then.
func (s *Schedule) Timeout(now time.Time) time.Duration {
	if s.draining {
		return -1
	}
	d := time.Duration(-1)
	if !s.resumeAt.IsZero() {
		d = max(s.resumeAt.Sub(now), 0)
	}
	if s.idle > 0 {
		if sweep := max(s.nextSweep.Sub(now), 0); d < 0 || sweep < d {
			d = sweep
		}
	}
	return d
}

// Accepted resets the back-off after an accept that succeeded.
func (s *Schedule) Accepted() { s.backoff.Reset() }

// BackOff pauses accepting from now for the next back-off delay
// (servers.Backoff: 5 ms doubling to 1 s), and returns the delay.
func (s *Schedule) BackOff(now time.Time) time.Duration {
	d := s.backoff.Next()
	s.resumeAt = now.Add(d)
	return d
}

// AcceptPaused reports whether accepting waits for a back-off delay.
func (s *Schedule) AcceptPaused() bool { return !s.resumeAt.IsZero() }

// ResumeDue reports, once, that accepting may resume at now: its back-off
// delay has passed and the loop is not draining.
func (s *Schedule) ResumeDue(now time.Time) bool {
	if s.resumeAt.IsZero() || now.Before(s.resumeAt) || s.draining {
		return false
	}
	s.resumeAt = time.Time{}
	return true
}

// SweepDue reports whether the idle sweep is due at now, and if so
// schedules the next one.
func (s *Schedule) SweepDue(now time.Time) bool {
	if s.idle <= 0 || now.Before(s.nextSweep) {
		return false
	}
	s.nextSweep = now.Add(s.sweepIvl)
	return true
}

// Drain ends accepting for good: a pending resume is dropped and Timeout
// is forever from now on. Sweeps go on when the loop wakes anyway.
func (s *Schedule) Drain() {
	s.draining = true
	s.resumeAt = time.Time{}
}
