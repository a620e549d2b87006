/*
 * The app registry and its state files:
 *   STATE/uids                    "COMPONENTID UID" lines, append-only
 *   STATE/running/COMPONENTID.json  one per running app
 * Files are written to a temporary name and renamed, so a crash never
 * leaves half a file.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "apps.h"
#include "log.h"
#include "policy.h"

struct uidmap {
	char	*id;
	uid_t	 uid;
};

struct apps {
	char		 state_dir[PATH_MAX];
	uid_t		 uid_min;
	uid_t		 uid_max;
	struct app	**v;
	size_t		 n;
	size_t		 cap;
	struct uidmap	*map;
	size_t		 nmap;
	size_t		 mapcap;
};

static void
seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int
mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
map_push(struct apps *a, const char *id, uid_t uid)
{
	if (a->nmap == a->mapcap) {
		size_t ncap = a->mapcap ? a->mapcap * 2 : 16;
		struct uidmap *m = reallocarray(a->map, ncap, sizeof(*m));

		if (m == NULL)
			return -1;
		a->map = m;
		a->mapcap = ncap;
	}
	if ((a->map[a->nmap].id = strdup(id)) == NULL)
		return -1;
	a->map[a->nmap++].uid = uid;
	return 0;
}

static void
map_load(struct apps *a)
{
	char path[PATH_MAX + 16], line[256], id[128];
	unsigned long uid;
	FILE *fp;
	int lineno = 0;

	snprintf(path, sizeof(path), "%s/uids", a->state_dir);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (sscanf(line, "%127s %lu", id, &uid) != 2 ||
		    uid > UINT32_MAX - 1) {
			log_warnx("%s:%d: malformed line ignored", path,
			    lineno);
			continue;
		}
		if (map_push(a, id, (uid_t)uid) == -1)
			break;
	}
	fclose(fp);
}

struct apps *
apps_new(const char *state_dir, uid_t uid_min, uid_t uid_max)
{
	struct apps *a;
	char path[PATH_MAX + 16];

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (snprintf(a->state_dir, sizeof(a->state_dir), "%s", state_dir) >=
	    (int)sizeof(a->state_dir)) {
		free(a);
		errno = ENAMETOOLONG;
		return NULL;
	}
	a->uid_min = uid_min;
	a->uid_max = uid_max;
	snprintf(path, sizeof(path), "%s/running", state_dir);
	if (mkdirs(path) == -1) {
		free(a);
		return NULL;
	}
	map_load(a);
	return a;
}

void
app_free(struct app *p)
{
	if (p == NULL)
		return;
	if (p->pidfd != -1)
		close(p->pidfd);
	policy_free(p->pol);
	free(p->name);
	free(p->component_id);
	free(p->file);
	free(p->manifest);
	free(p);
}

void
apps_free(struct apps *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		app_free(a->v[i]);
	for (i = 0; i < a->nmap; i++)
		free(a->map[i].id);
	free(a->map);
	free(a->v);
	free(a);
}

const char *
apps_uid_owner(const struct apps *a, uid_t uid)
{
	size_t i;

	for (i = 0; i < a->nmap; i++)
		if (a->map[i].uid == uid)
			return a->map[i].id;
	return NULL;
}

int
apps_uid_for(struct apps *a, const char *id, uid_t *out, char *err,
    size_t errlen)
{
	uint64_t h = 0xcbf29ce484222325ULL, span, k;
	char path[PATH_MAX + 16];
	size_t i;
	FILE *fp;

	/*
	 * The latest entry wins. One outside the range (the range changed
	 * since) is not reused: the rules filter only uids in the range, so
	 * such an app would run unfiltered. It gets a new uid in the range.
	 */
	for (i = a->nmap; i-- > 0;)
		if (strcmp(a->map[i].id, id) == 0) {
			if (a->map[i].uid < a->uid_min ||
			    a->map[i].uid > a->uid_max)
				break;
			*out = a->map[i].uid;
			return 0;
		}
	/* Derived from the id, so a lost map tends to give the same uid. */
	for (i = 0; id[i]; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ULL;
	}
	span = (uint64_t)a->uid_max - a->uid_min + 1;
	for (k = 0; k < span; k++) {
		uid_t uid = (uid_t)(a->uid_min + (h + k) % span);

		if (apps_uid_owner(a, uid) != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/uids", a->state_dir);
		if ((fp = fopen(path, "a")) == NULL ||
		    fprintf(fp, "%s %u\n", id, (unsigned)uid) < 0 ||
		    fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
			seterr(err, errlen, "cannot save %s: %s", path,
			    strerror(errno));
			if (fp != NULL)
				fclose(fp);
			return -1;
		}
		fclose(fp);
		if (map_push(a, id, uid) == -1) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
		*out = uid;
		return 0;
	}
	seterr(err, errlen, "no free uid left in %u-%u",
	    (unsigned)a->uid_min, (unsigned)a->uid_max);
	return -1;
}

