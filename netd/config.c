/*
 * netd.conf: one "key = value" per line, '#' to the end of a line is a
 * comment. Each key is parsed and checked on its own line, the cross-key
 * checks run at the end, and the first problem stops the parse.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes; also stops FIFOs */
#define CONFIG_SECONDS_MAX	2147483647U	/* RFC 2181 TTL limit */
#define CONFIG_ID_MAX		4294967294U	/* (uid_t)-1 means "none" */
#define CONFIG_DNS_PORT		53
#define CONFIG_QUOTE_MAX	64		/* value bytes in a message */

#define RCODE_NXDOMAIN		3
#define RCODE_REFUSED		5

/* Room for "[" IPv6 "]:" port. */
#define ADDR_STRLEN		(INET6_ADDRSTRLEN + 8)

#define FIELD_SIZE(f)		sizeof(((struct netd_config *)NULL)->f)

struct key;

typedef int	 key_parse_fn(const struct key *, struct netd_config *,
		    const char *, char *, size_t);
typedef void	 key_print_fn(const struct key *, const struct netd_config *,
		    FILE *);

struct key {
	const char	*name;
	key_parse_fn	*parse;
	key_print_fn	*print;
	size_t		 off;		/* the field */
	size_t		 size;		/* strings: size of the field */
	size_t		 noff;		/* address lists: the count */
	unsigned	 lo, hi;	/* numbers: accepted range */
	const char	*what;		/* numbers: "a number of seconds" */
	bool		 empty_ok;	/* an empty value means "none" */
};

enum num {
	NUM_OK,
	NUM_BAD,	/* not decimal digits only */
	NUM_RANGE,	/* digits, but outside [lo, hi] */
};

static key_parse_fn	parse_path, parse_group, parse_uid_range,
			parse_addrs, parse_uint, parse_bool, parse_rcode,
			parse_names;
static key_print_fn	print_str, print_uid_range, print_addrs,
			print_uint, print_bool, print_rcode;

#define K_OFF(f)	.off = offsetof(struct netd_config, f)
#define K_STR(f)	K_OFF(f), .size = FIELD_SIZE(f), .print = print_str
#define K_UINT(f, l, h)	K_OFF(f), .lo = (l), .hi = (h), \
			    .parse = parse_uint, .print = print_uint
#define K_SECONDS(f)	K_UINT(f, 0, CONFIG_SECONDS_MAX), \
			    .what = "a number of seconds"
#define K_ADDRS(f)	K_OFF(f), .noff = offsetof(struct netd_config, \
			    n##f), .parse = parse_addrs, .print = print_addrs

