package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"archbench/protocol"
)

// Largest UDP payloads: 65,535 less the IP and UDP headers (IPv6's header
// is outside its payload length, so only UDP's 8 bytes count there).
const (
	MaxUDPSize4 = 65507
	MaxUDPSize6 = 65527
	// MinUDPSize is the smallest datagram the generator sends: its
	// sequence number takes MinUDPSize decimal digits at least.
	MinUDPSize = 8
	// maxSeqDigits is the most digits of a sequence number (10^16 < 2^64).
	maxSeqDigits = 16
)

// isUDP reports whether network is a datagram network.
func isUDP(network string) bool { return network == "udp" || network == "udp6" }

// validateUDP checks the settings of a UDP run.
func (c Config) validateUDP() error {
	limit := MaxUDPSize4
	if c.Network == "udp6" {
		limit = MaxUDPSize6
	}
	size := c.Size
	if size == 0 {
		size = DefaultSize
	}
	switch {
	case size < MinUDPSize || size > limit:
		return fmt.Errorf("size %d: a %s datagram carries %d to %d bytes here (the first up to 16 are its sequence number)", size, c.Network, MinUDPSize, limit)
	case c.Framing != protocol.Raw:
		return fmt.Errorf("framing %s: a datagram is one message; udp takes raw framing only", c.Framing)
	case c.Churn || c.SlowConns > 0 || c.IdleConns > 0:
		return fmt.Errorf("churn, slow_conns and idle_conns are connection loads; udp has none")
	}
	if err := c.Retry.validate(); err != nil {
		return err
	}
	return nil
}

// UDPResult is what a UDP run (Config.Network udp or udp6) measured beside
// Result's common fields; see doc.go for its JSON form. Requests are counted
// by when they were first sent (or due, in the open loop): a request sent
// after the warm-up is measured, whenever its reply comes, so that
// Sent = Answered + Lost + Mismatched + Result.Unanswered.
type UDPResult struct {
	Sent       int64 `json:"sent"`       // requests sent (first transmissions)
	Answered   int64 `json:"answered"`   // replies verified in time (= Result.Requests)
	Lost       int64 `json:"lost"`       // no reply within the timeout (or the retry give-up time)
	Duplicated int64 `json:"duplicated"` // replies to a request already answered
	Reordered  int64 `json:"reordered"`  // replies to a request older than one already answered
	Late       int64 `json:"late"`       // replies to a request already given up as lost
	Mismatched int64 `json:"mismatched"` // replies whose bytes are not the transform of a request
	// Retransmissions and GiveUps count the retry mode's resends and the
	// requests that failed past its give-up time (server_down).
	Retransmissions int64 `json:"retransmissions"`
	GiveUps         int64 `json:"give_ups"`
	// JitterUS is the RFC 3550 §6.4.1 interarrival jitter of the round-trip
	// times, µs: computed per client socket over its verified replies in
	// arrival order, averaged over the sockets with two replies or more.
	JitterUS float64 `json:"jitter_us"`
	// Rcvbuf is the receive buffer the kernel granted each client socket.
	Rcvbuf int `json:"rcvbuf"`
	// ClientDrops counts datagrams the kernel dropped at the client
	// sockets' full receive queues during the run (the drops column of
	// /proc/net/udp for their ports, end less measured start); nil when it
	// could not be read.
	ClientDrops *int64 `json:"client_drops,omitempty"`
	// ServerDrops counts datagrams dropped at the server's sockets' receive
	// queues, from the server's own stats: set by the runner, nil from
	// `archbench load` alone.
	ServerDrops *int64 `json:"server_drops,omitempty"`
}

// DropsAccounted is how many of the lost requests the drop counters
// explain: min(client + server drops, lost); -1 when a counter is missing.
func (u *UDPResult) DropsAccounted() int64 {
	if u.ClientDrops == nil || u.ServerDrops == nil {
		return -1
	}
	return min(*u.ClientDrops+*u.ServerDrops, u.Lost)
}

