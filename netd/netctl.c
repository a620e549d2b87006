/*
 * netctl: the command-line client. "check" needs no daemon: it loads
 * manifests with the same policy library netd uses. "tls-connect" is a
 * client of the TLS gateway (include/netd_tls.h). The other commands talk
 * to netd over its control socket (include/netd_ipc.h).
 *
 * Exit codes: 0 success, 1 a manifest was refused or netd refused the
 * request, 2 usage error, 3 netd cannot be reached.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "netd_ipc.h"
#include "netd_tls.h"
#include "tlsclient.h"
#include "policy.h"

#ifndef NETD_VERSION
#define NETD_VERSION "0.0.0"
#endif

#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_NODAEMON	3

#define CONTROL_DEFAULT	"/run/netd/control.sock"
#define REPLY_TIMEOUT_MS	10000
#define RELAY_BUF	65536

static const char *control_path = CONTROL_DEFAULT;

struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
};

static int	cmd_check(int, char **);
static int	cmd_run(int, char **);
static int	cmd_stop(int, char **);
static int	cmd_status(int, char **);
static int	cmd_apps(int, char **);
static int	cmd_show(int, char **);
static int	cmd_reload(int, char **);
static int	cmd_grant(int, char **);
static int	cmd_events(int, char **);
static int	cmd_tls_connect(int, char **);
static void	usage(FILE *);

static const struct command commands[] = {
	{ "check", cmd_check, "check [--print] [--json] FILE..." },
	{ "run", cmd_run, "run --manifest FILE [--uid UID] -- CMD [ARG...]" },
	{ "stop", cmd_stop, "stop [--json] APP" },
	{ "status", cmd_status, "status [--json]" },
	{ "apps", cmd_apps, "apps [--json]" },
	{ "show", cmd_show, "show [--json] APP" },
	{ "reload", cmd_reload, "reload [--json]" },
	{ "grant", cmd_grant, "grant [--json] APP ADDRESS SECONDS" },
	{ "events", cmd_events, "events [--follow] [--json]" },
	{ "tls-connect", cmd_tls_connect,
	    "tls-connect [--quiet] [--tls-socket PATH] HOST PORT" },
};

/*
 * One message from netd: the body (caller decrefs) and its type, or NULL
 * after printing why. timeout_ms -1 waits for ever.
 */
static json_t *
read_msg(int fd, int timeout_ms, int *rtype)
{
	struct netd_ipc_hdr h = { 0 };
	size_t got = 0, want = sizeof(h);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	json_t *reply = NULL;
	char *buf = NULL;

	while (got < want) {
		char *tmp;
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) != 1) {
			fprintf(stderr, "netctl: no reply from netd\n");
			goto done;
		}
		if ((tmp = realloc(buf, want)) == NULL)
			goto done;
		buf = tmp;
		if ((n = read(fd, buf + got, want - got)) <= 0) {
			fprintf(stderr, "netctl: netd closed the connection\n");
			goto done;
		}
		got += (size_t)n;
		if (got == sizeof(h) && want == sizeof(h)) {
			memcpy(&h, buf, sizeof(h));
			if (h.magic != NETD_IPC_MAGIC || h.len > NETD_IPC_MAX) {
				fprintf(stderr, "netctl: malformed reply\n");
				goto done;
			}
			want += h.len;
		}
	}
	reply = json_loadb(buf + sizeof(h), h.len, 0, NULL);
	if (reply == NULL)
		fprintf(stderr, "netctl: malformed reply\n");
	*rtype = h.type;
done:
	free(buf);
	return reply;
}

/*
 * One request, one reply. Returns the reply body (caller decrefs) and sets
 * *type, or NULL after printing why (netd unreachable or broken reply).
 */
