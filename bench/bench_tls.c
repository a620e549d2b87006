/*
 * bench_tls: netd's TLS gateway beside an in-process mbedTLS client, both
 * run by this one process as the same app uid, against the same peers,
 * in the same run. bench/bench_tls.sh sets up the namespaces, the peers,
 * dnsmasq and netd, then runs it as the app:
 *
 *   netctl run --manifest M -- bench_tls -s TLS_SOCKET -c CA_FILE \
 *       -a ADDR -n NAME -H HS_PORT -P BULK_PORT -p NETD_PID \
 *       [-m MIB] [-r RUNS] [-k HANDSHAKES] [-i SESSIONS] [-x PARTS]
 *
 * PARTS: any of h (handshakes), t (throughput), m (memory); all by
 * default. A stall of 20 s anywhere fails the bench, naming the step and
 * listing this namespace's sockets with their queues (ss).
 *
 * The manifest M allows NAME and ADDR: the gateway is asked for either,
 * and the in-process client connects to ADDR directly (its TCP goes
 * through netd's firewall like the gateway's does).
 *
 * 1. handshakes to openssl s_server at ADDR:HS_PORT, interleaved:
 *    in-process (TCP connect + mbedTLS handshake, verifying NAME) with
 *    TCP_NODELAY (the reference) and without (Nagle on, the default of a
 *    socket and of mbedtls_net_connect(): mbedTLS sends a flight of
 *    several records with one send() each, and Nagle holds the second
 *    until the peer's delayed ACK, about 40 ms), gateway with the IP
 *    literal ADDR,
 *    gateway with NAME (netd resolves it through its upstream, dnsmasq,
 *    each time: c-ares 1.18 keeps no cache). Gateway: connect() on the
 *    unix socket to the "OK" line.
 * 2. throughput to bench/tls/peer.py at ADDR:BULK_PORT: MIB MiB down
 *    (SEND) and up (SINK, the peer checks and acknowledges), RUNS times
 *    each, alternated; the data is checked against the pattern. The
 *    in-process client (TCP_NODELAY) reads and writes through mbedTLS,
 *    at most a record (16 KiB) a call; the app on the gateway reads and
 *    writes 64 KiB a call.
 * 3. memory: SESSIONS sessions to the peer, idle; netd's VmRSS/RssAnon
 *    before and after (and after 64 KiB echoed on each); the same number
 *    of in-process sessions, with this process's own RssAnon.
 *
 * The in-process client is configured as netd/tls.c configures its own:
 * mbedTLS defaults, verification required, TLS 1.2 at least, ctr_drbg.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "bench.h"

#define CIPHER		"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
#define PERIOD		65521		/* bench/tls/peer.py: P */
#define CHUNK		65536		/* app reads and writes */
#define IO_TIMEOUT_SEC	20		/* a stall fails the bench */
#define WARMUP		10		/* handshakes of each kind, not counted */
#define ECHO_BYTES	65536

static const char *o_sock, *o_ca, *o_addr, *o_name;
static unsigned o_hsport, o_bulkport, o_mib = 100, o_runs = 7,
    o_handshakes = 200, o_sessions = 200;
static long o_netd;
static const char *o_parts = "htm";	/* handshakes, throughput, memory */

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_x509_crt ca;
static mbedtls_ssl_config sslconf;

static uint8_t pat[PERIOD + CHUNK];
static char phase[160];			/* what is going on, for errors */
static uint64_t phase_off;		/* octets so far in it */
static uint8_t iobuf[CHUNK];

struct conn {
	bool		 gw;
	int		 fd;
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	char		 ok[256];	/* gateway: the OK line */
	uint8_t		 rb[512];	/* read ahead of a line */
	size_t		 rpos, rlen;
};

static void die(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "bench_tls: %s", msg);
	if (phase[0] != '\0')
		fprintf(stderr, " (during %s, %llu octets in)", phase,
		    (unsigned long long)phase_off);
	fputc('\n', stderr);
	if (strstr(msg, "stalled") != NULL) {
		/* Where the octets sit: netd's TCP socket, the unix ones. */
		fprintf(stderr, "bench_tls: sockets in this namespace:\n");
		fflush(stderr);
		if (system("ss -tnoi; ss -xo") != 0)
			fprintf(stderr, "bench_tls: ss failed\n");
	}
	exit(1);
}

