/*
 * The admin socket, after OpenBSD unwind's control.c: non-blocking accept,
 * a bounded number of clients, each with an idle timeout; a malformed
 * message gets one error reply and the connection is closed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "control.h"
#include "log.h"
#include "netd_ipc.h"

#define CONTROL_MAX_CLIENTS	64
#define CONTROL_IDLE_SEC	10

struct control {
	struct event_base	*base;
	int			 fd;
	struct event		*ev_accept;
	struct event		*ev_pause;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t			 admin_gid;
	control_handler		 handler;
	void			*arg;
	int			 nclients;
	struct client		*clients;	/* all, for broadcasts */
};

struct client {
	struct control		*ctl;
	struct bufferevent	*bev;
	struct control_peer	 peer;
	int			 closing;
	struct client		*next;
};

/* A follower that reads slower than this is dropped, not buffered. */
#define CONTROL_FOLLOW_MAX	(256 * 1024)

static void	control_dispatch_client(struct bufferevent *, void *);

static void
client_free(struct client *c)
{
	struct client **pp;

	for (pp = &c->ctl->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->ctl->nclients--;
	bufferevent_free(c->bev);
	free(c);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: client pid %d idle, closed",
		    (int)c->peer.pid);
	client_free(c);
}

static void
client_written(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) ==
	    0)
		client_free(c);
}

static void
reply(struct client *c, uint16_t type, json_t *body)
{
	struct netd_ipc_hdr h = { .magic = NETD_IPC_MAGIC,
	    .version = NETD_IPC_VERSION, .type = type };
	char *s = json_dumps(body, JSON_COMPACT);

	if (s == NULL)
		s = strdup("{\"error\":\"out of memory\"}");
	if (s == NULL) {
		c->closing = 1;
		return;
	}
	h.len = (uint32_t)strlen(s);
	bufferevent_write(c->bev, &h, sizeof(h));
	bufferevent_write(c->bev, s, h.len);
	free(s);
}

static void
reply_error(struct client *c, const char *msg, int close_after)
{
	json_t *o = json_pack("{s:s}", "error", msg);

	reply(c, NETD_IPC_ERROR, o);
	json_decref(o);
	if (close_after) {
		c->closing = 1;
		/* Nothing more is read from a peer that broke the framing. */
		bufferevent_disable(c->bev, EV_READ);
	}
}

static int
in_group(pid_t pid, gid_t primary, gid_t want)
{
	char path[64], line[4096], *p, *end;
	FILE *fp;
	int found = 0;

	if (primary == want)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; *p; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == want)
				found = 1;
		}
	}
	fclose(fp);
	return found;
}

static void
control_dispatch_client(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct netd_ipc_hdr h;
	char err[512];
	json_error_t jerr;
	json_t *req, *res;
	char *body;

	while (!c->closing && evbuffer_get_length(in) >= sizeof(h)) {
		evbuffer_copyout(in, &h, sizeof(h));
		if (h.magic != NETD_IPC_MAGIC ||
		    h.version != NETD_IPC_VERSION) {
			log_warnx("control: pid %d: bad magic or version",
			    (int)c->peer.pid);
			reply_error(c, "malformed request: not a netd control "
			    "message (bad magic or version)", 1);
			return;
		}
		if (h.type < NETD_IPC_STATUS || h.type >= NETD_IPC_TYPE_MAX) {
			snprintf(err, sizeof(err), "malformed request: "
			    "unknown request type %u", (unsigned)h.type);
			reply_error(c, err, 1);
			return;
		}
		if (h.len > NETD_IPC_MAX) {
			snprintf(err, sizeof(err), "malformed request: body "
			    "of %u octets, more than %d", (unsigned)h.len,
			    NETD_IPC_MAX);
			reply_error(c, err, 1);
			return;
		}
		if (evbuffer_get_length(in) < sizeof(h) + h.len)
			return;		/* wait for the rest */
		evbuffer_drain(in, sizeof(h));
		if ((body = malloc(h.len + 1)) == NULL) {
			reply_error(c, "out of memory", 1);
			return;
		}
		evbuffer_remove(in, body, h.len);
		body[h.len] = '\0';
		req = json_loadb(body, h.len, JSON_REJECT_DUPLICATES, &jerr);
		free(body);
		if (req == NULL || !json_is_object(req)) {
			snprintf(err, sizeof(err), "malformed request: body is "
			    "not a JSON object%s%s", req ? "" : ": ",
			    req ? "" : jerr.text);
			json_decref(req);
			reply_error(c, err, 1);
			return;
		}
		if (NETD_IPC_IS_ADMIN(h.type) && c->peer.uid != 0 &&
		    (c->ctl->admin_gid == (gid_t)-1 ||
		    !in_group(c->peer.pid, c->peer.gid, c->ctl->admin_gid))) {
			log_info("control: uid %u (pid %d) denied request %u",
			    (unsigned)c->peer.uid, (int)c->peer.pid,
			    (unsigned)h.type);
			json_decref(req);
			reply_error(c, "permission denied: this request needs "
			    "root or the admin group", 0);
			continue;
		}
		err[0] = '\0';
		res = c->ctl->handler(c->ctl->arg, h.type, req, &c->peer, err,
		    sizeof(err));
		json_decref(req);
		if (res == NULL)
			reply_error(c, err[0] ? err : "request failed", 0);
		else {
			reply(c, NETD_IPC_OK, res);
			json_decref(res);
			/* A follower stays, with no idle timeout. */
			if (c->peer.follow)
				bufferevent_set_timeouts(c->bev, NULL, NULL);
		}
	}
}