static json_t *
request(int type, json_t *body, int *rtype, int *fdp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct netd_ipc_hdr h = { .magic = NETD_IPC_MAGIC,
	    .version = NETD_IPC_VERSION, .type = (uint16_t)type };
	char *s = json_dumps(body, JSON_COMPACT);
	json_t *reply = NULL;
	int fd;

	if (s == NULL)
		return NULL;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    control_path) >= (int)sizeof(sun.sun_path)) {
		fprintf(stderr, "netctl: socket path too long\n");
		free(s);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		fprintf(stderr, "netctl: cannot reach netd at %s: %s\n",
		    control_path, strerror(errno));
		if (fd != -1)
			close(fd);
		free(s);
		return NULL;
	}
	h.len = (uint32_t)strlen(s);
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, s, h.len) != (ssize_t)h.len) {
		fprintf(stderr, "netctl: send: %s\n", strerror(errno));
		goto done;
	}
	reply = read_msg(fd, REPLY_TIMEOUT_MS, rtype);
done:
	free(s);
	if (fdp != NULL && reply != NULL)
		*fdp = fd;
	else
		close(fd);
	return reply;
}

static int
print_error(const char *cmd, json_t *reply, bool json)
{
	const char *e = json_string_value(json_object_get(reply, "error"));

	if (json) {
		char *s = json_dumps(reply, JSON_INDENT(2));

		printf("%s\n", s ? s : "{}");
		free(s);
	}
	fprintf(stderr, "netctl %s: %s\n", cmd, e ? e : "request failed");
	return EXIT_REFUSED;
}

/* Simple commands: a request, then the reply as JSON or through fmt. */
static int
simple(const char *cmd, int type, json_t *body, bool json,
    void (*fmt)(json_t *))
{
	int rtype = NETD_IPC_ERROR, rc = 0;
	json_t *reply = request(type, body, &rtype, NULL);

	json_decref(body);
	if (reply == NULL)
		return EXIT_NODAEMON;
	if (rtype != NETD_IPC_OK)
		rc = print_error(cmd, reply, json);
	else if (json || fmt == NULL) {
		char *s = json_dumps(reply, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "{}");
		free(s);
	} else
		fmt(reply);
	json_decref(reply);
	return rc;
}

/*
 * [--json] and the operands: returns the index of the first operand, -1
 * on a usage error (printed), -2 after printing --help.
 */
static int
json_opt(int argc, char **argv, bool *json, const char *use)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (ch == 'j')
			*json = true;
		else {
			fprintf(ch == 'h' ? stdout : stderr, "usage: netctl "
			    "%s\n", use);
			return ch == 'h' ? -2 : -1;
		}
	}
	return optind;
}

/* Exit status for json_opt()'s result, or for wrong operands (-3). */
static int
opt_exit(int r, const char *use)
{
	if (r == -2)
		return 0;
	if (r == -3)
		fprintf(stderr, "usage: netctl %s\n", use);
	return EXIT_USAGE;
}

