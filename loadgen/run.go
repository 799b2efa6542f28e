package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrFDLimit: the connections cannot fit under RLIMIT_NOFILE.
var ErrFDLimit = errors.New("loadgen: too many connections for the open-file limit")

// fdSlack is how many descriptors besides the connections a run needs
// (epoll fds, stdio, the runtime's own, a server in the same process).
const fdSlack = 64

// Error kind indices, in the order of kindNames.
const (
	kConnect = iota
	kRead
	kWrite
	kTimeout
	kShortRead
	kMismatch
	kResolve
	kNoAddress
	kRefused
	kUnreachable
	kConnectTimeout
	kReset
	numKinds
)

var kindNames = [numKinds]string{ErrConnect, ErrRead, ErrWrite, ErrTimeout, ErrShortRead, ErrMismatch,
	ErrResolve, ErrNoAddress, ErrRefused, ErrUnreachable, ErrConnectTimeout, ErrReset}

// ErrorKinds is every error kind, the keys of Result.Errors, in a fixed
// order: the kinds from before December 2026 first, then the finer ones.
func ErrorKinds() []string { return append([]string(nil), kindNames[:]...) }

// Run drives the server at cfg.Addr for cfg.Warmup+cfg.Duration and returns
// what it measured after the warm-up. Failures of the server (refused or
// dropped connections, timeouts, wrong replies) are counted in the Result,
// not returned: Run returns an error only when the run cannot start (bad
// configuration or address: ErrConfig; a host that does not resolve, or
// has no address of the family: a *NetError; the open-file limit) or when
// ctx ends it early, in
// which case the Result covers the part that ran. Run returns within about
// Warmup+Duration+50ms whatever the server does.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Loops == 0 {
		cfg.Loops = DefaultLoops()
	}
	cfg.Loops = max(1, min(cfg.Loops, cfg.Conns))
	if err := raiseFDLimit(cfg.Conns + cfg.SlowConns + cfg.IdleConns + fdSlack); err != nil {
		return nil, err
	}
	target, err := resolveTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Protocol == ProtocolXMLRPC {
		res, err := runXMLRPC(ctx, cfg, target) // xmlrpc.go
		if res != nil {
			res.Target = target.result()
		}
		return res, err
	}
	ms := newMessageSet(cfg, messageCount(cfg.Size, cfg.Depth))
	side := startSide(ctx, cfg, target) // slow and idle connections (side.go)
	var res *Result
	if cfg.Churn {
		res, err = runChurn(ctx, cfg, target, ms) // churn.go
	} else {
		res, err = run(ctx, cfg, target, ms)
	}
	side.finish(res)
	if res != nil {
		res.Target = target.result()
		res.WireOut = float64(ms.reqLen) / float64(ms.n)
		res.WireIn = float64(ms.repOff[ms.n]) / float64(ms.n)
	}
	return res, err
}

// DefaultLoops is the number of event loops when Config.Loops is 0: a
// quarter of GOMAXPROCS, at least one. Measured on a 2-core machine against
// the C reference server: one loop spends about 7 µs of CPU per 16-byte
// message (as much as the C client), two loops about 10 µs, because they
// compete with the server for the cores and pay cross-CPU wake-ups. Larger
// machines get more loops so that 10,000 connections are not one core's
// work; that split is not measured here.
func DefaultLoops() int { return max(1, runtime.GOMAXPROCS(0)/4) }

// timing is a run's schedule, in nanoseconds since its start.
type timing struct {
	base         time.Time // run start (monotonic)
	measureStart int64     // end of the warm-up
	end          int64     // end of the run
	timeout      int64
}

func (t *timing) now() int64 { return int64(time.Since(t.base)) }

// newTiming is cfg's schedule; base is set when the run starts.
func newTiming(cfg Config) *timing {
	return &timing{
		measureStart: int64(cfg.Warmup),
		end:          int64(cfg.Warmup + cfg.Duration),
		timeout:      int64(cfg.Timeout),
	}
}

// recorder is what one event loop (or churn client) measures: its tally,
// and the second of the series whose latencies it is collecting.
type recorder struct {
	timing    *timing
	series    *seconds
	tally     *tally
	secIdx    int            // current second of the series
	secEnd    int64          // when it ends (ns)
	secHist   *hdr.Histogram // its latencies, merged into the tally's when it ends
	highestUS int64
}