/* In the order of configs/netd.conf, which config_print() follows. */
static const struct key keys[] = {
	{ .name = "control_socket", K_STR(control_socket),
	    .parse = parse_path },
	{ .name = "admin_group", K_STR(admin_group),
	    .parse = parse_group, .empty_ok = true },
	{ .name = "state_dir", K_STR(state_dir),
	    .parse = parse_path },
	{ .name = "app_uid_range",
	    .parse = parse_uid_range, .print = print_uid_range },
	{ .name = "dns_listen", K_ADDRS(dns_listen) },
	{ .name = "upstream", K_ADDRS(upstream), .empty_ok = true },
	{ .name = "refuse_non_app_queries", K_OFF(refuse_non_app),
	    .parse = parse_bool, .print = print_bool },
	{ .name = "deny_rcode", K_OFF(deny_rcode),
	    .parse = parse_rcode, .print = print_rcode },
	{ .name = "min_ttl", K_SECONDS(min_ttl) },
	{ .name = "max_ttl", K_SECONDS(max_ttl) },
	{ .name = "grace", K_SECONDS(grace) },
	{ .name = "max_addrs_per_name", K_UINT(max_addrs_per_name, 1, 1024),
	    .what = "a number" },
	{ .name = "max_grants_per_app",
	    K_UINT(max_grants_per_app, 16, 1000000), .what = "a number" },
	{ .name = "cache_size", K_UINT(cache_size, 0, 10000000),
	    .what = "a number" },
	{ .name = "rebind_protection", K_OFF(rebind_protection),
	    .parse = parse_bool, .print = print_bool },
	{ .name = "rebind_allow", K_STR(rebind_allow),
	    .parse = parse_names, .empty_ok = true },
	{ .name = "tls_socket", K_STR(tls_socket), .parse = parse_path },
	{ .name = "ca_file", K_STR(ca_file), .parse = parse_path },
	{ .name = "device_cert", K_STR(device_cert), .parse = parse_path,
	    .empty_ok = true },
	{ .name = "device_key", K_STR(device_key), .parse = parse_path,
	    .empty_ok = true },
	{ .name = "tls_max_sessions", K_UINT(tls_max_sessions, 1, 65536),
	    .what = "a number" },
	{ .name = "tls_max_per_app", K_UINT(tls_max_per_app, 1, 65536),
	    .what = "a number" },
	{ .name = "tls_idle_timeout", K_UINT(tls_idle_timeout, 1, 86400),
	    .what = "a number of seconds" },
	{ .name = "nflog_group", K_UINT(nflog_group, 0, 65535),
	    .what = "a number" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static void	errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#define QUOTE_SIZE	(CONFIG_QUOTE_MAX + sizeof("''..."))
#define Q(b, s)		quote((b), (s), strlen(s))

/*
 * The n bytes at s as 's' for a message: control characters become '?'
 * (a message is one line) and a long value is cut, at a UTF-8 boundary.
 */
static const char *
quote(char buf[QUOTE_SIZE], const char *s, size_t n)
{
	size_t i, cut = n;

	if (cut > CONFIG_QUOTE_MAX) {
		cut = CONFIG_QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	buf[0] = '\'';
	for (i = 0; i < cut; i++)
		buf[i + 1] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	buf[i + 1] = '\0';
	strcat(buf, cut < n ? "...'" : "'");
	return buf;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* Decimal digits only: no sign, no white space, no base prefix. */
static enum num
num_parse(const char *s, size_t n, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long long v = 0;
	bool big = false;
	size_t i;

	if (n == 0)
		return NUM_BAD;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NUM_BAD;
		/* v <= hi < 2^32 before this step, so it cannot wrap. */
		if (!big && (v = v * 10 + (s[i] - '0')) > hi)
			big = true;
	}
	if (big || v < lo)
		return NUM_RANGE;
	*out = (unsigned)v;
	return NUM_OK;
}

static int
parse_path(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	char q[QUOTE_SIZE];
	size_t len = strlen(val);

	if (val[0] == '\0' && k->empty_ok) {
		*((char *)c + k->off) = '\0';
		return 0;
	}
	if (val[0] != '/') {
		errf(why, whylen, "%s is not an absolute path", Q(q, val));
		return -1;
	}
	if (len >= k->size) {
		errf(why, whylen, "path is longer than %zu characters",
		    k->size - 1);
		return -1;
	}
	memcpy((char *)c + k->off, val, len + 1);
	return 0;
}

/*
 * A gid (all digits) or a name in the portable character set, with the
 * trailing '$' of machine accounts. Names are resolved by the caller.
 */
static int
parse_group(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	char q[QUOTE_SIZE];
	size_t len = strlen(val), i;
	unsigned gid;

	if (len > 0 && strspn(val, "0123456789") == len) {
		if (num_parse(val, len, 0, CONFIG_ID_MAX, &gid) != NUM_OK) {
			errf(why, whylen, "gid %s is out of range (0..%u)",
			    Q(q, val), CONFIG_ID_MAX);
			return -1;
		}
	} else {
		for (i = 0; i < len; i++) {
			if (isalnum((unsigned char)val[i]) ||
			    val[i] == '_' || val[i] == '.' ||
			    (val[i] == '-' && i > 0) ||
			    (val[i] == '$' && i > 0 && i == len - 1))
				continue;
			errf(why, whylen, "%s is not a group name or gid",
			    Q(q, val));
			return -1;
		}
	}
	if (len >= k->size) {
		errf(why, whylen, "name is longer than %zu characters",
		    k->size - 1);
		return -1;
	}
	memcpy((char *)c + k->off, val, len + 1);
	return 0;
}

static int
uid_parse(const char *s, size_t n, unsigned *uid, char *why, size_t whylen)
{
	char q[QUOTE_SIZE];

	if (num_parse(s, n, 0, CONFIG_ID_MAX, uid) == NUM_RANGE) {
		errf(why, whylen, "uid %s is out of range (1..%u)",
		    quote(q, s, n), CONFIG_ID_MAX);
		return -1;
	}
	if (*uid == 0) {
		errf(why, whylen, "uid 0 (root) cannot be an app uid");
		return -1;
	}
	return 0;
}

static int
parse_uid_range(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	char q[QUOTE_SIZE];
	const char *dash;
	unsigned lo, hi;

	(void)k;
	if ((dash = strchr(val, '-')) == NULL ||
	    num_parse(val, dash - val, 0, UINT32_MAX, &lo) == NUM_BAD ||
	    num_parse(dash + 1, strlen(dash + 1), 0, UINT32_MAX, &hi) ==
	    NUM_BAD) {
		errf(why, whylen, "%s is not a range LOW-HIGH", Q(q, val));
		return -1;
	}
	if (uid_parse(val, dash - val, &lo, why, whylen) == -1 ||
	    uid_parse(dash + 1, strlen(dash + 1), &hi, why, whylen) == -1)
		return -1;
	if (lo > hi) {
		errf(why, whylen, "%s: %u is greater than %u", Q(q, val), lo,
		    hi);
		return -1;
	}
	c->uid_min = lo;
	c->uid_max = hi;
	return 0;
}

static void
addr_format(const struct config_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family, a->addr, host, sizeof(host)) == NULL)
		strcpy(host, "?");
	if (a->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, a->port);
	else
		snprintf(buf, size, "%s:%u", host, a->port);
}

/*
 * ADDR, ADDR:PORT, [ADDR6] or [ADDR6]:PORT; the n bytes at s. A bare IPv6
 * address is refused: "::1:53" would be ambiguous.
 * XXX no scope ids ("fe80::1%eth0"); listening on them needs an ifindex.
 */
static int
addr_parse(const char *s, size_t n, struct config_addr *a, char *why,
    size_t whylen)
{
	char q[QUOTE_SIZE], host[INET6_ADDRSTRLEN];
	const char *h, *end = s + n, *rest;
	size_t hlen;
	unsigned port = CONFIG_DNS_PORT;

	memset(a, 0, sizeof(*a));
	quote(q, s, n);
	if (s[0] == '[') {
		h = s + 1;
		if ((rest = memchr(h, ']', n - 1)) == NULL) {
			errf(why, whylen, "%s lacks the closing ']'", q);
			return -1;
		}
		hlen = rest - h;
		rest++;
		if (rest < end && *rest != ':') {
			errf(why, whylen, "%s: expected ':PORT' after ']'", q);
			return -1;
		}
		a->family = AF_INET6;
	} else {
		h = s;
		rest = memchr(s, ':', n);
		if (rest != NULL && memchr(rest + 1, ':', end - rest - 1) &&
		    n < sizeof(host)) {
			memcpy(host, s, n);
			host[n] = '\0';
			if (inet_pton(AF_INET6, host, a->addr) == 1) {
				errf(why, whylen, "%s: an IPv6 address goes "
				    "in brackets, as in [::1]:53", q);
				return -1;
			}
		}
		if (rest == NULL)
			rest = end;
		hlen = rest - h;
		a->family = AF_INET;
	}
	if (hlen >= sizeof(host)) {
		errf(why, whylen, "%s is not an %s address", q,
		    a->family == AF_INET6 ? "IPv6" : "IP");
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(a->family, host, a->addr) != 1) {
		errf(why, whylen, "%s is not an %s address", q,
		    a->family == AF_INET6 ? "IPv6" : "IP");
		return -1;
	}
	if (rest < end) {
		/* *rest is ':' */
		switch (num_parse(rest + 1, end - rest - 1, 1, 65535, &port)) {
		case NUM_OK:
			break;
		case NUM_BAD:
			errf(why, whylen, "%s: port is not a number", q);
			return -1;
		case NUM_RANGE:
			errf(why, whylen, "%s: port is out of range (1..65535)",
			    q);
			return -1;
		}
	}
	a->port = (uint16_t)port;
	return 0;
}

static bool
addr_eq(const struct config_addr *a, const struct config_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static int
parse_addrs(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	static const char ws[] = " \t\r\f\v";
	struct config_addr *v = (struct config_addr *)((char *)c + k->off);
	size_t *np = (size_t *)((char *)c + k->noff), n = 0, i, len;
	char q[QUOTE_SIZE];

	for (val += strspn(val, ws); *val != '\0'; val += strspn(val, ws)) {
		len = strcspn(val, ws);
		if (n == CONFIG_MAX_ADDRS) {
			errf(why, whylen, "more than %d addresses",
			    CONFIG_MAX_ADDRS);
			return -1;
		}
		if (addr_parse(val, len, &v[n], why, whylen) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			if (addr_eq(&v[i], &v[n])) {
				errf(why, whylen, "%s is listed twice",
				    quote(q, val, len));
				return -1;
			}
		}
		n++;
		val += len;
	}
	/* Leave no trace of the defaults past the new list. */
	memset(&v[n], 0, (CONFIG_MAX_ADDRS - n) * sizeof(v[0]));
	*np = n;
	return 0;
}

static int
parse_uint(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	unsigned *u = (unsigned *)((char *)c + k->off);
	char q[QUOTE_SIZE];

	switch (num_parse(val, strlen(val), k->lo, k->hi, u)) {
	case NUM_OK:
		return 0;
	case NUM_BAD:
		errf(why, whylen, "%s is not %s", Q(q, val), k->what);
		break;
	case NUM_RANGE:
		errf(why, whylen, "%s is out of range (%u..%u)", Q(q, val),
		    k->lo, k->hi);
		break;
	}
	return -1;
}

static int
parse_bool(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };
	bool *b = (bool *)((char *)c + k->off);
	char q[QUOTE_SIZE];
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	errf(why, whylen, "%s is not yes or no", Q(q, val));
	return -1;
}

/*
 * Host names and "*." wildcards separated by blanks: letters, digits, '-'
 * and '_' in labels of 1 to 63, at most 253 in all. Stored lower case,
 * one space apart.
 */
static int
parse_names(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	char *out = (char *)c + k->off, buf[CONFIG_LINE_MAX], *tok, *save;
	char q[QUOTE_SIZE];
	size_t used = 0;

	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		const char *p = tok;
		size_t label = 0, len;

		if (strncmp(p, "*.", 2) == 0)
			p += 2;
		len = strlen(p);
		for (; *p != '\0'; p++) {
			if (*p == '.') {
				if (label == 0)
					break;
				label = 0;
			} else if (isalnum((unsigned char)*p) || *p == '-' ||
			    *p == '_') {
				if (++label > 63)
					break;
			} else
				break;
		}
		if (*p != '\0' || label == 0 || len > 253) {
			errf(why, whylen, "%s is not a host name or *.name",
			    Q(q, tok));
			return -1;
		}
		for (p = tok; *p != '\0'; p++)
			tok[p - tok] = (char)tolower((unsigned char)*p);
		used += (size_t)snprintf(out + used, k->size - used, "%s%s",
		    used ? " " : "", tok);
	}
	return 0;
}