static void
control_dispatch_accept(int fd, short ev, void *arg);

static void
control_resume(int fd, short ev, void *arg)
{
	struct control *ctl = arg;

	(void)fd;
	(void)ev;
	event_add(ctl->ev_accept, NULL);
}

static void
control_dispatch_accept(int fd, short ev, void *arg)
{
	struct control *ctl = arg;
	struct timeval idle = { CONTROL_IDLE_SEC, 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int cfd;

	(void)ev;
	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause accept a second. */
				struct timeval tv = { 1, 0 };

				log_warn("control: accept");
				event_del(ctl->ev_accept);
				evtimer_add(ctl->ev_pause, &tv);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control: accept");
			return;
		}
		if (ctl->nclients >= CONTROL_MAX_CLIENTS ||
		    getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ==
		    -1 || (c = calloc(1, sizeof(*c))) == NULL) {
			log_warnx("control: client refused (%d clients)",
			    ctl->nclients);
			close(cfd);
			continue;
		}
		c->ctl = ctl;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		c->bev = bufferevent_socket_new(ctl->base, cfd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			close(cfd);
			free(c);
			continue;
		}
		ctl->nclients++;
		c->next = ctl->clients;
		ctl->clients = c;
		bufferevent_setcb(c->bev, control_dispatch_client,
		    client_written, client_event, c);
		bufferevent_set_timeouts(c->bev, &idle, &idle);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	}
}

struct control *
control_new(struct event_base *base, const char *path, gid_t admin_gid,
    control_handler handler, void *arg, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *ctl;
	mode_t old;
	char dir[sizeof(sun.sun_path)], *slash;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->fd = -1;
	ctl->base = base;
	ctl->admin_gid = admin_gid;
	ctl->handler = handler;
	ctl->arg = arg;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		goto fail;
	}
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", dir,
			    strerror(errno));
			goto fail;
		}
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (ctl->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* A stale socket from a killed netd: replace it. */
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Everyone may ask; only root and admins may change (checked). */
	old = umask(0111);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old);
	if (listen(ctl->fd, 16) == -1) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		goto fail;
	}
	ctl->ev_accept = event_new(base, ctl->fd, EV_READ | EV_PERSIST,
	    control_dispatch_accept, ctl);
	ctl->ev_pause = evtimer_new(base, control_resume, ctl);
	if (ctl->ev_accept == NULL || ctl->ev_pause == NULL ||
	    event_add(ctl->ev_accept, NULL) == -1) {
		snprintf(err, errlen, "event: out of memory");
		goto fail;
	}
	return ctl;
fail:
	control_free(ctl);
	return NULL;
}

void
control_broadcast(struct control *ctl, json_t *body)
{
	struct client *c, *next;

	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->peer.follow || c->closing)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    CONTROL_FOLLOW_MAX) {
			log_warnx("control: follower pid %d too slow, dropped",
			    (int)c->peer.pid);
			client_free(c);
			continue;
		}
		reply(c, NETD_IPC_OK, body);
	}
}

void
control_set_admin_gid(struct control *ctl, gid_t gid)
{
	ctl->admin_gid = gid;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		client_free(ctl->clients);
	if (ctl->ev_accept != NULL)
		event_free(ctl->ev_accept);
	if (ctl->ev_pause != NULL)
		event_free(ctl->ev_pause);
	if (ctl->fd != -1) {
		close(ctl->fd);
		unlink(ctl->path);
	}
	free(ctl);
}
