"""The protocol's transform for archbench's Python baselines.

Every valid UTF-8 rune is upper-cased as Go's unicode.ToUpper does (the
table in upper_table.py is generated from Go: str.upper differs, e.g. it
turns 'ß' into 'SS'); every invalid byte is sent back unchanged (decoding
with surrogateescape keeps it as a lone surrogate, which the table never
maps, and encoding gives the byte back). A rune cut by a read boundary is
held, exactly when Go's utf8.FullRune says the bytes so far are an
incomplete rune, and completed by the next read; at end of input the held
bytes are sent back unchanged.
"""

from upper_table import UPPER


def _full_rune(b, i):
    """Go's utf8.FullRune(b[i:]): False only for a valid but incomplete prefix."""
    m = len(b) - i
    c = b[i]
    lo, hi = 0x80, 0xBF
    if 0xC2 <= c <= 0xDF:
        size = 2
    elif 0xE0 <= c <= 0xEF:
        size = 3
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        size = 4
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return True
    if m >= size:
        return True
    if m > 1 and not lo <= b[i + 1] <= hi:
        return True
    if m > 2 and not 0x80 <= b[i + 2] <= 0xBF:
        return True
    return False


def _hold_from(b):
    """Where the incomplete rune at the end of b starts (len(b) if none).

    A decoder visits every byte that is not a continuation byte, so the
    last such byte of the last three is where a held rune would start.
    """
    n = len(b)
    for i in range(n - 1, max(n - 4, -1), -1):
        c = b[i]
        if c < 0x80 or c >= 0xC0:
            return n if _full_rune(b, i) else i
    return n


class Upper:
    """The streaming transform of one connection's byte stream."""

    def __init__(self):
        self.carry = b""

    def feed(self, data):
        if self.carry:
            data, self.carry = self.carry + data, b""
        if data.isascii():
            return data.upper()
        cut = _hold_from(data)
        if cut < len(data):
            data, self.carry = data[:cut], data[cut:]
        text = data.decode("utf-8", "surrogateescape")
        return text.translate(UPPER).encode("utf-8", "surrogateescape")

    def flush(self):
        rest, self.carry = self.carry, b""
        return rest


def listen(argv):
    """The listening socket on HOST PORT from argv; prints its address."""
    import socket
    import sys

    if len(argv) != 3:
        sys.stderr.write("usage: %s HOST PORT\n" % argv[0])
        sys.exit(2)
    host, port = argv[1], int(argv[2])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=4096)
    addr = sock.getsockname()
    shown = "[%s]:%d" % addr[:2] if family == socket.AF_INET6 else "%s:%d" % addr[:2]
    print("listening on " + shown, flush=True)
    return sock


def exit_on_sigterm():
    """SIGTERM and SIGINT end the process with status 0."""
    import signal
    import sys

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def serve_blocking(conn):
    """The textbook's handler, corrected: read, transform, sendall until
    end of input, then the held bytes; errors end this connection only."""
    up = Upper()
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                conn.sendall(up.flush())
                break
            conn.sendall(up.feed(data))
    except OSError:
        pass  # reset by the client, and the like
    finally:
        conn.close()
