/*
 * The body of struct policy and the builder the loader uses. Internal to
 * policy/: everything outside sees only include/policy.h.
 */
#ifndef NETD_POLICY_POLICY_INT_H
#define NETD_POLICY_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct hostset;
struct hostpat;

enum policy_flag {
	POLICY_F_NETWORK_CONFIG,
	POLICY_F_SNTP_SERVICE,
	POLICY_F_DHCP_SERVICE,
	POLICY_F_CERT_STORE,
	POLICY_F_READ_NETWORK_PROXY_CONFIG,
	POLICY_F_COUNT,
};

/* JSON key of each flag, in canonical print order. */
extern const char *const policy_flag_key[POLICY_F_COUNT];

struct policy_ports {
	uint16_t	*v;
	size_t		 n;
	size_t		 cap;
};

struct policy_prefixes {
	struct policy_prefix	*v;
	size_t			 n;
	size_t			 cap;
};

struct policy {
	int			 schema_version;
	char			*name;
	char			*component_id;	/* lower case */
	char			*entry_point;
	char			*app_type;	/* NULL when absent */
	char			*device_auth;	/* lower case, or NULL */
	bool			 flags[POLICY_F_COUNT];

	struct hostset		*exact;		/* "api.example.com" */
	struct hostset		*wild;		/* "example.com" for *.x */
	char			**names;	/* canonical, sorted */
	size_t			 nnames;
	size_t			 names_cap;
	struct policy_prefixes	 pfx4;
	struct policy_prefixes	 pfx6;
	struct policy_ports	 tcp;
	struct policy_ports	 udp;
};

struct policy	*policy_new(void);
/* 1 added, 0 duplicate, -1 ENOMEM. */
int		 policy_add_pattern(struct policy *, const struct hostpat *);
int		 policy_add_port(struct policy *, int proto, uint16_t port);
/*
 * True if pfx lies inside another, strictly wider prefix of the policy;
 * *by gets that prefix. Such entries would overlap in the kernel's
 * interval sets, so policy_finish() drops them.
 */
bool		 policy_prefix_covered(const struct policy *,
		    const struct policy_prefix *, struct policy_prefix *by);
/* Drop covered prefixes, sort the lists into canonical order. */
void		 policy_finish(struct policy *);

/* Diagnostics builder. value is copied; NULL means none. */
int		 policy_diag_add(struct policy_diag *, enum policy_sev,
		    const char *path, const char *value, const char *reason);
int		 policy_diag_add_at(struct policy_diag *, int line, int column,
		    const char *reason);

#endif /* NETD_POLICY_POLICY_INT_H */
