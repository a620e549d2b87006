/*
 * upstream: c-ares on the libevent loop. c-ares tells which sockets it
 * wants watched (the sock_state callback); one event per socket calls
 * ares_process_fd(), and one timer fires at ares_timeout() for retries.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "upstream.h"

#define UPSTREAM_TRIES	2
#define ID_POOL		256	/* query ids per getrandom() */

struct sock_watch {
	struct upstream		*u;
	ares_socket_t		 fd;
	struct event		*ev;
	short			 what;
	struct sock_watch	*next;
};

struct upstream {
	struct event_base	*base;
	ares_channel		 ch;
	struct event		*timer;
	struct sock_watch	*socks;
	size_t			 pending;
	char			 servers[CONFIG_MAX_ADDRS * 56];
	uint16_t		 ids[ID_POOL];	/* fresh, used from the end */
	size_t			 nids;
};

struct send_ctx {
	struct upstream	*u;
	upstream_cb	*cb;
	void		*arg;
};

static void	 upstream_arm(struct upstream *);

static void
sock_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct sock_watch *w = arg;
	struct upstream *u = w->u;

	ares_process_fd(u->ch, what & EV_READ ? (ares_socket_t)fd :
	    ARES_SOCKET_BAD, what & EV_WRITE ? (ares_socket_t)fd :
	    ARES_SOCKET_BAD);
	upstream_arm(u);
}

static void
timer_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;

	(void)fd;
	(void)what;
	ares_process_fd(u->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	upstream_arm(u);
}

/* The next retry or timeout, if a query is pending. */
static void
upstream_arm(struct upstream *u)
{
	struct timeval tv, *t;

	if (u->timer == NULL)
		return;
	if (u->pending == 0) {
		evtimer_del(u->timer);
		return;
	}
	if ((t = ares_timeout(u->ch, NULL, &tv)) != NULL)
		evtimer_add(u->timer, t);
}

static void
sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct upstream *u = arg;
	struct sock_watch *w, **pp;
	short what = (short)((readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));

	for (pp = &u->socks; (w = *pp) != NULL; pp = &w->next)
		if (w->fd == fd)
			break;
	if (what == 0) {
		if (w != NULL) {
			*pp = w->next;
			if (w->ev != NULL)
				event_free(w->ev);
			free(w);
		}
		return;
	}
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			log_warn("upstream: socket watch");
			return;
		}
		w->u = u;
		w->fd = fd;
		w->next = u->socks;
		u->socks = w;
	} else if (w->what == what && w->ev != NULL)
		return;
	else if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	w->what = what;
	if ((w->ev = event_new(u->base, fd, what | EV_PERSIST, sock_dispatch,
	    w)) == NULL || event_add(w->ev, NULL) == -1) {
		log_warnx("upstream: cannot watch socket %d", (int)fd);
		w->what = 0;	/* try again at the next state change */
	}
}

static bool
is_self(const struct ares_addr_port_node *s, const struct config_addr *self,
    size_t n_self)
{
	size_t i;

	for (i = 0; i < n_self; i++) {
		if (self[i].family != s->family)
			continue;
		if (s->udp_port != 0 && s->udp_port != self[i].port)
			continue;
		if (memcmp(self[i].addr, &s->addr, s->family == AF_INET ? 4 :
		    16) == 0)
			return true;
	}
	return false;
}