static long long
jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static void
fmt_status(json_t *r)
{
	json_t *el = json_object_get(r, "elements");
	json_t *range = json_object_get(r, "app_uid_range");
	json_t *dns, *tls;

	printf("netd %s, pid %lld, up %llds\n", jstr(r, "version"),
	    jint(r, "pid"), jint(r, "uptime"));
	printf("%-14s %lld\n", "apps", jint(r, "apps"));
	printf("%-14s %lld-%lld\n", "app uids",
	    (long long)json_integer_value(json_array_get(range, 0)),
	    (long long)json_integer_value(json_array_get(range, 1)));
	printf("%-14s %s\n", "table", jstr(r, "table"));
	printf("%-14s apps %lld, static4 %lld, static6 %lld, serve %lld, "
	    "grants %lld\n", "elements", jint(el, "apps"),
	    jint(el, "static4"), jint(el, "static6"), jint(el, "serve"),
	    jint(el, "grants"));
	printf("%-14s %lld granted, %lld taken back over "
	    "max_grants_per_app\n", "grants", jint(r, "grants_total"),
	    jint(r, "grants_evicted"));
	printf("%-14s %lld\n", "transactions", jint(r, "transactions"));
	printf("%-14s %lld\n", "errors", jint(r, "errors"));
	printf("%-14s %lld\n", "registrations", jint(r, "registrations"));
	printf("%-14s %lld\n", "denied", jint(r, "denied"));
	printf("%-14s %lld\n", "nflog group", jint(r, "nflog_group"));
	if ((dns = json_object_get(r, "dns")) != NULL) {
		json_t *c = json_object_get(dns, "cache");
		json_t *ul = json_object_get(dns, "upstream_latency_us");
		json_t *gl = json_object_get(dns, "grant_latency_us");

		printf("%-14s %s\n", "dns upstream", jstr(dns, "upstream"));
		printf("%-14s %lld (apps %lld, others %lld), allowed %lld, "
		    "denied %lld\n", "dns queries", jint(dns, "queries"),
		    jint(dns, "app_queries"), jint(dns, "non_app"),
		    jint(dns, "allowed"), jint(dns, "denied"));
		printf("%-14s %lld hits, %lld of %lld entries\n", "dns cache",
		    jint(dns, "cache_hits"), jint(c, "entries"),
		    jint(c, "size"));
		printf("%-14s servfail %lld, formerr %lld, dropped %lld, "
		    "grant errors %lld\n", "dns errors", jint(dns, "servfail"),
		    jint(dns, "formerr"), jint(dns, "dropped"),
		    jint(dns, "grant_errors"));
		printf("%-14s %lld addresses, %lld evicted, %lld private "
		    "dropped\n", "dns grants", jint(dns, "granted"),
		    jint(dns, "evicted"), jint(dns, "rebind_dropped"));
		printf("%-14s upstream p50 <= %lld us, p99 <= %lld us; grant "
		    "p50 <= %lld us, p99 <= %lld us\n", "dns latency",
		    jint(ul, "p50_le"), jint(ul, "p99_le"), jint(gl, "p50_le"),
		    jint(gl, "p99_le"));
	}
	if ((tls = json_object_get(r, "tls")) != NULL) {
		printf("%-14s %s, device certificate %s\n", "tls gateway",
		    jstr(tls, "socket"), json_is_true(json_object_get(tls,
		    "device_certificate")) ? "loaded" : "none");
		printf("%-14s %lld open, %lld requests, %lld refused, %lld "
		    "established, %lld clean, %lld aborted\n", "tls sessions",
		    jint(tls, "sessions"), jint(tls, "requests"),
		    jint(tls, "refused"), jint(tls, "established"),
		    jint(tls, "clean"), jint(tls, "aborted"));
	}
}

static void
fmt_apps(json_t *r)
{
	json_t *apps = json_object_get(r, "apps"), *a;
	size_t i;

	printf("%-20s %-7s %-8s %-7s %s\n", "APP", "UID", "PID", "ENTRIES",
	    "COMPONENT");
	json_array_foreach(apps, i, a)
		printf("%-20s %-7lld %-8lld %-7lld %s\n", jstr(a, "name"),
		    jint(a, "uid"), jint(a, "pid"), jint(a, "entries"),
		    jstr(a, "component_id"));
}

static void
fmt_list(const char *label, json_t *arr)
{
	json_t *v;
	size_t i;

	printf("%-18s", label);
	if (json_array_size(arr) == 0)
		printf(" -");
	json_array_foreach(arr, i, v) {
		if (json_is_string(v))
			printf(" %s", json_string_value(v));
		else
			printf(" %lld", (long long)json_integer_value(v));
	}
	printf("\n");
}

