package loopgroup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScheduleNoTimers(t *testing.T) {
	now := time.Now()
	s := NewSchedule(0, now)
	require.Equal(t, time.Duration(-1), s.Timeout(now), "no idle timeout, no back-off: wait forever")
	require.False(t, s.SweepDue(now.Add(time.Hour)))
	require.False(t, s.AcceptPaused())
	require.False(t, s.ResumeDue(now.Add(time.Hour)))
}

func TestScheduleBackOff(t *testing.T) {
	now := time.Now()
	s := NewSchedule(0, now)
	d := s.BackOff(now)
	require.Equal(t, 5*time.Millisecond, d)
	require.True(t, s.AcceptPaused())
	require.Equal(t, d, s.Timeout(now))
	require.Equal(t, time.Duration(0), s.Timeout(now.Add(time.Second)), "overdue: no negative wait")
	require.False(t, s.ResumeDue(now.Add(d-1)))
	require.True(t, s.ResumeDue(now.Add(d)))
	require.False(t, s.ResumeDue(now.Add(d)), "reported once")
	require.False(t, s.AcceptPaused())
	require.Equal(t, 2*d, s.BackOff(now), "the delay doubles until an accept succeeds")
	s.Accepted()
	require.Equal(t, d, s.BackOff(now))
}

func TestScheduleSweep(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		idle, every time.Duration
	}{
		{idle: 100 * time.Millisecond, every: 25 * time.Millisecond},
		{idle: time.Millisecond, every: time.Millisecond},
		{idle: time.Hour, every: time.Second},
	} {
		s := NewSchedule(c.idle, now)
		require.Equal(t, c.every, s.Timeout(now), "idle %v", c.idle)
		require.False(t, s.SweepDue(now.Add(c.every-1)))
		require.True(t, s.SweepDue(now.Add(c.every)))
		require.False(t, s.SweepDue(now.Add(c.every)), "the next sweep is one interval on")
		require.True(t, s.SweepDue(now.Add(2*c.every)))
	}
	s := NewSchedule(100*time.Millisecond, now)
	s.BackOff(now)
	require.Equal(t, 5*time.Millisecond, s.Timeout(now), "the earlier of resume and sweep")
}

func TestScheduleDrain(t *testing.T) {
	now := time.Now()
	s := NewSchedule(100*time.Millisecond, now)
	s.BackOff(now)
	s.Drain()
	require.Equal(t, time.Duration(-1), s.Timeout(now), "draining: wait for the wake-up only")
	require.False(t, s.AcceptPaused())
	s.BackOff(now) // an accept completion failing after the drain began
	require.False(t, s.ResumeDue(now.Add(time.Hour)), "accepting never resumes once draining")
	require.True(t, s.SweepDue(now.Add(time.Hour)), "sweeps go on")
}
