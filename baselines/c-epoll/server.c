/*
 * c-epoll: archbench's C baseline, the machine's limit for the protocol.
 *
 * One thread, one level-triggered epoll loop, non-blocking sockets, raw
 * framing only (a byte stream, no messages): whatever arrives is sent back
 * with every valid UTF-8 rune upper-cased as Go's unicode.ToUpper does
 * (upper_table.h, generated from Go) and every invalid byte unchanged. A
 * rune cut by a read boundary is held (at most 3 bytes, exactly when Go's
 * utf8.FullRune says the bytes so far are an incomplete rune) and completed
 * by the next read; at end of input the held bytes are sent back unchanged.
 *
 * Backpressure: while a connection has reply bytes the socket did not take,
 * the loop waits for it to be writable and does not read from it, so its
 * memory is bounded by one read's reply.
 *
 * Out of descriptors (EMFILE and the like): the listener is left unwatched
 * for a back-off of 5 ms doubling to 1 s, as net/http's Serve and the Go
 * loops do, so a level-triggered listener does not spin the loop; pending
 * connections wait in the backlog meanwhile.
 *
 * Nothing clever: no batching across connections, no zero-copy, no
 * threads. Not done: line and length framing, idle timeouts, max-conns.
 *
 * usage: server HOST PORT   (PORT 0 = any; prints "listening on ADDR")
 * SIGTERM or SIGINT: closes everything and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "upper_table.h"

#define READ_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct conn {
	int fd;
	unsigned char carry[3];
	int ncarry;
	int eof;
	int want_out; /* watched for EPOLLOUT (not EPOLLIN) */
	unsigned char *out;
	size_t outlen, outoff, outcap;
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

/* read buffer: 3 bytes of room before the data for the carried bytes */
static unsigned char rbuf[3 + READ_SIZE];

static unsigned int upper_rune(unsigned int r)
{
	size_t lo = 0, hi = sizeof upper_pairs / sizeof upper_pairs[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (upper_pairs[mid][0] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sizeof upper_pairs / sizeof upper_pairs[0] && upper_pairs[lo][0] == r)
		return upper_pairs[lo][1];
	return r;
}

/* seq_len is the length a lead byte announces (1 for ASCII and invalid
 * leads); lo and hi bound its second byte, as Go's utf8 accept ranges. */
static int seq_len(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			*lo = 0xa0;
		if (c == 0xed)
			*hi = 0x9f;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			*lo = 0x90;
		if (c == 0xf4)
			*hi = 0x8f;
		return 4;
	}
	return 1;
}

/* full_rune is Go's utf8.FullRune: 0 only for a valid but incomplete prefix. */
static int full_rune(const unsigned char *p, size_t n)
{
	unsigned char lo, hi;
	int len = seq_len(p[0], &lo, &hi);
	if (n >= (size_t)len)
		return 1;
	if (n > 1 && (p[1] < lo || p[1] > hi))
		return 1;
	if (n > 2 && (p[2] < 0x80 || p[2] > 0xbf))
		return 1;
	return 0;
}

/* decode is Go's utf8.DecodeRune on a full rune: its size, and the rune in
 * *r, or size 1 and *r = (unsigned)-1 for an invalid byte. */