void
apps_set_range(struct apps *a, uid_t uid_min, uid_t uid_max)
{
	a->uid_min = uid_min;
	a->uid_max = uid_max;
}

int
apps_add(struct apps *a, struct app *p)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		struct app **v = reallocarray(a->v, ncap, sizeof(*v));

		if (v == NULL)
			return -1;
		a->v = v;
		a->cap = ncap;
	}
	a->v[a->n++] = p;
	return 0;
}

static void
running_path(const struct apps *a, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/running/%s.json", a->state_dir, id);
}

void
apps_remove(struct apps *a, struct app *p)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->v[i] == p) {
			a->v[i] = a->v[--a->n];
			break;
		}
	running_path(a, p->component_id, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("%s: unlink %s", __func__, path);
	app_free(p);
}

struct app *
apps_find(const struct apps *a, const char *key)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i]->name, key) == 0 ||
		    strcasecmp(a->v[i]->component_id, key) == 0)
			return a->v[i];
	return NULL;
}

struct app *
apps_find_uid(const struct apps *a, uid_t uid)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->v[i]->uid == uid)
			return a->v[i];
	return NULL;
}

size_t
apps_count(const struct apps *a)
{
	return a->n;
}

struct app *
apps_get(const struct apps *a, size_t i)
{
	return i < a->n ? a->v[i] : NULL;
}

unsigned long long
proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		st = strtoull(p, NULL, 10);
	return st;
}

int
apps_save_running(const struct apps *a, const struct app *p)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80], st[32];
	json_t *o;
	int rc = -1;


	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "component_id",
	    p->component_id, "name", p->name, "uid", (json_int_t)p->uid,
	    "pid", (json_int_t)p->pid, "started", (json_int_t)p->started,
	    "file", p->file, "manifest", p->manifest);
	if (o == NULL)
		return -1;
	/* A string: jansson integers are signed 64-bit. */
	snprintf(st, sizeof(st), "%llu", p->starttime);
	json_object_set_new(o, "starttime_str", json_string(st));
	running_path(a, p->component_id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(o, tmp, JSON_COMPACT) == 0 &&
	    rename(tmp, path) == 0)
		rc = 0;
	else
		log_warn("%s: %s", __func__, path);
	json_decref(o);
	return rc;
}

void
apps_load_running(struct apps *a, void (*cb)(struct app *, void *),
    void *arg)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/running", a->state_dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *id, *name, *file, *man, *st;
		json_int_t uid, pid, started;
		struct app *p;
		json_t *o;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		o = json_load_file(path, 0, NULL);
		if (o == NULL || json_unpack(o, "{s:s, s:s, s:I, s:I, s:s, "
		    "s:I, s:s, s:s}", "component_id", &id, "name", &name,
		    "uid", &uid, "pid", &pid, "starttime_str", &st,
		    "started", &started, "file", &file, "manifest",
		    &man) != 0) {
			log_warnx("%s: malformed state file removed", path);
			json_decref(o);
			unlink(path);
			continue;
		}
		/* The same process, not a reused pid. */
		if (proc_starttime((pid_t)pid) == 0 ||
		    proc_starttime((pid_t)pid) != strtoull(st, NULL, 10)) {
			log_info("app %s (pid %lld) is gone", name,
			    (long long)pid);
			json_decref(o);
			unlink(path);
			continue;
		}
		p = calloc(1, sizeof(*p));
		if (p != NULL) {
			p->pidfd = -1;
			p->name = strdup(name);
			p->component_id = strdup(id);
			p->file = strdup(file);
			p->manifest = strdup(man);
			p->uid = (uid_t)uid;
			p->pid = (pid_t)pid;
			p->starttime = strtoull(st, NULL, 10);
			p->started = (time_t)started;
			p->pol = policy_load_buf(man, strlen(man), NULL);
			if (p->name && p->component_id && p->file &&
			    p->manifest && p->pol)
				cb(p, arg);
			else {
				log_warnx("%s: cannot restore", path);
				app_free(p);
				unlink(path);
			}
		}
		json_decref(o);
	}
	closedir(d);
}
