/*
 * netd_tls: the client side of netd's TLS gateway. An app asks netd for a
 * TLS connection to HOST:PORT and gets back a plain stream socket: what it
 * writes goes to the peer encrypted, what the peer sends arrives in clear.
 * netd resolves the host, checks it against the app's manifest, connects,
 * verifies the peer's certificate chain and name (no way to turn that
 * off), and presents the device certificate when the app's manifest has
 * DeviceAuthentication. The device key never leaves netd.
 *
 * The protocol on the gateway socket (a unix stream socket, tls_socket in
 * netd.conf, default NETD_TLS_SOCKET), for clients not using this API:
 *
 *   client -> netd   "CONNECT <host> <port>\n"
 *                    host: a DNS name or an IPv4/IPv6 literal (no
 *                    brackets), at most 253 octets; port 1-65535; the
 *                    whole line at most NETD_TLS_LINE_MAX octets, sent
 *                    within 10 seconds of connecting.
 *   netd -> client   "OK <address> <port> <tls-version> <ciphersuite>\n"
 *                    then the stream carries the plaintext both ways;
 *                or  "ERR <reason> <text>\n" and netd closes.
 *
 * reason is one word, NETD_TLS_E_*: bad-request, not-an-app, denied,
 * resolve, connect, untrusted, name-mismatch, expired, handshake, limit,
 * internal. The caller's uid (SO_PEERCRED) picks the app.
 *
 * After OK: a shutdown(SHUT_WR) by the client makes netd send close_notify
 * to the peer; the peer's close_notify makes netd shut down its side of
 * the stream, so the client reads EOF. A peer that closes without
 * close_notify, or a TLS error mid-stream, ends the stream too (EOF after
 * the data that arrived), and is reported as an event ("netctl events",
 * kind "tls", with the reason and the octets relayed) and in netd's log.
 */
#ifndef NETD_INCLUDE_NETD_TLS_H
#define NETD_INCLUDE_NETD_TLS_H

#include <stddef.h>

#define NETD_TLS_SOCKET		"/run/netd/tls.sock"
#define NETD_TLS_SOCKET_ENV	"NETD_TLS_SOCKET"
#define NETD_TLS_LINE_MAX	512

/* Reasons in an ERR line. */
#define NETD_TLS_E_BADREQ	"bad-request"
#define NETD_TLS_E_NOTAPP	"not-an-app"
#define NETD_TLS_E_DENIED	"denied"
#define NETD_TLS_E_RESOLVE	"resolve"
#define NETD_TLS_E_CONNECT	"connect"
#define NETD_TLS_E_UNTRUSTED	"untrusted"
#define NETD_TLS_E_NAME		"name-mismatch"
#define NETD_TLS_E_EXPIRED	"expired"
#define NETD_TLS_E_HANDSHAKE	"handshake"
#define NETD_TLS_E_LIMIT	"limit"
#define NETD_TLS_E_INTERNAL	"internal"

/*
 * flags for netd_tls_connect(), applied to the returned descriptor. Without
 * NETD_TLS_CLOEXEC it is inherited across exec, as one from socket(2)
 * without SOCK_CLOEXEC (it has close-on-exec while the call runs, so that
 * an exec in another thread cannot take a half-made session).
 */
#define NETD_TLS_NONBLOCK	0x1	/* O_NONBLOCK */
#define NETD_TLS_CLOEXEC	0x2	/* FD_CLOEXEC */

/*
 * Connect to host:port through netd's gateway (the socket in the
 * environment variable NETD_TLS_SOCKET, if set and not empty and the
 * program is not set-id, else NETD_TLS_SOCKET). Blocks until the handshake
 * is done or failed; a signal does not interrupt it. Returns a stream
 * socket, or -1 with errno set:
 *   EACCES        denied, not-an-app: the manifest does not allow host
 *   EHOSTUNREACH  resolve: the name has no address
 *   ECONNREFUSED  connect: no address of host accepted the connection
 *   EPROTO        untrusted, name-mismatch, expired, handshake
 *   EAGAIN        limit: too many sessions
 *   EINVAL        bad-request, or bad arguments (checked before netd is
 *                 asked: host empty, longer than 253 octets, or with white
 *                 space or control characters; port not 1-65535; unknown
 *                 flags)
 *   EIO           internal, or a garbled or missing reply
 *   and the errors of socket(2) and connect(2) when netd is unreachable
 *   (ENAMETOOLONG for a socket path that does not fit).
 * netd_tls_error() then says why in one line.
 */
int		 netd_tls_connect(const char *host, unsigned port, int flags);

/*
 * The last failure of netd_tls_connect() in this thread: "<reason>: <text>"
 * as netd sent it, or a local reason; "no error" before the first. A
 * success leaves it alone. Never NULL; the string belongs to the thread
 * and changes at its next failure.
 */
const char	*netd_tls_error(void);

#endif /* NETD_INCLUDE_NETD_TLS_H */
