/*
 * netd: main, configuration, the registry of apps wired to the nftables
 * programmer, the control socket and the event loop.
 *
 * Start-up: config -> netlink -> restore running apps -> rebuild the whole
 * table in one transaction -> control socket -> (daemonize) -> loop.
 * SIGHUP reloads the config and re-applies every policy in one transaction.
 * SIGTERM/SIGINT exit and leave the kernel rules in place: fail closed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "apps.h"
#include "config.h"
#include "control.h"
#include "dnsproxy.h"
#include "log.h"
#include "netd_ipc.h"
#include "nflog.h"
#include "nft.h"
#include "policy.h"
#include "tls.h"

#ifndef NETD_VERSION
#define NETD_VERSION "0.0.0"
#endif
#define NETD_CONF_DEFAULT	"/etc/netd/netd.conf"
#define NETD_EVENTS		256	/* recent events kept for netctl */

struct netd {
	struct netd_config	 conf;
	const char		*conf_path;
	bool			 conf_explicit;
	gid_t			 admin_gid;
	struct event_base	*base;
	struct nft		*nft;
	struct apps		*apps;
	struct control		*ctl;
	time_t			 started;
	uint64_t		 registrations;
	struct nflog		*nflog;
	struct dnsproxy		*dns;
	struct tls_gw		*tls;
	json_t			*events[NETD_EVENTS];	/* ring, oldest first */
	size_t			 nevents;
	size_t			 event_next;
	uint64_t		 denied;
};

static void	 app_watch(struct netd *, struct app *);
static void	 app_unwatch(struct app *);
static void	 event_cb(const struct nflog_event *, void *);
static json_t	*req_events(struct netd *, json_t *, struct control_peer *);
static void	 event_add_json(struct netd *, json_t *);

/* "" is root only ((gid_t)-1); a name or a number. 0 or -1. */
static int
resolve_group(const char *name, gid_t *out, char *err, size_t errlen)
{
	struct group *gr;
	char *end;
	unsigned long g;

	*out = (gid_t)-1;
	if (name[0] == '\0')
		return 0;
	g = strtoul(name, &end, 10);
	if (*end == '\0' && end != name) {
		*out = (gid_t)g;
		return 0;
	}
	if ((gr = getgrnam(name)) == NULL) {
		snprintf(err, errlen, "admin_group: no group '%s'", name);
		return -1;
	}
	*out = gr->gr_gid;
	return 0;
}

/* A missing default file means the built-in defaults; -c must exist. */
static int
load_config(struct netd *d, struct netd_config *c, char *err, size_t errlen)
{
	if (!d->conf_explicit && access(d->conf_path, F_OK) == -1 &&
	    errno == ENOENT) {
		config_defaults(c);
		return 0;
	}
	return config_load(d->conf_path, c, err, errlen);
}

static void
layout_of(const struct netd_config *c, struct nft_layout *lay)
{
	size_t i;

	memset(lay, 0, sizeof(*lay));
	lay->uid_min = c->uid_min;
	lay->uid_max = c->uid_max;
	lay->nflog_group = (uint16_t)c->nflog_group;
	lay->max_grants_per_app = c->max_grants_per_app;
	for (i = 0; i < c->ndns_listen && i < NFT_DNS_MAX; i++) {
		lay->dns[i].family = c->dns_listen[i].family;
		memcpy(lay->dns[i].addr, c->dns_listen[i].addr, 16);
		lay->dns[i].port = c->dns_listen[i].port;
	}
	lay->ndns = i;
}

static size_t
app_list(struct netd *d, struct nft_app **out)
{
	size_t i, n = apps_count(d->apps);
	struct nft_app *v = calloc(n ? n : 1, sizeof(*v));

	if (v == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		struct app *a = apps_get(d->apps, i);

		v[i].uid = a->uid;
		v[i].name = a->name;
		v[i].pol = a->pol;
	}
	*out = v;
	return n;
}

