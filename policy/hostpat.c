/*
 * AllowedConnections entries. The checks run from the most specific shape
 * (URL, host:port, placeholder, CIDR, IPv6, wildcard, IPv4) to the general
 * one (host name), so each refusal names what the author most likely meant.
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostpat.h"

static const char *const hostpat_errstr[] = {
	[HOSTPAT_OK] = "ok",
	[HOSTPAT_EEMPTY] = "empty string",
	[HOSTPAT_ESPACE] = "white space",
	[HOSTPAT_EURL] = "a URL, not a host",
	[HOSTPAT_EPORT] = "host:port",
	[HOSTPAT_EPLACEHOLDER] = "placeholder",
	[HOSTPAT_EIPV4] = "invalid IPv4 address",
	[HOSTPAT_EIPV6] = "invalid IPv6 address",
	[HOSTPAT_EPREFIX] = "invalid prefix",
	[HOSTPAT_EWILDCARD] = "invalid wildcard",
	[HOSTPAT_ENAME] = "invalid host name",
};

const char *
hostpat_strerror(enum hostpat_status st)
{
	if ((size_t)st >= sizeof(hostpat_errstr) / sizeof(hostpat_errstr[0]))
		return "unknown error";
	return hostpat_errstr[st];
}

static enum hostpat_status
fail(enum hostpat_status st, char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum hostpat_status
fail(enum hostpat_status st, char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, HOSTPAT_WHY_MAX, fmt, ap);
	va_end(ap);
	return st;
}

/* A label quoted for a message, cut to keep messages short. */
static const char *
qlabel(const char *s, size_t len, char *buf, size_t buflen)
{
	if (len > 24)
		snprintf(buf, buflen, "%.20s...", s);
	else
		snprintf(buf, buflen, "%.*s", (int)len, s);
	return buf;
}

