// Package hostile attacks a running archbench server the way misbehaving
// clients do, and checks that it holds: every case leaves the server
// alive and serving a well-behaved client, and none takes it past its
// memory bounds. The cases (sizes in the full form; Short scales them
// down for `make test`):
//
//   - Slowloris: 500 connections each send part of a line and then one
//     byte a while, never a newline (line framing).
//   - WriterNotReading: one client writes 50 MB without reading a reply.
//   - HugeLength: a length frame announcing 4 GiB (length framing); the
//     server must close that connection.
//   - LongLine: a 10 MB line without a newline (line framing, max-msg
//     1 MiB); the server must close that connection.
//   - ConnectReset: 2,000 connections opened and reset at once
//     (SO_LINGER 0).
//   - PartialRuneHalfClose: the first byte of a two-byte rune, then a
//     half-close (raw framing); the server must answer that byte unchanged
//     and close.
//   - OutTotal: 60 clients write without reading against a server started
//     with a small --out-total; its peak RSS must stay under the cap plus
//     a stated overhead (see OutTotalOverhead) while a normal client is
//     still served.
//
// The driver, hostile_test.go, runs every case against every architecture
// as `archbench serve` processes built without the race detector (so their
// RSS means what it says), then stops each with SIGTERM: exit 0 within 5 s.
// `make test` runs it in the short form; scripts/hostile.sh the full one.
package hostile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"archbench/protocol"
)

// Sizes of the cases: Full as the issue measured them, Short for `make test`.
type Sizes struct {
	SlowConns    int
	WriterBytes  int
	ResetConns   int
	LongLine     int
	OutWriters   int
	OutTotal     int // the server's --out-total in the OutTotal case
	OutPerWriter int // bytes each OutTotal writer tries to send
}

// Full and Short are the two forms.
var (
	Full  = Sizes{SlowConns: 500, WriterBytes: 50 << 20, ResetConns: 2000, LongLine: 10 << 20, OutWriters: 60, OutTotal: 16 << 20, OutPerWriter: 64 << 20}
	Short = Sizes{SlowConns: 100, WriterBytes: 50 << 20, ResetConns: 300, LongLine: 4 << 20, OutWriters: 60, OutTotal: 16 << 20, OutPerWriter: 32 << 20}
)

// OutTotalOverhead is what the OutTotal case allows a server's peak RSS
// to grow beyond twice --out-total while 60 clients write without reading:
// append-grown output buffers (up to twice what they hold), the Go
// runtime's heap target (GOGC=100: twice the live heap), one read's
// replies per connection and io_uring's buffer rings. So the bound is RSS
// before + 2×out-total + this. Measured here with --out-total 16MiB (13
// MiB before): 15-18 MiB for the blocking designs, 31 evio, 34 gnet and
// gnet-pool (which close the writers), 49-57 select, poll, epoll,
// epoll-pool, 88-105 io_uring; with a 1 GiB cap instead (no cap in effect)
// epoll peaked at 449 MiB, io_uring 534, gnet 174.
const OutTotalOverhead = 96 << 20

// stallAfter: a write that takes nothing for this long, three times in a
// row, means the server stopped reading that client.
const stallAfter = 200 * time.Millisecond

// Dial connects to addr with a deadline on everything.
func Dial(addr string, d time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(d))
	return c, nil
}

// Served checks that a well-behaved client is answered correctly: three
// messages in framing f, each verified.
func Served(addr string, f protocol.Framing) error {
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("a normal client cannot connect: %w", err)
	}
	defer c.Close()
	for _, p := range []string{"hello, world", "grüße, ışık", "0123456789abcdef"} {
		if _, err := c.Write(protocol.AppendRequest(nil, f, []byte(p))); err != nil {
			return fmt.Errorf("a normal client: write: %w", err)
		}
		want := protocol.AppendReply(nil, f, []byte(p))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("a normal client: reply to %q: %w", p, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("a normal client: reply to %q is %q, want %q", p, got, want)
		}
	}
	return nil
}

// writeUntilStalled writes chunk over and over to c until n bytes went
// out, the server stops taking them (three stalls in a row) or closes c.
// It reports what was written and whether c stalled.
func writeUntilStalled(c net.Conn, chunk []byte, n int) (written int, stalled bool, err error) {
	stalls := 0
	for written < n {
		_ = c.SetWriteDeadline(time.Now().Add(stallAfter))
		k, err := c.Write(chunk[written%len(chunk):])
		written += k
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if k < 64<<10 {
				stalls++
			} else {
				stalls = 0
			}
			if stalls == 3 {
				return written, true, nil
			}
			continue
		}
		if err != nil {
			return written, false, err
		}
		stalls = 0
	}
	return written, false, nil
}