static int
rebuild(struct netd *d, char *err, size_t errlen)
{
	struct nft_app *v;
	size_t n = app_list(d, &v);
	int rc = nft_rebuild(d->nft, v, n, err, errlen);

	free(v);
	return rc;
}

/* An app's process exited: its rules and grants go. */
static void
app_remove(struct netd *d, struct app *a, const char *why)
{
	struct nft_app na = { a->uid, a->name, a->pol };
	char err[NFT_ERR_MAX];

	if (nft_app_del(d->nft, &na, err, sizeof(err)) == -1)
		log_warnx("app %s (uid %u): removing rules: %s", a->name,
		    (unsigned)a->uid, err);
	else
		log_info("app %s (uid %u) %s: rules removed", a->name,
		    (unsigned)a->uid, why);
	dnsproxy_forget_uid(d->dns, a->uid);
	tls_app_gone(d->tls, a->uid);
	app_unwatch(a);
	apps_remove(d->apps, a);
}

struct watch {
	struct netd	*d;
	struct app	*a;
	struct event	*ev;
};

static void
app_dispatch_exit(int fd, short ev, void *arg)
{
	struct watch *w = arg;

	(void)fd;
	(void)ev;
	app_remove(w->d, w->a, "exited");
}

static void
app_watch(struct netd *d, struct app *a)
{
	struct watch *w;

	if (a->pidfd == -1)
		a->pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
	if (a->pidfd == -1) {
		log_warn("pidfd_open %d", (int)a->pid);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->d = d;
	w->a = a;
	w->ev = event_new(d->base, a->pidfd, EV_READ, app_dispatch_exit, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1)
		fatalx("%s: event", __func__);
	a->watch = w;
}

static void
app_unwatch(struct app *a)
{
	struct watch *w = a->watch;

	if (w == NULL)
		return;
	event_free(w->ev);
	free(w);
	a->watch = NULL;
}

static json_t *
str_array(const struct policy *p, int family)
{
	json_t *a = json_array();
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	if (family == 0) {
		for (i = 0; i < policy_name_count(p); i++)
			json_array_append_new(a,
			    json_string(policy_name_get(p, i)));
		return a;
	}
	for (i = 0; i < policy_prefix_count(p, family); i++) {
		const struct policy_prefix *pp = policy_prefix_get(p, family,
		    i);
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(family, pp->addr, addr, sizeof(addr));
		if (pp->plen == (family == AF_INET ? 32 : 128))
			snprintf(buf, sizeof(buf), "%s", addr);
		else
			snprintf(buf, sizeof(buf), "%s/%u", addr,
			    (unsigned)pp->plen);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *
port_array(const struct policy *p, int proto)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < policy_port_count(p, proto); i++)
		json_array_append_new(a,
		    json_integer(policy_port_get(p, proto, i)));
	return a;
}

static json_t *
app_summary(const struct app *a)
{
	const struct policy *p = a->pol;

	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I, "
	    "s:{s:I, s:I, s:I, s:I}}",
	    "name", a->name, "component_id", a->component_id,
	    "uid", (json_int_t)a->uid, "pid", (json_int_t)a->pid,
	    "file", a->file, "started", (json_int_t)a->started,
	    "entries", (json_int_t)(policy_name_count(p) +
	    policy_prefix_count(p, AF_INET) + policy_prefix_count(p, AF_INET6)),
	    "denied", (json_int_t)a->denied,
	    "dns", "queries", (json_int_t)a->dns_queries,
	    "allowed", (json_int_t)a->dns_allowed,
	    "denied", (json_int_t)a->dns_denied,
	    "cache_hits", (json_int_t)a->dns_cache_hits);
}

