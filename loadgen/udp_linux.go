package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Tuning of the UDP loops.
const (
	udpReadBurst  = 64      // datagrams read from one socket per event
	udpClientRcv  = 4 << 20 // receive buffer asked for each client socket
	udpRingMin    = 64      // requests remembered per socket, at least
	udpRingMaxAll = 1 << 24 // requests remembered over all sockets, at most
)

// Request states.
const (
	reqFree uint8 = iota
	reqOut        // sent, awaiting its reply
	reqDone       // answered
	reqLost       // given up
	reqBad        // answered with wrong bytes
)

// udpReq is one request a socket remembers, in its ring at seq & mask.
type udpReq struct {
	seq      uint64
	t0       int64 // intended (open loop) or first send (closed loop) time: latency runs from it
	first    int64 // actual first send
	state    uint8
	measured bool // sent (due) after the warm-up
}

// udpSock is one client socket: its own port, connected to the server.
type udpSock struct {
	fd       int
	gidx     int    // global socket number
	port     int    // local port
	next     uint64 // next sequence number
	inflight int    // requests in state reqOut
	ring     []udpReq
	maxSeen  uint64 // highest sequence number answered, +1 (0: none)
	filling  bool   // closed loop: in udpLoop.fill, below Depth after a failed send
	lastRTT  int64  // for the jitter: the previous verified reply's RTT (ns)
	replies  int64  // measured verified replies
	jitter   float64
}

// udpTimer is a request's next timeout.
type udpTimer struct {
	sock int32
	seq  uint64
	at   int64
}

// udpFIFO is a queue of timers whose deadlines come in order.
type udpFIFO struct {
	items []udpTimer
	head  int
}

func (q *udpFIFO) push(t udpTimer) {
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = q.items[:copy(q.items, q.items[q.head:])]
		q.head = 0
	}
	q.items = append(q.items, t)
}

func (q *udpFIFO) front() (*udpTimer, bool) {
	if q.head == len(q.items) {
		return nil, false
	}
	return &q.items[q.head], true
}

func (q *udpFIFO) pop() { q.head++ }

// udpTally is what a UDP loop counts besides its tally, after the warm-up.
type udpTally struct {
	UDPResult
	refused, serverDown int64
	secSent, secLost    []int64
	secDup, secReorder  []int64
	secLate             []int64
}

// udpLoop is one UDP event loop, locked to its OS thread, owning every
// Loops-th socket: it sends, reads, verifies and times out its sockets'
// requests alone.
type udpLoop struct {
	recorder
	u       udpTally
	cfg     Config
	msgs    *udpMessages
	dgrams  [][]byte // this loop's copies of the datagrams: digits then body
	stop    *atomic.Bool
	epfd    int
	socks   []udpSock
	mask    uint64
	levels  []udpFIFO // timers after the first send, the second, ...
	waits   []int64   // the wait after each send, ns
	giveUp  int64     // from the first send, ns
	retry   bool
	fill    []int32 // closed loop: sockets to refill
	evs     []unix.EpollEvent
	buf     []byte
	waitFor unix.Timespec
	// rawBlock: block in epoll_pwait2 as a raw system call, keeping this
	// loop's P (see takeRawSlot).
	rawBlock bool

	// Open loop: socket gidx[slot]'s period-th request is due at nextSend.
	open     bool
	nsPerMsg float64
	period   int64
	slot     int
	nextSend int64
}

