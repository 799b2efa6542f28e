"""py-pool: the textbook's pool of 4 threads sharing the listening socket,
each accepting and serving one client at a time."""
import signal
import sys
import threading

from transform import exit_on_sigterm, listen, serve_blocking

WORKERS = 4


def worker(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            continue  # e.g. EMFILE: try again
        serve_blocking(conn)


def main():
    exit_on_sigterm()
    sock = listen(sys.argv)
    for _ in range(WORKERS):
        threading.Thread(target=worker, args=(sock,), daemon=True).start()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