// asciiChunk is 64 KiB of lower-case ASCII requests in framing f.
func asciiChunk(f protocol.Framing) []byte {
	var b []byte
	p := []byte(strings.Repeat("abcdefghijklmnopqrstuvwxyz012345", 32)) // 1 KiB
	for len(b) < 64<<10 {
		b = protocol.AppendRequest(b, f, p)
	}
	return b
}

// served checks a normal client in framing f: during the attack (before
// closing conns) when during is set, else once conns are closed.
func served(addr string, f protocol.Framing, during bool, conns []net.Conn) error {
	if during {
		return Served(addr, f)
	}
	for _, c := range conns {
		c.Close()
	}
	return Served(addr, f)
}

// Slowloris opens n connections that each send part of a line (no
// newline) and then trickle a byte, and checks a normal client is served
// (during the attack, or after it when not during). Line framing.
func Slowloris(addr string, n int, during bool) error {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := Dial(addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("slow connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte("GET / HTTP/1.1 slowly")); err != nil {
			return fmt.Errorf("slow connection %d: %w", i, err)
		}
	}
	for _, c := range conns {
		_, _ = c.Write([]byte("x")) // a trickle; a closed one is the server's right
	}
	return served(addr, protocol.Line, during, conns)
}

// WriterNotReading writes n bytes of requests without reading a reply:
// the server must stop reading it (or close it) and serve others.
func WriterNotReading(addr string, f protocol.Framing, n int, during bool) (string, error) {
	c, err := Dial(addr, time.Minute)
	if err != nil {
		return "", err
	}
	defer c.Close()
	written, stalled, werr := writeUntilStalled(c, asciiChunk(f), n)
	how := fmt.Sprintf("took %.1f MiB", float64(written)/(1<<20))
	switch {
	case stalled:
		how += ", then stopped reading it"
	case werr != nil:
		how += fmt.Sprintf(", then closed it (%v)", werr)
	default:
		how += " (all of it)"
	}
	return how, served(addr, f, during, []net.Conn{c})
}

// expectClosed reads from c until EOF or reset within d, discarding what
// comes: the server must close c.
func expectClosed(c net.Conn, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("the server kept the connection open for %v", d)
	}
	return nil // EOF (err nil) or a reset: closed
}

// HugeLength sends a length header of 0xFFFFFFFF (4 GiB) and a few bytes:
// the server must close the connection, not allocate, and serve others.
func HugeLength(addr string) error {
	c, err := Dial(addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	var h [protocol.HeaderLen]byte
	binary.BigEndian.PutUint32(h[:], 0xFFFFFFFF)
	if _, err := c.Write(append(h[:], "abc"...)); err != nil {
		return err
	}
	if err := expectClosed(c, 5*time.Second); err != nil {
		return err
	}
	return Served(addr, protocol.Length)
}

// LongLine sends n bytes without a newline (n above max-msg): the server
// must close the connection and serve others.
func LongLine(addr string, n int) error {
	c, err := Dial(addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { _, _ = io.Copy(io.Discard, c) }()
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for sent := 0; sent < n; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			break // closed by the server: what it should do
		}
	}
	if err := expectClosed(c, 5*time.Second); err != nil {
		return err
	}
	return Served(addr, protocol.Line)
}

// ConnectReset opens n connections and resets each at once (SO_LINGER 0),
// 50 at a time, then checks a normal client is served.
func ConnectReset(addr string, n int, f protocol.Framing) error {
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 50)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("connect: %w", err)
	default:
	}
	return Served(addr, f)
}

// PartialRuneHalfClose sends the first byte of "ü" and half-closes: the
// server owes that byte back unchanged (an invalid byte at end of input)
// and then EOF. Raw framing.
func PartialRuneHalfClose(addr string) error {
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ab\xc3")); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("after a half-close: %w", err)
	}
	if string(got) != "AB\xc3" {
		return fmt.Errorf("after a partial rune and a half-close: got %q, want %q", got, "AB\xc3")
	}
	return nil
}

// OutTotal has n clients write up to per bytes each without reading, at
// once, and reports the number that stalled or were closed. The caller
// reads the server's RSS around it.
func OutTotal(addr string, f protocol.Framing, n, per int, during bool) (stalled, closed int, err error) {
	chunk := asciiChunk(f)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, derr := Dial(addr, time.Minute)
		if derr != nil {
			return 0, 0, fmt.Errorf("writer %d: %w", i, derr)
		}
		conns = append(conns, c)
		wg.Go(func() {
			_, st, werr := writeUntilStalled(c, chunk, per)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st:
				stalled++
			case werr != nil:
				closed++
			}
		})
	}
	wg.Wait()
	return stalled, closed, served(addr, f, during, conns)
}

// RSS reads a process's resident set (VmRSS) and its peak (VmHWM), bytes.
func RSS(pid int) (rss, peak int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", k, v, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, errors.New("no VmRSS/VmHWM in /proc/PID/status")
	}
	return rss, peak, sc.Err()
}