func runUDP(ctx context.Context, cfg Config) (*Result, error) {
	target, err := resolveTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// A datagram socket's connect only names its peer and cannot find out
	// whether a server is there: every socket uses the name's first
	// address of the family, where the stream loops would fall back.
	ap := target.addrs[0].(*net.UDPAddr).AddrPort()
	if err := raiseFDLimit(cfg.Conns + fdSlack); err != nil {
		return nil, err
	}
	msgs := newUDPMessages(cfg)
	tm, series := newTiming(cfg), newSeconds(ctx, cfg)
	var stop atomic.Bool
	waits := []int64{int64(cfg.Timeout)}
	giveUp := int64(cfg.Timeout)
	if !cfg.Retry.IsZero() {
		waits, giveUp = cfg.Retry.waits(), int64(cfg.Retry.GiveUp)
	}
	ringCap := udpRingCapacity(cfg, giveUp)
	nsec := int((cfg.Duration + time.Second - 1) / time.Second)

	loops := make([]*udpLoop, cfg.Loops)
	ports := map[int]bool{}
	cleanup := func() {
		for _, lp := range loops {
			if lp != nil {
				lp.close()
			}
		}
	}
	rcvbuf := 0
	for i := range loops {
		n := (cfg.Conns - i + cfg.Loops - 1) / cfg.Loops
		lp := &udpLoop{
			recorder: newRecorder(cfg, tm, series, n),
			cfg:      cfg, msgs: msgs, stop: &stop, epfd: -1,
			mask: uint64(ringCap - 1), levels: make([]udpFIFO, len(waits)), waits: waits, giveUp: giveUp,
			retry: !cfg.Retry.IsZero(), evs: make([]unix.EpollEvent, maxEvents), buf: make([]byte, MaxUDPSize6+1),
			open: cfg.Rate > 0,
		}
		lp.u.secSent, lp.u.secLost = make([]int64, nsec), make([]int64, nsec)
		lp.u.secDup, lp.u.secReorder, lp.u.secLate = make([]int64, nsec), make([]int64, nsec), make([]int64, nsec)
		loops[i] = lp
		for _, b := range msgs.bodies {
			d := make([]byte, msgs.seqDigits, cfg.Size)
			lp.dgrams = append(lp.dgrams, append(d, b...))
		}
		if lp.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			cleanup()
			return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
		}
		lp.socks = make([]udpSock, n)
		slab := make([]udpReq, n*ringCap)
		for j := range lp.socks {
			s := &lp.socks[j]
			s.fd, s.gidx, s.ring = -1, i+j*cfg.Loops, slab[j*ringCap:(j+1)*ringCap:(j+1)*ringCap]
			t0 := time.Now()
			if s.fd, s.port, rcvbuf, err = dialUDP(ap); err != nil {
				cleanup()
				return nil, err
			}
			target.established(0, int64(time.Since(t0)), nil) // the first socket's connect counts
			ports[s.port] = true
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(j)}
			if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
				cleanup()
				return nil, fmt.Errorf("loadgen: epoll_ctl: %w", err)
			}
		}
		if lp.open {
			lp.nsPerMsg = 1e9 / cfg.Rate
			lp.nextSend = lp.intended()
		}
	}
	defer cleanup()

	// The client sockets' drops: read when the measured part starts (by
	// the first loop to pass it) and at the end.
	var dropsStart struct {
		sync.Once
		n   int64
		err error
	}
	readStart := func() { dropsStart.n, dropsStart.err = ReadUDPDrops(ports) }
	if cfg.Warmup == 0 {
		dropsStart.Do(readStart)
	}

	done := make(chan struct{})
	go watchStop(ctx, &stop, done)
	var wg sync.WaitGroup
	tm.base = time.Now()
	for _, lp := range loops {
		wg.Go(func() { lp.loop(func() { dropsStart.Do(readStart) }) })
	}
	wg.Wait()
	close(done)
	dropsEnd, errEnd := ReadUDPDrops(ports)

	tallies := make([]*tally, len(loops))
	for i, lp := range loops {
		tallies[i] = lp.tally
	}
	res, err := finish(ctx, cfg, tm, series, tallies)
	if res == nil {
		return nil, err
	}
	res.Connects = int64(cfg.Conns) // sockets opened
	res.Target = target.result()
	u := &UDPResult{Rcvbuf: rcvbuf}
	var jitterSum float64
	var jitterN int
	for _, lp := range loops {
		t := &lp.u
		u.Sent += t.Sent
		u.Lost += t.Lost
		u.Duplicated += t.Duplicated
		u.Reordered += t.Reordered
		u.Late += t.Late
		u.Retransmissions += t.Retransmissions
		u.GiveUps += t.GiveUps
		res.Errors[ErrRefused] += t.refused
		res.Errors[ErrServerDown] += t.serverDown
		for i := range lp.socks {
			if s := &lp.socks[i]; s.replies >= 2 {
				jitterSum += s.jitter
				jitterN++
			}
		}
	}
	res.Errors[ErrRefused] += 0
	res.Errors[ErrServerDown] += 0
	u.Answered = res.Requests
	u.Mismatched = res.Errors[ErrMismatch]
	if jitterN > 0 {
		u.JitterUS = math.Round(jitterSum/float64(jitterN)/100) / 10
	}
	if dropsStart.err == nil && errEnd == nil {
		d := dropsEnd - dropsStart.n
		u.ClientDrops = &d
	}
	res.UDP = u
	for s := range res.Series {
		sec := &res.Series[s]
		for _, lp := range loops {
			sec.Sent += lp.u.secSent[s]
			sec.Lost += lp.u.secLost[s]
			sec.Duplicated += lp.u.secDup[s]
			sec.Reordered += lp.u.secReorder[s]
			sec.Late += lp.u.secLate[s]
		}
	}
	return res, err
}