// newRecorder is a recorder for slots connection slots (the connections of
// an event loop, or one churn client).
func newRecorder(cfg Config, tm *timing, series *seconds, slots int) recorder {
	nsec := int((cfg.Duration + time.Second - 1) / time.Second)
	return recorder{
		timing: tm, series: series, tally: newTally(cfg, nsec, slots),
		secEnd: tm.measureStart + int64(time.Second), secHist: newHist(cfg, 3), highestUS: highestUS(cfg),
	}
}

// latency records one latency, from t0 to now (ns), in the current second.
func (r *recorder) latency(t0, now int64) {
	_ = r.secHist.RecordValue(min((now-t0+500)/1000, r.highestUS))
}

// reply records a verified reply on connection slot slot to a message sent
// (or due) at t0; during the warm-up it is only counted.
func (r *recorder) reply(slot int, t0, now int64) {
	if now < r.timing.measureStart {
		r.tally.warmupRequests++
		return
	}
	r.latency(t0, now)
	r.tally.requests++
	r.tally.slotReplies[slot]++
	if r.secIdx < len(r.tally.secReqs) { // the second secHist is collecting
		r.tally.secReqs[r.secIdx]++
	}
}

// count counts an error of kind after the warm-up.
func (r *recorder) count(kind int, now int64) {
	if now < r.timing.measureStart {
		return
	}
	r.tally.errors[kind]++
	if s := int((now - r.timing.measureStart) / int64(time.Second)); s < len(r.tally.secErrs) {
		r.tally.secErrs[s]++
	}
}

// endSecond hands the current second's latencies over: to the run's total
// and to the series. (One histogram record per message, not two.)
func (r *recorder) endSecond() {
	r.tally.hist.Merge(r.secHist)
	r.series.merge(r.secIdx, r.secHist)
}

// roll hands the current second's latencies over once now has passed it.
func (r *recorder) roll(now int64) {
	for now >= r.secEnd {
		r.endSecond()
		r.secHist.Reset()
		r.secIdx++
		r.secEnd += int64(time.Second)
	}
}

// highestUS is the largest latency a histogram tracks, in microseconds: the
// whole run plus the timeout and a second. Larger values are clamped.
func highestUS(cfg Config) int64 {
	return (cfg.Warmup + cfg.Duration + cfg.Timeout + time.Second).Microseconds()
}

func newHist(cfg Config, sigfig int) *hdr.Histogram {
	return hdr.New(1, highestUS(cfg), sigfig)
}

// seconds collects the per-second latency histograms; each event loop (or churn client) merges its
// current second in when the second ends.
type seconds struct {
	cfg     Config
	mu      sync.Mutex
	hists   []*hdr.Histogram
	replies *atomic.Int64 // WithReplyCounter's counter, or nil
}

func newSeconds(ctx context.Context, cfg Config) *seconds {
	c, _ := ctx.Value(replyCounterKey{}).(*atomic.Int64)
	return &seconds{cfg: cfg, replies: c}
}

type replyCounterKey struct{}

// WithReplyCounter returns a context under which Run adds the measured
// replies to c as each event loop hands a second of its measurements over
// (so c lags the run by up to a second): a progress display reads it. It
// costs the hot path nothing.
func WithReplyCounter(ctx context.Context, c *atomic.Int64) context.Context {
	return context.WithValue(ctx, replyCounterKey{}, c)
}

func (s *seconds) merge(sec int, h *hdr.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	if s.replies != nil {
		s.replies.Add(h.TotalCount())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.hists) <= sec {
		s.hists = append(s.hists, nil)
	}
	if s.hists[sec] == nil {
		s.hists[sec] = newHist(s.cfg, 2)
	}
	s.hists[sec].Merge(h)
}

// tally is what one event loop (or churn client) counted after the warm-up.
type tally struct {
	hist           *hdr.Histogram // latency, µs
	lag            *hdr.Histogram // open loop: send lag, µs
	requests       int64
	warmupRequests int64 // replies verified during the warm-up (not measured)
	errors         [numKinds]int64
	unsent         int64
	abandoned      int64
	unanswered     int64
	connects       int64
	slotReplies    []int64 // verified replies per connection slot
	secReqs        []int64
	secErrs        []int64
	stopped        int64 // when it stopped, ns since the start
	wireOut        int64 // xmlrpc: bytes written for the measured verified requests
	wireIn         int64 // xmlrpc: bytes read for their responses
}

func newTally(cfg Config, nsec, slots int) *tally {
	return &tally{
		hist:        newHist(cfg, 3),
		lag:         newHist(cfg, 3),
		slotReplies: make([]int64, slots),
		secReqs:     make([]int64, nsec),
		secErrs:     make([]int64, nsec),
	}
}

