package xmlrpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// ErrHTTP: the server's HTTP response is not a 200 with an XML body.
var ErrHTTP = errors.New("xmlrpc: HTTP error")

// AppendPost appends an HTTP/1.1 POST of body to path on host, keep-alive,
// to dst: the request line and the headers an XML-RPC client sends.
func AppendPost(dst []byte, host, path string, body []byte) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUser-Agent: archbench\r\nContent-Type: text/xml\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// Response is one HTTP response as ReadResponse reads it.
type Response struct {
	Status int
	Body   []byte // reuses the buffer handed to ReadResponse
	Close  bool   // the server closes the connection after it
	Wire   int    // bytes it took on the wire (status line, headers, body)
}

// ReadResponse reads one HTTP/1.1 response from br: a status line, headers
// (at most 64 KiB of them) and a body of Content-Length bytes, at most
// maxBody, read into buf[:0]. A response without Content-Length is read to
// the end of the connection; chunked bodies are refused (no XML-RPC server
// sends them for a call of known size: net/http and Python's both set
// Content-Length).
func ReadResponse(br *bufio.Reader, buf []byte, maxBody int) (Response, error) {
	var r Response
	line, err := readLine(br, &r.Wire)
	if err != nil {
		return r, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return r, fmt.Errorf("%w: bad status line %q", ErrHTTP, trunc(string(line), 40))
	}
	if r.Status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return r, fmt.Errorf("%w: bad status line %q", ErrHTTP, trunc(string(line), 40))
	}
	r.Close = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length := -1
	for {
		line, err := readLine(br, &r.Wire)
		if err != nil {
			return r, err
		}
		if len(line) == 0 {
			break
		}
		if r.Wire > 64<<10 {
			return r, fmt.Errorf("%w: headers over 64 KiB", ErrHTTP)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, fmt.Errorf("%w: bad header line %q", ErrHTTP, trunc(string(line), 40))
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return r, fmt.Errorf("%w: bad Content-Length %q", ErrHTTP, trunc(string(value), 20))
			}
			length = n
		case asciiEqualFold(name, "Connection"):
			r.Close = asciiEqualFold(value, "close")
		case asciiEqualFold(name, "Transfer-Encoding"):
			if !asciiEqualFold(value, "identity") {
				return r, fmt.Errorf("%w: Transfer-Encoding %q not supported", ErrHTTP, value)
			}
		}
	}
	if length > maxBody {
		return r, fmt.Errorf("%w: response body of %d bytes is over %d", ErrHTTP, length, maxBody)
	}
	if length < 0 {
		r.Close = true
		lr := io.LimitReader(br, int64(maxBody)+1)
		b := bytes.NewBuffer(buf[:0])
		n, err := b.ReadFrom(lr)
		r.Wire += int(n)
		if err != nil {
			return r, err
		}
		if n > int64(maxBody) {
			return r, fmt.Errorf("%w: response body over %d bytes", ErrHTTP, maxBody)
		}
		r.Body = b.Bytes()
		return r, nil
	}
	if cap(buf) < length {
		buf = make([]byte, length)
	}
	r.Body = buf[:length]
	n, err := io.ReadFull(br, r.Body)
	r.Wire += n
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return r, err
}

func readLine(br *bufio.Reader, wire *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*wire += len(line)
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: header line over %d bytes", ErrHTTP, br.Size())
	}
	if err == io.EOF && len(line) > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i]|0x20, s[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// Client calls one XML-RPC server over one kept-alive HTTP/1.1 connection,
// reconnecting when the server closed it. It is not safe for concurrent use.
type Client struct {
	Network, Addr string // tcp and host:port, or unix and a path
	Path          string // default /RPC2
	Timeout       time.Duration
	Limits        Limits // of the responses

	conn net.Conn
	br   *bufio.Reader
	out  []byte
	body []byte
}

// Call sends method(params...) and returns its result, or its fault as a
// *Fault error. Other errors are the connection's or the response's.
func (c *Client) Call(ctx context.Context, method string, params ...any) (any, error) {
	body, err := AppendCall(nil, method, params...)
	if err != nil {
		return nil, err
	}
	if c.conn == nil {
		d := net.Dialer{Timeout: c.timeout()}
		if c.conn, err = d.DialContext(ctx, c.network(), c.Addr); err != nil {
			return nil, err
		}
		c.br = bufio.NewReaderSize(c.conn, 16<<10)
	}
	path := c.Path
	if path == "" {
		path = "/RPC2"
	}
	host := c.Addr
	if c.network() == "unix" {
		host = "localhost"
	}
	c.out = AppendPost(c.out[:0], host, path, body)
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout()))
	if _, err := c.conn.Write(c.out); err != nil {
		c.Close()
		return nil, err
	}
	lim := c.Limits.withDefaults()
	resp, err := ReadResponse(c.br, c.body, lim.MaxBytes)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.body = resp.Body[:0]
	if resp.Close {
		c.Close()
	}
	if resp.Status != 200 {
		return nil, fmt.Errorf("%w: %d %s", ErrHTTP, resp.Status, trunc(string(bytes.TrimSpace(resp.Body)), 80))
	}
	return DecodeResponse(bytes.NewReader(resp.Body), c.Limits)
}

// Close closes the connection, if any.
func (c *Client) Close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

func (c *Client) network() string {
	if c.Network == "" {
		return "tcp"
	}
	return c.Network
}
