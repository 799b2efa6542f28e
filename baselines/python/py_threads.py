"""py-threads: the textbook's thread per connection."""
import sys
import threading

from transform import exit_on_sigterm, listen, serve_blocking


def main():
    exit_on_sigterm()
    sock = listen(sys.argv)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_blocking, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
