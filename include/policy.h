/*
 * policy: Azure Sphere app_manifest.json -> validated, compiled per-app
 * policy. A pure library: no sockets, no netlink, no globals. Every problem
 * found in a manifest is reported as a diagnostic naming the file, the JSON
 * path and the value; a manifest with any error yields no policy.
 */
#ifndef NETD_INCLUDE_POLICY_H
#define NETD_INCLUDE_POLICY_H

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct policy;
struct policy_diag;

enum policy_sev {
	POLICY_WARNING,
	POLICY_ERROR,
};

/* One diagnostic. Plain data; strings are owned by the policy_diag. */
struct policy_msg {
	enum policy_sev	 sev;
	const char	*path;		/* JSON path, "" for the whole file */
	const char	*value;		/* offending value, NULL if none */
	const char	*reason;
	int		 line;		/* JSON syntax errors only, else 0 */
	int		 column;
};

/*
 * Diagnostics of one file. policy_diag_new() copies file (the name used in
 * messages). Caller frees with policy_diag_free(), which accepts NULL.
 */
struct policy_diag	*policy_diag_new(const char *file);
void			 policy_diag_free(struct policy_diag *);
size_t			 policy_diag_count(const struct policy_diag *);
size_t			 policy_diag_errors(const struct policy_diag *);
size_t			 policy_diag_warnings(const struct policy_diag *);
const struct policy_msg	*policy_diag_get(const struct policy_diag *, size_t);
const char		*policy_diag_file(const struct policy_diag *);
/* "FILE: PATH: "VALUE": reason" (warnings: "FILE: warning: PATH: ..."). */
void			 policy_diag_print(const struct policy_diag *, FILE *);

/*
 * Load and compile a manifest. Returns NULL when the file cannot be read
 * or has any error; diag (which may be NULL) receives every error and
 * warning. A UTF-8 BOM is skipped. Caller frees with policy_free().
 */
struct policy	*policy_load_file(const char *path, struct policy_diag *);
struct policy	*policy_load_buf(const char *buf, size_t len,
		    struct policy_diag *);
void		 policy_free(struct policy *);

/* Accessors. Strings stay owned by the policy. */
const char	*policy_get_name(const struct policy *);
/* Lower-case canonical form: GUIDs compare case-insensitively. */
const char	*policy_get_component_id(const struct policy *);
bool		 policy_has_device_auth(const struct policy *);
/* Lower-case tenant GUID from DeviceAuthentication, or NULL. */
const char	*policy_get_device_auth(const struct policy *);

/*
 * True if the host name is allowed: an exact entry (case-insensitive, one
 * trailing dot ignored) or a "*.suffix" entry with one or more labels in
 * front of suffix. Costs O(labels of name), whatever the number of entries.
 */
bool		 policy_allows_name(const struct policy *, const char *name);

/* Address entries: a literal is a prefix of full length. */
struct policy_prefix {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network byte order, host bits 0 */
	uint8_t		 plen;
};

size_t		 policy_prefix_count(const struct policy *, int family);
const struct policy_prefix *policy_prefix_get(const struct policy *,
		    int family, size_t idx);
/* True if addr (network byte order) falls in an address entry. */
bool		 policy_allows_addr(const struct policy *, int family,
		    const void *addr);

/* Sorted, without duplicates. proto is IPPROTO_TCP or IPPROTO_UDP. */
size_t		 policy_port_count(const struct policy *, int proto);
uint16_t	 policy_port_get(const struct policy *, int proto, size_t idx);

/* Host-name entries in canonical (sorted) order; wildcards as "*.x". */
size_t		 policy_name_count(const struct policy *);
const char	*policy_name_get(const struct policy *, size_t idx);

/*
 * Canonical printer: the compiled policy as a manifest, stable and sorted.
 * Loading the output gives a policy that prints identically. Returns a
 * NUL-terminated string the caller frees with free(), or NULL.
 */
char		*policy_print(const struct policy *);

#endif /* NETD_INCLUDE_POLICY_H */