static json_t *
req_status(struct netd *d)
{
	const struct nft_stats *st = nft_get_stats(d->nft);
	ssize_t ng = nft_grants_count(d->nft);
	size_t i, s4 = 0, s6 = 0, srv = 0;
	json_t *o;

	for (i = 0; i < apps_count(d->apps); i++) {
		const struct policy *p = apps_get(d->apps, i)->pol;

		s4 += policy_prefix_count(p, AF_INET);
		s6 += policy_prefix_count(p, AF_INET6);
		srv += policy_port_count(p, IPPROTO_TCP) +
		    policy_port_count(p, IPPROTO_UDP);
	}
	o = json_pack("{s:s, s:I, s:I, s:I, s:[I,I], s:I, s:s, "
	    "s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I}",
	    "version", NETD_VERSION, "pid", (json_int_t)getpid(),
	    "uptime", (json_int_t)(time(NULL) - d->started),
	    "apps", (json_int_t)apps_count(d->apps),
	    "app_uid_range", (json_int_t)d->conf.uid_min,
	    (json_int_t)d->conf.uid_max,
	    "nflog_group", (json_int_t)d->conf.nflog_group,
	    "table", "inet " NFT_TABLE,
	    "elements", "apps", (json_int_t)apps_count(d->apps),
	    "static4", (json_int_t)s4, "static6", (json_int_t)s6,
	    "serve", (json_int_t)srv, "grants", (json_int_t)(ng < 0 ? 0 : ng),
	    "transactions", (json_int_t)st->transactions,
	    "errors", (json_int_t)st->errors,
	    "grants_total", (json_int_t)st->grants,
	    "grants_evicted", (json_int_t)st->evicted,
	    "registrations", (json_int_t)d->registrations,
	    "denied", (json_int_t)d->denied);
	if (o != NULL && d->dns != NULL)
		json_object_set_new(o, "dns", dnsproxy_status(d->dns));
	if (o != NULL && d->tls != NULL)
		json_object_set_new(o, "tls", tls_status(d->tls));
	return o;
}

static json_t *
req_apps(struct netd *d)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < apps_count(d->apps); i++)
		json_array_append_new(a, app_summary(apps_get(d->apps, i)));
	return json_pack("{s:o}", "apps", a);
}

/* The running app a request names in "app", or NULL with err filled. */
static struct app *
req_app(struct netd *d, json_t *req, char *err, size_t errlen)
{
	const char *key = json_string_value(json_object_get(req, "app"));
	struct app *a;

	if (key == NULL) {
		snprintf(err, errlen, "malformed request: \"app\" missing");
		return NULL;
	}
	if ((a = apps_find(d->apps, key)) == NULL)
		snprintf(err, errlen, "no running app '%s'", key);
	return a;
}

static json_t *
req_show(struct netd *d, json_t *req, char *err, size_t errlen)
{
	struct nft_grant_info *g = NULL;
	json_t *o, *grants;
	struct app *a;
	ssize_t ng, i;

	if ((a = req_app(d, req, err, errlen)) == NULL)
		return NULL;
	o = app_summary(a);
	json_object_set_new(o, "allowed_names", str_array(a->pol, 0));
	json_object_set_new(o, "allowed_ipv4", str_array(a->pol, AF_INET));
	json_object_set_new(o, "allowed_ipv6", str_array(a->pol, AF_INET6));
	json_object_set_new(o, "tcp_server_ports",
	    port_array(a->pol, IPPROTO_TCP));
	json_object_set_new(o, "udp_server_ports",
	    port_array(a->pol, IPPROTO_UDP));
	json_object_set_new(o, "device_authentication",
	    policy_has_device_auth(a->pol) ?
	    json_string(policy_get_device_auth(a->pol)) : json_null());
	grants = json_array();
	ng = nft_grants_of(d->nft, a->uid, &g);
	for (i = 0; i < ng; i++) {
		char buf[INET6_ADDRSTRLEN];

		json_t *r = dnsproxy_resolved(d->dns, a->uid, g[i].family,
		    g[i].addr);
		json_t *name = json_null();

		if (r != NULL && json_integer_value(json_object_get(r,
		    "uid")) == (json_int_t)a->uid)
			name = json_incref(json_object_get(r, "name"));
		json_decref(r);
		inet_ntop(g[i].family, g[i].addr, buf, sizeof(buf));
		json_array_append_new(grants, json_pack("{s:s, s:I, s:o}",
		    "address", buf, "expires_ms", (json_int_t)g[i].expires_ms,
		    "name", name));
	}
	free(g);
	json_object_set_new(o, "grants", grants);
	return o;
}