// dialUDP opens a non-blocking UDP socket connected to ap (so that the
// kernel filters other senders out and reports ICMP port unreachable as
// ECONNREFUSED) and returns it, its local port and its receive buffer.
func dialUDP(ap netip.AddrPort) (fd, port, rcvbuf int, err error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, 0, fmt.Errorf("loadgen: udp socket: %w", err)
	}
	// A large receive buffer keeps the generator's own queue from being
	// where datagrams are lost; SO_RCVBUFFORCE passes rmem_max when
	// privileged.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpClientRcv) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, udpClientRcv)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, 0, 0, fmt.Errorf("loadgen: udp connect %s: %w", ap, err)
	}
	local, err := unix.Getsockname(fd)
	if err == nil {
		switch l := local.(type) {
		case *unix.SockaddrInet4:
			port = l.Port
		case *unix.SockaddrInet6:
			port = l.Port
		}
	}
	rcvbuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	return fd, port, rcvbuf, nil
}

// udpRingCapacity is how many requests each socket remembers (a power of
// two): enough for every request it can have in flight, Depth in the
// closed loop and its share of the rate over the give-up time twice in the
// open loop, and at least udpRingMin so that duplicates and late replies of
// recent requests are told apart from nonsense.
func udpRingCapacity(cfg Config, giveUp int64) int {
	want := max(udpRingMin, 4*cfg.Depth)
	if cfg.Rate > 0 {
		perSock := cfg.Rate / float64(cfg.Conns)
		want = max(want, int(perSock*float64(giveUp)/1e9*2)+udpRingMin)
	}
	want = min(want, max(udpRingMin, udpRingMaxAll/cfg.Conns))
	c := 1
	for c < want {
		c <<= 1
	}
	return c
}

func (lp *udpLoop) now() int64 { return lp.timing.now() }

func (lp *udpLoop) close() {
	for i := range lp.socks {
		if lp.socks[i].fd >= 0 {
			unix.Close(lp.socks[i].fd)
			lp.socks[i].fd = -1
		}
	}
	if lp.epfd >= 0 {
		unix.Close(lp.epfd)
		lp.epfd = -1
	}
}

// intended is when the open loop's next request is due (ns since start).
func (lp *udpLoop) intended() int64 {
	return int64(float64(int64(lp.socks[lp.slot].gidx)+lp.period*int64(lp.cfg.Conns)) * lp.nsPerMsg)
}

func (lp *udpLoop) loop(measuring func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if lp.rawBlock = takeRawSlot(); lp.rawBlock { // as the TCP loops (eventloop_linux.go)
		defer rawSlots.Add(-1)
	}
	tm := lp.timing
	now := lp.now()
	if !lp.open {
		for i := range lp.socks {
			lp.refill(int32(i), now)
		}
	}
	started := tm.measureStart == 0
	for !lp.stop.Load() {
		now = lp.now()
		if !started && now >= tm.measureStart {
			started = true
			measuring()
		}
		lp.roll(now)
		if now >= tm.end {
			break
		}
		if lp.open {
			lp.sendDue(now)
		} else if len(lp.fill) > 0 {
			lp.refillAll(now)
		}
		wake := min(tm.end, now+tickNs)
		if lp.open {
			wake = min(wake, lp.nextSend)
		}
		for i := range lp.levels {
			if t, ok := lp.levels[i].front(); ok {
				wake = min(wake, t.at)
			}
		}
		n := lp.wait(max(0, wake-lp.now()))
		// Expire only up to when this pass started, and only if it read
		// every ready socket dry: a reply that arrived by then has been
		// read, so a request is never counted lost while its reply waits
		// in the socket (after the generator itself was descheduled, say).
		cutoff := lp.now()
		drained := true
		for _, ev := range lp.evs[:n] {
			drained = lp.read(ev.Fd) && drained
		}
		if drained {
			lp.expire(cutoff)
		}
	}
	now = min(lp.now(), tm.end)
	lp.tally.stopped = now
	// What is still in flight is unanswered, in the latency at its age.
	for i := range lp.socks {
		s := &lp.socks[i]
		for k := range s.ring {
			if r := &s.ring[k]; r.state == reqOut && r.measured {
				lp.tally.unanswered++
				_ = lp.tally.hist.RecordValue(min(max(0, now-r.t0)/1000, lp.highestUS))
			}
		}
	}
	lp.endSecond()
}

