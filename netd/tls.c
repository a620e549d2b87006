/*
 * tls: the TLS gateway. A session's life:
 *
 *   REQUEST    read "CONNECT host port\n" from the app (10 s), the caller's
 *              uid from SO_PEERCRED, its app, the host against its policy,
 *              the limits
 *   RESOLVE    c-ares, the upstream servers (not /etc/hosts)
 *   CONNECT    each address in turn, 5 s each
 *   HANDSHAKE  mbedTLS, 10 s: SNI, chain and name verified; the device
 *              credentials for DeviceAuthentication apps only
 *   RELAY      "OK ..." then plaintext <-> TLS, 16 KiB each way, reads
 *              stop while the other side is behind; idle timeout
 *
 * Any failure before RELAY is an "ERR reason text" line to the app, an
 * event and a log line; no byte of the app reaches the network before the
 * handshake is verified. The CA bundle and device credentials live in a
 * refcounted struct: a reload gives new sessions the new ones while open
 * sessions keep theirs.
 *
 * Memory: nothing of mbedTLS runs in the daemon before the first handshake.
 * Start and reload check that the files load in a child process; the first
 * handshake parses them (the CA bundle is a few hundred KiB of heap) and
 * seeds the random generator, the first name to resolve builds the c-ares
 * channel. All of it is kept from then on.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "apps.h"
#include "config.h"
#include "log.h"
#include "netd_tls.h"
#include "policy.h"
#include "tls.h"
#include "tlsreq.h"
#include "upstream.h"

#define RELAY_BUF		16384	/* each way */
#define REQUEST_SEC		10
#define CONNECT_SEC		5	/* per address */
#define HANDSHAKE_SEC		10
#define CLOSE_SEC		5	/* for the peer's close_notify */
#define UPSTREAM_TIMEOUT_MS	2000

enum state {
	S_REQUEST,
	S_RESOLVE,
	S_CONNECT,
	S_HANDSHAKE,
	S_RELAY,
	S_REPLY_CLOSE,	/* an ERR line goes out, then the end */
};

/*
 * The files of one configuration: checked when it was loaded, parsed by the
 * first handshake that uses them (loaded), freed with the last reference.
 */
struct creds {
	int			 refs;
	bool			 device;	/* device_cert and key given */
	bool			 loaded;
	char			*ca_file;
	char			*device_cert;	/* NULL: none */
	char			*device_key;
	mbedtls_x509_crt	 ca;
	mbedtls_x509_crt	 cert;
	mbedtls_pk_context	 key;
	mbedtls_ssl_config	 plain;
	mbedtls_ssl_config	 with_device;
};

struct session {
	struct tls_gw		*gw;
	struct creds		*cr;
	enum state		 st;
	int			 cfd;		/* the app's unix stream */
	int			 tfd;		/* TCP to the peer, or -1 */
	uid_t			 uid;
	char			*app;
	bool			 device;	/* DeviceAuthentication */
	char			 host[256];
	unsigned		 port;
	struct event		*cr_ev, *cw_ev, *tr_ev, *tw_ev, *timer;
	bool			 cr_on, cw_on, tr_on, tw_on;
	char			 line[NETD_TLS_LINE_MAX + 1];
	size_t			 linelen;
	struct sockaddr_storage	 addrs[UPSTREAM_ADDRS_MAX];
	size_t			 naddrs, next;
	int			 conn_err;
	bool			 resolving;	/* a callback will come */
	bool			 dead;		/* free it when it does */
	bool			 ssl_init;
	mbedtls_ssl_context	 ssl;
	bool			 want_write;	/* TLS waits to write */
	uint8_t			 c2t[RELAY_BUF];
	size_t			 c2t_len, c2t_off;
	size_t			 c2t_retry;	/* length of a pending write */
	uint8_t			 t2c[RELAY_BUF];
	size_t			 t2c_len, t2c_off;
	bool			 client_eof;
	bool			 notify_sent;
	bool			 peer_eof;
	bool			 peer_clean;	/* it sent close_notify */
	uint64_t		 up, down;	/* plaintext octets */
	struct session		*prev, *next_s;
};

/* Apart: the entropy context alone is 37 KiB. */
struct rng {
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
};

struct tls_gw {
	struct event_base	*base;
	struct netd_config	 conf;
	struct apps		*apps;
	tls_event_fn		*event;
	void			*event_arg;
	int			 lfd;
	struct event		*lev;
	struct event		*pause;		/* after EMFILE */
	struct upstream		*up;		/* NULL until a name */
	struct creds		*cr;
	struct creds		*next_cr;	/* a reload's, until commit */
	struct rng		*rng;		/* NULL until a handshake */
	struct session		*sessions;
	size_t			 nsessions;
	struct {
		uint64_t	 requests;
		uint64_t	 refused;	/* ERR lines */
		uint64_t	 established;
		uint64_t	 clean;		/* ended with close_notify */
		uint64_t	 aborted;	/* ended otherwise */
		uint64_t	 up, down;
	} st;
};

static void	 pump(struct session *);
static void	 session_end(struct session *, const char *);

