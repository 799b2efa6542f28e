"""py-poll: the textbook's select.poll multiplexed loop, one thread,
non-blocking sockets. While a connection has reply bytes its socket did
not take, the loop waits for it to be writable and does not read from it."""
import select
import sys

from transform import Upper, exit_on_sigterm, listen

READ_SIZE = 65536


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.up = Upper()
        self.out = b""
        self.eof = False


def main():
    exit_on_sigterm()
    lsock = listen(sys.argv)
    lsock.setblocking(False)
    poller = select.poll()
    poller.register(lsock, select.POLLIN)
    conns = {}

    def close(c):
        poller.unregister(c.sock)
        del conns[c.sock.fileno()]
        c.sock.close()

    def write(c):
        """Send what the socket takes; then close, or wait for the rest."""
        try:
            while c.out:
                n = c.sock.send(c.out)
                c.out = c.out[n:]
        except BlockingIOError:
            pass
        except OSError:
            close(c)
            return
        if c.out:
            poller.modify(c.sock, select.POLLOUT)
        elif c.eof:
            close(c)
        else:
            poller.modify(c.sock, select.POLLIN)

    while True:
        for fd, ev in poller.poll():
            if fd == lsock.fileno():
                while True:
                    try:
                        s, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # e.g. EMFILE: at the next event
                    s.setblocking(False)
                    conns[s.fileno()] = Conn(s)
                    poller.register(s, select.POLLIN)
                continue
            c = conns.get(fd)
            if c is None:
                continue
            if c.out:
                write(c)
                continue
            try:
                data = c.sock.recv(READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                close(c)
                continue
            if data:
                c.out = c.up.feed(data)
            else:
                c.eof = True
                c.out = c.up.flush()
            write(c)


if __name__ == "__main__":
    main()