// wait blocks in epoll until an event or d ns have passed.
func (lp *udpLoop) wait(d int64) int {
	if d <= 0 {
		n, errno := pollNow(lp.epfd, lp.evs)
		if errno != 0 || n < 0 {
			return 0
		}
		return n
	}
	lp.waitFor = unix.NsecToTimespec(d)
	var n int
	var errno unix.Errno
	if lp.rawBlock {
		n, errno = pollWaitRaw(lp.epfd, lp.evs, &lp.waitFor)
	} else {
		n, errno = pollWait(lp.epfd, lp.evs, &lp.waitFor)
	}
	if errno == unix.ENOSYS {
		var err error
		n, err = unix.EpollWait(lp.epfd, lp.evs, int((d+999_999)/1_000_000))
		if err != nil {
			return 0
		}
		return n
	}
	if errno != 0 || n < 0 {
		return 0 // EINTR (the runtime's preemption signal) and the like
	}
	return n
}

// sec is the second of the series now falls in, or -1 (warm-up, past the end).
func (lp *udpLoop) sec(now int64, counts []int64) int {
	s := int((now - lp.timing.measureStart) / int64(time.Second))
	if now < lp.timing.measureStart || s >= len(counts) {
		return -1
	}
	return s
}

func (lp *udpLoop) bump(counts []int64, now int64) {
	if s := lp.sec(now, counts); s >= 0 {
		counts[s]++
	}
}

// sendDue sends the open loop's requests that are due.
func (lp *udpLoop) sendDue(now int64) {
	for budget := sendBudget; budget > 0 && lp.nextSend <= now && lp.nextSend < lp.timing.end; budget-- {
		due := lp.nextSend
		if !lp.send(int32(lp.slot), due, now) && due >= lp.timing.measureStart {
			lp.tally.unsent++
			_ = lp.tally.hist.RecordValue(min(max(0, lp.timing.end-due)/1000, lp.highestUS))
		}
		if due >= lp.timing.measureStart {
			_ = lp.tally.lag.RecordValue(min(max(0, now-due)/1000, lp.highestUS))
		}
		lp.slot++
		if lp.slot == len(lp.socks) {
			lp.slot = 0
			lp.period++
		}
		lp.nextSend = lp.intended()
	}
}

// refill brings closed-loop socket i up to Depth requests in flight.
func (lp *udpLoop) refill(i int32, now int64) {
	s := &lp.socks[i]
	for s.inflight < lp.cfg.Depth && now < lp.timing.end {
		now = lp.now() // latency runs from this send
		if !lp.send(i, now, now) {
			if !s.filling {
				s.filling = true
				lp.fill = append(lp.fill, i)
			}
			return
		}
	}
}

func (lp *udpLoop) refillAll(now int64) {
	fill := lp.fill
	lp.fill = lp.fill[:0]
	for _, i := range fill {
		lp.socks[i].filling = false
		lp.refill(i, now)
	}
}

// send sends socket i's next request, due at t0; false when the socket
// could not take it (its ring is full of requests in flight, or its send
// buffer).
func (lp *udpLoop) send(i int32, t0, now int64) bool {
	s := &lp.socks[i]
	r := &s.ring[s.next&lp.mask]
	if r.state == reqOut {
		return false
	}
	if !lp.transmit(s, s.next) {
		return false
	}
	*r = udpReq{seq: s.next, t0: t0, first: now, state: reqOut, measured: t0 >= lp.timing.measureStart}
	s.next++
	s.inflight++
	lp.levels[0].push(udpTimer{sock: i, seq: r.seq, at: now + lp.waits[0]})
	if r.measured {
		lp.u.Sent++
		lp.bump(lp.u.secSent, now)
	}
	return true
}

// transmit writes request seq's datagram; false when it was not sent.
func (lp *udpLoop) transmit(s *udpSock, seq uint64) bool {
	d := lp.dgrams[seq%uint64(len(lp.dgrams))]
	putSeq(d[:lp.msgs.seqDigits], seq)
	for range 2 {
		_, errno := rawWrite(s.fd, d)
		switch errno {
		case 0:
			return true
		case unix.ECONNREFUSED:
			// An earlier datagram's ICMP port unreachable, reported on
			// this call, which sent nothing: count it, send again.
			lp.countErr(&lp.u.refused, lp.now())
			continue
		case unix.EAGAIN, unix.ENOBUFS, unix.EINTR:
			return false
		default:
			lp.count(kWrite, lp.now())
			return false
		}
	}
	return false
}