/* --- credentials -------------------------------------------------------- */

static int
rng_ready(struct tls_gw *gw, char *err, size_t errlen)
{
	static const char pers[] = "netd tls";
	struct rng *r;

	if (gw->rng != NULL)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func,
	    &r->entropy, (const unsigned char *)pers, sizeof(pers)) != 0) {
		snprintf(err, errlen, "cannot seed the random generator");
		mbedtls_ctr_drbg_free(&r->drbg);
		mbedtls_entropy_free(&r->entropy);
		free(r);
		return -1;
	}
	gw->rng = r;
	return 0;
}

static void
rng_free(struct rng *r)
{
	if (r == NULL)
		return;
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
	free(r);
}

/* The parsed files go; the paths stay. */
static void
creds_clear(struct creds *c)
{
	if (!c->loaded)
		return;
	mbedtls_ssl_config_free(&c->plain);
	mbedtls_ssl_config_free(&c->with_device);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_pk_free(&c->key);
	c->loaded = false;
}

static void
creds_unref(struct creds *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	creds_clear(c);
	free(c->ca_file);
	free(c->device_cert);
	free(c->device_key);
	free(c);
}

/* The files of cf, not read yet. */
static struct creds *
creds_new(const struct netd_config *cf, char *err, size_t errlen)
{
	struct creds *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto oom;
	c->refs = 1;
	c->device = cf->device_cert[0] != '\0';
	if ((c->ca_file = strdup(cf->ca_file)) == NULL)
		goto oom;
	if (c->device && ((c->device_cert = strdup(cf->device_cert)) ==
	    NULL || (c->device_key = strdup(cf->device_key)) == NULL))
		goto oom;
	return c;
oom:
	snprintf(err, errlen, "out of memory");
	creds_unref(c);
	return NULL;
}

