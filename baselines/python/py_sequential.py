"""py-sequential: the textbook's sequential server, one client at a time."""
import sys

from transform import exit_on_sigterm, listen, serve_blocking


def main():
    exit_on_sigterm()
    sock = listen(sys.argv)
    while True:
        conn, _ = sock.accept()
        serve_blocking(conn)


if __name__ == "__main__":
    main()