static const char *
mbed_strerror(int rc)
{
	static char b[200];
	char e[160];

	mbedtls_strerror(rc, e, sizeof(e));
	snprintf(b, sizeof(b), "%s (-0x%04x)", e, (unsigned)-rc);
	return b;
}

static void stall_or_die(const char *, int) __attribute__((noreturn));

static void
stall_or_die(const char *what, int err)
{
	if (err == EAGAIN)
		die("%s: stalled (no progress for %d s)", what,
		    IO_TIMEOUT_SEC);
	die("%s: %s", what, strerror(err));
}

static void
set_timeouts(int fd)
{
	struct timeval tv = { IO_TIMEOUT_SEC, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		die("setsockopt: %s", strerror(errno));
}

/* --- connections: the gateway's unix stream, or in-process TLS -------- */

/* Up to len octets; 0 at the end of the stream. Dies on errors. */
static size_t
c_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n;
	int rc;

	if (c->rpos < c->rlen) {
		n = (ssize_t)(c->rlen - c->rpos);
		if ((size_t)n > len)
			n = (ssize_t)len;
		memcpy(buf, c->rb + c->rpos, (size_t)n);
		c->rpos += (size_t)n;
		return (size_t)n;
	}
	if (c->gw) {
		if ((n = read(c->fd, buf, len)) == -1)
			stall_or_die("gateway read", errno);
		return (size_t)n;
	}
	rc = mbedtls_ssl_read(&c->ssl, buf, len);
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0)
		return 0;
	if (rc < 0)
		die("in-process read: %s%s", mbed_strerror(rc),
		    rc == MBEDTLS_ERR_SSL_WANT_READ ? ": stalled (no data for "
		    "20 s)" : "");
	return (size_t)rc;
}

static void
c_write(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		if (c->gw) {
			if ((n = write(c->fd, p, len)) == -1)
				stall_or_die("gateway write", errno);
		} else {
			rc = mbedtls_ssl_write(&c->ssl, p, len);
			if (rc < 0)
				die("in-process write: %s", mbed_strerror(rc));
			n = rc;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* A line without its '\n'; NULL at the end of the stream. */
static char *
c_line(struct conn *c, char *buf, size_t size)
{
	size_t n = 0, k, i;

	for (;;) {
		if (c->rpos == c->rlen) {
			c->rpos = 0;
			if (c->gw) {
				ssize_t r = read(c->fd, c->rb, sizeof(c->rb));

				if (r == -1)
					stall_or_die("gateway read", errno);
				c->rlen = (size_t)r;
			} else {
				c->rlen = 0;	/* c_read: not from rb */
				c->rlen = c_read(c, c->rb, sizeof(c->rb));
			}
			if (c->rlen == 0)
				return NULL;
		}
		for (i = c->rpos; i < c->rlen && c->rb[i] != '\n'; i++)
			;
		k = i - c->rpos;
		if (n + k >= size)
			die("line too long");
		memcpy(buf + n, c->rb + c->rpos, k);
		n += k;
		c->rpos = i;
		if (i < c->rlen) {
			c->rpos++;
			buf[n] = '\0';
			return buf;
		}
	}
}

/* The gateway: connect, CONNECT host port, the OK line. */
static void
gw_open(struct conn *c, const char *host, unsigned port)
{
	struct sockaddr_un sun;
	char req[300];
	int n;

	memset(c, 0, sizeof(*c));
	c->gw = true;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o_sock);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	set_timeouts(c->fd);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect %s: %s", o_sock, strerror(errno));
	n = snprintf(req, sizeof(req), "CONNECT %s %u\n", host, port);
	c_write(c, req, (size_t)n);
	if (c_line(c, c->ok, sizeof(c->ok)) == NULL)
		die("gateway: EOF instead of a reply to CONNECT %s %u", host,
		    port);
	if (strncmp(c->ok, "OK ", 3) != 0)
		die("gateway: CONNECT %s %u: %s", host, port, c->ok);
}

static const char *
gw_cipher(const struct conn *c)
{
	const char *p = strrchr(c->ok, ' ');

	return p != NULL ? p + 1 : "";
}

/*
 * In-process: TCP connect to o_addr, handshake verifying o_name; nodelay:
 * TCP_NODELAY on the socket first.
 */
static void
ip_open(struct conn *c, unsigned port, bool nodelay)
{
	struct sockaddr_in sin;
	int one = 1, rc;

	memset(c, 0, sizeof(*c));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, o_addr, &sin.sin_addr) != 1)
		die("bad address %s", o_addr);
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	set_timeouts(c->fd);
	if (nodelay && setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		die("TCP_NODELAY: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect %s:%u: %s", o_addr, port, strerror(errno));
	mbedtls_net_init(&c->net);
	c->net.fd = c->fd;
	mbedtls_ssl_init(&c->ssl);
	if ((rc = mbedtls_ssl_setup(&c->ssl, &sslconf)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, o_name)) != 0)
		die("mbedtls setup: %s", mbed_strerror(rc));
	mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send,
	    mbedtls_net_recv, NULL);
	if ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0)
		die("in-process handshake with %s:%u: %s", o_addr, port,
		    mbed_strerror(rc));
}