static int
parse_rcode(const struct key *k, struct netd_config *c, const char *val,
    char *why, size_t whylen)
{
	int *rcode = (int *)((char *)c + k->off);
	char q[QUOTE_SIZE];

	if (strcasecmp(val, "nxdomain") == 0)
		*rcode = RCODE_NXDOMAIN;
	else if (strcasecmp(val, "refused") == 0)
		*rcode = RCODE_REFUSED;
	else {
		errf(why, whylen, "%s is not nxdomain or refused", Q(q, val));
		return -1;
	}
	return 0;
}

static void
print_str(const struct key *k, const struct netd_config *c, FILE *fp)
{
	const char *s = (const char *)c + k->off;

	/* "key =" alone is the empty value. */
	fprintf(fp, "%s =%s%.*s\n", k->name, s[0] ? " " : "", (int)k->size,
	    s);
}

static void
print_uid_range(const struct key *k, const struct netd_config *c, FILE *fp)
{
	fprintf(fp, "%s = %u-%u\n", k->name, (unsigned)c->uid_min,
	    (unsigned)c->uid_max);
}

static void
print_addrs(const struct key *k, const struct netd_config *c, FILE *fp)
{
	const struct config_addr *v = (const struct config_addr *)
	    ((const char *)c + k->off);
	size_t n = *(const size_t *)((const char *)c + k->noff), i;
	char buf[ADDR_STRLEN];

	fprintf(fp, "%s =", k->name);
	for (i = 0; i < n && i < CONFIG_MAX_ADDRS; i++) {
		addr_format(&v[i], buf, sizeof(buf));
		fprintf(fp, " %s", buf);
	}
	fputc('\n', fp);
}