static json_t *
req_register(struct netd *d, json_t *req, const struct control_peer *peer,
    char *err, size_t errlen)
{
	const char *text = json_string_value(json_object_get(req, "manifest"));
	const char *file = json_string_value(json_object_get(req, "file"));
	json_t *juid = json_object_get(req, "uid");
	struct nft_app na;
	struct policy_diag *diag;
	struct policy *pol;
	struct app *a, *other;
	uid_t uid;

	if (text == NULL || file == NULL || (juid != NULL &&
	    !json_is_integer(juid))) {
		snprintf(err, errlen, "malformed request: register needs "
		    "\"manifest\" and \"file\" strings and an integer \"uid\"");
		return NULL;
	}
	if ((diag = policy_diag_new(file)) == NULL)
		fatal("%s", __func__);
	pol = policy_load_buf(text, strlen(text), diag);
	if (pol == NULL) {
		char *buf = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&buf, &len);

		if (fp != NULL) {
			policy_diag_print(diag, fp);
			fclose(fp);
		}
		snprintf(err, errlen, "manifest refused:\n%s", buf ? buf : "");
		free(buf);
		policy_diag_free(diag);
		return NULL;
	}
	policy_diag_free(diag);
	if ((other = apps_find(d->apps, policy_get_component_id(pol))) !=
	    NULL) {
		snprintf(err, errlen, "app %s (%s) is already running as pid "
		    "%d", other->name, other->component_id, (int)other->pid);
		policy_free(pol);
		return NULL;
	}
	if (juid != NULL) {
		json_int_t u = json_integer_value(juid);

		if (u < d->conf.uid_min || u > d->conf.uid_max) {
			snprintf(err, errlen, "uid %lld is outside the app "
			    "range %u-%u", (long long)u,
			    (unsigned)d->conf.uid_min,
			    (unsigned)d->conf.uid_max);
			policy_free(pol);
			return NULL;
		}
		uid = (uid_t)u;
	} else if (apps_uid_for(d->apps, policy_get_component_id(pol), &uid,
	    err, errlen) == -1) {
		policy_free(pol);
		return NULL;
	}
	if ((other = apps_find_uid(d->apps, uid)) != NULL) {
		snprintf(err, errlen, "uid %u is in use by app %s",
		    (unsigned)uid, other->name);
		policy_free(pol);
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("%s", __func__);
	a->pidfd = -1;
	a->pol = pol;
	a->uid = uid;
	a->pid = peer->pid;
	a->starttime = proc_starttime(peer->pid);
	a->started = time(NULL);
	a->name = strdup(policy_get_name(pol));
	a->component_id = strdup(policy_get_component_id(pol));
	a->file = strdup(file);
	a->manifest = strdup(text);
	if (!a->name || !a->component_id || !a->file || !a->manifest)
		fatal("%s", __func__);
	/* The pidfd first: a caller gone by now gets no rules at all. */
	a->pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
	if (a->pidfd == -1) {
		snprintf(err, errlen, "pidfd_open %d: %s", (int)a->pid,
		    strerror(errno));
		app_free(a);
		return NULL;
	}
	na.uid = uid;
	na.name = a->name;
	na.pol = pol;
	if (nft_app_add(d->nft, &na, err, errlen) == -1) {
		log_warnx("app %s: %s", a->name, err);
		app_free(a);
		return NULL;
	}
	if (apps_add(d->apps, a) == -1)
		fatal("%s", __func__);
	apps_save_running(d->apps, a);
	app_watch(d, a);
	d->registrations++;
	log_info("app %s (%s) registered: uid %u, pid %d, %zu names, "
	    "%zu+%zu prefixes", a->name, a->component_id, (unsigned)uid,
	    (int)a->pid, policy_name_count(pol),
	    policy_prefix_count(pol, AF_INET),
	    policy_prefix_count(pol, AF_INET6));
	return json_pack("{s:s, s:s, s:I, s:I}", "name", a->name,
	    "component_id", a->component_id, "uid", (json_int_t)uid,
	    "gid", (json_int_t)uid);
}