static bool
all_digits(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Decimal value of len digits (len <= 3): strtoul would read past len. */
static unsigned
dec(const char *s, size_t len)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < len; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

static bool
is_hexpart(const char *s, size_t len)
{
	size_t i;

	if (len < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (i = 2; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Only digits, dots and 0x parts: the author meant an IPv4 address. */
static bool
looks_ipv4(const char *s, size_t len)
{
	size_t i, start = 0;
	bool hex = false;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (is_hexpart(s + start, i - start))
			hex = true;
		else if (i > start && !all_digits(s + start, i - start))
			return false;
		start = i + 1;
	}
	for (i = 0; i < len; i++)
		if (isdigit((unsigned char)s[i]))
			return true;
	return hex;
}

static enum hostpat_status
parse_ipv4(const char *s, size_t len, uint8_t out[4], char *why)
{
	size_t i, start = 0, part = 0;
	char q[32];

	if (memchr(s, '.', len) == NULL && all_digits(s, len))
		return fail(HOSTPAT_EIPV4, why,
		    "a bare number, not an address or host name (a port is "
		    "not part of an AllowedConnections entry)");
	if (len > 0 && s[len - 1] == '.' && len > 1 && s[len - 2] != '.')
		return fail(HOSTPAT_EIPV4, why,
		    "an IPv4 address takes no trailing dot");
	for (i = 0; i <= len; i++) {
		size_t plen;
		unsigned v;

		if (i < len && s[i] != '.')
			continue;
		plen = i - start;
		if (part == 4)
			return fail(HOSTPAT_EIPV4, why,
			    "IPv4 address has more than four parts");
		if (plen == 0)
			return fail(HOSTPAT_EIPV4, why,
			    "IPv4 address has an empty part");
		if (is_hexpart(s + start, plen))
			return fail(HOSTPAT_EIPV4, why,
			    "hexadecimal part '%s' is not accepted: write "
			    "the address in dotted decimal",
			    qlabel(s + start, plen, q, sizeof(q)));
		if (plen > 1 && s[start] == '0')
			return fail(HOSTPAT_EIPV4, why,
			    "part '%s' has a leading zero (read as octal by "
			    "some resolvers): write it without",
			    qlabel(s + start, plen, q, sizeof(q)));
		if (plen > 3)
			return fail(HOSTPAT_EIPV4, why,
			    "part '%s' is out of range 0-255",
			    qlabel(s + start, plen, q, sizeof(q)));
		if (!all_digits(s + start, plen))
			return fail(HOSTPAT_EIPV4, why,
			    "part '%s' is not a decimal number",
			    qlabel(s + start, plen, q, sizeof(q)));
		v = dec(s + start, plen);
		if (v > 255)
			return fail(HOSTPAT_EIPV4, why,
			    "part '%s' is out of range 0-255",
			    qlabel(s + start, plen, q, sizeof(q)));
		out[part++] = (uint8_t)v;
		start = i + 1;
	}
	if (part != 4)
		return fail(HOSTPAT_EIPV4, why,
		    "IPv4 address has %zu part%s, not four (short forms "
		    "are not accepted)", part, part == 1 ? "" : "s");
	return HOSTPAT_OK;
}

static enum hostpat_status
parse_ipv6(const char *s, size_t len, uint8_t out[16], char *why)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (memchr(s, '%', len) != NULL)
		return fail(HOSTPAT_EIPV6, why,
		    "IPv6 zone index ('%%...') is not accepted");
	if (len >= sizeof(buf))
		return fail(HOSTPAT_EIPV6, why, "not a valid IPv6 address");
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out) != 1)
		return fail(HOSTPAT_EIPV6, why, "not a valid IPv6 address");
	/* ::ffff:a.b.c.d never matches IPv4 traffic: say what to write. */
	if (memcmp(out, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		char v4[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, out + 12, v4, sizeof(v4));
		return fail(HOSTPAT_EIPV6, why, "IPv4-mapped IPv6 address: "
		    "write the IPv4 address '%s'", v4);
	}
	return HOSTPAT_OK;
}

/*
 * A host name: labels of letters, digits, hyphen and underscore (DNS-SD
 * service labels such as _http._tcp), 1-63 octets, 253 in all, one trailing
 * dot accepted. Writes the lower-case form without the dot to out.
 */
static enum hostpat_status
parse_name(const char *s, size_t len, char *out, char *why)
{
	size_t i, start = 0;
	char q[32];

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return fail(HOSTPAT_ENAME, why, "empty host name");
	if (len > HOSTPAT_NAME_MAX)
		return fail(HOSTPAT_ENAME, why,
		    "name is %zu octets long, more than %d", len,
		    HOSTPAT_NAME_MAX);
	for (i = 0; i <= len; i++) {
		size_t llen, j;
		const char *l;

		if (i < len && s[i] != '.')
			continue;
		l = s + start;
		llen = i - start;
		if (llen == 0)
			return fail(HOSTPAT_ENAME, why, "empty label%s",
			    start == 0 ? " at the start" : " ('..')");
		if (llen > HOSTPAT_LABEL_MAX)
			return fail(HOSTPAT_ENAME, why,
			    "label '%s' is %zu octets long, more than %d",
			    qlabel(l, llen, q, sizeof(q)), llen,
			    HOSTPAT_LABEL_MAX);
		for (j = 0; j < llen; j++) {
			unsigned char c = (unsigned char)l[j];

			if (isalnum(c) || c == '-' || c == '_')
				continue;
			if (c >= 0x80)
				return fail(HOSTPAT_ENAME, why,
				    "label '%s' has a non-ASCII character: "
				    "write the IDNA form ('xn--...')",
				    qlabel(l, llen, q, sizeof(q)));
			return fail(HOSTPAT_ENAME, why,
			    "label '%s' contains invalid character '%c'",
			    qlabel(l, llen, q, sizeof(q)), c);
		}
		if (l[0] == '-')
			return fail(HOSTPAT_ENAME, why,
			    "label '%s' starts with a hyphen",
			    qlabel(l, llen, q, sizeof(q)));
		if (l[llen - 1] == '-')
			return fail(HOSTPAT_ENAME, why,
			    "label '%s' ends with a hyphen",
			    qlabel(l, llen, q, sizeof(q)));
		if (i == len && all_digits(l, llen))
			return fail(HOSTPAT_ENAME, why,
			    "last label '%s' is all digits: neither a host "
			    "name nor an IPv4 address",
			    qlabel(l, llen, q, sizeof(q)));
		start = i + 1;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return HOSTPAT_OK;
}

static bool
label_has_prefix(const char *l, size_t llen, const char *pfx)
{
	size_t n = strlen(pfx);

	return llen >= n && strncmp(l, pfx, n) == 0;
}

/* Valid names that are obviously sample placeholders. name is lower case. */
static void
check_placeholder(const char *name, char *warn)
{
	const char *l = name, *dot;

	for (;;) {
		size_t llen;

		dot = strchr(l, '.');
		llen = dot ? (size_t)(dot - l) : strlen(l);
		if (label_has_prefix(l, llen, "your") ||
		    label_has_prefix(l, llen, "replace_with") ||
		    label_has_prefix(l, llen, "replace-with") ||
		    label_has_prefix(l, llen, "placeholder") ||
		    label_has_prefix(l, llen, "changeme") ||
		    (l == name && llen == 5 && strncmp(l, "enter", 5) == 0)) {
			snprintf(warn, HOSTPAT_WHY_MAX,
			    "looks like a placeholder: replace it with the "
			    "real host name");
			return;
		}
		if (dot == NULL)
			return;
		l = dot + 1;
	}
}

static void
mask_prefix(struct policy_prefix *p)
{
	size_t n = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < n; i++) {
		unsigned bits = (unsigned)p->plen > i * 8 ?
		    (unsigned)p->plen - i * 8 : 0;

		if (bits < 8)
			p->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static bool
is_unspecified(const struct policy_prefix *p)
{
	size_t n = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < n; i++)
		if (p->addr[i] != 0)
			return false;
	return true;
}

static enum hostpat_status
parse_addr(const char *s, size_t len, struct hostpat *out, char *why)
{
	struct policy_prefix *p = &out->prefix;
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	enum hostpat_status st;
	unsigned max;

	memset(p, 0, sizeof(*p));
	if (memchr(s, ':', alen) != NULL) {
		p->family = AF_INET6;
		max = 128;
		st = parse_ipv6(s, alen, p->addr, why);
	} else {
		p->family = AF_INET;
		max = 32;
		st = parse_ipv4(s, alen, p->addr, why);
	}
	if (st != HOSTPAT_OK)
		return st;
	p->plen = (uint8_t)max;
	if (slash != NULL) {
		const char *l = slash + 1;
		size_t llen = len - alen - 1;
		struct policy_prefix masked;
		char sugg[INET6_ADDRSTRLEN + 8];
		unsigned v;

		if (!all_digits(l, llen) || llen > 3)
			return fail(HOSTPAT_EPREFIX, why,
			    "prefix length '%.*s' is not a number",
			    (int)(llen > 8 ? 8 : llen), l);
		if (llen > 1 && l[0] == '0')
			return fail(HOSTPAT_EPREFIX, why,
			    "prefix length '%.*s' has a leading zero",
			    (int)llen, l);
		v = dec(l, llen);
		if (v > max)
			return fail(HOSTPAT_EPREFIX, why,
			    "prefix length %u is out of range 1-%u", v, max);
		if (v == 0)
			return fail(HOSTPAT_EPREFIX, why,
			    "prefix length 0 would allow every address: list "
			    "the networks the app needs");
		p->plen = (uint8_t)v;
		masked = *p;
		mask_prefix(&masked);
		if (memcmp(masked.addr, p->addr, sizeof(p->addr)) != 0) {
			hostpat_prefix_str(&masked, sugg, sizeof(sugg));
			return fail(HOSTPAT_EPREFIX, why,
			    "host bits are set after /%u: did you mean %s?",
			    v, sugg);
		}
	}
	if (is_unspecified(p) && p->plen == max)
		return fail(p->family == AF_INET ? HOSTPAT_EIPV4 :
		    HOSTPAT_EIPV6, why,
		    "the unspecified address is not a destination");
	out->kind = HOSTPAT_PREFIX;
	return HOSTPAT_OK;
}

enum hostpat_status
hostpat_parse(const char *s, size_t len, struct hostpat *out, char *why)
{
	const char *p, *colon;
	enum hostpat_status st;
	size_t i, ncolon = 0;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (len == 0)
		return fail(HOSTPAT_EEMPTY, why, "empty string");
	if (memchr(s, '<', len) || memchr(s, '>', len) ||
	    memchr(s, '{', len) || memchr(s, '}', len))
		return fail(HOSTPAT_EPLACEHOLDER, why,
		    "placeholder: replace it with the real host name or "
		    "address");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f') {
			bool edge = i == 0 || i == len - 1;

			return fail(HOSTPAT_ESPACE, why, "%s white space",
			    edge ? "leading or trailing" :
			    memchr(s, '.', len) ? "label contains" :
			    "contains");
		}
		if (c < 0x20 || c == 0x7f)
			return fail(HOSTPAT_ESPACE, why,
			    "contains control character 0x%02x", c);
		if (c == ':')
			ncolon++;
	}
	if ((p = memmem(s, len, "://", 3)) != NULL) {
		const char *h = p + 3, *e = h;

		while (e < s + len && *e != '/' && *e != ':' && *e != '?')
			e++;
		return fail(HOSTPAT_EURL, why,
		    "a URL, not a host: write only the host name ('%.*s')",
		    (int)(e - h > 64 ? 64 : e - h), h);
	}
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb != NULL && rb + 1 < s + len && rb[1] == ':')
			return fail(HOSTPAT_EPORT, why,
			    "host:port: a port is not part of an "
			    "AllowedConnections entry, write the address alone");
		return fail(HOSTPAT_EIPV6, why,
		    "IPv6 address in brackets: write it without them");
	}
	if (ncolon == 1) {
		colon = memchr(s, ':', len);
		if (all_digits(colon + 1, (size_t)(s + len - colon - 1)))
			return fail(HOSTPAT_EPORT, why,
			    "host:port: a port is not part of an "
			    "AllowedConnections entry, write '%.*s' alone",
			    (int)(colon - s > 64 ? 64 : colon - s), s);
		return fail(HOSTPAT_ENAME, why,
		    "contains invalid character ':'");
	}
	if (ncolon > 1)
		return parse_addr(s, len, out, why);
	if (memchr(s, '*', len) != NULL) {
		if (len == 1)
			return fail(HOSTPAT_EWILDCARD, why,
			    "a lone '*' would allow every host");
		if (len < 3 || s[0] != '*' || s[1] != '.' ||
		    memchr(s + 1, '*', len - 1) != NULL)
			return fail(HOSTPAT_EWILDCARD, why,
			    "'*' is only allowed as the whole first label, "
			    "as in '*.example.com'");
		if (looks_ipv4(s + 2, len - 2))
			return fail(HOSTPAT_EWILDCARD, why,
			    "a wildcard must end in a host name, not an "
			    "address");
		st = parse_name(s + 2, len - 2, out->name, why);
		if (st != HOSTPAT_OK)
			return st;
		out->kind = HOSTPAT_WILDCARD;
		if (strchr(out->name, '.') == NULL)
			snprintf(out->warn, HOSTPAT_WHY_MAX,
			    "wildcard covers the whole top-level domain "
			    "'%.63s'", out->name);
		else
			check_placeholder(out->name, out->warn);
		return HOSTPAT_OK;
	}
	if (memchr(s, '/', len) != NULL) {
		const char *slash = memchr(s, '/', len);

		if (looks_ipv4(s, (size_t)(slash - s)))
			return parse_addr(s, len, out, why);
		return fail(HOSTPAT_ENAME, why,
		    "contains '/': a host name has no path, and a prefix "
		    "needs an address ('192.0.2.0/24')");
	}
	if (looks_ipv4(s, len))
		return parse_addr(s, len, out, why);
	st = parse_name(s, len, out->name, why);
	if (st != HOSTPAT_OK)
		return st;
	out->kind = HOSTPAT_NAME;
	check_placeholder(out->name, out->warn);
	return HOSTPAT_OK;
}

