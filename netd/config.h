/*
 * config: the daemon's configuration file (netd.conf), "key = value" lines
 * into a plain struct. Parsing only: nothing here opens sockets, resolves
 * group names or touches the paths it reads.
 */
#ifndef NETD_NETD_CONFIG_H
#define NETD_NETD_CONFIG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_ERR_MAX		512	/* enough for any message */
#define CONFIG_MAX_ADDRS	4	/* per address list */
#define CONFIG_LINE_MAX		1024	/* longer lines are an error */

/* An address and port. addr is in network order, port in host order. */
struct config_addr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* AF_INET uses the first 4 bytes */
	uint16_t	port;
};

/*
 * Plain data: copied whole, never edited in place. Comments give the key
 * where it differs from the field name. admin_group is a group name, or a
 * gid when all digits; "" means root only. The caller resolves it.
 */
struct netd_config {
	char			control_socket[108];	/* absolute path */
	char			admin_group[64];
	uid_t			uid_min;	/* app_uid_range, 1.. */
	uid_t			uid_max;	/* ..(uid_t)-2 */
	struct config_addr	dns_listen[CONFIG_MAX_ADDRS];
	size_t			ndns_listen;	/* 1.. */
	struct config_addr	upstream[CONFIG_MAX_ADDRS];
	size_t			nupstream;	/* 0: use resolv.conf */
	unsigned		min_ttl;	/* seconds */
	unsigned		max_ttl;	/* seconds, >= min_ttl */
	unsigned		grace;		/* seconds */
	unsigned		max_addrs_per_name;
	unsigned		max_grants_per_app;
	unsigned		nflog_group;
	char			state_dir[256];	/* absolute path */
	bool			refuse_non_app;	/* refuse_non_app_queries */
	int			deny_rcode;	/* 3 NXDOMAIN or 5 REFUSED */
	unsigned		cache_size;	/* answers; 0: no cache */
	bool			rebind_protection;
	/* Names and "*." wildcards, lower case, separated by one space. */
	char			rebind_allow[CONFIG_LINE_MAX];
	char			tls_socket[108];	/* absolute path */
	char			ca_file[256];
	char			device_cert[256];	/* "": none */
	char			device_key[256];	/* "": none */
	unsigned		tls_max_sessions;
	unsigned		tls_max_per_app;
	unsigned		tls_idle_timeout;	/* seconds */
};

/* Fill *c with the built-in defaults (those of configs/netd.conf). */
void	config_defaults(struct netd_config *c);

/*
 * Read and parse the file at path. Returns 0 with *out replaced by the
 * defaults overridden by the file, or -1 with *out unchanged and a one-line
 * message in err ("FILE:LINE: ...", "cannot open FILE: ...") cut to errlen.
 * A missing file is an error: the caller decides whether that is fatal.
 * err may be NULL.
 */
int	config_load(const char *path, struct netd_config *out, char *err,
	    size_t errlen);

/*
 * As config_load(), from len bytes at buf, which need not be NUL-terminated.
 * name (the file name in messages) may be NULL.
 */
int	config_parse(const char *name, const char *buf, size_t len,
	    struct netd_config *out, char *err, size_t errlen);

/*
 * Write every key with its value, one "key = value" line each, in the order
 * of configs/netd.conf. The output parses back to an equal struct.
 */
void	config_print(const struct netd_config *c, FILE *fp);

#endif /* NETD_NETD_CONFIG_H */