static json_t *
req_stop(struct netd *d, json_t *req, char *err, size_t errlen)
{
	struct app *a;
	json_t *o;

	if ((a = req_app(d, req, err, errlen)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:I}", "stopped", a->name, "uid",
	    (json_int_t)a->uid);
	app_remove(d, a, "stopped by netctl");
	return o;
}

static json_t *
req_grant(struct netd *d, json_t *req, char *err, size_t errlen)
{
	const char *addr = json_string_value(json_object_get(req, "address"));
	json_t *js = json_object_get(req, "seconds");
	uint8_t buf[16];
	struct app *a;
	int family;

	if (addr == NULL || !json_is_integer(js)) {
		snprintf(err, errlen, "malformed request: grant needs \"app\","
		    " \"address\" and integer \"seconds\"");
		return NULL;
	}
	if ((a = req_app(d, req, err, errlen)) == NULL)
		return NULL;
	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr, buf) != 1) {
		snprintf(err, errlen, "'%s' is not an IP address", addr);
		return NULL;
	}
	if (json_integer_value(js) < 1 || json_integer_value(js) > 86400 * 7) {
		snprintf(err, errlen, "seconds must be 1-604800");
		return NULL;
	}
	if (nft_grant(d->nft, a->uid, family, buf, 1,
	    (uint32_t)json_integer_value(js) * 1000, err, errlen) == -1)
		return NULL;
	log_info("app %s (uid %u): %s granted for %llds by netctl", a->name,
	    (unsigned)a->uid, addr, (long long)json_integer_value(js));
	return json_pack("{s:s, s:s, s:I}", "app", a->name, "address", addr,
	    "seconds", json_integer_value(js));
}