static void
fmt_show(json_t *r)
{
	json_t *g, *grants = json_object_get(r, "grants"), *dns;
	size_t i;

	printf("%-18s %s\n", "app", jstr(r, "name"));
	printf("%-18s %s\n", "component", jstr(r, "component_id"));
	printf("%-18s %s\n", "manifest", jstr(r, "file"));
	printf("%-18s %lld\n", "uid", jint(r, "uid"));
	printf("%-18s %lld\n", "pid", jint(r, "pid"));
	fmt_list("names", json_object_get(r, "allowed_names"));
	fmt_list("ipv4", json_object_get(r, "allowed_ipv4"));
	fmt_list("ipv6", json_object_get(r, "allowed_ipv6"));
	fmt_list("tcp server ports", json_object_get(r, "tcp_server_ports"));
	fmt_list("udp server ports", json_object_get(r, "udp_server_ports"));
	printf("%-18s %s\n", "device auth",
	    json_is_string(json_object_get(r, "device_authentication")) ?
	    jstr(r, "device_authentication") : "no");
	printf("%-18s %lld\n", "denied packets", jint(r, "denied"));
	if ((dns = json_object_get(r, "dns")) != NULL)
		printf("%-18s %lld, allowed %lld, denied %lld, from cache "
		    "%lld\n", "dns queries", jint(dns, "queries"),
		    jint(dns, "allowed"), jint(dns, "denied"),
		    jint(dns, "cache_hits"));
	printf("%-18s %zu\n", "live grants", json_array_size(grants));
	json_array_foreach(grants, i, g)
		printf("    %-40s %6.1fs left  %s\n", jstr(g, "address"),
		    (double)jint(g, "expires_ms") / 1000.0, jstr(g, "name"));
}

static int
cmd_status(int argc, char **argv)
{
	bool json = false;
	int i = json_opt(argc, argv, &json, "status [--json]");

	if (i < 0 || i != argc)
		return opt_exit(i < 0 ? i : -3, "status [--json]");
	return simple("status", NETD_IPC_STATUS, json_object(), json,
	    fmt_status);
}

static int
cmd_apps(int argc, char **argv)
{
	bool json = false;
	int i = json_opt(argc, argv, &json, "apps [--json]");

	if (i < 0 || i != argc)
		return opt_exit(i < 0 ? i : -3, "apps [--json]");
	return simple("apps", NETD_IPC_APPS, json_object(), json, fmt_apps);
}

static int
cmd_show(int argc, char **argv)
{
	bool json = false;
	int i = json_opt(argc, argv, &json, "show [--json] APP");

	if (i < 0 || i != argc - 1)
		return opt_exit(i < 0 ? i : -3, "show [--json] APP");
	return simple("show", NETD_IPC_SHOW, json_pack("{s:s}", "app",
	    argv[i]), json, fmt_show);
}

static void
fmt_stop(json_t *r)
{
	printf("%s (uid %lld): rules and grants removed\n", jstr(r, "stopped"),
	    jint(r, "uid"));
}

static int
cmd_stop(int argc, char **argv)
{
	bool json = false;
	int i = json_opt(argc, argv, &json, "stop [--json] APP");

	if (i < 0 || i != argc - 1)
		return opt_exit(i < 0 ? i : -3, "stop [--json] APP");
	return simple("stop", NETD_IPC_STOP, json_pack("{s:s}", "app",
	    argv[i]), json, fmt_stop);
}

static void
fmt_reload(json_t *r)
{
	printf("reloaded, %lld apps re-applied\n", jint(r, "apps"));
}

static int
cmd_reload(int argc, char **argv)
{
	bool json = false;
	int i = json_opt(argc, argv, &json, "reload [--json]");

	if (i < 0 || i != argc)
		return opt_exit(i < 0 ? i : -3, "reload [--json]");
	return simple("reload", NETD_IPC_RELOAD, json_object(), json,
	    fmt_reload);
}

static void
fmt_grant(json_t *r)
{
	printf("%s: %s granted for %llds\n", jstr(r, "app"),
	    jstr(r, "address"), jint(r, "seconds"));
}

static int
cmd_grant(int argc, char **argv)
{
	const char *use = "grant [--json] APP ADDRESS SECONDS";
	bool json = false;
	int i = json_opt(argc, argv, &json, use);
	long long sec;
	char *end;

	if (i < 0 || i != argc - 3)
		return opt_exit(i < 0 ? i : -3, use);
	sec = strtoll(argv[i + 2], &end, 10);
	if (*end != '\0' || end == argv[i + 2] || sec < 1) {
		fprintf(stderr, "netctl grant: '%s' is not a number of "
		    "seconds\n", argv[i + 2]);
		return EXIT_USAGE;
	}
	return simple("grant", NETD_IPC_GRANT, json_pack("{s:s, s:s, s:I}",
	    "app", argv[i], "address", argv[i + 1], "seconds",
	    (json_int_t)sec), json, fmt_grant);
}