/* Our side done, then the rest of the peer's (its close_notify). */
static void
c_close(struct conn *c)
{
	snprintf(phase, sizeof(phase), "%s close (our side shut, reading to "
	    "the end)", c->gw ? "gateway" : "in-process");
	phase_off = 0;
	if (c->gw) {
		shutdown(c->fd, SHUT_WR);
		while (c_read(c, iobuf, sizeof(iobuf)) > 0)
			;
		close(c->fd);
		return;
	}
	(void)mbedtls_ssl_close_notify(&c->ssl);
	for (;;) {
		int rc = mbedtls_ssl_read(&c->ssl, iobuf, sizeof(iobuf));

		if (rc <= 0)
			break;
	}
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
}

/* --- helpers ------------------------------------------------------------ */

static void
rss(long pid, long *vmrss, long *anon)
{
	char path[64], line[256];
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	*vmrss = *anon = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmRSS: %ld", vmrss);
		sscanf(line, "RssAnon: %ld", anon);
	}
	fclose(f);
	if (*vmrss < 0 || *anon < 0)
		die("%s: no VmRSS/RssAnon (did the process exit?)", path);
}

/* utime + stime of pid, seconds. */
static double
cpu_of(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		die("%s: unreadable", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
check_cipher(const char *what, const char *cs)
{
	if (strcmp(cs, CIPHER) != 0)
		die("%s negotiated %s, not %s", what, cs, CIPHER);
}

/* --- 1. handshakes -------------------------------------------------------- */

enum { K_IPND, K_IP, K_GWADDR, K_GWNAME, NKINDS };
static const char *const kind_name[NKINDS] = {
	"in-process, TCP_NODELAY (reference)",
	"in-process, Nagle on",
	"gateway, IP literal",
	"gateway, by name (netd resolves)",
};

static double
one_handshake(int k)
{
	struct conn c;
	double t0, t;

	snprintf(phase, sizeof(phase), "handshake: %s", kind_name[k]);
	phase_off = 0;
	t0 = now_ns();
	if (k == K_IP || k == K_IPND) {
		ip_open(&c, o_hsport, k == K_IPND);
		t = now_ns() - t0;
		check_cipher("in-process", mbedtls_ssl_get_ciphersuite(&c.ssl));
	} else {
		gw_open(&c, k == K_GWADDR ? o_addr : o_name, o_hsport);
		t = now_ns() - t0;
		check_cipher("gateway", gw_cipher(&c));
	}
	c_close(&c);
	return t;
}

static void
bench_handshakes(void)
{
	double *v[NKINDS], med[NKINDS], p99[NKINDS], p90[NKINDS];
	unsigned i, j;
	int k;

	for (k = 0; k < NKINDS; k++)
		if ((v[k] = calloc(o_handshakes, sizeof(double))) == NULL)
			die("out of memory");
	for (i = 0; i < WARMUP; i++)
		for (k = 0; k < NKINDS; k++)
			(void)one_handshake(k);
	/* Interleaved, the order rotating, so that drift hits all alike. */
	for (i = 0; i < o_handshakes; i++)
		for (j = 0; j < NKINDS; j++) {
			k = (int)((i + j) % NKINDS);
			v[k][i] = one_handshake(k) / 1e6;
		}
	for (k = 0; k < NKINDS; k++) {
		med[k] = median(v[k], o_handshakes);
		p90[k] = percentile(v[k], o_handshakes, 90);
		p99[k] = percentile(v[k], o_handshakes, 99);
	}
	printf("handshake: %u of each kind, interleaved (after %d of each not "
	    "counted), ms\n", o_handshakes, WARMUP);
	printf("peer: openssl s_server %s:%u, %s, ECDHE P-256, RSA 2048\n",
	    o_addr, o_hsport, CIPHER);
	printf("gateway: connect() on the unix socket to the OK line; "
	    "in-process: TCP connect + handshake\n");
	printf("  %-36s %8s %8s %8s %9s %9s\n", "", "median", "p90", "p99",
	    "added vs", "added vs");
	printf("  %-36s %8s %8s %8s %9s %9s\n", "", "", "", "", "NODELAY",
	    "Nagle");
	for (k = 0; k < NKINDS; k++) {
		printf("  %-36s %8.3f %8.3f %8.3f", kind_name[k], med[k],
		    p90[k], p99[k]);
		if (k == K_IPND || k == K_IP)
			printf(" %9s %9s\n", "-", "-");
		else
			printf(" %9.3f %9.3f\n", med[k] - med[K_IPND],
			    med[k] - med[K_IP]);
	}
	printf("tls handshake: gateway (by name) median %.3f ms (p99 %.3f), "
	    "in-process (TCP_NODELAY) median %.3f ms (p99 %.3f), added %.3f "
	    "ms (target <= 1 ms): %s\n", med[K_GWNAME], p99[K_GWNAME],
	    med[K_IPND], p99[K_IPND], med[K_GWNAME] - med[K_IPND],
	    med[K_GWNAME] - med[K_IPND] <= 1.0 ? "met" : "MISSED");
	printf("tls handshake: gateway (IP literal) median %.3f ms, added %.3f "
	    "ms (target <= 1 ms): %s\n", med[K_GWADDR],
	    med[K_GWADDR] - med[K_IPND],
	    med[K_GWADDR] - med[K_IPND] <= 1.0 ? "met" : "MISSED");
	printf("tls handshake: against an in-process client with Nagle on "
	    "(median %.3f ms): gateway added %.3f ms by name, %.3f ms IP "
	    "literal\n", med[K_IP], med[K_GWNAME] - med[K_IP],
	    med[K_GWADDR] - med[K_IP]);
	for (k = 0; k < NKINDS; k++)
		free(v[k]);
}

/* --- 2. throughput -------------------------------------------------------- */

/* Seconds for n octets down: SEND n, read and check them. */
static double
download(struct conn *c, uint64_t n)
{
	char cmd[64];
	uint64_t off = 0;
	size_t k, want;
	double t0;

	snprintf(cmd, sizeof(cmd), "SEND %llu\n", (unsigned long long)n);
	snprintf(phase, sizeof(phase), "%s download of %llu octets",
	    c->gw ? "gateway" : "in-process", (unsigned long long)n);
	phase_off = 0;
	t0 = now_ns();
	c_write(c, cmd, strlen(cmd));
	while (off < n) {
		want = n - off < CHUNK ? (size_t)(n - off) : CHUNK;
		if ((k = c_read(c, iobuf, want)) == 0)
			die("%s download: EOF after %llu of %llu octets",
			    c->gw ? "gateway" : "in-process",
			    (unsigned long long)off, (unsigned long long)n);
		if (memcmp(iobuf, pat + off % PERIOD, k) != 0)
			die("%s download: wrong data in octets %llu-%llu",
			    c->gw ? "gateway" : "in-process",
			    (unsigned long long)off,
			    (unsigned long long)(off + k - 1));
		off += k;
		phase_off = off;
	}
	return (now_ns() - t0) / 1e9;
}

/* Seconds for n octets up: SINK n, write them, the peer's DONE. */
static double
upload(struct conn *c, uint64_t n)
{
	char cmd[64], line[128], want[96];
	uint64_t off = 0;
	size_t k;
	double t0;

	snprintf(cmd, sizeof(cmd), "SINK %llu\n", (unsigned long long)n);
	snprintf(want, sizeof(want), "DONE %llu ok", (unsigned long long)n);
	snprintf(phase, sizeof(phase), "%s upload of %llu octets",
	    c->gw ? "gateway" : "in-process", (unsigned long long)n);
	phase_off = 0;
	t0 = now_ns();
	c_write(c, cmd, strlen(cmd));
	while (off < n) {
		k = n - off < CHUNK ? (size_t)(n - off) : CHUNK;
		c_write(c, pat + off % PERIOD, k);
		off += k;
		phase_off = off;
	}
	snprintf(phase, sizeof(phase), "%s upload of %llu octets, all "
	    "written, waiting for DONE", c->gw ? "gateway" : "in-process",
	    (unsigned long long)n);
	if (c_line(c, line, sizeof(line)) == NULL)
		die("%s upload: EOF instead of DONE", c->gw ? "gateway" :
		    "in-process");
	if (strcmp(line, want) != 0)
		die("%s upload: the peer says \"%s\"", c->gw ? "gateway" :
		    "in-process", line);
	return (now_ns() - t0) / 1e9;
}

static void
bench_throughput(void)
{
	uint64_t n = (uint64_t)o_mib << 20;
	double *d[2][2], med[2][2], lo[2][2], hi[2][2];	/* [dir][gw] */
	double netd_cpu[2] = { 0, 0 }, self_cpu[2][2] = { { 0, 0 },
	    { 0, 0 } }, tsum[2] = { 0, 0 };
	unsigned r;
	int dir, gw;

	for (dir = 0; dir < 2; dir++)
		for (gw = 0; gw < 2; gw++)
			if ((d[dir][gw] = calloc(o_runs, sizeof(double))) ==
			    NULL)
				die("out of memory");
	/* A short warm-up of each. */
	for (gw = 0; gw < 2; gw++) {
		struct conn c;

		if (gw)
			gw_open(&c, o_addr, o_bulkport);
		else
			ip_open(&c, o_bulkport, true);
		(void)download(&c, 8 << 20);
		(void)upload(&c, 8 << 20);
		c_close(&c);
	}
	for (r = 0; r < o_runs; r++)
		for (dir = 0; dir < 2; dir++)
			for (gw = 0; gw < 2; gw++) {
				int g = (int)(r + (unsigned)dir) % 2 ? !gw : gw;
				struct conn c;
				double c0, s0, t;

				if (g) {
					gw_open(&c, o_addr, o_bulkport);
					check_cipher("gateway", gw_cipher(&c));
				} else {
					ip_open(&c, o_bulkport, true);
					check_cipher("in-process",
					    mbedtls_ssl_get_ciphersuite(&c.ssl));
				}
				c0 = cpu_of(o_netd);
				s0 = cpu_self();
				t = dir == 0 ? download(&c, n) : upload(&c, n);
				self_cpu[dir][g] += cpu_self() - s0;
				if (g) {
					netd_cpu[dir] += cpu_of(o_netd) - c0;
					tsum[dir] += t;
				}
				d[dir][g][r] = (double)o_mib / t;
				c_close(&c);
			}
	for (dir = 0; dir < 2; dir++)
		for (gw = 0; gw < 2; gw++) {
			med[dir][gw] = median(d[dir][gw], o_runs);
			lo[dir][gw] = d[dir][gw][0];
			hi[dir][gw] = d[dir][gw][o_runs - 1];
		}
	printf("\nthroughput: %u MiB per run, %u runs each, alternated "
	    "(after 8 MiB of each not counted); MiB/s, median (min-max)\n",
	    o_mib, o_runs);
	printf("peer: bench/tls/peer.py (Python ssl = OpenSSL 3) %s:%u, "
	    "%s; data checked\n", o_addr, o_bulkport, CIPHER);
	printf("app: %d KiB reads/writes on the unix socket (gateway); "
	    "mbedtls_ssl_read/write, TCP_NODELAY (in-process)\n",
	    CHUNK / 1024);
	printf("  %-22s %24s %24s %8s\n", "", "gateway", "in-process", "ratio");
	for (dir = 0; dir < 2; dir++) {
		char g[64], ip[64];

		snprintf(g, sizeof(g), "%.1f (%.1f-%.1f)", med[dir][1],
		    lo[dir][1], hi[dir][1]);
		snprintf(ip, sizeof(ip), "%.1f (%.1f-%.1f)", med[dir][0],
		    lo[dir][0], hi[dir][0]);
		printf("  %-22s %24s %24s %7.2fx\n", dir == 0 ?
		    "download (peer->app)" : "upload (app->peer)", g, ip,
		    med[dir][1] / med[dir][0]);
	}
	printf("  CPU, s per GiB:        netd  app(gw)  app(in-process)\n");
	for (dir = 0; dir < 2; dir++) {
		double gib = (double)o_runs * o_mib / 1024;

		printf("  %-22s %5.2f  %7.2f  %15.2f   (netd busy %.0f%% of "
		    "the gateway runs)\n", dir == 0 ? "download" : "upload",
		    netd_cpu[dir] / gib, self_cpu[dir][1] / gib,
		    self_cpu[dir][0] / gib, 100 * netd_cpu[dir] / tsum[dir]);
	}
	for (dir = 0; dir < 2; dir++)
		printf("tls throughput %s: gateway %.1f MiB/s, in-process %.1f "
		    "MiB/s, ratio %.2f (target >= 0.80): %s\n", dir == 0 ?
		    "download" : "upload", med[dir][1], med[dir][0],
		    med[dir][1] / med[dir][0], med[dir][1] / med[dir][0] >=
		    0.80 ? "met" : "MISSED");
	for (dir = 0; dir < 2; dir++)
		for (gw = 0; gw < 2; gw++)
			free(d[dir][gw]);
}

/* --- 3. memory ------------------------------------------------------------ */

static void
echo_each(struct conn *cs, unsigned n)
{
	char cmd[32];
	unsigned i;
	size_t off, k;

	snprintf(cmd, sizeof(cmd), "ECHO %d\n", ECHO_BYTES);
	for (i = 0; i < n; i++) {
		snprintf(phase, sizeof(phase), "%s echo on session %u",
		    cs[i].gw ? "gateway" : "in-process", i);
		phase_off = 0;
		c_write(&cs[i], cmd, strlen(cmd));
		c_write(&cs[i], pat, ECHO_BYTES);
		for (off = 0; off < ECHO_BYTES; off += k) {
			if ((k = c_read(&cs[i], iobuf, ECHO_BYTES - off)) == 0)
				die("echo: EOF after %zu octets", off);
			if (memcmp(iobuf, pat + off, k) != 0)
				die("echo: wrong data");
		}
	}
}

static void
bench_memory(void)
{
	struct conn *cs;
	long r[4][2], s[4][2];	/* before, open, echoed, closed */
	unsigned i;
	int g;

	if ((cs = calloc(o_sessions, sizeof(*cs))) == NULL)
		die("out of memory");
	/* The gateway's first, then the same number in-process. */
	for (g = 1; g >= 0; g--) {
		long pid = g ? o_netd : 0;	/* 0: this process */
		long (*v)[2] = g ? r : s;

		usleep(300000);
		rss(pid, &v[0][0], &v[0][1]);
		for (i = 0; i < o_sessions; i++) {
			snprintf(phase, sizeof(phase), "%s: opening idle "
			    "session %u", g ? "gateway" : "in-process", i);
			if (g)
				gw_open(&cs[i], o_addr, o_bulkport);
			else
				ip_open(&cs[i], o_bulkport, true);
		}
		usleep(500000);
		rss(pid, &v[1][0], &v[1][1]);
		echo_each(cs, o_sessions);
		usleep(500000);
		rss(pid, &v[2][0], &v[2][1]);
		for (i = 0; i < o_sessions; i++)
			c_close(&cs[i]);
		usleep(300000);
		rss(pid, &v[3][0], &v[3][1]);
	}
	printf("\nmemory: %u TLS sessions to peer.py, opened one after the "
	    "other, then idle; KiB\n", o_sessions);
	printf("netd: its VmRSS/RssAnon (the app holds only the unix "
	    "sockets); in-process: this process's own\n");
	printf("  %-40s %9s %9s %9s %9s\n", "", "netd", "netd", "in-proc",
	    "in-proc");
	printf("  %-40s %9s %9s %9s %9s\n", "KiB", "VmRSS", "RssAnon", "VmRSS",
	    "RssAnon");
	{
		static const char *const what[4] = {
			"before",
			"sessions open, idle since the handshake",
			"after 64 KiB echoed on each, idle",
			"all closed",
		};

		for (i = 0; i < 4; i++)
			printf("  %-40s %9ld %9ld %9ld %9ld\n", what[i],
			    r[i][0], r[i][1], s[i][0], s[i][1]);
	}
	printf("  %-40s %9.1f %9.1f %9.1f %9.1f\n", "per session, idle since "
	    "the handshake", (double)(r[1][0] - r[0][0]) / o_sessions,
	    (double)(r[1][1] - r[0][1]) / o_sessions,
	    (double)(s[1][0] - s[0][0]) / o_sessions,
	    (double)(s[1][1] - s[0][1]) / o_sessions);
	printf("  %-40s %9.1f %9.1f %9.1f %9.1f\n", "per session, idle after "
	    "64 KiB each way", (double)(r[2][0] - r[0][0]) / o_sessions,
	    (double)(r[2][1] - r[0][1]) / o_sessions,
	    (double)(s[2][0] - s[0][0]) / o_sessions,
	    (double)(s[2][1] - s[0][1]) / o_sessions);
	printf("tls memory: netd %.1f KiB per idle session (RssAnon; %.1f "
	    "after 64 KiB each way), in-process %.1f KiB (%.1f), ratio %.2f "
	    "(%.2f)\n", (double)(r[1][1] - r[0][1]) / o_sessions,
	    (double)(r[2][1] - r[0][1]) / o_sessions,
	    (double)(s[1][1] - s[0][1]) / o_sessions,
	    (double)(s[2][1] - s[0][1]) / o_sessions,
	    (double)(r[1][1] - r[0][1]) / (double)(s[1][1] - s[0][1]),
	    (double)(r[2][1] - r[0][1]) / (double)(s[2][1] - s[0][1]));
	free(cs);
}

/* --- main ----------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_tls -s TLS_SOCKET -c CA_FILE -a ADDR "
	    "-n NAME -H HS_PORT -P BULK_PORT -p NETD_PID [-m MIB] [-r RUNS] "
	    "[-k HANDSHAKES] [-i SESSIONS] [-x htm]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const char pers[] = "bench_tls";
	unsigned i;
	int ch, rc;

	while ((ch = getopt(argc, argv, "s:c:a:n:H:P:p:m:r:k:i:x:")) != -1) {
		switch (ch) {
		case 's': o_sock = optarg; break;
		case 'c': o_ca = optarg; break;
		case 'a': o_addr = optarg; break;
		case 'n': o_name = optarg; break;
		case 'H': o_hsport = (unsigned)atoi(optarg); break;
		case 'P': o_bulkport = (unsigned)atoi(optarg); break;
		case 'p': o_netd = atol(optarg); break;
		case 'm': o_mib = (unsigned)atoi(optarg); break;
		case 'r': o_runs = (unsigned)atoi(optarg); break;
		case 'k': o_handshakes = (unsigned)atoi(optarg); break;
		case 'i': o_sessions = (unsigned)atoi(optarg); break;
		case 'x': o_parts = optarg; break;
		default: usage();
		}
	}
	if (o_sock == NULL || o_ca == NULL || o_addr == NULL ||
	    o_name == NULL || o_hsport == 0 || o_bulkport == 0 ||
	    o_netd <= 0 || o_mib == 0 || o_runs == 0 || o_handshakes == 0 ||
	    o_sessions == 0 || optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(pat); i++) {
		unsigned j = i % PERIOD;

		pat[i] = (uint8_t)((j * 131 + (j >> 8)) & 255);
	}

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_x509_crt_init(&ca);
	mbedtls_ssl_config_init(&sslconf);
	if ((rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	    (const unsigned char *)pers, sizeof(pers))) != 0)
		die("ctr_drbg_seed: %s", mbed_strerror(rc));
	if ((rc = mbedtls_x509_crt_parse_file(&ca, o_ca)) != 0)
		die("%s: %s", o_ca, mbed_strerror(rc));
	if ((rc = mbedtls_ssl_config_defaults(&sslconf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		die("ssl_config_defaults: %s", mbed_strerror(rc));
	mbedtls_ssl_conf_authmode(&sslconf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&sslconf, &ca, NULL);
	mbedtls_ssl_conf_rng(&sslconf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_min_version(&sslconf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);

	printf("bench_tls: uid %u, %s, netd pid %ld, gateway %s\n\n",
	    (unsigned)getuid(), MBEDTLS_VERSION_STRING_FULL, o_netd, o_sock);
	if (strchr(o_parts, 'h') != NULL)
		bench_handshakes();
	if (strchr(o_parts, 't') != NULL)
		bench_throughput();
	if (strchr(o_parts, 'm') != NULL)
		bench_memory();

	mbedtls_ssl_config_free(&sslconf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}