static int
reload(struct netd *d, char *err, size_t errlen)
{
	struct netd_config nc, old = d->conf;
	struct nft_layout lay;
	char e[CONFIG_ERR_MAX];
	gid_t g;

	if (load_config(d, &nc, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	if (resolve_group(nc.admin_group, &g, err, errlen) == -1)
		return -1;
	{
		size_t i;

		for (i = 0; i < apps_count(d->apps); i++) {
			struct app *a = apps_get(d->apps, i);

			if (a->uid < nc.uid_min || a->uid > nc.uid_max) {
				snprintf(err, errlen, "app %s runs as uid %u, "
				    "outside the new app_uid_range %u-%u: stop "
				    "it first", a->name, (unsigned)a->uid,
				    (unsigned)nc.uid_min, (unsigned)nc.uid_max);
				return -1;
			}
		}
	}
	if (strcmp(nc.control_socket, old.control_socket) != 0 ||
	    strcmp(nc.state_dir, old.state_dir) != 0)
		log_warnx("reload: control_socket and state_dir changes take "
		    "effect at restart");
	d->conf = nc;
	snprintf(d->conf.control_socket, sizeof(d->conf.control_socket), "%s",
	    old.control_socket);
	snprintf(d->conf.state_dir, sizeof(d->conf.state_dir), "%s",
	    old.state_dir);
	/* The gateway and the proxy first: they may refuse the new files
	   and addresses. */
	if (d->tls != NULL && tls_prepare(d->tls, &nc, err, errlen) == -1) {
		d->conf = old;
		return -1;
	}
	if (d->dns != NULL && dnsproxy_reload(d->dns, &nc, err, errlen) ==
	    -1) {
		if (d->tls != NULL)
			tls_abort(d->tls);
		d->conf = old;
		return -1;
	}
	/* The same netlink socket; the old table stays until the commit. */
	layout_of(&nc, &lay);
	nft_set_layout(d->nft, &lay);
	if (rebuild(d, err, errlen) == -1) {
		char e2[CONFIG_ERR_MAX];

		layout_of(&old, &lay);
		nft_set_layout(d->nft, &lay);
		if (d->dns != NULL && dnsproxy_reload(d->dns, &old, e2,
		    sizeof(e2)) == -1)
			log_warnx("dns: back to the old configuration: %s",
			    e2);
		if (d->tls != NULL)
			tls_abort(d->tls);
		d->conf = old;
		return -1;
	}
	if (d->tls != NULL)
		tls_commit(d->tls, &nc);
	if (nc.nflog_group != old.nflog_group) {
		char ne[NFT_ERR_MAX];

		nflog_close(d->nflog);
		if ((d->nflog = nflog_open(d->base, (uint16_t)nc.nflog_group,
		    event_cb, d, ne, sizeof(ne))) == NULL)
			log_warnx("%s: denial events are off", ne);
	}
	apps_set_range(d->apps, nc.uid_min, nc.uid_max);
	d->admin_gid = g;
	control_set_admin_gid(d->ctl, g);
	log_info("configuration reloaded, %zu apps re-applied",
	    apps_count(d->apps));
	return 0;
}

static json_t *
handle(void *arg, int type, json_t *req, struct control_peer *peer,
    char *err, size_t errlen)
{
	struct netd *d = arg;

	switch (type) {
	case NETD_IPC_STATUS:
		return req_status(d);
	case NETD_IPC_APPS:
		return req_apps(d);
	case NETD_IPC_SHOW:
		return req_show(d, req, err, errlen);
	case NETD_IPC_REGISTER:
		return req_register(d, req, peer, err, errlen);
	case NETD_IPC_STOP:
		return req_stop(d, req, err, errlen);
	case NETD_IPC_GRANT:
		return req_grant(d, req, err, errlen);
	case NETD_IPC_EVENTS:
		return req_events(d, req, peer);
	case NETD_IPC_RELOAD:
		if (reload(d, err, errlen) == -1)
			return NULL;
		return json_pack("{s:I}", "apps",
		    (json_int_t)apps_count(d->apps));
	}
	snprintf(err, errlen, "unknown request type %d", type);
	return NULL;
}

/*
 * A packet the rules refused: attributed to its app, counted, kept in the
 * ring for "netctl events", and sent to every follower.
 */
static void
event_cb(const struct nflog_event *ev, void *arg)
{
	struct netd *d = arg;
	struct app *a = ev->uid == (uid_t)-1 ? NULL :
	    apps_find_uid(d->apps, ev->uid);
	char dst[INET6_ADDRSTRLEN];
	const char *proto;
	json_t *o, *r;

	inet_ntop(ev->family, ev->daddr, dst, sizeof(dst));
	proto = ev->proto == IPPROTO_TCP ? "tcp" : ev->proto == IPPROTO_UDP ?
	    "udp" : ev->proto == IPPROTO_ICMP ? "icmp" :
	    ev->proto == IPPROTO_ICMPV6 ? "icmpv6" : "other";
	o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:I}",
	    "time", (json_int_t)time(NULL), "kind", ev->kind,
	    "uid", ev->uid == (uid_t)-1 ? (json_int_t)-1 : (json_int_t)ev->uid,
	    "app", a ? json_string(a->name) : json_null(),
	    "protocol", proto, "destination", dst,
	    "port", (json_int_t)ev->dport);
	if (o == NULL)
		return;
	/* "Why is my app blocked": the name this address came from. */
	if ((r = dnsproxy_resolved(d->dns, ev->uid, ev->family, ev->daddr)) !=
	    NULL)
		json_object_set_new(o, "resolved", r);
	d->denied++;
	if (a != NULL)
		a->denied++;
	log_debug("denied: uid %d app %s %s %s port %u (%s)", (int)ev->uid,
	    a ? a->name : "-", proto, dst, (unsigned)ev->dport, ev->kind);
	event_add_json(d, o);
	json_decref(o);
}