static void
print_event(json_t *e, bool json)
{
	char when[32];
	time_t t = (time_t)jint(e, "time");
	struct tm tm;
	json_t *r;

	if (json) {
		char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "{}");
		free(s);
		fflush(stdout);
		return;
	}
	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
	if (strcmp(jstr(e, "kind"), "tls") == 0) {
		/* A TLS request refused, or a session that ended badly. */
		printf("%-8s %-13s %-7lld %-20s %-4s %s:%lld %s: %s\n", when,
		    "tls", jint(e, "uid"), jstr(e, "app"), "tls",
		    jstr(e, "host"), jint(e, "port"), jstr(e, "reason"),
		    jstr(e, "text"));
		fflush(stdout);
		return;
	}
	if (strcmp(jstr(e, "kind"), "dns") == 0) {
		/* A name the app may not resolve. */
		printf("%-8s %-13s %-7lld %-20s %-4s %s %s -> %s\n", when,
		    "dns", jint(e, "uid"), jstr(e, "app"), "dns",
		    jstr(e, "type"), jstr(e, "name"), jstr(e, "rcode"));
		fflush(stdout);
		return;
	}
	printf("%-8s %-13s %-7lld %-20s %-4s %s port %lld", when,
	    jstr(e, "kind"), jint(e, "uid"), jstr(e, "app"),
	    jstr(e, "protocol"), jstr(e, "destination"), jint(e, "port"));
	if ((r = json_object_get(e, "resolved")) != NULL) {
		/* Which name it came from, and whether that grant ran out. */
		if (jint(r, "uid") == jint(e, "uid"))
			printf(" (%s, %s)", jstr(r, "name"),
			    json_is_true(json_object_get(r, "expired")) ?
			    "grant expired" : "resolved");
		else
			printf(" (%s, resolved by %s, not this app)",
			    jstr(r, "name"), json_is_string(json_object_get(r,
			    "app")) ? jstr(r, "app") : "another uid");
	}
	printf("\n");
	fflush(stdout);
}

/*
 * events: what the rules refused lately; with --follow, every new one as
 * it happens (one JSON object a line with --json), until interrupted.
 */
