/*
 * tls-example: an HTTP/1.0 GET through netd's TLS gateway, to show the
 * client API of include/netd_tls.h. Run it as an app (netctl run) whose
 * manifest allows HOST:
 *
 *	tls-example HOST PORT [PATH]
 *
 * prints the response (headers and body) and exits 0, or 1 with the reason.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd_tls.h"

int
main(int argc, char *argv[])
{
	const char *host, *path = argc > 3 ? argv[3] : "/";
	char buf[16384], *end;
	unsigned long port;
	size_t off;
	ssize_t n;
	int fd, len;
	bool v6;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: tls-example HOST PORT [PATH]\n");
		return 2;
	}
	host = argv[1];
	port = strtoul(argv[2], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "tls-example: '%s' is not a port\n", argv[2]);
		return 2;
	}

	/* netd resolves, checks the manifest, connects and verifies. */
	if ((fd = netd_tls_connect(host, (unsigned)port, NETD_TLS_CLOEXEC)) ==
	    -1) {
		fprintf(stderr, "tls-example: %s port %lu: %s\n", host, port,
		    netd_tls_error());
		return 1;
	}

	/* From here on fd is a plain stream: write the request in clear. */
	v6 = strchr(host, ':') != NULL;
	len = snprintf(buf, sizeof(buf), "GET %s HTTP/1.0\r\nHost: %s%s%s:%lu"
	    "\r\nConnection: close\r\n\r\n", path, v6 ? "[" : "", host,
	    v6 ? "]" : "", port);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		fprintf(stderr, "tls-example: path too long\n");
		return 1;
	}
	for (off = 0; off < (size_t)len; off += (size_t)n)
		if ((n = send(fd, buf + off, (size_t)len - off,
		    MSG_NOSIGNAL)) == -1) {
			if (errno != EINTR) {
				perror("tls-example: send");
				return 1;
			}
			n = 0;
		}

	/* The response ends when the server closes (HTTP/1.0). */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			perror("tls-example");
			return 1;
		}
	}
	close(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}