// countErr counts one error of a UDP-only kind after the warm-up.
func (lp *udpLoop) countErr(n *int64, now int64) {
	if now < lp.timing.measureStart {
		return
	}
	*n++
	lp.bump(lp.tally.secErrs, now)
}

// expire handles the requests whose wait has passed: sent again (retry)
// or given up.
func (lp *udpLoop) expire(now int64) {
	for lvl := range lp.levels {
		q := &lp.levels[lvl]
		for {
			t, ok := q.front()
			if !ok || t.at > now {
				break
			}
			tt := *t
			q.pop()
			s := &lp.socks[tt.sock]
			r := &s.ring[tt.seq&lp.mask]
			if r.seq != tt.seq || r.state != reqOut {
				continue
			}
			if lvl+1 < len(lp.waits) && now-r.first < lp.giveUp {
				if lp.transmit(s, r.seq) && r.measured {
					lp.u.Retransmissions++
				}
				lp.levels[lvl+1].push(udpTimer{sock: tt.sock, seq: r.seq, at: min(now+lp.waits[lvl+1], r.first+lp.giveUp)})
				continue
			}
			r.state = reqLost
			s.inflight--
			if r.measured {
				lp.u.Lost++
				lp.bump(lp.u.secLost, now)
				lp.latency(r.t0, now)
				if lp.retry {
					lp.u.GiveUps++
					lp.countErr(&lp.u.serverDown, now)
				} else {
					lp.count(kTimeout, now)
				}
			}
			if !lp.open {
				lp.refill(tt.sock, now)
			}
		}
	}
}

// read reads and matches socket i's waiting datagrams, at most
// udpReadBurst of them; it reports whether it read the socket dry.
func (lp *udpLoop) read(i int32) bool {
	s := &lp.socks[i]
	for range udpReadBurst {
		n, errno := rawRead(s.fd, lp.buf)
		now := lp.now()
		switch errno {
		case 0:
		case unix.EAGAIN:
			return true
		case unix.ECONNREFUSED:
			lp.countErr(&lp.u.refused, now)
			continue
		case unix.EINTR:
			continue
		default:
			lp.count(kRead, now)
			return true
		}
		lp.match(i, s, lp.buf[:n], now)
	}
	return false
}

// match verifies one reply and settles its request.
func (lp *udpLoop) match(i int32, s *udpSock, d []byte, now int64) {
	w := lp.msgs.seqDigits
	if len(d) < w {
		lp.count(kMismatch, now)
		return
	}
	low, ok := parseSeq(d[:w])
	var seq uint64
	if ok {
		seq, ok = fullSeq(low, s.next, w)
	}
	if !ok || !bytes.Equal(d[w:], lp.msgs.replies[seq%uint64(len(lp.msgs.replies))]) {
		lp.count(kMismatch, now)
		if ok {
			if r := &s.ring[seq&lp.mask]; r.seq == seq && r.state == reqOut {
				r.state = reqBad
				s.inflight--
				if r.measured {
					lp.latency(r.t0, now) // at its age, as a lost one
				}
				if !lp.open {
					lp.refill(i, now)
				}
			}
		}
		return
	}
	r := &s.ring[seq&lp.mask]
	if r.seq != seq || s.next-seq > uint64(len(s.ring)) {
		lp.tallyIf(&lp.u.Late, lp.u.secLate, now) // forgotten: given up long ago
		return
	}
	switch r.state {
	case reqOut:
	case reqLost:
		lp.tallyIf(&lp.u.Late, lp.u.secLate, now)
		return
	default:
		lp.tallyIf(&lp.u.Duplicated, lp.u.secDup, now)
		return
	}
	r.state = reqDone
	s.inflight--
	if !r.measured {
		lp.tally.warmupRequests++
	} else {
		lp.reply(int(i), r.t0, now)
		if seq+1 < s.maxSeen {
			lp.tallyIf(&lp.u.Reordered, lp.u.secReorder, now)
		}
		rtt := now - r.t0
		if s.replies > 0 {
			s.jitter = jitterStep(s.jitter, float64(rtt-s.lastRTT))
		}
		s.lastRTT = rtt
		s.replies++
	}
	s.maxSeen = max(s.maxSeen, seq+1)
	if !lp.open {
		lp.refill(i, now)
	}
}

// tallyIf counts one event after the warm-up.
func (lp *udpLoop) tallyIf(n *int64, counts []int64, now int64) {
	if now < lp.timing.measureStart {
		return
	}
	*n++
	lp.bump(counts, now)
}