static int
conf_client(struct tls_gw *gw, mbedtls_ssl_config *sc, struct creds *c)
{
	if (mbedtls_ssl_config_defaults(sc, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	/* Verification is required; there is no switch to turn it off. */
	mbedtls_ssl_conf_authmode(sc, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(sc, &c->ca, NULL);
	mbedtls_ssl_conf_rng(sc, mbedtls_ctr_drbg_random, &gw->rng->drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(sc, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(sc, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	return 0;
}

static void
mbed_err(int rc, char *buf, size_t len)
{
	char e[160];

	mbedtls_strerror(rc, e, sizeof(e));
	snprintf(buf, len, "%s (-0x%04x)", e, (unsigned)-rc);
}

/* The device key: root's, and nobody else may read or write it. */
static int
key_is_private(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) == -1) {
		snprintf(err, errlen, "device_key %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (sb.st_uid != 0 || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "device_key %s: must belong to root "
		    "with mode 0600 or 0400 (it is uid %u, mode %04o)", path,
		    (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Parse the files of c and set up its configurations. 0, or -1 with err. */
static int
creds_load(struct tls_gw *gw, struct creds *c, char *err, size_t errlen)
{
	char e[200];
	int rc;

	if (c->loaded)
		return 0;
	if (rng_ready(gw, err, errlen) == -1)
		return -1;
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_pk_init(&c->key);
	mbedtls_ssl_config_init(&c->plain);
	mbedtls_ssl_config_init(&c->with_device);
	c->loaded = true;
	/* A bundle may hold certificates mbedTLS cannot read: skip those. */
	if ((rc = mbedtls_x509_crt_parse_file(&c->ca, c->ca_file)) < 0 ||
	    c->ca.version == 0) {
		mbed_err(rc < 0 ? rc : MBEDTLS_ERR_X509_INVALID_FORMAT, e,
		    sizeof(e));
		snprintf(err, errlen, "ca_file %s: %s", c->ca_file, e);
		goto fail;
	}
	if (c->device) {
		if (key_is_private(c->device_key, err, errlen) == -1)
			goto fail;
		if ((rc = mbedtls_x509_crt_parse_file(&c->cert,
		    c->device_cert)) != 0) {
			mbed_err(rc < 0 ? rc : MBEDTLS_ERR_X509_INVALID_FORMAT,
			    e, sizeof(e));
			snprintf(err, errlen, "device_cert %s: %s",
			    c->device_cert, e);
			goto fail;
		}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		rc = mbedtls_pk_parse_keyfile(&c->key, c->device_key, NULL,
		    mbedtls_ctr_drbg_random, &gw->rng->drbg);
#else
		rc = mbedtls_pk_parse_keyfile(&c->key, c->device_key, NULL);
#endif
		if (rc != 0) {
			mbed_err(rc, e, sizeof(e));
			snprintf(err, errlen, "device_key %s: %s",
			    c->device_key, e);
			goto fail;
		}
	}
	if (conf_client(gw, &c->plain, c) == -1 ||
	    conf_client(gw, &c->with_device, c) == -1) {
		snprintf(err, errlen, "mbedTLS configuration");
		goto fail;
	}
	if (c->device && (rc = mbedtls_ssl_conf_own_cert(&c->with_device,
	    &c->cert, &c->key)) != 0) {
		mbed_err(rc, e, sizeof(e));
		snprintf(err, errlen, "device_cert %s and device_key %s: %s",
		    c->device_cert, c->device_key, e);
		goto fail;
	}
	return 0;
fail:
	creds_clear(c);
	return -1;
}

/*
 * Whether the files of c load: creds_load() in a child, so that the parse
 * (its heap, the parser's pages) stays out of the daemon until a handshake
 * needs it. The same messages; the daemon waits, as it would for the parse.
 */
static int
creds_check(struct tls_gw *gw, struct creds *c, char *err, size_t errlen)
{
	sigset_t all;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2], st;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "TLS files check: pipe: %s",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "TLS files check: fork: %s",
		    strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* The daemon's signal events must not fire in here. */
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		close(p[0]);
		if (creds_load(gw, c, err, errlen) == 0)
			_exit(0);
		n = write(p[1], err, strlen(err));
		_exit(n == -1 ? 2 : 1);
	}
	close(p[1]);
	while (len + 1 < errlen && ((n = read(p[0], err + len, errlen -
	    len - 1)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	if (errlen > 0)
		err[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "TLS files check: waitpid: %s",
			    strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (len == 0)
		snprintf(err, errlen, "TLS files check: the child %s %d",
		    WIFSIGNALED(st) ? "died of signal" : "exited with",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return -1;
}

/* --- events and interest ------------------------------------------------ */

static void
want(struct session *s, struct event *ev, bool *on, bool yes)
{
	(void)s;
	if (ev == NULL || *on == yes)
		return;
	if (yes)
		event_add(ev, NULL);
	else
		event_del(ev);
	*on = yes;
}

static void
arm_timer(struct session *s, int sec)
{
	struct timeval tv = { sec, 0 };

	evtimer_add(s->timer, &tv);
}

static void
emit(struct session *s, const char *reason, const char *text)
{
	struct tls_gw *gw = s->gw;
	json_t *o;

	o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:I, s:s, s:s, s:I, s:I}",
	    "time", (json_int_t)time(NULL), "kind", "tls",
	    "uid", (json_int_t)s->uid, "app", s->app ? json_string(s->app) :
	    json_null(), "host", s->host, "port", (json_int_t)s->port,
	    "reason", reason, "text", text, "bytes_up", (json_int_t)s->up,
	    "bytes_down", (json_int_t)s->down);
	if (o == NULL)
		return;
	if (gw->event != NULL)
		gw->event(gw->event_arg, o);
	json_decref(o);
}

/* Refuse the request: "ERR reason text", an event, then the end. */
static void
fail(struct session *s, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct session *s, const char *reason, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("tls: uid %u app %s: %s:%u refused: %s: %s",
	    (unsigned)s->uid, s->app ? s->app : "-", s->host[0] ? s->host :
	    "?", s->port, reason, text);
	s->gw->st.refused++;
	emit(s, reason, text);
	n = snprintf((char *)s->t2c, sizeof(s->t2c), "ERR %s %s\n", reason,
	    text);
	s->t2c_len = (size_t)n < sizeof(s->t2c) ? (size_t)n : sizeof(s->t2c);
	s->t2c_off = 0;
	s->st = S_REPLY_CLOSE;
	if (s->tfd != -1) {
		want(s, s->tr_ev, &s->tr_on, false);
		want(s, s->tw_ev, &s->tw_on, false);
	}
	want(s, s->cr_ev, &s->cr_on, false);
	arm_timer(s, REQUEST_SEC);
	pump(s);
}

/* --- the TCP side ------------------------------------------------------- */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct session *s = ctx;
	ssize_t n = send(s->tfd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct session *s = ctx;
	ssize_t n = recv(s->tfd, buf, len, MSG_DONTWAIT);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void	 t_read(evutil_socket_t, short, void *);
static void	 t_write(evutil_socket_t, short, void *);

static void
close_tcp(struct session *s)
{
	if (s->tr_ev != NULL) {
		event_free(s->tr_ev);
		s->tr_ev = NULL;
	}
	if (s->tw_ev != NULL) {
		event_free(s->tw_ev);
		s->tw_ev = NULL;
	}
	s->tr_on = s->tw_on = false;
	if (s->tfd != -1)
		close(s->tfd);
	s->tfd = -1;
}

/* The next address, or "connect" when none is left. */
static void
connect_next(struct session *s)
{
	const struct sockaddr_storage *ss;
	socklen_t sl;
	int one = 1;

	close_tcp(s);
	while (s->next < s->naddrs) {
		ss = &s->addrs[s->next++];
		sl = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6);
		if ((s->tfd = socket(ss->ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
			s->conn_err = errno;
			continue;
		}
		/*
		 * mbedTLS sends each record of a flight on its own: with
		 * Nagle, the last ones wait for a delayed ACK (40 ms).
		 */
		(void)setsockopt(s->tfd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(s->tfd, (const struct sockaddr *)ss, sl) == -1 &&
		    errno != EINPROGRESS) {
			s->conn_err = errno;
			close(s->tfd);
			s->tfd = -1;
			continue;
		}
		s->tr_ev = event_new(s->gw->base, s->tfd, EV_READ | EV_PERSIST,
		    t_read, s);
		s->tw_ev = event_new(s->gw->base, s->tfd, EV_WRITE |
		    EV_PERSIST, t_write, s);
		if (s->tr_ev == NULL || s->tw_ev == NULL) {
			fail(s, NETD_TLS_E_INTERNAL, "out of memory");
			return;
		}
		s->st = S_CONNECT;
		want(s, s->tw_ev, &s->tw_on, true);
		arm_timer(s, CONNECT_SEC);
		return;
	}
	fail(s, NETD_TLS_E_CONNECT, "no address of %s port %u accepted the "
	    "connection (%zu tried, last: %s)", s->host, s->port, s->naddrs,
	    strerror(s->conn_err ? s->conn_err : ETIMEDOUT));
}

static void
start_handshake(struct session *s)
{
	struct creds *c = s->cr;
	char err[CONFIG_ERR_MAX];
	int rc;

	/* The first handshake of these credentials parses them. */
	if (creds_load(s->gw, c, err, sizeof(err)) == -1) {
		log_warnx("tls: %s", err);
		fail(s, NETD_TLS_E_INTERNAL, "%s", err);
		return;
	}
	mbedtls_ssl_init(&s->ssl);
	s->ssl_init = true;
	if ((rc = mbedtls_ssl_setup(&s->ssl, s->device && c->device ?
	    &c->with_device : &c->plain)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&s->ssl, s->host)) != 0) {
		char e[200];

		mbed_err(rc, e, sizeof(e));
		fail(s, NETD_TLS_E_INTERNAL, "%s", e);
		return;
	}
	mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
	s->st = S_HANDSHAKE;
	arm_timer(s, HANDSHAKE_SEC);
	pump(s);
}

/* Why verification failed, as the app hears it. */
static void
handshake_failed(struct session *s, int rc)
{
	uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
	char e[200], info[256];

	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0) {
		mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		info[strcspn(info, "\n")] = '\0';
		if (flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED |
		    MBEDTLS_X509_BADCERT_MISSING))
			fail(s, NETD_TLS_E_UNTRUSTED, "%s", info);
		else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
			fail(s, NETD_TLS_E_EXPIRED, "%s", info);
		else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
			fail(s, NETD_TLS_E_NAME, "the certificate is not for "
			    "%s", s->host);
		else
			fail(s, NETD_TLS_E_UNTRUSTED, "%s", info);
		return;
	}
	mbed_err(rc, e, sizeof(e));
	fail(s, NETD_TLS_E_HANDSHAKE, "%s", e);
}

/* --- the pump: every step that can make progress, then the interest ---- */

/* 1: progress, 0: none, -1: the session ended (s is freed). */
static int
relay_step(struct session *s)
{
	int progress = 0;
	ssize_t n;
	int rc;

	s->want_write = false;
	/* app -> c2t */
	if (!s->client_eof && s->c2t_len < sizeof(s->c2t)) {
		n = read(s->cfd, s->c2t + s->c2t_len, sizeof(s->c2t) -
		    s->c2t_len);
		if (n > 0) {
			s->c2t_len += (size_t)n;
			progress = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			s->client_eof = true;
			progress = 1;
		}
	}
	/* c2t -> TLS */
	if (s->c2t_off < s->c2t_len && !s->notify_sent) {
		/*
		 * After WANT_WRITE, mbedTLS wants the same call again: the
		 * record is built, only its sending is pending.
		 */
		size_t wl = s->c2t_retry ? s->c2t_retry :
		    s->c2t_len - s->c2t_off;

		rc = mbedtls_ssl_write(&s->ssl, s->c2t + s->c2t_off, wl);
		s->c2t_retry = rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    rc == MBEDTLS_ERR_SSL_WANT_READ ? wl : 0;
		if (rc > 0) {
			s->c2t_off += (size_t)rc;
			s->up += (uint64_t)rc;
			s->gw->st.up += (uint64_t)rc;
			if (s->c2t_off == s->c2t_len)
				s->c2t_off = s->c2t_len = 0;
			progress = 1;
		} else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			s->want_write = true;
		else if (rc != MBEDTLS_ERR_SSL_WANT_READ) {
			session_end(s, "tls write error");
			return -1;
		}
	}
	/* The app is done writing: close_notify. */
	if (s->client_eof && s->c2t_len == 0 && !s->notify_sent) {
		rc = mbedtls_ssl_close_notify(&s->ssl);
		if (rc == 0) {
			s->notify_sent = true;
			shutdown(s->tfd, SHUT_WR);
			progress = 1;
		} else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			s->want_write = true;
		else if (rc != MBEDTLS_ERR_SSL_WANT_READ) {
			session_end(s, "tls error at close");
			return -1;
		}
	}
	/* TLS -> t2c */
	if (!s->peer_eof && s->t2c_len < sizeof(s->t2c)) {
		rc = mbedtls_ssl_read(&s->ssl, s->t2c + s->t2c_len,
		    sizeof(s->t2c) - s->t2c_len);
		if (rc > 0) {
			s->t2c_len += (size_t)rc;
			s->down += (uint64_t)rc;
			s->gw->st.down += (uint64_t)rc;
			progress = 1;
		} else if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			s->peer_eof = s->peer_clean = true;
			progress = 1;
		} else if (rc == 0 || (rc != MBEDTLS_ERR_SSL_WANT_READ &&
		    rc != MBEDTLS_ERR_SSL_WANT_WRITE)) {
			/* Closed without close_notify, or broken. */
			s->peer_eof = true;
			progress = 1;
			if (rc != 0) {
				char e[200];

				mbed_err(rc, e, sizeof(e));
				log_info("tls: %s:%u: %s", s->host, s->port, e);
			}
		} else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			s->want_write = true;
	}
	/* t2c -> app */
	if (s->t2c_off < s->t2c_len) {
		n = write(s->cfd, s->t2c + s->t2c_off, s->t2c_len -
		    s->t2c_off);
		if (n > 0) {
			s->t2c_off += (size_t)n;
			if (s->t2c_off == s->t2c_len)
				s->t2c_off = s->t2c_len = 0;
			progress = 1;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			/* The app went away. */
			s->client_eof = true;
			s->t2c_off = s->t2c_len = 0;
			session_end(s, NULL);
			return -1;
		}
	}
	/* The peer is done and all it sent is out: the end. */
	if (s->peer_eof && s->t2c_len == 0) {
		if (s->peer_clean && !s->notify_sent &&
		    mbedtls_ssl_close_notify(&s->ssl) == 0)
			s->notify_sent = true;
		session_end(s, s->peer_clean ? NULL : "the peer closed "
		    "without close_notify");
		return -1;
	}
	return progress;
}

static void
pump(struct session *s)
{
	bool progress;
	ssize_t n;
	int rc;

	do {
		progress = false;
		switch (s->st) {
		case S_REQUEST:
		case S_RESOLVE:
		case S_CONNECT:
			return;		/* driven by their callbacks */
		case S_HANDSHAKE:
			rc = mbedtls_ssl_handshake(&s->ssl);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
			    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
				want(s, s->tr_ev, &s->tr_on,
				    rc == MBEDTLS_ERR_SSL_WANT_READ);
				want(s, s->tw_ev, &s->tw_on,
				    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
				return;
			}
			if (rc != 0) {
				handshake_failed(s, rc);
				return;
			}
			/* Verified: tell the app, then relay. */
			{
				char a[INET6_ADDRSTRLEN];
				const struct sockaddr_storage *ss =
				    &s->addrs[s->next - 1];
				int m;

				inet_ntop(ss->ss_family, ss->ss_family ==
				    AF_INET ? (const void *)&((const struct
				    sockaddr_in *)ss)->sin_addr : (const void *)
				    &((const struct sockaddr_in6 *)ss)->
				    sin6_addr, a, sizeof(a));
				m = snprintf((char *)s->t2c, sizeof(s->t2c),
				    "OK %s %u %s %s\n", a, s->port,
				    mbedtls_ssl_get_version(&s->ssl),
				    mbedtls_ssl_get_ciphersuite(&s->ssl));
				s->t2c_len = (size_t)m;
				log_info("tls: uid %u app %s: %s:%u via %s, %s "
				    "%s%s", (unsigned)s->uid, s->app, s->host,
				    s->port, a, mbedtls_ssl_get_version(
				    &s->ssl), mbedtls_ssl_get_ciphersuite(
				    &s->ssl), s->device && s->cr->device ?
				    ", device certificate offered" : "");
			}
			s->gw->st.established++;
			s->st = S_RELAY;
			arm_timer(s, (int)s->gw->conf.tls_idle_timeout);
			progress = true;
			break;
		case S_RELAY:
			switch (relay_step(s)) {
			case -1:
				return;		/* ended: s is freed */
			case 1:
				progress = true;
				/* Once both sides said goodbye, only a
				   short wait for the peer's own. */
				arm_timer(s, s->notify_sent ? CLOSE_SEC :
				    (int)s->gw->conf.tls_idle_timeout);
				break;
			}
			break;
		case S_REPLY_CLOSE:
			while (s->t2c_off < s->t2c_len) {
				n = write(s->cfd, s->t2c + s->t2c_off,
				    s->t2c_len - s->t2c_off);
				if (n > 0)
					s->t2c_off += (size_t)n;
				else if (n == -1 && errno == EAGAIN) {
					want(s, s->cw_ev, &s->cw_on, true);
					return;
				} else
					break;
			}
			session_end(s, NULL);
			return;
		}
	} while (progress);

	if (s->st != S_RELAY)
		return;
	want(s, s->cr_ev, &s->cr_on, !s->client_eof &&
	    s->c2t_len < sizeof(s->c2t));
	want(s, s->cw_ev, &s->cw_on, s->t2c_off < s->t2c_len);
	want(s, s->tr_ev, &s->tr_on, !s->peer_eof &&
	    s->t2c_len < sizeof(s->t2c));
	want(s, s->tw_ev, &s->tw_on, s->want_write);
}

/* --- callbacks ---------------------------------------------------------- */

static void
t_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	socklen_t sl = sizeof(int);
	int err = 0;

	(void)what;
	if (s->st == S_CONNECT) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err != 0) {
			s->conn_err = err;
			connect_next(s);
			return;
		}
		want(s, s->tw_ev, &s->tw_on, false);
		start_handshake(s);
		return;
	}
	pump(s);
}

static void
t_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void
c_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void
resolved(void *arg, const struct sockaddr_storage *addrs, size_t n,
    const char *err)
{
	struct session *s = arg;
	size_t i;

	s->resolving = false;
	if (s->dead) {
		session_end(s, NULL);
		return;
	}
	if (n == 0) {
		fail(s, NETD_TLS_E_RESOLVE, "%s: %s", s->host, err ? err :
		    "no address");
		return;
	}
	for (i = 0; i < n; i++) {
		s->addrs[i] = addrs[i];
		if (addrs[i].ss_family == AF_INET)
			((struct sockaddr_in *)&s->addrs[i])->sin_port =
			    htons((uint16_t)s->port);
		else
			((struct sockaddr_in6 *)&s->addrs[i])->sin6_port =
			    htons((uint16_t)s->port);
	}
	s->naddrs = n;
	s->next = 0;
	connect_next(s);
}

/* "CONNECT host port": the app, its policy, the limits, then resolve. */
static void
request(struct session *s)
{
	struct tls_gw *gw = s->gw;
	char host[TLSREQ_HOST_MAX + 1];
	struct in6_addr a6;
	struct in_addr a4;
	const char *why;
	struct app *a;

	gw->st.requests++;
	if (tlsreq_parse(s->line, host, &s->port, &why) == -1) {
		fail(s, NETD_TLS_E_BADREQ, "%s", why);
		return;
	}
	memcpy(s->host, host, sizeof(host));
	if ((a = apps_find_uid(gw->apps, s->uid)) == NULL) {
		fail(s, NETD_TLS_E_NOTAPP, "uid %u runs no app (start it with "
		    "netctl run)", (unsigned)s->uid);
		return;
	}
	if ((s->app = strdup(a->name)) == NULL) {
		fail(s, NETD_TLS_E_INTERNAL, "out of memory");
		return;
	}
	s->device = policy_has_device_auth(a->pol);
	if (inet_pton(AF_INET, host, &a4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&s->addrs[0];

		if (!policy_allows_addr(a->pol, AF_INET, &a4))
			goto denied;
		memset(&s->addrs[0], 0, sizeof(s->addrs[0]));
		sin->sin_family = AF_INET;
		sin->sin_addr = a4;
		s->naddrs = 1;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		struct sockaddr_in6 *sin6 =
		    (struct sockaddr_in6 *)&s->addrs[0];

		if (!policy_allows_addr(a->pol, AF_INET6, &a6))
			goto denied;
		memset(&s->addrs[0], 0, sizeof(s->addrs[0]));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
		s->naddrs = 1;
	} else {
		size_t i;

		for (i = 0; host[i] != '\0'; i++)
			host[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ?
			    host[i] + 32 : host[i]);
		if (host[i - 1] == '.') {
			/* The name as certificates and SNI spell it. */
			host[i - 1] = '\0';
			s->host[i - 1] = '\0';
		}
		if (!policy_allows_name(a->pol, host))
			goto denied;
	}
	if (tls_sessions(gw, s->uid) > gw->conf.tls_max_per_app) {
		fail(s, NETD_TLS_E_LIMIT, "app %s has %u TLS sessions open "
		    "(tls_max_per_app)", s->app, gw->conf.tls_max_per_app);
		return;
	}
	if (gw->nsessions > gw->conf.tls_max_sessions) {
		fail(s, NETD_TLS_E_LIMIT, "%u TLS sessions open "
		    "(tls_max_sessions)", gw->conf.tls_max_sessions);
		return;
	}
	want(s, s->cr_ev, &s->cr_on, false);
	if (s->naddrs == 1) {
		((struct sockaddr_in *)&s->addrs[0])->sin_port =
		    htons((uint16_t)s->port);	/* same offset for both */
		connect_next(s);
		return;
	}
	if (gw->up == NULL) {
		char err[CONFIG_ERR_MAX];

		/* The first name to resolve builds the c-ares channel. */
		if ((gw->up = upstream_new(gw->base, gw->conf.upstream,
		    gw->conf.nupstream, gw->conf.dns_listen,
		    gw->conf.ndns_listen, UPSTREAM_TIMEOUT_MS, err,
		    sizeof(err))) == NULL) {
			fail(s, NETD_TLS_E_RESOLVE, "%s", err);
			return;
		}
	}
	s->st = S_RESOLVE;
	s->resolving = true;
	arm_timer(s, HANDSHAKE_SEC);
	if (upstream_getaddrinfo(gw->up, host, s->port, resolved, s) == -1) {
		s->resolving = false;
		fail(s, NETD_TLS_E_INTERNAL, "out of memory");
	}
	return;
denied:
	fail(s, NETD_TLS_E_DENIED, "%s is not in the manifest of app %s",
	    host, s->app);
}

static void
c_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char *nl;
	ssize_t n;

	(void)what;
	if (s->st != S_REQUEST) {
		pump(s);
		return;
	}
	/* One line; nothing past its '\n' is read before the handshake. */
	while (s->linelen < NETD_TLS_LINE_MAX) {
		n = read(fd, s->line + s->linelen, 1);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			session_end(s, NULL);
			return;
		}
		if (n == -1)
			return;
		s->linelen++;
		s->line[s->linelen] = '\0';
		if ((nl = strchr(s->line, '\n')) != NULL) {
			*nl = '\0';
			request(s);
			return;
		}
	}
	fail(s, NETD_TLS_E_BADREQ, "request longer than %d octets",
	    NETD_TLS_LINE_MAX);
}

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	switch (s->st) {
	case S_REQUEST:
		fail(s, NETD_TLS_E_BADREQ, "no request within %d seconds",
		    REQUEST_SEC);
		break;
	case S_RESOLVE:
		/* The resolver answers in the end; it will find s dead. */
		s->dead = true;
		fail(s, NETD_TLS_E_RESOLVE, "%s: timeout", s->host);
		break;
	case S_CONNECT:
		s->conn_err = ETIMEDOUT;
		connect_next(s);
		break;
	case S_HANDSHAKE:
		fail(s, NETD_TLS_E_HANDSHAKE, "no handshake within %d seconds",
		    HANDSHAKE_SEC);
		break;
	case S_RELAY:
		/* The app closed and the peer never answered close_notify:
		   nothing was lost. */
		session_end(s, s->notify_sent ? NULL : "idle timeout");
		break;
	case S_REPLY_CLOSE:
		session_end(s, NULL);
		break;
	}
}

/* --- sessions ----------------------------------------------------------- */

/* The end of s. why: a reason for an event, NULL for a normal end. */
static void
session_end(struct session *s, const char *why)
{
	struct tls_gw *gw = s->gw;

	if (s->st == S_RELAY || s->ssl_init) {
		if (why != NULL)
			gw->st.aborted++;
		else if (s->st == S_RELAY)
			gw->st.clean++;
	}
	if (why != NULL && s->st == S_RELAY) {
		log_info("tls: uid %u app %s: %s:%u ended: %s (%llu octets up, "
		    "%llu down)", (unsigned)s->uid, s->app ? s->app : "-",
		    s->host, s->port, why, (unsigned long long)s->up,
		    (unsigned long long)s->down);
		emit(s, "aborted", why);
	}
	/* A resolver callback still to come frees s itself. */
	if (s->resolving) {
		s->dead = true;
		want(s, s->cr_ev, &s->cr_on, false);
		want(s, s->cw_ev, &s->cw_on, false);
		evtimer_del(s->timer);
		s->st = S_RESOLVE;
		return;
	}
	if (s->prev != NULL)
		s->prev->next_s = s->next_s;
	else
		gw->sessions = s->next_s;
	if (s->next_s != NULL)
		s->next_s->prev = s->prev;
	gw->nsessions--;
	if (s->ssl_init)
		mbedtls_ssl_free(&s->ssl);
	close_tcp(s);
	if (s->cr_ev != NULL)
		event_free(s->cr_ev);
	if (s->cw_ev != NULL)
		event_free(s->cw_ev);
	if (s->timer != NULL)
		event_free(s->timer);
	close(s->cfd);
	creds_unref(s->cr);
	free(s->app);
	free(s);
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_gw *gw = arg;
	struct session *s;
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	int c;

	(void)what;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: pause a second, not spin. */
			struct timeval tv = { 1, 0 };

			log_warn("tls: accept");
			event_del(gw->lev);
			event_add(gw->pause, &tv);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("tls: accept");
		return;
	}
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == -1 ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		close(c);
		return;
	}
	s->gw = gw;
	s->cfd = c;
	s->tfd = -1;
	s->uid = uc.uid;
	s->cr = gw->cr;
	gw->cr->refs++;
	s->cr_ev = event_new(gw->base, c, EV_READ | EV_PERSIST, c_read, s);
	s->cw_ev = event_new(gw->base, c, EV_WRITE | EV_PERSIST, c_write, s);
	s->timer = evtimer_new(gw->base, timer_fired, s);
	s->next_s = gw->sessions;
	if (gw->sessions != NULL)
		gw->sessions->prev = s;
	gw->sessions = s;
	gw->nsessions++;
	if (s->cr_ev == NULL || s->cw_ev == NULL || s->timer == NULL) {
		session_end(s, NULL);
		return;
	}
	want(s, s->cr_ev, &s->cr_on, true);
	arm_timer(s, REQUEST_SEC);
	/* Counted from accept: idle connections cannot pile up. */
	if (gw->nsessions > gw->conf.tls_max_sessions)
		fail(s, NETD_TLS_E_LIMIT, "%u TLS sessions open "
		    "(tls_max_sessions)", gw->conf.tls_max_sessions);
}