static void
print_uint(const struct key *k, const struct netd_config *c, FILE *fp)
{
	fprintf(fp, "%s = %u\n", k->name,
	    *(const unsigned *)((const char *)c + k->off));
}

static void
print_bool(const struct key *k, const struct netd_config *c, FILE *fp)
{
	fprintf(fp, "%s = %s\n", k->name,
	    *(const bool *)((const char *)c + k->off) ? "yes" : "no");
}

static void
print_rcode(const struct key *k, const struct netd_config *c, FILE *fp)
{
	int rcode = *(const int *)((const char *)c + k->off);

	if (rcode == RCODE_REFUSED)
		fprintf(fp, "%s = refused\n", k->name);
	else if (rcode == RCODE_NXDOMAIN)
		fprintf(fp, "%s = nxdomain\n", k->name);
	else	/* not from a file; printed so that it shows */
		fprintf(fp, "%s = %d\n", k->name, rcode);
}

void
config_defaults(struct netd_config *c)
{
	static const uint8_t lo4[] = { 127, 0, 0, 53 };

	memset(c, 0, sizeof(*c));
	strcpy(c->control_socket, "/run/netd/control.sock");
	strcpy(c->state_dir, "/var/lib/netd");
	c->uid_min = 10000;
	c->uid_max = 59999;
	c->dns_listen[0].family = AF_INET;
	memcpy(c->dns_listen[0].addr, lo4, sizeof(lo4));
	c->dns_listen[0].port = CONFIG_DNS_PORT;
	c->dns_listen[1].family = AF_INET6;
	c->dns_listen[1].addr[15] = 1;			/* ::1 */
	c->dns_listen[1].port = CONFIG_DNS_PORT;
	c->ndns_listen = 2;
	c->min_ttl = 0;
	c->max_ttl = 86400;
	c->grace = 5;
	c->max_addrs_per_name = 16;
	c->max_grants_per_app = 4096;
	c->nflog_group = 100;
	c->refuse_non_app = false;
	c->deny_rcode = RCODE_NXDOMAIN;
	c->cache_size = 10000;
	c->rebind_protection = true;
	strcpy(c->tls_socket, "/run/netd/tls.sock");
	strcpy(c->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	c->tls_max_sessions = 256;
	c->tls_max_per_app = 32;
	c->tls_idle_timeout = 300;
}

/* One line, comment and all; set[] holds the line each key was set on. */
static int
parse_line(struct netd_config *c, size_t set[NKEYS], size_t lineno,
    char *line, char *why, size_t whylen)
{
	char q[QUOTE_SIZE], reason[CONFIG_ERR_MAX], *p, *key, *val;
	const struct key *k;
	size_t i;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	line = trim(line);
	if (*line == '\0')
		return 0;
	if ((p = strchr(line, '=')) == NULL) {
		errf(why, whylen, "missing '='");
		return -1;
	}
	*p = '\0';
	key = trim(line);
	val = trim(p + 1);
	if (*key == '\0') {
		errf(why, whylen, "missing key before '='");
		return -1;
	}
	for (i = 0; i < NKEYS; i++)
		if (strcmp(key, keys[i].name) == 0)
			break;
	if (i == NKEYS) {
		errf(why, whylen, "unknown key %s", Q(q, key));
		return -1;
	}
	k = &keys[i];
	if (set[i] != 0) {
		errf(why, whylen, "duplicate key '%s' (first set on line %zu)",
		    k->name, set[i]);
		return -1;
	}
	set[i] = lineno;
	if (*val == '\0' && !k->empty_ok) {
		errf(why, whylen, "%s: empty value", k->name);
		return -1;
	}
	if (k->parse(k, c, val, reason, sizeof(reason)) == -1) {
		errf(why, whylen, "%s: %s", k->name, reason);
		return -1;
	}
	return 0;
}

/* What no single line can show. */
static int
cross_check(const char *name, const struct netd_config *c, char *err,
    size_t errlen)
{
	char buf[ADDR_STRLEN];
	size_t i, j;

	if ((c->device_cert[0] == '\0') != (c->device_key[0] == '\0')) {
		errf(err, errlen, "%s: device_cert and device_key go together",
		    name);
		return -1;
	}
	if (c->tls_max_per_app > c->tls_max_sessions) {
		errf(err, errlen, "%s: tls_max_per_app (%u) is more than "
		    "tls_max_sessions (%u)", name, c->tls_max_per_app,
		    c->tls_max_sessions);
		return -1;
	}
	if (c->max_ttl < c->min_ttl) {
		errf(err, errlen, "%s: max_ttl (%u) is less than min_ttl (%u)",
		    name, c->max_ttl, c->min_ttl);
		return -1;
	}
	/* XXX a wildcard listener (0.0.0.0) can loop too. */
	for (i = 0; i < c->nupstream; i++) {
		for (j = 0; j < c->ndns_listen; j++) {
			if (!addr_eq(&c->upstream[i], &c->dns_listen[j]))
				continue;
			addr_format(&c->upstream[i], buf, sizeof(buf));
			errf(err, errlen, "%s: upstream %s is also in "
			    "dns_listen (queries would loop)", name, buf);
			return -1;
		}
	}
	return 0;
}

int
config_parse(const char *name, const char *buf, size_t len,
    struct netd_config *out, char *err, size_t errlen)
{
	struct netd_config c;
	size_t set[NKEYS] = { 0 };
	char line[CONFIG_LINE_MAX + 1], why[CONFIG_ERR_MAX];
	const char *nl;
	size_t pos = 0, lineno = 0, n;

	if (name == NULL)
		name = "-";
	config_defaults(&c);
	while (pos < len) {
		lineno++;
		nl = memchr(buf + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;
		if (n > CONFIG_LINE_MAX) {
			errf(err, errlen, "%s:%zu: line is longer than %d "
			    "characters", name, lineno, CONFIG_LINE_MAX);
			return -1;
		}
		if (memchr(buf + pos, '\0', n) != NULL) {
			errf(err, errlen, "%s:%zu: line contains a NUL byte",
			    name, lineno);
			return -1;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (parse_line(&c, set, lineno, line, why, sizeof(why)) ==
		    -1) {
			errf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return -1;
		}
	}
	if (cross_check(name, &c, err, errlen) == -1)
		return -1;
	*out = c;
	return 0;
}

int
config_load(const char *path, struct netd_config *out, char *err,
    size_t errlen)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			if (cap > CONFIG_FILE_MAX) {
				errf(err, errlen, "%s: larger than %d bytes",
				    path, CONFIG_FILE_MAX);
				goto done;
			}
			/* One byte past the limit shows a file too large. */
			cap = cap ? cap * 2 : 4096;
			if (cap > CONFIG_FILE_MAX + 1)
				cap = CONFIG_FILE_MAX + 1;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				errf(err, errlen, "cannot read %s: %s", path,
				    strerror(errno));
				goto done;
			}
			buf = nbuf;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			errf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += n;
	}
	rv = config_parse(path, buf, len, out, err, errlen);
 done:
	free(buf);
	close(fd);
	return rv;
}

void
config_print(const struct netd_config *c, FILE *fp)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		keys[i].print(&keys[i], c, fp);
}