static int
cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, follow = false;
	int ch, rtype = NETD_IPC_ERROR, fd = -1;
	json_t *reply, *ev, *body;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "fjh", opts, NULL)) != -1) {
		if (ch == 'f')
			follow = true;
		else if (ch == 'j')
			json = true;
		else {
			fprintf(ch == 'h' ? stdout : stderr, "usage: netctl "
			    "events [--follow] [--json]\n");
			return ch == 'h' ? 0 : EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: netctl events [--follow] [--json]\n");
		return EXIT_USAGE;
	}
	body = json_pack("{s:b}", "follow", follow);
	reply = request(NETD_IPC_EVENTS, body, &rtype, follow ? &fd : NULL);
	json_decref(body);
	if (reply == NULL)
		return EXIT_NODAEMON;
	if (rtype != NETD_IPC_OK) {
		print_error("events", reply, json);
		json_decref(reply);
		if (fd != -1)
			close(fd);
		return EXIT_REFUSED;
	}
	if (json && !follow) {
		char *s = json_dumps(reply, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		if (!json)
			printf("%-8s %-13s %-7s %-20s %-4s %s\n", "TIME",
			    "KIND", "UID", "APP", "PROTO", "DESTINATION");
		json_array_foreach(json_object_get(reply, "events"), i, ev)
			print_event(ev, json);
	}
	json_decref(reply);
	if (!follow)
		return 0;
	/* Each event is one more message on the same connection. */
	while ((ev = read_msg(fd, -1, &rtype)) != NULL) {
		print_event(ev, json);
		json_decref(ev);
	}
	close(fd);
	return EXIT_NODAEMON;
}

/* All of buf to fd, a blocking or non-blocking one. */
static int
write_all(int fd, const char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EAGAIN)
				(void)poll(&pfd, 1, -1);
			else if (errno != EINTR)
				return -1;
			continue;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Standard input to the session and the session to standard output, until
 * the session ends. End of input shuts down our side (netd then sends
 * close_notify) and we read on. The socket is non-blocking and input is
 * read only when the last of it is gone: a peer that stops reading cannot
 * stop us draining what it sends, which would stall both sides.
 */
static int
tls_relay(int fd, const char *where)
{
	static char up[RELAY_BUF], down[RELAY_BUF];
	struct pollfd pfd[2];
	size_t off = 0, len = 0;
	bool in_done = false, shut = false;
	int fl, rc = 0;
	ssize_t n;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		fprintf(stderr, "netctl tls-connect: fcntl: %s\n",
		    strerror(errno));
		return EXIT_REFUSED;
	}
	for (;;) {
		if (in_done && len == 0 && !shut) {
			(void)shutdown(fd, SHUT_WR);
			shut = true;
		}
		pfd[0].fd = in_done || len > 0 ? -1 : STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN | (len > 0 ? POLLOUT : 0);
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "netctl tls-connect: poll: %s\n",
			    strerror(errno));
			return EXIT_REFUSED;
		}
		if (pfd[0].revents & POLLNVAL)
			in_done = true;		/* no standard input at all */
		else if (pfd[0].revents != 0) {
			n = read(STDIN_FILENO, up, sizeof(up));
			if (n > 0) {
				off = 0;
				len = (size_t)n;
			} else if (n == 0)
				in_done = true;
			else if (errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "netctl tls-connect: standard "
				    "input: %s\n", strerror(errno));
				in_done = true;
				rc = EXIT_REFUSED;
			}
		}
		if (len > 0) {
			n = send(fd, up + off, len, MSG_NOSIGNAL);
			if (n >= 0) {
				off += (size_t)n;
				len -= (size_t)n;
			} else if (errno != EINTR && errno != EAGAIN) {
				/* netd is gone; read what it left, if any. */
				fprintf(stderr, "netctl tls-connect: %s: send: "
				    "%s\n", where, strerror(errno));
				in_done = shut = true;
				len = 0;
				rc = EXIT_NODAEMON;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, down, sizeof(down));
			if (n == 0)
				break;
			if (n > 0 && write_all(STDOUT_FILENO, down,
			    (size_t)n) == -1) {
				fprintf(stderr, "netctl tls-connect: standard "
				    "output: %s\n", strerror(errno));
				return EXIT_REFUSED;
			}
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "netctl tls-connect: %s: %s\n",
				    where, strerror(errno));
				return EXIT_NODAEMON;
			}
		}
	}
	return rc;
}

/*
 * tls-connect: like "openssl s_client -quiet", through netd's gateway.
 * Standard output carries only the peer's data; the rest is on stderr.
 */