/* Keep an event in the ring and send it to every follower. */
static void
event_add_json(struct netd *d, json_t *o)
{
	json_decref(d->events[d->event_next]);
	d->events[d->event_next] = json_incref(o);
	d->event_next = (d->event_next + 1) % NETD_EVENTS;
	if (d->nevents < NETD_EVENTS)
		d->nevents++;
	control_broadcast(d->ctl, o);
}

/* A query the proxy refused to an app, a TLS request refused. */
static void
dns_event_cb(void *arg, json_t *o)
{
	event_add_json(arg, o);
}

static json_t *
req_events(struct netd *d, json_t *req, struct control_peer *peer)
{
	json_t *a = json_array();
	size_t i, first = (d->event_next + NETD_EVENTS - d->nevents) %
	    NETD_EVENTS;

	for (i = 0; i < d->nevents; i++)
		json_array_append(a, d->events[(first + i) % NETD_EVENTS]);
	if (json_is_true(json_object_get(req, "follow")))
		peer->follow = 1;
	return json_pack("{s:o, s:I}", "events", a, "denied",
	    (json_int_t)d->denied);
}

static void
restore_cb(struct app *a, void *arg)
{
	struct netd *d = arg;

	/* Outside the range the rules would not filter it: fail closed. */
	if (a->uid < d->conf.uid_min || a->uid > d->conf.uid_max) {
		log_warnx("app %s (pid %d) runs as uid %u, outside the app "
		    "range %u-%u: not restored, it has no policy", a->name,
		    (int)a->pid, (unsigned)a->uid, (unsigned)d->conf.uid_min,
		    (unsigned)d->conf.uid_max);
		apps_remove(d->apps, a);
		return;
	}

	if (apps_add(d->apps, a) == -1)
		fatal("%s", __func__);
	log_info("app %s (uid %u, pid %d) restored", a->name,
	    (unsigned)a->uid, (int)a->pid);
}