// watchStop sets stop when ctx ends, until done is closed.
func watchStop(ctx context.Context, stop *atomic.Bool, done <-chan struct{}) {
	select {
	case <-ctx.Done():
		stop.Store(true)
	case <-done:
	}
}

// assemble merges the event loops' (or churn clients') tallies into the Result.
// finish merges the tallies into the Result; a cancelled ctx still returns
// it, with the reason.
func finish(ctx context.Context, cfg Config, tm *timing, secs *seconds, ts []*tally) (*Result, error) {
	res, err := assemble(cfg, tm, secs, ts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("loadgen: run cut short: %w", err)
	}
	return res, nil
}

func assemble(cfg Config, tm *timing, secs *seconds, ts []*tally) (*Result, error) {
	hist, lag := newHist(cfg, 3), newHist(cfg, 3)
	res := &Result{
		Schema:    SchemaVersion,
		Config:    cfg,
		Start:     tm.base.Round(0).UTC(),
		Errors:    map[string]int64{},
		TargetRPS: cfg.Rate,
	}
	stopped := tm.end
	nsec := 0
	var perSlot []int64 // every slot belongs to one tally; their order does not matter
	var wireOut, wireIn int64
	for _, t := range ts {
		perSlot = append(perSlot, t.slotReplies...)
		hist.Merge(t.hist)
		lag.Merge(t.lag)
		res.Requests += t.requests
		res.WarmupRequests += t.warmupRequests
		for k, n := range t.errors {
			res.Errors[kindNames[k]] += n
		}
		res.Unsent += t.unsent
		res.Abandoned += t.abandoned
		res.Unanswered += t.unanswered
		res.Connects += t.connects
		wireOut += t.wireOut
		wireIn += t.wireIn
		stopped = min(stopped, t.stopped)
		nsec = max(nsec, len(t.secReqs))
	}
	for _, k := range kindNames {
		res.Errors[k] += 0
	}
	res.Mismatches = res.Errors[ErrMismatch]
	if wireOut > 0 && res.Requests > 0 {
		res.WireOut = float64(wireOut) / float64(res.Requests)
		res.WireIn = float64(wireIn) / float64(res.Requests)
	}
	res.ConnsServed, res.Fairness = fairness(perSlot)
	elapsed := max(0, stopped-tm.measureStart)
	res.Elapsed = float64(elapsed) / 1e9
	if res.Elapsed > 0 {
		res.RPS = float64(res.Requests) / res.Elapsed
		res.MBps = res.RPS * float64(cfg.Size) / 1e6
	}
	res.Latency = summarise(hist)
	if cfg.Rate > 0 {
		res.SendLag = summarise(lag)
	}
	enc, err := hist.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("loadgen: encode histogram: %w", err)
	}
	res.Histogram = enc

	nsec = min(nsec, int((elapsed+int64(time.Second)-1)/int64(time.Second)))
	res.Series = make([]Second, 0, nsec)
	for s := range nsec {
		sec := Second{T: s}
		for _, t := range ts {
			sec.Requests += t.secReqs[s]
			sec.Errors += t.secErrs[s]
		}
		span := math.Min(1, float64(elapsed-int64(s)*int64(time.Second))/1e9)
		if span > 0 {
			sec.RPS = float64(sec.Requests) / span
		}
		if s < len(secs.hists) && secs.hists[s] != nil {
			sec.P99 = float64(secs.hists[s].ValueAtQuantile(99))
		}
		res.Series = append(res.Series, sec)
	}
	return res, nil
}

// summarise reads the latency summary off a µs histogram.
func summarise(h *hdr.Histogram) LatencyUS {
	if h.TotalCount() == 0 {
		return LatencyUS{}
	}
	return LatencyUS{
		Min:   float64(h.Min()),
		Mean:  math.Round(h.Mean()*10) / 10,
		P50:   float64(h.ValueAtQuantile(50)),
		P90:   float64(h.ValueAtQuantile(90)),
		P99:   float64(h.ValueAtQuantile(99)),
		P999:  float64(h.ValueAtQuantile(99.9)),
		P9999: float64(h.ValueAtQuantile(99.99)),
		Max:   float64(h.Max()),
		Count: h.TotalCount(),
	}
}

// DecodeHistogram returns the latency histogram (µs) stored in r.
func (r *Result) DecodeHistogram() (*hdr.Histogram, error) {
	if len(r.Histogram) == 0 {
		return nil, errors.New("loadgen: result has no histogram")
	}
	h, err := hdr.Decode(r.Histogram)
	if err != nil {
		return nil, fmt.Errorf("loadgen: decode histogram: %w", err)
	}
	return h, nil
}
