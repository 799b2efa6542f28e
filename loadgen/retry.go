package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retry is the textbook UDP client's retransmission policy, written
// "100ms,x2,2s": a request unanswered after Initial is sent again, each wait
// Factor times the one before, and a request still unanswered GiveUp after
// its first send fails (server_down). Latency runs from the first send. The
// zero Retry means no retransmission: a request unanswered after
// Config.Timeout is lost.
type Retry struct {
	Initial time.Duration // first wait for a reply
	Factor  float64       // each later wait is Factor times the one before (>= 1)
	GiveUp  time.Duration // total time from the first send until the request fails
}

// MaxSends bounds how often a Retry sends one request.
const MaxSends = 64

// IsZero reports whether r is "no retransmission".
func (r Retry) IsZero() bool { return r == Retry{} }

// ParseRetry parses "INITIAL,xFACTOR,GIVEUP" (e.g. "100ms,x2,2s"); "" and
// "off" are the zero Retry.
func ParseRetry(s string) (Retry, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return Retry{}, nil
	}
	bad := func(why string) (Retry, error) {
		return Retry{}, fmt.Errorf("%s; want INITIAL,xFACTOR,GIVEUP such as 100ms,x2,2s (or off)", why)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return bad("not three comma-separated parts")
	}
	var r Retry
	var err error
	if r.Initial, err = time.ParseDuration(strings.TrimSpace(parts[0])); err != nil || r.Initial <= 0 {
		return bad("initial timeout is not a positive duration")
	}
	f, ok := strings.CutPrefix(strings.TrimSpace(parts[1]), "x")
	if r.Factor, err = strconv.ParseFloat(f, 64); !ok || err != nil || !(r.Factor >= 1 && r.Factor <= 100) {
		return bad("factor is not x followed by a number from 1 to 100")
	}
	if r.GiveUp, err = time.ParseDuration(strings.TrimSpace(parts[2])); err != nil || r.GiveUp < r.Initial {
		return bad("give-up time is not a duration at least the initial timeout")
	}
	if len(r.waits()) > MaxSends {
		return bad(fmt.Sprintf("more than %d sends before giving up", MaxSends))
	}
	return r, nil
}

// String is r in ParseRetry's form; "" for the zero Retry.
func (r Retry) String() string {
	if r.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s,x%s,%s", r.Initial, strconv.FormatFloat(r.Factor, 'g', -1, 64), r.GiveUp)
}

// MarshalText is String (scenario files, results.json).
func (r Retry) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText is ParseRetry.
func (r *Retry) UnmarshalText(b []byte) error {
	v, err := ParseRetry(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// validate checks a Retry built in code rather than parsed.
func (r Retry) validate() error {
	if r.IsZero() {
		return nil
	}
	_, err := ParseRetry(r.String())
	return err
}

// waits is the schedule of r: the wait after each send until the next (the
// last one ends at GiveUp), in ns. A request is sent len(waits) times.
func (r Retry) waits() []int64 {
	var ws []int64
	var at int64
	wait := float64(r.Initial)
	for at < int64(r.GiveUp) && len(ws) <= MaxSends {
		w := min(int64(wait), int64(r.GiveUp)-at)
		ws = append(ws, w)
		at += w
		wait *= r.Factor
	}
	return ws
}
