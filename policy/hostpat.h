/*
 * hostpat: one AllowedConnections entry -> host name, "*." wildcard or
 * address prefix, with a precise reason when it is refused; and hostset, the
 * hash set of names the matcher looks up. Internal to policy/.
 */
#ifndef NETD_POLICY_HOSTPAT_H
#define NETD_POLICY_HOSTPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define HOSTPAT_NAME_MAX	253	/* octets, without the trailing dot */
#define HOSTPAT_LABEL_MAX	63
#define HOSTPAT_WHY_MAX		256

enum hostpat_kind {
	HOSTPAT_NAME,
	HOSTPAT_WILDCARD,	/* name holds the suffix, without "*." */
	HOSTPAT_PREFIX,
};

enum hostpat_status {
	HOSTPAT_OK = 0,
	HOSTPAT_EEMPTY,		/* empty string */
	HOSTPAT_ESPACE,		/* white space or control character */
	HOSTPAT_EURL,		/* scheme://... */
	HOSTPAT_EPORT,		/* host:port */
	HOSTPAT_EPLACEHOLDER,	/* <...> or {...} */
	HOSTPAT_EIPV4,		/* non-canonical or invalid IPv4 */
	HOSTPAT_EIPV6,		/* invalid IPv6 */
	HOSTPAT_EPREFIX,	/* bad prefix length or host bits set */
	HOSTPAT_EWILDCARD,	/* '*' outside a leading "*." */
	HOSTPAT_ENAME,		/* invalid label, length, character */
};

struct hostpat {
	enum hostpat_kind	 kind;
	char			 name[HOSTPAT_NAME_MAX + 1];	/* lower case */
	struct policy_prefix	 prefix;
	/* Warning (valid entry): obvious placeholder or too broad, else "" */
	char			 warn[HOSTPAT_WHY_MAX];
};

/*
 * Parse one entry of len octets. On error returns the status and writes a
 * human reason (lower case, no period) to why[HOSTPAT_WHY_MAX].
 */
enum hostpat_status	 hostpat_parse(const char *s, size_t len,
			    struct hostpat *out, char *why);
const char		*hostpat_strerror(enum hostpat_status);

/*
 * Copy a name to query into out[HOSTPAT_NAME_MAX + 1] in lower case without
 * its trailing dot. Returns the length, or -1 if it cannot be a name.
 */
int			 hostpat_normalize(const char *name, char *out);

/* Format a prefix: plain address when plen is full length. */
void			 hostpat_prefix_str(const struct policy_prefix *,
			    char *buf, size_t len);

/* Open-addressing hash set of lower-case names. */
struct hostset;

struct hostset	*hostset_new(void);
void		 hostset_free(struct hostset *);
/* Copies name. Returns 1 if added, 0 if already present, -1 on ENOMEM. */
int		 hostset_add(struct hostset *, const char *name, size_t len);
bool		 hostset_contains(const struct hostset *, const char *name,
		    size_t len);
size_t		 hostset_count(const struct hostset *);

#endif /* NETD_POLICY_HOSTPAT_H */
