/*
 * The compiled per-app policy: exact names and wildcard suffixes in hash
 * sets, address prefixes and server ports in sorted arrays.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostpat.h"
#include "policy_int.h"

const char *const policy_flag_key[POLICY_F_COUNT] = {
	[POLICY_F_NETWORK_CONFIG] = "NetworkConfig",
	[POLICY_F_SNTP_SERVICE] = "SntpService",
	[POLICY_F_DHCP_SERVICE] = "DhcpService",
	[POLICY_F_CERT_STORE] = "CertStore",
	[POLICY_F_READ_NETWORK_PROXY_CONFIG] = "ReadNetworkProxyConfig",
};

struct policy *
policy_new(void)
{
	struct policy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->exact = hostset_new();
	p->wild = hostset_new();
	if (p->exact == NULL || p->wild == NULL) {
		policy_free(p);
		return NULL;
	}
	return p;
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->name);
	free(p->component_id);
	free(p->entry_point);
	free(p->app_type);
	free(p->device_auth);
	hostset_free(p->exact);
	hostset_free(p->wild);
	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->pfx4.v);
	free(p->pfx6.v);
	free(p->tcp.v);
	free(p->udp.v);
	free(p);
}

static int
push_name(struct policy *p, const char *name)
{
	char *s;

	if (p->nnames == p->names_cap) {
		size_t ncap = p->names_cap ? p->names_cap * 2 : 8;
		char **n;

		if ((n = reallocarray(p->names, ncap, sizeof(*n))) == NULL)
			return -1;
		p->names = n;
		p->names_cap = ncap;
	}
	if ((s = strdup(name)) == NULL)
		return -1;
	p->names[p->nnames++] = s;
	return 0;
}

static int
push_prefix(struct policy_prefixes *l, const struct policy_prefix *pfx)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].plen == pfx->plen &&
		    memcmp(l->v[i].addr, pfx->addr, sizeof(pfx->addr)) == 0)
			return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4;
		struct policy_prefix *v;

		if ((v = reallocarray(l->v, ncap, sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n++] = *pfx;
	return 1;
}

int
policy_add_pattern(struct policy *p, const struct hostpat *hp)
{
	char buf[HOSTPAT_NAME_MAX + 3];
	int r;

	switch (hp->kind) {
	case HOSTPAT_NAME:
		r = hostset_add(p->exact, hp->name, strlen(hp->name));
		if (r == 1 && push_name(p, hp->name) == -1)
			return -1;
		return r;
	case HOSTPAT_WILDCARD:
		r = hostset_add(p->wild, hp->name, strlen(hp->name));
		snprintf(buf, sizeof(buf), "*.%s", hp->name);
		if (r == 1 && push_name(p, buf) == -1)
			return -1;
		return r;
	case HOSTPAT_PREFIX:
		return push_prefix(hp->prefix.family == AF_INET ? &p->pfx4 :
		    &p->pfx6, &hp->prefix);
	}
	errno = EINVAL;
	return -1;
}

int
policy_add_port(struct policy *p, int proto, uint16_t port)
{
	struct policy_ports *l = proto == IPPROTO_TCP ? &p->tcp : &p->udp;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == port)
			return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4;
		uint16_t *v;

		if ((v = reallocarray(l->v, ncap, sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n++] = port;
	return 1;
}

/* Names first, then wildcards, each in byte order. */
static int
cmp_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int wx = x[0] == '*', wy = y[0] == '*';

	if (wx != wy)
		return wx - wy;
	return strcmp(x, y);
}

static int
cmp_prefix(const void *a, const void *b)
{
	const struct policy_prefix *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	if (c != 0)
		return c;
	return (int)x->plen - (int)y->plen;
}

static int
cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static bool	prefix_match(const struct policy_prefix *, const uint8_t *);

