/*
 * An nfnetlink_log listener on libmnl: bind the group, ask for the first
 * 64 octets of each packet (enough for the IP and transport headers; the
 * kernel adds the socket's uid by itself), and parse what comes.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>

#include "log.h"
#include "nflog.h"

#define NFLOG_COPY	64

struct nflog {
	struct mnl_socket	*nl;
	struct event		*ev;
	uint16_t		 group;
	nflog_cb		 cb;
	void			*arg;
	uint32_t		 seq;
};

static int
config(struct nflog *l, uint8_t cmd_or_0, int with_mode)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, 256);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++l->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(l->group);
	if (cmd_or_0 != 0) {
		struct nfulnl_msg_config_cmd cmd = { .command = cmd_or_0 };

		mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	}
	if (with_mode) {
		struct nfulnl_msg_config_mode mode;

		memset(&mode, 0, sizeof(mode));
		mode.copy_range = htonl(NFLOG_COPY);
		mode.copy_mode = NFULNL_COPY_PACKET;
		mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
		/* Each packet at once, not in batches flushed every second. */
		mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
	}
	if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	/* The ack. */
	{
		ssize_t n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf));

		if (n == -1)
			return -1;
		return mnl_cb_run(buf, (size_t)n, l->seq,
		    mnl_socket_get_portid(l->nl), NULL, NULL) == -1 ? -1 : 0;
	}
}

struct attrs {
	const struct nlattr	*a[NFULA_MAX + 1];
};

static int
attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) > 0)
		t->a[type] = a;
	return MNL_CB_OK;
}

static void
parse(struct nflog *l, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct nflog_event ev;
	struct attrs t;
	const uint8_t *p;
	size_t len, l4 = 0;

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return;
	memset(&t, 0, sizeof(t));
	if (mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, &t) != MNL_CB_OK ||
	    t.a[NFULA_PAYLOAD] == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.uid = (uid_t)-1;
	if (t.a[NFULA_UID] != NULL &&
	    mnl_attr_get_payload_len(t.a[NFULA_UID]) == 4)
		ev.uid = ntohl(mnl_attr_get_u32(t.a[NFULA_UID]));
	if (t.a[NFULA_PREFIX] != NULL) {
		const char *pfx = mnl_attr_get_payload(t.a[NFULA_PREFIX]);
		size_t plen = mnl_attr_get_payload_len(t.a[NFULA_PREFIX]);
		size_t i;

		/* "netd deny " -> "deny" */
		if (plen > 5 && strncmp(pfx, "netd ", 5) == 0) {
			pfx += 5;
			plen -= 5;
		}
		for (i = 0; i < plen && i < sizeof(ev.kind) - 1 &&
		    pfx[i] != ' ' && pfx[i] != '\0'; i++)
			ev.kind[i] = pfx[i];
	}
	p = mnl_attr_get_payload(t.a[NFULA_PAYLOAD]);
	len = mnl_attr_get_payload_len(t.a[NFULA_PAYLOAD]);
	if (len >= 20 && (p[0] >> 4) == 4) {
		ev.family = AF_INET;
		ev.proto = p[9];
		memcpy(ev.daddr, p + 16, 4);
		l4 = (size_t)(p[0] & 0x0f) * 4;
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		ev.family = AF_INET6;
		ev.proto = p[6];
		memcpy(ev.daddr, p + 24, 16);
		l4 = 40;
	} else
		return;
	if ((ev.proto == IPPROTO_TCP || ev.proto == IPPROTO_UDP) &&
	    l4 >= 20 && len >= l4 + 4)
		ev.dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	(void)nfg;
	l->cb(&ev, l->arg);
}

static void
nflog_dispatch_kernel(int fd, short what, void *arg)
{
	struct nflog *l = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	(void)what;
	/* Drain everything queued, then wait again. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh;
		int left = (int)n;

		for (nlh = (const struct nlmsghdr *)buf;
		    mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			parse(l, nlh);
	}
	if (n == -1 && errno == ENOBUFS)
		log_warnx("nflog: events lost (the kernel's queue was full)");
}

struct nflog *
nflog_open(struct event_base *base, uint16_t group, nflog_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct nflog *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->group = group;
	l->cb = cb;
	l->arg = arg;
	if ((l->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "nflog socket: %s", strerror(errno));
		goto fail;
	}
	if (config(l, NFULNL_CFG_CMD_BIND, 0) == -1 ||
	    config(l, 0, 1) == -1) {
		snprintf(err, errlen, "nflog group %u: %s", (unsigned)group,
		    strerror(errno));
		goto fail;
	}
	l->ev = event_new(base, mnl_socket_get_fd(l->nl), EV_READ | EV_PERSIST,
	    nflog_dispatch_kernel, l);
	if (l->ev == NULL || event_add(l->ev, NULL) == -1) {
		snprintf(err, errlen, "nflog: event");
		goto fail;
	}
	return l;
fail:
	nflog_close(l);
	return NULL;
}

void
nflog_close(struct nflog *l)
{
	if (l == NULL)
		return;
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->nl != NULL)
		mnl_socket_close(l->nl);
	free(l);
}
