/*
 * The client side of netd's TLS gateway (include/netd_tls.h): one request
 * line, one reply line, and the descriptor is the caller's. The only state
 * is each thread's last error message. No TLS here: netd does it.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd_tls.h"
#include "tlsclient.h"

#define HOST_MAX	253

static __thread char tls_err[NETD_TLS_LINE_MAX + 128];

static const struct {
	const char	*reason;
	int		 err;
} tls_reasons[] = {
	{ NETD_TLS_E_BADREQ, EINVAL },
	{ NETD_TLS_E_NOTAPP, EACCES },
	{ NETD_TLS_E_DENIED, EACCES },
	{ NETD_TLS_E_RESOLVE, EHOSTUNREACH },
	{ NETD_TLS_E_CONNECT, ECONNREFUSED },
	{ NETD_TLS_E_UNTRUSTED, EPROTO },
	{ NETD_TLS_E_NAME, EPROTO },
	{ NETD_TLS_E_EXPIRED, EPROTO },
	{ NETD_TLS_E_HANDSHAKE, EPROTO },
	{ NETD_TLS_E_LIMIT, EAGAIN },
	{ NETD_TLS_E_INTERNAL, EIO },
};

/* Record why, set errno to err, return -1. */
static int failure(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
failure(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(tls_err, sizeof(tls_err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

static bool
is_printable(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* NULL if host may go on the request line, else why not. */
static const char *
host_problem(const char *host)
{
	const unsigned char *p;

	if (host == NULL || *host == '\0')
		return "empty";
	if (strnlen(host, HOST_MAX + 1) > HOST_MAX)
		return "longer than 253 octets";
	for (p = (const unsigned char *)host; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return "contains white space or a control "
			    "character";
	return NULL;
}

static int
gw_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r, saved;

	if (strlen(path) >= sizeof(sun.sun_path))
		return failure(ENAMETOOLONG, "cannot reach netd at %s: socket "
		    "path too long", path);
	memcpy(sun.sun_path, path, strlen(path));
	/*
	 * Close-on-exec while the handshake runs, so that a fork and exec in
	 * another thread cannot inherit a half-made session; the caller's
	 * choice is applied once the session is up.
	 */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return failure(errno, "cannot reach netd at %s: %s", path,
		    strerror(errno));
	/*
	 * A unix socket interrupted while it waits for room in the backlog
	 * stays unconnected (unlike TCP), so connecting again is right.
	 */
	do
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		saved = errno;
		close(fd);
		return failure(saved, "cannot reach netd at %s: %s", path,
		    strerror(saved));
	}
	return fd;
}

static int
send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		/* Not SIGPIPE: a library must not kill its caller. */
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The reply line, without its '\n', into line (NETD_TLS_LINE_MAX + 1
 * octets). One octet at a time: what follows the '\n' is the caller's
 * stream and must stay in the socket.
 */
static int
read_reply(int fd, char *line)
{
	size_t len = 0;
	ssize_t n;

	while (len < NETD_TLS_LINE_MAX) {
		if ((n = read(fd, line + len, 1)) == -1) {
			if (errno == EINTR)
				continue;
			return failure(EIO, "no reply from netd: %s",
			    strerror(errno));
		}
		if (n == 0)
			return failure(EIO, len == 0 ? "netd closed the "
			    "connection" : "netd closed the connection in the "
			    "middle of its reply");
		if (line[len] == '\n') {
			line[len] = '\0';
			return 0;
		}
		if (line[len] == '\0')
			return failure(EIO, "garbled reply from netd: a NUL "
			    "octet");
		len++;
	}
	return failure(EIO, "garbled reply from netd: longer than %d octets",
	    NETD_TLS_LINE_MAX);
}

/*
 * "ERR <reason> <text>": the reason's errno and the message; *refused
 * unless the line is garbled.
 */
static int
parse_err(char *args, bool *refused)
{
	char *text = strchr(args, ' ');
	size_t i;

	if (text != NULL)
		*text++ = '\0';
	if (*args == '\0')
		return failure(EIO, "garbled reply from netd: ERR without a "
		    "reason");
	if (refused != NULL)
		*refused = true;
	for (i = 0; i < sizeof(tls_reasons) / sizeof(tls_reasons[0]); i++)
		if (strcmp(args, tls_reasons[i].reason) == 0)
			break;
	/* A reason this client does not know is still netd's word. */
	return failure(i < sizeof(tls_reasons) / sizeof(tls_reasons[0]) ?
	    tls_reasons[i].err : EIO, "%s%s%s", args,
	    text != NULL && *text != '\0' ? ": " : "",
	    text != NULL ? text : "");
}

/*
 * "OK <address> <port> <tls-version> <ciphersuite>": four words at least
 * (more are left for later versions of netd), a port that is a number.
 */
static int
parse_ok(char *args, char *peer, size_t peerlen)
{
	char *w[4], *save = NULL, *end;
	unsigned long port;
	size_t i;

	for (i = 0; i < 4; i++)
		if ((w[i] = strtok_r(i == 0 ? args : NULL, " ", &save)) ==
		    NULL)
			return failure(EIO, "garbled reply from netd: OK with "
			    "%zu words, not 4", i);
	port = strtoul(w[1], &end, 10);
	if (*w[1] < '0' || *w[1] > '9' || *end != '\0' || port < 1 ||
	    port > 65535)
		return failure(EIO, "garbled reply from netd: port '%s'", w[1]);
	if (peer != NULL && peerlen > 0)
		(void)snprintf(peer, peerlen, "%s port %lu, %s %s", w[0], port,
		    w[2], w[3]);
	return 0;
}

/* The caller's choice of flags, once the session is up. */
static int
apply_flags(int fd, int flags)
{
	int fl;

	if ((flags & NETD_TLS_CLOEXEC) == 0 && fcntl(fd, F_SETFD, 0) == -1)
		return failure(errno, "fcntl: %s", strerror(errno));
	if (flags & NETD_TLS_NONBLOCK) {
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			return failure(errno, "fcntl: %s", strerror(errno));
	}
	return 0;
}

int
netd_tls_connect_at(const char *path, const char *host, unsigned port,
    int flags, char *peer, size_t peerlen, bool *refused)
{
	char req[NETD_TLS_LINE_MAX + 1], line[NETD_TLS_LINE_MAX + 1];
	const char *why;
	int fd, n, saved;

	if (refused != NULL)
		*refused = false;
	if ((why = host_problem(host)) != NULL)
		return failure(EINVAL, "invalid host: %s", why);
	if (port < 1 || port > 65535)
		return failure(EINVAL, "invalid port %u: not 1-65535", port);
	if (flags & ~(NETD_TLS_NONBLOCK | NETD_TLS_CLOEXEC))
		return failure(EINVAL, "invalid flags 0x%x", (unsigned)flags);
	/* Cannot be cut: 8 + 253 + 1 + 5 + 1 octets at most. */
	n = snprintf(req, sizeof(req), "CONNECT %s %u\n", host, port);
	if (n < 0 || (size_t)n >= sizeof(req))
		return failure(EINVAL, "invalid host: request too long");

	/* A set-id program does not take the socket from its caller. */
	if (path == NULL && ((path = secure_getenv(NETD_TLS_SOCKET_ENV)) ==
	    NULL || *path == '\0'))
		path = NETD_TLS_SOCKET;
	if ((fd = gw_open(path)) == -1)
		return -1;
	/*
	 * netd may refuse at once (a limit) and close before it reads the
	 * request: the send then fails with EPIPE, but its reply is there.
	 */
	if (send_all(fd, req, (size_t)n) == -1) {
		saved = errno;
		if ((saved != EPIPE && saved != ECONNRESET) ||
		    read_reply(fd, line) == -1) {
			close(fd);
			return failure(EIO, "cannot send to netd at %s: %s",
			    path, strerror(saved));
		}
	} else if (read_reply(fd, line) == -1)
		goto fail;
	if (!is_printable(line)) {
		failure(EIO, "garbled reply from netd: a control character");
		goto fail;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		(void)parse_err(line + 4, refused);
		goto fail;
	}
	if (strncmp(line, "OK ", 3) != 0) {
		failure(EIO, "garbled reply from netd: '%.40s%s'", line,
		    strlen(line) > 40 ? "..." : "");
		goto fail;
	}
	if (parse_ok(line + 3, peer, peerlen) == -1 ||
	    apply_flags(fd, flags) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
netd_tls_connect(const char *host, unsigned port, int flags)
{
	return netd_tls_connect_at(NULL, host, port, flags, NULL, 0, NULL);
}

const char *
netd_tls_error(void)
{
	return tls_err[0] != '\0' ? tls_err : "no error";
}