struct upstream *
upstream_new(struct event_base *base, const struct config_addr *servers,
    size_t n, const struct config_addr *self, size_t n_self,
    unsigned timeout_ms, char *err, size_t errlen)
{
	struct ares_addr_port_node nodes[CONFIG_MAX_ADDRS], *list = NULL;
	struct ares_addr_port_node *got = NULL, *s, **tail = &list;
	static char lookups[] = "b";
	struct ares_options opt;
	struct upstream *u;
	size_t i, used = 0;
	int rc, kept = 0;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->base = base;
	memset(&opt, 0, sizeof(opt));
	opt.sock_state_cb = sock_state;
	opt.sock_state_cb_data = u;
	opt.timeout = (int)timeout_ms;
	opt.tries = UPSTREAM_TRIES;
	opt.flags = ARES_FLAG_STAYOPEN | ARES_FLAG_NOSEARCH;
	opt.lookups = lookups;		/* DNS only, never /etc/hosts */
	if ((rc = ares_init_options(&u->ch, &opt, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
	    ARES_OPT_LOOKUPS)) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(u);
		return NULL;
	}
	if (n > 0) {
		for (i = 0; i < n && i < CONFIG_MAX_ADDRS; i++) {
			memset(&nodes[i], 0, sizeof(nodes[i]));
			nodes[i].family = servers[i].family;
			memcpy(&nodes[i].addr, servers[i].addr,
			    servers[i].family == AF_INET ? 4 : 16);
			nodes[i].udp_port = servers[i].port;
			nodes[i].tcp_port = servers[i].port;
			*tail = &nodes[i];
			tail = &nodes[i].next;
		}
		kept = (int)i;
	} else if (ares_get_servers_ports(u->ch, &got) == ARES_SUCCESS) {
		/* resolv.conf, without netd itself. */
		for (s = got; s != NULL && kept < CONFIG_MAX_ADDRS;
		    s = s->next) {
			if (is_self(s, self, n_self))
				continue;
			nodes[kept] = *s;
			nodes[kept].next = NULL;
			if (nodes[kept].udp_port == 0)
				nodes[kept].udp_port = 53;
			if (nodes[kept].tcp_port == 0)
				nodes[kept].tcp_port = 53;
			*tail = &nodes[kept];
			tail = &nodes[kept].next;
			kept++;
		}
		ares_free_data(got);
	}
	if (kept == 0) {
		snprintf(err, errlen, "no upstream DNS server: set upstream in "
		    "netd.conf (resolv.conf names only netd itself)");
		ares_destroy(u->ch);
		free(u);
		return NULL;
	}
	if ((rc = ares_set_servers_ports(u->ch, list)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		ares_destroy(u->ch);
		free(u);
		return NULL;
	}
	for (s = list; s != NULL; s = s->next) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(s->family, &s->addr, a, sizeof(a));
		used += (size_t)snprintf(u->servers + used,
		    sizeof(u->servers) - used, s->family == AF_INET6 ?
		    "%s[%s]:%d" : "%s%s:%d", used ? " " : "", a, s->udp_port);
		if (used >= sizeof(u->servers))
			break;
	}
	if ((u->timer = evtimer_new(base, timer_dispatch, u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		ares_destroy(u->ch);
		free(u);
		return NULL;
	}
	return u;
}

void
upstream_free(struct upstream *u)
{
	struct sock_watch *w;

	if (u == NULL)
		return;
	event_free(u->timer);
	u->timer = NULL;
	ares_destroy(u->ch);	/* callbacks run, with ARES_EDESTRUCTION */
	while ((w = u->socks) != NULL) {
		u->socks = w->next;
		if (w->ev != NULL)
			event_free(w->ev);
		free(w);
	}
	free(u);
}

static void
answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct send_ctx *c = arg;
	struct upstream *u = c->u;

	(void)timeouts;
	u->pending--;
	if (status == ARES_SUCCESS && abuf != NULL && alen > 0)
		c->cb(c->arg, abuf, (size_t)alen, 0);
	else
		c->cb(c->arg, NULL, 0, status == ARES_EDESTRUCTION);
	free(c);
}

/*
 * A query id from the kernel's random pool. They are drawn ID_POOL at a
 * time: one getrandom() per query was a system call in eight on the
 * proxy's path, and ids read ahead are as unpredictable to others.
 */
static uint16_t
fresh_id(struct upstream *u)
{
	uint16_t id;

	if (u->nids == 0) {
		if (getrandom(u->ids, sizeof(u->ids), 0) == sizeof(u->ids))
			u->nids = ID_POOL;
		else if (getrandom(&id, sizeof(id), 0) == sizeof(id))
			return id;
		else
			return (uint16_t)random();
	}
	return u->ids[--u->nids];
}

int
upstream_send(struct upstream *u, const uint8_t *query, size_t len,
    upstream_cb *cb, void *arg)
{
	uint8_t small[512], *q = small;
	struct send_ctx *c;
	uint16_t id;

	if (len < 12 || len > 65535) {
		errno = EINVAL;
		return -1;
	}
	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	/* c-ares copies the query: a copy of ours on the stack will do. */
	if (len > sizeof(small) && (q = malloc(len)) == NULL) {
		free(c);
		return -1;
	}
	/* A fresh id the client did not choose; c-ares 1.18 sends it as is. */
	memcpy(q, query, len);
	id = fresh_id(u);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	c->u = u;
	c->cb = cb;
	c->arg = arg;
	u->pending++;
	ares_send(u->ch, q, (int)len, answer_cb, c);
	if (q != small)
		free(q);
	upstream_arm(u);
	return 0;
}

const char *
upstream_servers(const struct upstream *u)
{
	return u->servers;
}

size_t
upstream_pending(const struct upstream *u)
{
	return u->pending;
}

struct gai_ctx {
	struct upstream		*u;
	upstream_addr_cb	*cb;
	void			*arg;
};

static void
gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct gai_ctx *c = arg;
	struct sockaddr_storage v[UPSTREAM_ADDRS_MAX];
	struct ares_addrinfo_node *n;
	size_t cnt = 0;

	(void)timeouts;
	c->u->pending--;
	if (status == ARES_SUCCESS && res != NULL)
		for (n = res->nodes; n != NULL && cnt < UPSTREAM_ADDRS_MAX;
		    n = n->ai_next) {
			if ((n->ai_family != AF_INET &&
			    n->ai_family != AF_INET6) || n->ai_addr == NULL ||
			    (size_t)n->ai_addrlen > sizeof(v[0]))
				continue;
			memset(&v[cnt], 0, sizeof(v[cnt]));
			memcpy(&v[cnt], n->ai_addr, (size_t)n->ai_addrlen);
			cnt++;
		}
	if (res != NULL)
		ares_freeaddrinfo(res);
	c->cb(c->arg, v, cnt, cnt > 0 ? NULL : status == ARES_SUCCESS ?
	    "no address" : ares_strerror(status));
	free(c);
}

int
upstream_getaddrinfo(struct upstream *u, const char *host, unsigned port,
    upstream_addr_cb *cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct gai_ctx *c;
	char service[8];

	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	c->u = u;
	c->cb = cb;
	c->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	u->pending++;
	ares_getaddrinfo(u->ch, host, service, &hints, gai_cb, c);
	upstream_arm(u);
	return 0;
}