static int decode(const unsigned char *p, size_t n, unsigned int *r)
{
	unsigned char lo, hi;
	int len = seq_len(p[0], &lo, &hi);
	*r = (unsigned int)-1;
	if (len == 1 || n < (size_t)len || p[1] < lo || p[1] > hi)
		return 1;
	for (int i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 1;
	switch (len) {
	case 2: *r = (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu); break;
	case 3: *r = (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu); break;
	default: *r = (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu); break;
	}
	return len;
}

static size_t encode(unsigned char *d, unsigned int r)
{
	if (r < 0x80) {
		d[0] = (unsigned char)r;
		return 1;
	}
	if (r < 0x800) {
		d[0] = 0xc0 | r >> 6;
		d[1] = 0x80 | (r & 0x3f);
		return 2;
	}
	if (r < 0x10000) {
		d[0] = 0xe0 | r >> 12;
		d[1] = 0x80 | (r >> 6 & 0x3f);
		d[2] = 0x80 | (r & 0x3f);
		return 3;
	}
	d[0] = 0xf0 | r >> 18;
	d[1] = 0x80 | (r >> 12 & 0x3f);
	d[2] = 0x80 | (r >> 6 & 0x3f);
	d[3] = 0x80 | (r & 0x3f);
	return 4;
}

static int reserve(struct conn *c, size_t more)
{
	if (c->outlen + more <= c->outcap)
		return 0;
	size_t cap = c->outcap ? c->outcap : 4096;
	while (cap < c->outlen + more)
		cap *= 2;
	unsigned char *p = realloc(c->out, cap);
	if (!p)
		return -1;
	c->out = p;
	c->outcap = cap;
	return 0;
}

/* transform appends the reply to p[0..n) to c->out, holding an incomplete
 * trailing rune in c->carry unless at_eof. p may start with the carry. */
static int transform(struct conn *c, const unsigned char *p, size_t n, int at_eof)
{
	/* a 2-byte rune may become 3 bytes: 2n bounds the reply */
	if (reserve(c, 2 * n + 4) < 0)
		return -1;
	unsigned char *d = c->out + c->outlen;
	size_t i = 0;
	c->ncarry = 0;
	while (i < n) {
		unsigned char b = p[i];
		if (b < 0x80) {
			*d++ = (b >= 'a' && b <= 'z') ? b - 32 : b;
			i++;
			continue;
		}
		if (!at_eof && !full_rune(p + i, n - i)) {
			c->ncarry = (int)(n - i);
			memcpy(c->carry, p + i, n - i);
			break;
		}
		unsigned int r;
		int size = decode(p + i, n - i, &r);
		if (r == (unsigned int)-1)
			*d++ = b;
		else
			d += encode(d, upper_rune(r));
		i += size;
	}
	c->outlen = d - c->out;
	return 0;
}

static void close_conn(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static int watch(int ep, struct conn *c, unsigned int events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* flush writes what the socket takes; 1 = all written, 0 = more, -1 = error */
static int flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->outoff += (size_t)w;
	}
	c->outoff = c->outlen = 0;
	return 1;
}

/* after_write closes a finished connection or picks what to wait for. */
static void after_write(int ep, struct conn *c, int flushed)
{
	if (flushed < 0 || (flushed == 1 && c->eof)) {
		close_conn(ep, c);
		return;
	}
	int want_out = flushed == 0;
	if (want_out == c->want_out)
		return;
	c->want_out = want_out;
	if (watch(ep, c, want_out ? EPOLLOUT : EPOLLIN) < 0)
		close_conn(ep, c);
}

static void on_readable(int ep, struct conn *c)
{
	ssize_t n = read(c->fd, rbuf + 3, READ_SIZE);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		close_conn(ep, c);
		return;
	}
	unsigned char *start = rbuf + 3 - c->ncarry;
	memcpy(start, c->carry, (size_t)c->ncarry);
	if (n == 0)
		c->eof = 1;
	if (transform(c, start, (size_t)n + (size_t)c->ncarry, c->eof) < 0) {
		close_conn(ep, c);
		return;
	}
	after_write(ep, c, flush(c));
}

/* accept_all accepts every pending connection. It returns -1 when accept
 * failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
 * caller backs off; 0 otherwise. */
static int accept_all(int ep, int ln)
{
	for (;;) {
		int fd = accept4(ln, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				return -1;
			if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO || errno == EPERM)
				continue; /* the peer gave up first: the next one may be there */
			return 0; /* EAGAIN: all accepted */
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
		}
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res;
	int err = getaddrinfo(host, port, &hints, &res);
	if (err != 0) {
		fprintf(stderr, "c-epoll: %s:%s: %s\n", host, port, gai_strerror(err));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "c-epoll: listen on %s:%s: %s\n", host, port, strerror(errno));
	return fd;
}

static void print_addr(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
		printf("listening on [%s]:%d\n", ip, port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
		printf("listening on %s:%d\n", ip, port);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ln = listen_on(argv[1], argv[2]);
	if (ln < 0)
		return 1;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ln, &lev) < 0) {
		perror("c-epoll: epoll");
		return 1;
	}
	print_addr(ln);

	struct epoll_event evs[MAX_EVENTS];
	int backoff = 0;          /* ms: the last back-off, 0 after an accept succeeds */
	long long resume_at = -1; /* when to watch the listener again; -1 = watched */
	while (!stopping) {
		int timeout = -1;
		if (resume_at >= 0) {
			long long left = resume_at - now_ms();
			if (left <= 0) {
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
				epoll_ctl(ep, EPOLL_CTL_MOD, ln, &ev);
				resume_at = -1;
			} else {
				timeout = (int)left;
			}
		}
		int n = epoll_wait(ep, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("c-epoll: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				if (accept_all(ep, ln) < 0) {
					struct epoll_event ev = {.events = 0, .data.ptr = NULL};
					epoll_ctl(ep, EPOLL_CTL_MOD, ln, &ev);
					backoff = backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 5;
					resume_at = now_ms() + backoff;
				} else {
					backoff = 0;
				}
				continue;
			}
			if (c->outlen > c->outoff)
				after_write(ep, c, flush(c)); /* EPOLLOUT, EPOLLERR or EPOLLHUP */
			else
				on_readable(ep, c);
		}
	}
	/* Connections are closed by the process's exit. */
	close(ln);
	return 0;
}
