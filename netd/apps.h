/*
 * apps: the registry of running apps. Each app has a compiled policy, a uid
 * and the process it was started for (watched with a pidfd by netd.c). The
 * ComponentId -> uid map and the running apps are kept in state_dir, so the
 * same app gets the same uid every time and a restarted netd resumes.
 */
#ifndef NETD_NETD_APPS_H
#define NETD_NETD_APPS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct policy;
struct apps;

struct app {
	char		*name;
	char		*component_id;
	char		*file;		/* manifest path, as given */
	char		*manifest;	/* manifest text, for restarts */
	struct policy	*pol;
	uid_t		 uid;
	pid_t		 pid;
	unsigned long long starttime;	/* /proc/PID/stat field 22 */
	time_t		 started;
	int		 pidfd;		/* -1 when not watched */
	uint64_t	 denied;	/* packets refused (NFLOG) */
	/* DNS: queries, answered, names refused, answered from cache. */
	uint64_t	 dns_queries;
	uint64_t	 dns_allowed;
	uint64_t	 dns_denied;
	uint64_t	 dns_cache_hits;
	void		*watch;		/* the daemon's event, or NULL */
};

/* Returns NULL on error (errno set). Caller frees with apps_free(). */
struct apps	*apps_new(const char *state_dir, uid_t uid_min, uid_t uid_max);
void		 apps_free(struct apps *);

/*
 * The uid of a ComponentId: from the persistent map, else a new one from
 * the range (derived from the id, the next free one on collision), saved
 * before it is returned. 0 or -1 with err filled.
 */
int		 apps_uid_for(struct apps *, const char *component_id,
		    uid_t *out, char *err, size_t errlen);
/* The app uid range changed (reload). */
void		 apps_set_range(struct apps *, uid_t uid_min, uid_t uid_max);
/* Which ComponentId owns uid in the map, or NULL. */
const char	*apps_uid_owner(const struct apps *, uid_t);

/* Takes ownership of a (allocated with calloc, fields malloc'ed). */
int		 apps_add(struct apps *, struct app *);
/* Removes and frees a, and forgets it in state_dir. */
void		 apps_remove(struct apps *, struct app *);
struct app	*apps_find(const struct apps *, const char *name_or_id);
struct app	*apps_find_uid(const struct apps *, uid_t);
size_t		 apps_count(const struct apps *);
struct app	*apps_get(const struct apps *, size_t);
void		 app_free(struct app *);

/* Persist a (state_dir/running/COMPONENTID.json) / load them all back. */
int		 apps_save_running(const struct apps *, const struct app *);
/* Calls cb for each saved app whose process still lives; drops others. */
void		 apps_load_running(struct apps *,
		    void (*cb)(struct app *, void *), void *);

/* Start time of pid from /proc, or 0. */
unsigned long long proc_starttime(pid_t);

#endif /* NETD_NETD_APPS_H */
