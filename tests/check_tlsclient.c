/*
 * netd/tlsclient.c: the request line, the reply parser, errno mapping,
 * flags and the thread's message, against a fake gateway: a child process
 * on a unix socket in a temporary directory that answers one connection
 * with canned octets, then echoes if asked. No netd, no TLS.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "netd_tls.h"

#define OKLINE	"OK 192.0.2.1 443 TLSv1.3 TLS_AES_128_GCM_SHA256\n"

static char dir[64], sock[96];
static pid_t gw_pid = -1;
static int gw_req = -1;		/* the request line, from the gateway */

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check-tls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/tls.sock", dir);
	ck_assert_int_eq(setenv(NETD_TLS_SOCKET_ENV, sock, 1), 0);
}

/*
 * Wait for the gateway (or kill it, after a failed test); true if it
 * exited 0, having done all it was told.
 */
static bool
gw_end(bool force)
{
	int st = -1;

	if (gw_req != -1)
		close(gw_req);
	gw_req = -1;
	if (gw_pid > 0) {
		if (force)
			kill(gw_pid, SIGKILL);
		waitpid(gw_pid, &st, 0);
	}
	gw_pid = -1;
	unlink(sock);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

#define gw_stop()	gw_end(false)

static void
teardown(void)
{
	gw_end(true);
	rmdir(dir);
	unsetenv(NETD_TLS_SOCKET_ENV);
}

static void
put(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0 && (n = write(fd, buf, len)) > 0) {
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * A gateway for one connection: reads the request line (sent to the test
 * through a pipe), waits delay_ms, writes len octets of reply, then echoes
 * until EOF and shuts down if echo, else closes.
 */
static void
gw_start(const char *reply, size_t len, bool echo, int delay_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char req[NETD_TLS_LINE_MAX + 8], buf[4096];
	int lfd, c, p[2];
	size_t n = 0;
	ssize_t r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	ck_assert_int_ne(lfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(gw_pid = fork(), -1);
	if (gw_pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		if ((c = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		while (n < sizeof(req) && read(c, req + n, 1) == 1)
			if (req[n++] == '\n')
				break;
		put(p[1], req, n);
		close(p[1]);
		if (delay_ms > 0)
			usleep((useconds_t)delay_ms * 1000);
		put(c, reply, len);
		while (echo && (r = read(c, buf, sizeof(buf))) > 0)
			put(c, buf, (size_t)r);
		if (echo)
			shutdown(c, SHUT_WR);
		_exit(0);
	}
	close(lfd);
	close(p[1]);
	gw_req = p[0];
}

/* The request line the gateway read, NUL-terminated. */
static const char *
gw_request(void)
{
	static char req[NETD_TLS_LINE_MAX + 8];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(req) - 1 &&
	    (r = read(gw_req, req + n, sizeof(req) - 1 - n)) > 0)
		n += (size_t)r;
	req[n] = '\0';
	return req;
}

static void
read_exact(int fd, char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, buf, len);
		ck_assert_int_gt(n, 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* One refused connection: the errno and netd_tls_error() it gives. */
static void
refused(const char *reply, size_t len, int err, const char *msg)
{
	gw_start(reply, len, false, 0);
	errno = 0;
	ck_assert_int_eq(netd_tls_connect("api.example.com", 443, 0), -1);
	ck_assert_msg(errno == err, "reply '%.40s': errno %d (%s), want %d",
	    reply, errno, strerror(errno), err);
	ck_assert_str_eq(netd_tls_error(), msg);
	ck_assert(gw_stop());
}

#define REFUSED(reply, err, msg) refused(reply, sizeof(reply) - 1, err, msg)

START_TEST(test_ok_stream)
{
	char buf[16];
	int fd;

	/* The peer's first octets arrive with the OK line. */
	gw_start(OKLINE "early", sizeof(OKLINE "early") - 1, true, 0);
	ck_assert_int_ge(fd = netd_tls_connect("api.example.com", 443, 0), 0);
	ck_assert_str_eq(gw_request(), "CONNECT api.example.com 443\n");
	read_exact(fd, buf, 5);
	ck_assert(memcmp(buf, "early", 5) == 0);
	ck_assert_int_eq(write(fd, "ping", 4), 4);
	read_exact(fd, buf, 4);
	ck_assert(memcmp(buf, "ping", 4) == 0);
	/* Inherited across exec, blocking: as socket(2) without flags. */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	/* Half-close: the gateway sees EOF, and so do we after it. */
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert(gw_stop());
}
END_TEST

START_TEST(test_flags)
{
	char c;
	int fd;

	gw_start(OKLINE, sizeof(OKLINE) - 1, true, 0);
	ck_assert_int_ge(fd = netd_tls_connect("2001:db8::1", 8443,
	    NETD_TLS_NONBLOCK | NETD_TLS_CLOEXEC), 0);
	ck_assert_str_eq(gw_request(), "CONNECT 2001:db8::1 8443\n");
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(read(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
	ck_assert(gw_stop());

	gw_start(OKLINE, sizeof(OKLINE) - 1, false, 0);
	ck_assert_int_ge(fd = netd_tls_connect("192.0.2.7", 1,
	    NETD_TLS_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	ck_assert(gw_stop());
}
END_TEST

START_TEST(test_reasons)
{
	static const struct {
		const char	*reply;
		int		 err;
		const char	*msg;
	} t[] = {
		{ "ERR bad-request host is not a name\n", EINVAL,
		    "bad-request: host is not a name" },
		{ "ERR not-an-app uid 1000 runs no app\n", EACCES,
		    "not-an-app: uid 1000 runs no app" },
		{ "ERR denied api.example.com is not in the manifest\n",
		    EACCES, "denied: api.example.com is not in the manifest" },
		{ "ERR resolve api.example.com: NXDOMAIN\n", EHOSTUNREACH,
		    "resolve: api.example.com: NXDOMAIN" },
		{ "ERR connect 192.0.2.1 port 443: refused\n", ECONNREFUSED,
		    "connect: 192.0.2.1 port 443: refused" },
		{ "ERR untrusted unknown CA\n", EPROTO,
		    "untrusted: unknown CA" },
		{ "ERR name-mismatch certificate for other.example\n", EPROTO,
		    "name-mismatch: certificate for other.example" },
		{ "ERR expired certificate expired\n", EPROTO,
		    "expired: certificate expired" },
		{ "ERR handshake protocol version\n", EPROTO,
		    "handshake: protocol version" },
		{ "ERR limit 256 sessions\n", EAGAIN, "limit: 256 sessions" },
		{ "ERR internal out of memory\n", EIO,
		    "internal: out of memory" },
		/* No text; a reason from a later netd; UTF-8 in the text. */
		{ "ERR limit\n", EAGAIN, "limit" },
		{ "ERR limit \n", EAGAIN, "limit" },
		{ "ERR new-reason later\n", EIO, "new-reason: later" },
		{ "ERR denied caf\xc3\xa9\n", EACCES, "denied: caf\xc3\xa9" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		refused(t[i].reply, strlen(t[i].reply), t[i].err, t[i].msg);
}
END_TEST

START_TEST(test_unreachable)
{
	char want[256];

	errno = 0;
	ck_assert_int_eq(netd_tls_connect("api.example.com", 443, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	snprintf(want, sizeof(want), "cannot reach netd at %s: No such file "
	    "or directory", sock);
	ck_assert_str_eq(netd_tls_error(), want);

	/* Not a socket. */
	ck_assert_int_eq(close(open(sock, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(netd_tls_connect("api.example.com", 443, 0), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	unlink(sock);
}
END_TEST

START_TEST(test_default_path)
{
	const char *vals[] = { NULL, "" };
	char want[256];
	size_t i;

	if (access(NETD_TLS_SOCKET, F_OK) == 0)
		return;		/* a real netd: do not bother it */
	snprintf(want, sizeof(want), "cannot reach netd at %s: ",
	    NETD_TLS_SOCKET);
	for (i = 0; i < 2; i++) {
		if (vals[i] == NULL)
			unsetenv(NETD_TLS_SOCKET_ENV);
		else
			setenv(NETD_TLS_SOCKET_ENV, vals[i], 1);
		ck_assert_int_eq(netd_tls_connect("api.example.com", 443, 0),
		    -1);
		ck_assert(strncmp(netd_tls_error(), want, strlen(want)) == 0);
	}
}
END_TEST

static void *
other_thread(void *arg)
{
	(void)arg;
	if (strcmp(netd_tls_error(), "no error") != 0)
		return "fresh thread has a message";
	if (netd_tls_connect("", 443, 0) != -1 || errno != EINVAL)
		return "empty host accepted";
	if (strcmp(netd_tls_error(), "invalid host: empty") != 0)
		return "wrong message";
	return NULL;
}

START_TEST(test_thread_message)
{
	pthread_t t;
	void *r;
	char want[256];

	ck_assert_int_eq(netd_tls_connect("api.example.com", 443, 0), -1);
	snprintf(want, sizeof(want), "cannot reach netd at %s: No such file "
	    "or directory", sock);
	ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &r), 0);
	ck_assert_msg(r == NULL, "%s", (const char *)r);
	ck_assert_str_eq(netd_tls_error(), want);
}
END_TEST

static void
on_alarm(int sig)
{
	(void)sig;
}

START_TEST(test_eintr)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no restart */
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	int fd;

	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	gw_start(OKLINE, sizeof(OKLINE) - 1, false, 100);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	fd = netd_tls_connect("api.example.com", 443, 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	ck_assert_msg(fd >= 0, "%s", netd_tls_error());
	close(fd);
	ck_assert(gw_stop());
}
END_TEST

START_TEST(test_bad_args)
{
	char longhost[300];
	static const struct {
		const char	*host;
		unsigned	 port;
		int		 flags;
		const char	*msg;
	} t[] = {
		{ NULL, 443, 0, "invalid host: empty" },
		{ "", 443, 0, "invalid host: empty" },
		{ "a b", 443, 0, "invalid host: contains white space or a "
		    "control character" },
		{ "a\tb", 443, 0, "invalid host: contains white space or a "
		    "control character" },
		{ "a\nCONNECT b 443", 443, 0, "invalid host: contains white "
		    "space or a control character" },
		{ "a\x7f", 443, 0, "invalid host: contains white space or a "
		    "control character" },
		{ "a", 0, 0, "invalid port 0: not 1-65535" },
		{ "a", 65536, 0, "invalid port 65536: not 1-65535" },
		{ "a", 443, 0x4, "invalid flags 0x4" },
		{ "a", 443, -1, "invalid flags 0xffffffff" },
	};
	size_t i;

	/* No gateway: EINVAL, not ENOENT, proves nothing was sent. */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		errno = 0;
		ck_assert_int_eq(netd_tls_connect(t[i].host, t[i].port,
		    t[i].flags), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_str_eq(netd_tls_error(), t[i].msg);
	}
	memset(longhost, 'a', 254);
	longhost[254] = '\0';
	ck_assert_int_eq(netd_tls_connect(longhost, 443, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(netd_tls_error(), "invalid host: longer than 253 "
	    "octets");
}
END_TEST

START_TEST(test_longest_host)
{
	char host[254], want[300];
	int fd;

	memset(host, 'a', 253);
	host[253] = '\0';
	gw_start(OKLINE, sizeof(OKLINE) - 1, false, 0);
	ck_assert_int_ge(fd = netd_tls_connect(host, 65535, 0), 0);
	snprintf(want, sizeof(want), "CONNECT %s 65535\n", host);
	ck_assert_str_eq(gw_request(), want);
	close(fd);
	ck_assert(gw_stop());
}
END_TEST

START_TEST(test_garbled)
{
	REFUSED("HELLO\n", EIO, "garbled reply from netd: 'HELLO'");
	REFUSED("OK\n", EIO, "garbled reply from netd: 'OK'");
	REFUSED("ERR\n", EIO, "garbled reply from netd: 'ERR'");
	REFUSED("ERR \n", EIO, "garbled reply from netd: ERR without a "
	    "reason");
	REFUSED("ok 192.0.2.1 443 TLSv1.3 X\n", EIO,
	    "garbled reply from netd: 'ok 192.0.2.1 443 TLSv1.3 X'");
	REFUSED("OK 192.0.2.1 443\n", EIO, "garbled reply from netd: OK "
	    "with 2 words, not 4");
	REFUSED("OK 192.0.2.1 https TLSv1.3 X\n", EIO, "garbled reply from "
	    "netd: port 'https'");
	REFUSED("OK 192.0.2.1 0 TLSv1.3 X\n", EIO, "garbled reply from netd: "
	    "port '0'");
	REFUSED("OK 192.0.2.1 65536 TLSv1.3 X\n", EIO, "garbled reply from "
	    "netd: port '65536'");
	REFUSED("OK 192.0.2.1 -1 TLSv1.3 X\n", EIO, "garbled reply from "
	    "netd: port '-1'");
	REFUSED("", EIO, "netd closed the connection");
	REFUSED("OK 192.0.2.1", EIO, "netd closed the connection in the "
	    "middle of its reply");
	REFUSED("OK a\0b\n", EIO, "garbled reply from netd: a NUL octet");
	REFUSED("ERR denied \x1b[31mred\n", EIO, "garbled reply from netd: "
	    "a control character");
	REFUSED("OK 192.0.2.1 443 TLSv1.3 X\r\n", EIO, "garbled reply from "
	    "netd: a control character");
	/* The control socket's binary header, say. */
	REFUSED("\x4e\x45\x54\x44\x01\x00", EIO, "garbled reply from netd: a "
	    "NUL octet");
}
END_TEST

START_TEST(test_line_max)
{
	char line[NETD_TLS_LINE_MAX + 2];
	size_t pre = strlen("ERR denied ");
	int fd;

	/* NETD_TLS_LINE_MAX octets with the '\n': accepted. */
	memcpy(line, "ERR denied ", pre);
	memset(line + pre, 'x', NETD_TLS_LINE_MAX - 1 - pre);
	line[NETD_TLS_LINE_MAX - 1] = '\n';
	gw_start(line, NETD_TLS_LINE_MAX, false, 0);
	ck_assert_int_eq(netd_tls_connect("a", 443, 0), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_uint_eq(strlen(netd_tls_error()),
	    NETD_TLS_LINE_MAX - 1 - 4 + 1);	/* "ERR " off, ':' on */
	ck_assert(gw_stop());

	/* One more: refused, however it goes on. */
	line[NETD_TLS_LINE_MAX - 1] = 'x';
	line[NETD_TLS_LINE_MAX] = '\n';
	REFUSED(line, EIO, "garbled reply from netd: longer than 512 octets");

	/* Extra words after the four of OK are for later versions. */
	gw_start("OK 192.0.2.1 443 TLSv1.3 X more words\n",
	    sizeof("OK 192.0.2.1 443 TLSv1.3 X more words\n") - 1, false, 0);
	ck_assert_int_ge(fd = netd_tls_connect("a", 443, 0), 0);
	close(fd);
	ck_assert(gw_stop());
}
END_TEST

START_TEST(test_path_too_long)
{
	char path[200];

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	setenv(NETD_TLS_SOCKET_ENV, path, 1);
	ck_assert_int_eq(netd_tls_connect("a", 443, 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert(strstr(netd_tls_error(), "socket path too long") != NULL);
}
END_TEST

Suite *
tlsclient_suite(void)
{
	Suite *s = suite_create("tlsclient");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_ok_stream);
	tcase_add_test(core, test_flags);
	tcase_add_test(core, test_reasons);
	tcase_add_test(core, test_unreachable);
	tcase_add_test(core, test_default_path);
	tcase_add_test(core, test_thread_message);
	tcase_add_test(core, test_eintr);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_bad_args);
	tcase_add_test(limits, test_longest_host);
	tcase_add_test(limits, test_garbled);
	tcase_add_test(limits, test_line_max);
	tcase_add_test(limits, test_path_too_long);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
