/*
 * control: the admin socket. Frames requests (include/netd_ipc.h), checks
 * the header and body, identifies the caller with SO_PEERCRED and refuses
 * mutating requests from anyone but root and the admin group. What a
 * request does is the handler's business.
 */
#ifndef NETD_NETD_CONTROL_H
#define NETD_NETD_CONTROL_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

struct event_base;
struct control;

struct control_peer {
	pid_t	 pid;
	uid_t	 uid;
	gid_t	 gid;
	int	 follow;	/* set by the handler: keep the client, and
				   send it control_broadcast() messages */
};

/*
 * Returns the reply body (the handler's reference passes to the caller),
 * or NULL with err filled for an error reply.
 */
typedef json_t *(*control_handler)(void *arg, int type, json_t *req,
    struct control_peer *, char *err, size_t errlen);

/* admin_gid (gid_t)-1: root only. NULL with err filled on failure. */
struct control	*control_new(struct event_base *, const char *path,
		    gid_t admin_gid, control_handler, void *arg, char *err,
		    size_t errlen);
void		 control_free(struct control *);
void		 control_set_admin_gid(struct control *, gid_t);
/* Send body as an NETD_IPC_OK message to every following client. */
void		 control_broadcast(struct control *, json_t *body);

#endif /* NETD_NETD_CONTROL_H */