static int
cmd_tls_connect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "tls-socket", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = "usage: netctl tls-connect [--quiet] [--tls-socket "
	    "PATH] HOST PORT\n";
	const char *path = NULL, *host, *p;
	char peer[NETD_TLS_LINE_MAX], where[300];
	bool quiet = false, refused;
	unsigned long port;
	char *end;
	int ch, fd, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "qt:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = true;
			break;
		case 't':
			path = optarg;
			break;
		case 'h':
			printf("%s", use);
			return 0;
		default:
			fprintf(stderr, "%s", use);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "%s", use);
		return EXIT_USAGE;
	}
	host = argv[optind];
	p = argv[optind + 1];
	errno = 0;
	port = strtoul(p, &end, 10);
	if (*p < '0' || *p > '9' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535) {
		fprintf(stderr, "netctl tls-connect: '%s' is not a port "
		    "(1-65535)\n", p);
		return EXIT_USAGE;
	}
	/* An IPv6 literal in brackets, as in a URL, only for messages. */
	snprintf(where, sizeof(where), strchr(host, ':') != NULL ?
	    "[%.256s]:%lu" : "%.256s:%lu", host, port);

	fd = netd_tls_connect_at(path, host, (unsigned)port, NETD_TLS_CLOEXEC,
	    peer, sizeof(peer), &refused);
	if (fd == -1) {
		fprintf(stderr, "netctl tls-connect: %s: %s\n", where,
		    netd_tls_error());
		if (refused)
			return EXIT_REFUSED;
		/* EINVAL before any connection: a host netd would refuse. */
		return errno == EINVAL ? EXIT_USAGE : EXIT_NODAEMON;
	}
	if (!quiet)
		fprintf(stderr, "connected to %s\n", peer);
	rc = tls_relay(fd, where);
	close(fd);
	return rc;
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (fp == NULL)
		return NULL;
	do {
		char *tmp;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((tmp = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = tmp;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
	} while (n > 0 && len < NETD_IPC_MAX);
	fclose(fp);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * run: check the manifest here, register with netd (the app is this very
 * process, identified by SO_PEERCRED), wait for the ack that the rules are
 * in the kernel, drop to the app's uid and gid, and exec. The pid does not
 * change, so netd's pidfd sees the app itself exit.
 */
static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "uid", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = "usage: netctl run --manifest FILE [--uid UID] -- "
	    "CMD [ARG...]\n";
	const char *manifest = NULL;
	char real[PATH_MAX], *text, *end;
	long long uidarg = -1;
	struct policy_diag *d;
	struct policy *p;
	int ch, rtype = NETD_IPC_ERROR, fd = -1;
	json_t *body, *reply;
	uid_t uid;
	gid_t gid;
	size_t len;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+m:u:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			manifest = optarg;
			break;
		case 'u':
			errno = 0;
			uidarg = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || uidarg < 0 ||
			    uidarg > 4294967294LL) {
				fprintf(stderr, "netctl run: --uid '%s' is not "
				    "a uid\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", use);
			return 0;
		default:
			fprintf(stderr, "%s", use);
			return EXIT_USAGE;
		}
	}
	if (manifest == NULL || optind >= argc) {
		fprintf(stderr, "netctl run: %s\n%s", manifest == NULL ?
		    "--manifest is required" : "no command given", use);
		return EXIT_USAGE;
	}

	/* The same loader as netd: a bad manifest stops here. */
	if ((d = policy_diag_new(manifest)) == NULL)
		return EXIT_REFUSED;
	p = policy_load_file(manifest, d);
	policy_diag_print(d, stderr);
	policy_diag_free(d);
	if (p == NULL) {
		fprintf(stderr, "netctl run: %s refused, nothing installed\n",
		    manifest);
		return EXIT_REFUSED;
	}
	policy_free(p);
	if ((text = read_file(manifest, &len)) == NULL) {
		fprintf(stderr, "netctl run: %s: %s\n", manifest,
		    strerror(errno));
		return EXIT_REFUSED;
	}
	if (realpath(manifest, real) == NULL)
		snprintf(real, sizeof(real), "%s", manifest);
	body = json_pack("{s:s%, s:s}", "manifest", text, len, "file", real);
	free(text);
	if (body == NULL) {
		fprintf(stderr, "netctl run: manifest is not valid UTF-8\n");
		return EXIT_REFUSED;
	}
	if (uidarg >= 0)
		json_object_set_new(body, "uid", json_integer(uidarg));
	reply = request(NETD_IPC_REGISTER, body, &rtype, &fd);
	json_decref(body);
	if (reply == NULL)
		return EXIT_NODAEMON;
	if (rtype != NETD_IPC_OK) {
		print_error("run", reply, false);
		json_decref(reply);
		close(fd);
		return EXIT_REFUSED;
	}
	uid = (uid_t)jint(reply, "uid");
	gid = (gid_t)jint(reply, "gid");
	json_decref(reply);
	close(fd);

	/* Rules are in the kernel: become the app. */
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		fprintf(stderr, "netctl run: cannot become uid %u: %s\n",
		    (unsigned)uid, strerror(errno));
		return EXIT_REFUSED;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		fprintf(stderr, "netctl run: no_new_privs: %s\n",
		    strerror(errno));
		return EXIT_REFUSED;
	}
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "netctl run: %s: %s\n", argv[optind],
	    strerror(errno));
	return 127;
}