bool
policy_prefix_covered(const struct policy *p, const struct policy_prefix *x,
    struct policy_prefix *by)
{
	const struct policy_prefixes *l = x->family == AF_INET ? &p->pfx4 :
	    &p->pfx6;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].plen < x->plen && prefix_match(&l->v[i], x->addr)) {
			if (by != NULL)
				*by = l->v[i];
			return true;
		}
	return false;
}

static void
prune(const struct policy *p, struct policy_prefixes *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->n; i++)
		if (!policy_prefix_covered(p, &l->v[i], NULL))
			l->v[j++] = l->v[i];
	l->n = j;
}

/* qsort(NULL, 0, ...) is undefined: empty lists have no array. */
static void
sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

void
policy_finish(struct policy *p)
{
	prune(p, &p->pfx4);
	prune(p, &p->pfx6);
	sort(p->names, p->nnames, sizeof(*p->names), cmp_name);
	sort(p->pfx4.v, p->pfx4.n, sizeof(*p->pfx4.v), cmp_prefix);
	sort(p->pfx6.v, p->pfx6.n, sizeof(*p->pfx6.v), cmp_prefix);
	sort(p->tcp.v, p->tcp.n, sizeof(*p->tcp.v), cmp_port);
	sort(p->udp.v, p->udp.n, sizeof(*p->udp.v), cmp_port);
}

const char *
policy_get_name(const struct policy *p)
{
	return p->name;
}

const char *
policy_get_component_id(const struct policy *p)
{
	return p->component_id;
}

bool
policy_has_device_auth(const struct policy *p)
{
	return p->device_auth != NULL;
}

const char *
policy_get_device_auth(const struct policy *p)
{
	return p->device_auth;
}

bool
policy_allows_name(const struct policy *p, const char *name)
{
	char buf[HOSTPAT_NAME_MAX + 1];
	int len;
	size_t i;

	if ((len = hostpat_normalize(name, buf)) == -1)
		return false;
	if (hostset_contains(p->exact, buf, (size_t)len))
		return true;
	if (hostset_count(p->wild) == 0)
		return false;
	/* Each proper suffix that starts after a dot: one lookup a label. */
	for (i = 0; i < (size_t)len; i++)
		if (buf[i] == '.' && i + 1 < (size_t)len &&
		    hostset_contains(p->wild, buf + i + 1, (size_t)len - i - 1))
			return true;
	return false;
}

static const struct policy_prefixes *
prefixes(const struct policy *p, int family)
{
	return family == AF_INET ? &p->pfx4 : &p->pfx6;
}

size_t
policy_prefix_count(const struct policy *p, int family)
{
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return prefixes(p, family)->n;
}

const struct policy_prefix *
policy_prefix_get(const struct policy *p, int family, size_t i)
{
	if (i >= policy_prefix_count(p, family))
		return NULL;
	return &prefixes(p, family)->v[i];
}

static bool
prefix_match(const struct policy_prefix *pfx, const uint8_t *a)
{
	unsigned full = pfx->plen / 8, rest = pfx->plen % 8;

	if (memcmp(pfx->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((pfx->addr[full] ^ a[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool
policy_allows_addr(const struct policy *p, int family, const void *addr)
{
	size_t i, n = policy_prefix_count(p, family);

	for (i = 0; i < n; i++)
		if (prefix_match(&prefixes(p, family)->v[i], addr))
			return true;
	return false;
}

size_t
policy_port_count(const struct policy *p, int proto)
{
	if (proto == IPPROTO_TCP)
		return p->tcp.n;
	if (proto == IPPROTO_UDP)
		return p->udp.n;
	return 0;
}

uint16_t
policy_port_get(const struct policy *p, int proto, size_t i)
{
	const struct policy_ports *l = proto == IPPROTO_TCP ? &p->tcp : &p->udp;

	if (i >= policy_port_count(p, proto))
		return 0;
	return l->v[i];
}

size_t
policy_name_count(const struct policy *p)
{
	return p->nnames;
}

const char *
policy_name_get(const struct policy *p, size_t i)
{
	return i < p->nnames ? p->names[i] : NULL;
}