static void
netd_dispatch_signal(int sig, short ev, void *arg)
{
	struct netd *d = arg;
	char err[NFT_ERR_MAX];

	(void)ev;
	switch (sig) {
	case SIGHUP:
		if (reload(d, err, sizeof(err)) == -1)
			log_warnx("reload failed, old configuration kept: %s",
			    err);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("exiting on signal %d; kernel rules stay in place",
		    sig);
		event_base_loopbreak(d->base);
		break;
	}
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: netd [-dfnV] [-c FILE] [-D nft]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct event *ev_hup, *ev_term, *ev_int;
	struct netd d = { .conf_path = NETD_CONF_DEFAULT };
	struct nft_layout lay;
	char err[CONFIG_ERR_MAX];
	int ch, debug = 0, foreground = 0, check_only = 0, nft_debug = 0;
	size_t i;

	while ((ch = getopt(argc, argv, "c:dD:fnV")) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
			d.conf_explicit = true;
			break;
		case 'd':
			debug++;
			foreground = 1;
			break;
		case 'D':
			if (strcmp(optarg, "nft") != 0)
				usage();
			nft_debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'V':
			printf("netd %s\n", NETD_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/*
	 * Blocks of 128 KiB and more get mappings of their own, which free()
	 * gives back. glibc would raise that threshold to the size of the
	 * first such block freed (an nftables batch), and the DNS proxy's
	 * buffers (167 KiB, calloc) would then come from the heap, zeroed
	 * page by page instead of left untouched until used.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	log_init(foreground || check_only ? (debug ? debug : 1) : 0,
	    LOG_DAEMON);
	log_procinit("netd");

	/* Configuration: a missing default file means built-in defaults. */
	if (load_config(&d, &d.conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "netd: %s\n", err);
		return 1;
	}
	if (resolve_group(d.conf.admin_group, &d.admin_gid, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "netd: %s: %s\n", d.conf_path, err);
		return 1;
	}
	if (check_only) {
		config_print(&d.conf, stdout);
		return 0;
	}
	if (geteuid() != 0)
		fatalx("needs root (CAP_NET_ADMIN for nftables)");

	signal(SIGPIPE, SIG_IGN);
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	d.started = time(NULL);

	/* The kernel side: one netlink socket for the daemon's life. */
	layout_of(&d.conf, &lay);
	if ((d.nft = nft_open(&lay, err, sizeof(err))) == NULL)
		fatalx("nftables: %s", err);
	if (nft_debug)
		nft_set_debug(d.nft, stderr);

	/* Apps that were running when netd last stopped, then the table. */
	if ((d.apps = apps_new(d.conf.state_dir, d.conf.uid_min,
	    d.conf.uid_max)) == NULL)
		fatal("state directory %s", d.conf.state_dir);
	apps_load_running(d.apps, restore_cb, &d);
	if (rebuild(&d, err, sizeof(err)) == -1)
		fatalx("building table inet %s: %s", NFT_TABLE, err);
	for (i = 0; i < apps_count(d.apps); i++)
		app_watch(&d, apps_get(d.apps, i));

	if ((d.ctl = control_new(d.base, d.conf.control_socket, d.admin_gid,
	    handle, &d, err, sizeof(err))) == NULL)
		fatalx("control socket: %s", err);

	/* The DNS proxy, once the rules that mark its queries are in. */
	if ((d.dns = dnsproxy_new(d.base, &d.conf, d.apps, d.nft,
	    dns_event_cb, &d, err, sizeof(err))) == NULL)
		fatalx("dns: %s", err);
	if ((d.tls = tls_new(d.base, &d.conf, d.apps, dns_event_cb, &d, err,
	    sizeof(err))) == NULL)
		fatalx("tls: %s", err);

	/* Denials from the kernel, for events and counters. */
	if ((d.nflog = nflog_open(d.base, (uint16_t)d.conf.nflog_group,
	    event_cb, &d, err, sizeof(err))) == NULL)
		log_warnx("%s: denial events are off", err);

	ev_hup = evsignal_new(d.base, SIGHUP, netd_dispatch_signal, &d);
	ev_term = evsignal_new(d.base, SIGTERM, netd_dispatch_signal, &d);
	ev_int = evsignal_new(d.base, SIGINT, netd_dispatch_signal, &d);
	if (!ev_hup || !ev_term || !ev_int || evsignal_add(ev_hup, NULL) ||
	    evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL))
		fatalx("signal events");

	if (!foreground) {
		/* Ready: the parent returns once the socket is bound. */
		if (daemon(0, 0) == -1)
			fatal("daemon");
		event_reinit(d.base);
	}
	log_info("netd %s started: table inet %s, %zu apps, uids %u-%u, "
	    "control %s", NETD_VERSION, NFT_TABLE, apps_count(d.apps),
	    (unsigned)d.conf.uid_min, (unsigned)d.conf.uid_max,
	    d.conf.control_socket);

	event_base_dispatch(d.base);

	/* Leave the table: a stopped netd fails closed, not open. */
	for (i = 0; i < apps_count(d.apps); i++)
		app_unwatch(apps_get(d.apps, i));
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	nflog_close(d.nflog);
	tls_free(d.tls);
	dnsproxy_free(d.dns);
	control_free(d.ctl);
	apps_free(d.apps);
	for (i = 0; i < NETD_EVENTS; i++)
		json_decref(d.events[i]);
	nft_close(d.nft);
	event_base_free(d.base);
	return 0;
}