static json_t *
msg_json(const struct policy_msg *m)
{
	json_t *o = json_object(), *v = NULL;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "path", json_string(m->path));
	if (m->value != NULL) {
		/* The value is JSON text; a cut one stays a string. */
		v = json_loads(m->value, JSON_DECODE_ANY, NULL);
		json_object_set_new(o, "value", v ? v :
		    json_string(m->value));
	}
	json_object_set_new(o, "reason", json_string(m->reason));
	if (m->line > 0) {
		json_object_set_new(o, "line", json_integer(m->line));
		json_object_set_new(o, "column", json_integer(m->column));
	}
	return o;
}

static json_t *
file_json(const char *file, const struct policy_diag *d,
    const struct policy *p, bool print)
{
	json_t *o, *errs, *warns;
	size_t i;

	o = json_object();
	errs = json_array();
	warns = json_array();
	if (o == NULL || errs == NULL || warns == NULL) {
		json_decref(o);
		json_decref(errs);
		json_decref(warns);
		return NULL;
	}
	for (i = 0; i < policy_diag_count(d); i++) {
		const struct policy_msg *m = policy_diag_get(d, i);

		json_array_append_new(m->sev == POLICY_ERROR ? errs : warns,
		    msg_json(m));
	}
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "ok", json_boolean(p != NULL));
	json_object_set_new(o, "errors", errs);
	json_object_set_new(o, "warnings", warns);
	if (print && p != NULL) {
		char *s = policy_print(p);

		if (s != NULL)
			json_object_set_new(o, "policy",
			    json_loads(s, 0, NULL));
		free(s);
	}
	return o;
}

static int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "print", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = false, json = false;
	json_t *out = NULL, *files = NULL;
	int ch, i, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "pjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			print = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: netctl check [--print] [--json] "
			    "FILE...\n");
			return 0;
		default:
			fprintf(stderr, "usage: netctl check [--print] "
			    "[--json] FILE...\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "netctl check: no manifest given\n"
		    "usage: netctl check [--print] [--json] FILE...\n");
		return EXIT_USAGE;
	}
	if (json) {
		out = json_object();
		files = json_array();
		if (out == NULL || files == NULL) {
			fprintf(stderr, "netctl: out of memory\n");
			return EXIT_REFUSED;
		}
	}
	for (i = optind; i < argc; i++) {
		const char *file = argv[i];
		struct policy_diag *d;
		struct policy *p;

		if ((d = policy_diag_new(file)) == NULL) {
			fprintf(stderr, "netctl: out of memory\n");
			return EXIT_REFUSED;
		}
		p = policy_load_file(file, d);
		if (p == NULL)
			rc = EXIT_REFUSED;
		if (json) {
			json_array_append_new(files,
			    file_json(file, d, p, print));
		} else {
			policy_diag_print(d, stderr);
			if (print && p != NULL) {
				char *s = policy_print(p);

				if (argc - optind > 1)
					printf("==> %s <==\n", file);
				printf("%s\n", s ? s : "");
				free(s);
			} else if (!print) {
				if (p != NULL)
					printf("%s: ok", file);
				else
					printf("%s: refused: %zu error%s",
					    file, policy_diag_errors(d),
					    policy_diag_errors(d) == 1 ? "" :
					    "s");
				if (policy_diag_warnings(d) > 0)
					printf(", %zu warning%s",
					    policy_diag_warnings(d),
					    policy_diag_warnings(d) == 1 ?
					    "" : "s");
				printf("\n");
			}
		}
		policy_free(p);
		policy_diag_free(d);
	}
	if (json) {
		char *s;

		json_object_set_new(out, "ok", json_boolean(rc == 0));
		json_object_set_new(out, "files", files);
		s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(out);
	}
	fflush(stdout);
	return rc;
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: netctl [-s SOCKET] [--version] COMMAND [ARGS]\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "    netctl %s\n", commands[i].usage);
}

int
main(int argc, char *argv[])
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (getenv("NETD_CONTROL") != NULL)
		control_path = getenv("NETD_CONTROL");
	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		control_path = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "-s") == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("netctl %s\n", NETD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "netctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