int
hostpat_normalize(const char *name, char *out)
{
	size_t len = strlen(name), i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > HOSTPAT_NAME_MAX || name[0] == '.')
		return -1;
	for (i = 0; i < len; i++) {
		/* An empty label never matches: "a..cdn.test", ".cdn.test". */
		if (name[i] == '.' && name[i + 1] == '.')
			return -1;
		out[i] = (char)tolower((unsigned char)name[i]);
	}
	out[len] = '\0';
	return (int)len;
}

void
hostpat_prefix_str(const struct policy_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	unsigned max = p->family == AF_INET ? 32 : 128;

	if (inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	if (p->plen == max)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, (unsigned)p->plen);
}

/*
 * hostset: open addressing with linear probing, power-of-two capacity,
 * load factor at most 1/2. Names are stored lower case; lookups are given
 * lower-case names (hostpat_normalize), so comparison is memcmp.
 */
struct hostset_slot {
	uint64_t	 hash;
	char		*name;		/* NULL: empty */
	size_t		 len;
};

struct hostset {
	struct hostset_slot	*slots;
	size_t			 cap;
	size_t			 count;
};

static uint64_t
hash_name(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct hostset *
hostset_new(void)
{
	return calloc(1, sizeof(struct hostset));
}

void
hostset_free(struct hostset *hs)
{
	size_t i;

	if (hs == NULL)
		return;
	for (i = 0; i < hs->cap; i++)
		free(hs->slots[i].name);
	free(hs->slots);
	free(hs);
}

static struct hostset_slot *
find_slot(struct hostset_slot *slots, size_t cap, uint64_t h,
    const char *name, size_t len)
{
	size_t i = (size_t)h & (cap - 1);

	while (slots[i].name != NULL) {
		if (slots[i].hash == h && slots[i].len == len &&
		    memcmp(slots[i].name, name, len) == 0)
			break;
		i = (i + 1) & (cap - 1);
	}
	return &slots[i];
}

static int
grow(struct hostset *hs)
{
	size_t ncap = hs->cap ? hs->cap * 2 : 16, i;
	struct hostset_slot *ns;

	if (ncap > SIZE_MAX / sizeof(*ns)) {
		errno = ENOMEM;
		return -1;
	}
	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < hs->cap; i++) {
		struct hostset_slot *o = &hs->slots[i];

		if (o->name != NULL)
			*find_slot(ns, ncap, o->hash, o->name, o->len) = *o;
	}
	free(hs->slots);
	hs->slots = ns;
	hs->cap = ncap;
	return 0;
}

int
hostset_add(struct hostset *hs, const char *name, size_t len)
{
	uint64_t h = hash_name(name, len);
	struct hostset_slot *s;

	if ((hs->count + 1) * 2 > hs->cap && grow(hs) == -1)
		return -1;
	s = find_slot(hs->slots, hs->cap, h, name, len);
	if (s->name != NULL)
		return 0;
	if ((s->name = malloc(len + 1)) == NULL)
		return -1;
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	s->hash = h;
	s->len = len;
	hs->count++;
	return 1;
}

bool
hostset_contains(const struct hostset *hs, const char *name, size_t len)
{
	if (hs->count == 0)
		return false;
	return find_slot(hs->slots, hs->cap, hash_name(name, len), name,
	    len)->name != NULL;
}

size_t
hostset_count(const struct hostset *hs)
{
	return hs->count;
}