static void
resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct tls_gw *gw = arg;

	(void)fd;
	(void)what;
	event_add(gw->lev, NULL);
}

/* --- the gateway -------------------------------------------------------- */

static int
listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "tls_socket %s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			goto fail;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, 64) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "tls_socket %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

struct tls_gw *
tls_new(struct event_base *base, const struct netd_config *conf,
    struct apps *apps, tls_event_fn *event, void *arg, char *err,
    size_t errlen)
{
	struct tls_gw *gw;

	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gw->base = base;
	gw->conf = *conf;
	gw->apps = apps;
	gw->event = event;
	gw->event_arg = arg;
	gw->lfd = -1;
	if ((gw->cr = creds_new(conf, err, errlen)) == NULL ||
	    creds_check(gw, gw->cr, err, errlen) == -1)
		goto fail;
	if ((gw->lfd = listen_unix(conf->tls_socket, err, errlen)) == -1)
		goto fail;
	if ((gw->lev = event_new(base, gw->lfd, EV_READ | EV_PERSIST,
	    accept_cb, gw)) == NULL || event_add(gw->lev, NULL) == -1 ||
	    (gw->pause = evtimer_new(base, resume_accept, gw)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	log_info("tls: gateway on %s, CA %s, device certificate %s",
	    conf->tls_socket, conf->ca_file, gw->cr->device ?
	    conf->device_cert : "none");
	return gw;
fail:
	tls_free(gw);
	return NULL;
}

void
tls_free(struct tls_gw *gw)
{
	if (gw == NULL)
		return;
	/* Sessions still resolving hear "resolve" (or are freed) first. */
	upstream_free(gw->up);
	gw->up = NULL;
	while (gw->sessions != NULL)
		session_end(gw->sessions, NULL);
	if (gw->lev != NULL)
		event_free(gw->lev);
	if (gw->pause != NULL)
		event_free(gw->pause);
	tls_abort(gw);
	if (gw->lfd != -1) {
		close(gw->lfd);
		(void)unlink(gw->conf.tls_socket);
	}
	creds_unref(gw->cr);
	rng_free(gw->rng);
	free(gw);
}

static bool
same_servers(const struct netd_config *a, const struct netd_config *b)
{
	return a->nupstream == b->nupstream && a->ndns_listen ==
	    b->ndns_listen && memcmp(a->upstream, b->upstream,
	    sizeof(a->upstream[0]) * a->nupstream) == 0 &&
	    memcmp(a->dns_listen, b->dns_listen, sizeof(a->dns_listen[0]) *
	    a->ndns_listen) == 0;
}

int
tls_prepare(struct tls_gw *gw, const struct netd_config *c, char *err,
    size_t errlen)
{
	tls_abort(gw);
	if ((gw->next_cr = creds_new(c, err, errlen)) == NULL)
		return -1;
	if (creds_check(gw, gw->next_cr, err, errlen) == -1) {
		tls_abort(gw);
		return -1;
	}
	return 0;
}

void
tls_abort(struct tls_gw *gw)
{
	creds_unref(gw->next_cr);
	gw->next_cr = NULL;
}

void
tls_commit(struct tls_gw *gw, const struct netd_config *c)
{
	char keep[sizeof(gw->conf.tls_socket)];

	if (gw->next_cr == NULL)
		return;
	if (!same_servers(c, &gw->conf)) {
		/* Sessions still resolving get "resolve" from the old one;
		   the next name builds a channel to the new servers. */
		upstream_free(gw->up);
		gw->up = NULL;
	}
	creds_unref(gw->cr);
	gw->cr = gw->next_cr;
	gw->next_cr = NULL;
	if (strcmp(c->tls_socket, gw->conf.tls_socket) != 0)
		log_warnx("reload: tls_socket changes take effect at restart");
	memcpy(keep, gw->conf.tls_socket, sizeof(keep));
	gw->conf = *c;
	memcpy(gw->conf.tls_socket, keep, sizeof(keep));
}

void
tls_app_gone(struct tls_gw *gw, uid_t uid)
{
	struct session *s, *next;

	if (gw == NULL)
		return;
	for (s = gw->sessions; s != NULL; s = next) {
		next = s->next_s;
		if (s->uid == uid && !s->dead)
			session_end(s, s->st == S_RELAY ? "the app stopped" :
			    NULL);
	}
}

size_t
tls_sessions(const struct tls_gw *gw, uid_t uid)
{
	const struct session *s;
	size_t n = 0;

	for (s = gw->sessions; s != NULL; s = s->next_s)
		if (s->uid == uid && !s->dead)
			n++;
	return n;
}

json_t *
tls_status(const struct tls_gw *gw)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
	    "socket", gw->conf.tls_socket,
	    "sessions", (json_int_t)gw->nsessions,
	    "requests", (json_int_t)gw->st.requests,
	    "refused", (json_int_t)gw->st.refused,
	    "established", (json_int_t)gw->st.established,
	    "clean", (json_int_t)gw->st.clean,
	    "aborted", (json_int_t)gw->st.aborted,
	    "bytes_up", (json_int_t)gw->st.up,
	    "bytes_down", (json_int_t)gw->st.down,
	    "device_certificate", gw->cr->device);
}