// writeUDPText is WriteText's part for a UDP run.
func writeUDPText(b *strings.Builder, r *Result) {
	u := r.UDP
	fmt.Fprintf(b, "  Datagrams: sent %d, answered %d, lost %d (%.2f%%), unanswered at the end %d, duplicated %d, reordered %d, late %d, mismatched %d\n",
		u.Sent, u.Answered, u.Lost, pct(u.Lost, u.Sent), r.Unanswered, u.Duplicated, u.Reordered, u.Late, u.Mismatched)
	if !r.Config.Retry.IsZero() {
		fmt.Fprintf(b, "  Retry %s: retransmissions %d, give-ups (server_down) %d\n", r.Config.Retry, u.Retransmissions, u.GiveUps)
	}
	drops := func(p *int64) string {
		if p == nil {
			return "unknown"
		}
		return strconv.FormatInt(*p, 10)
	}
	fmt.Fprintf(b, "  Jitter (RFC 3550, of the RTT): %s; drops in the client sockets' queues %s (rcvbuf %d), in the server's %s\n",
		us(u.JitterUS), drops(u.ClientDrops), u.Rcvbuf, drops(u.ServerDrops))
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// jitterStep is one step of RFC 3550 §6.4.1: J += (|D| - J)/16, D being
// the difference between two consecutive packets' transit times.
func jitterStep(j, d float64) float64 { return j + (math.Abs(d)-j)/16 }

// Jitter is RFC 3550 §6.4.1's interarrival jitter of a series of transit
// times (any unit), in arrival order: 0 for fewer than two.
func Jitter(transits []float64) float64 {
	var j float64
	for i := 1; i < len(transits); i++ {
		j = jitterStep(j, transits[i]-transits[i-1])
	}
	return j
}

// udpMessages is a UDP run's pre-generated traffic: n datagram bodies, each
// following a sequence number of seqDigits decimal digits, and their
// replies. Digits are their own upper case, so a reply is the same digits
// followed by the body's transform.
type udpMessages struct {
	seqDigits int
	bodies    [][]byte // request bodies (payload less the digits)
	replies   [][]byte // their transforms
}

func newUDPMessages(cfg Config) *udpMessages {
	w := min(cfg.Size, maxSeqDigits)
	n := min(64, max(2, (1<<20)/cfg.Size)) // distinct bodies, about 1 MiB at most
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	m := &udpMessages{seqDigits: w}
	for range n {
		body := genPayload(nil, rng, cfg.Size-w, cfg.Content)
		m.bodies = append(m.bodies, body)
		m.replies = append(m.replies, protocol.AppendUpper(nil, body))
	}
	return m
}

// putSeq writes seq mod 10^len(dst) into dst as zero-padded decimal.
func putSeq(dst []byte, seq uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + seq%10)
		seq /= 10
	}
}

// parseSeq reads putSeq's digits; ok is false for a byte that is not one.
func parseSeq(src []byte) (seq uint64, ok bool) {
	for _, c := range src {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	return seq, true
}

// fullSeq is the largest sequence number below next whose last digits
// (mod 10^digits) are low; ok is false when there is none.
func fullSeq(low, next uint64, digits int) (uint64, bool) {
	if next == 0 {
		return 0, false
	}
	if digits >= maxSeqDigits {
		return low, low < next
	}
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	last := next - 1
	diff := (last%mod + mod - low%mod) % mod
	if diff > last {
		return 0, false
	}
	return last - diff, true
}

// ReadUDPDrops sums the drops column of /proc/net/udp and /proc/net/udp6
// over the sockets bound to one of ports (in this network namespace): the
// datagrams the kernel dropped because their receive queue was full.
func ReadUDPDrops(ports map[int]bool) (int64, error) {
	var total int64
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) && name == "/proc/net/udp6" {
			continue // no IPv6
		}
		if err != nil {
			return 0, fmt.Errorf("loadgen: udp drops: %w", err)
		}
		n, err := sumDrops(f, ports)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("loadgen: udp drops: %s: %w", name, err)
		}
		total += n
	}
	return total, nil
}

// sumDrops reads a /proc/net/udp table: a header line, then one socket a
// line, "sl local_address rem_address st ... drops", local_address
// being ADDR:PORT in hex and drops the last field.
func sumDrops(r io.Reader, ports map[int]bool) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	var total int64
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 13 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || !ports[int(port)] {
			continue
		}
		d, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("drops column %q: %w", f[len(f)-1], err)
		}
		total += d
	}
	return total, sc.Err()
}
