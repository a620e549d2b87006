/*
 * tls: the TLS gateway. Apps ask it, over a unix socket, for a TLS
 * connection to a host their manifest allows (protocol: include/netd_tls.h).
 * netd resolves the host through the upstream servers, connects, runs the
 * mbedTLS handshake (SNI, chain and name verified, TLS 1.2 at least; the
 * device certificate and key for apps with DeviceAuthentication), then
 * relays plaintext <-> TLS on the event loop with bounded buffers.
 */
#ifndef NETD_NETD_TLS_H
#define NETD_NETD_TLS_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

struct event_base;
struct netd_config;
struct apps;
struct tls_gw;

/* A refused request or a session that ended badly; no reference taken. */
typedef void	 tls_event_fn(void *arg, json_t *event);

/*
 * Check that the CA bundle (and the device certificate and key, whose file
 * must be root's and private) load, bind tls_socket. NULL with err filled.
 * The check runs in a child process; the first handshake parses the files
 * in the daemon and the first name to resolve builds the c-ares channel.
 */
struct tls_gw	*tls_new(struct event_base *, const struct netd_config *,
		    struct apps *, tls_event_fn *, void *arg, char *err,
		    size_t errlen);
void		 tls_free(struct tls_gw *);

/*
 * A reload in two steps. tls_prepare() checks that the CA bundle and device
 * files of c load, as tls_new() does, and keeps them aside: 0, or -1 with
 * err filled and nothing changed. tls_commit() then switches new sessions
 * to them (open sessions keep theirs; the first handshake parses them; a
 * new resolver if the servers changed; tls_socket changes take effect at
 * restart) and cannot fail; tls_abort() drops them instead.
 */
int		 tls_prepare(struct tls_gw *, const struct netd_config *,
		    char *err, size_t errlen);
void		 tls_commit(struct tls_gw *, const struct netd_config *);
void		 tls_abort(struct tls_gw *);

/* The app of uid stopped: its sessions end now. */
void		 tls_app_gone(struct tls_gw *, uid_t);

/* Sessions of uid open now. */
size_t		 tls_sessions(const struct tls_gw *, uid_t);

/* Counters, for netctl status. */
json_t		*tls_status(const struct tls_gw *);

#endif /* NETD_NETD_TLS_H */
