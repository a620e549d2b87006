/*
 * bench_policy: what netd's policy library costs, each figure beside a
 * reference.
 *
 *  load     1,000 manifests of 20 AllowedConnections entries each, read
 *           from files with policy_load_file (parse, validate, compile);
 *           reference: the same files parsed by jansson's json_load_file
 *           alone, without validation.
 *  lookup   policy_allows_name against policies of 10 and 10,000 patterns
 *           (half exact names, half "*." wildcards), for exact hits,
 *           wildcard hits and misses, names of 3-5 labels; reference: a
 *           naive linear matcher over the same pattern list.
 *
 * Every timed figure is the median of REPS runs.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "policy.h"
#include "bench.h"

#define REPS		7
#define NMANIFESTS	1000
#define NENTRIES	20
#define NQUERIES	1024		/* distinct names per query class */
#define MIN_RUN_NS	20000000.0	/* calibrate a lookup run to >= 20 ms */

enum qclass {
	Q_EXACT,
	Q_WILD,
	Q_MISS,
	Q_COUNT,
};

static const char *const qclass_name[Q_COUNT] = {
	"exact hit", "wildcard hit", "miss",
};

/* One pattern of the naive matcher: a name or a "*." suffix. */
struct naive_pat {
	const char	*s;		/* name, or suffix without "*." */
	size_t		 len;
	bool		 wild;
};

struct patset {
	size_t		 n;
	char		**pats;		/* as written in the manifest */
	struct naive_pat *naive;
	struct policy	*pol;
	char		**q[Q_COUNT];	/* NQUERIES names per class */
};

static volatile size_t sink;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_policy: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n)) == NULL)
		die("out of memory");
	return p;
}

static char * __attribute__((format(printf, 1, 2)))
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		die("out of memory");
	return s;
}

/* xorshift64*: a fixed sequence, so every run measures the same work. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/*
 * Host patterns, half exact and half wildcard, interleaved. Exact names
 * have 3-5 labels; wildcard suffixes have 2-4, so one label in front gives
 * a 3-5 label name.
 */
static char *
exact_name(unsigned k)
{
	switch (k % 3) {
	case 0:
		return xasprintf("host%u.example.com", k);
	case 1:
		return xasprintf("host%u.eu.example.com", k);
	default:
		return xasprintf("host%u.a.eu.example.com", k);
	}
}

static char *
wild_suffix(unsigned k)
{
	switch (k % 3) {
	case 0:
		return xasprintf("tenant%u.net", k);
	case 1:
		return xasprintf("tenant%u.iot.net", k);
	default:
		return xasprintf("tenant%u.x.iot.net", k);
	}
}

/* Names of 3-5 labels that no pattern allows, close to ones that are. */
static char *
miss_name(unsigned k)
{
	switch (k % 3) {
	case 0:
		return xasprintf("miss%u.example.com", k);
	case 1:
		return xasprintf("dev.tenant%u.iot.org", k);
	default:
		return xasprintf("m.host%u.eu.example.com", k);
	}
}

static char *
manifest_text(const char *name, unsigned id, char *const *pats, size_t n)
{
	size_t i, cap = 512, len = 0;
	char *s = xmalloc(cap);
	int r;

	r = snprintf(s, cap, "{\n  \"SchemaVersion\": 1,\n"
	    "  \"Name\": \"%s\",\n"
	    "  \"ComponentId\": \"%08x-1c2d-4e5f-8a9b-%012x\",\n"
	    "  \"EntryPoint\": \"/bin/app\",\n  \"CmdArgs\": [],\n"
	    "  \"Capabilities\": {\n    \"AllowedConnections\": [",
	    name, id, id);
	len = (size_t)r;
	for (i = 0; i < n; i++) {
		size_t need = strlen(pats[i]) + 16;

		if (len + need + 64 > cap) {
			cap = (len + need + 64) * 2;
			if ((s = realloc(s, cap)) == NULL)
				die("out of memory");
		}
		len += (size_t)snprintf(s + len, cap - len, "%s\n      \"%s\"",
		    i ? "," : "", pats[i]);
	}
	snprintf(s + len, cap - len, "\n    ],\n"
	    "    \"AllowedTcpServerPorts\": [ 8080 ]\n  },\n"
	    "  \"ApplicationType\": \"Default\"\n}\n");
	return s;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- load ---- */

/* 20 entries: 12 names, 5 wildcards, 2 IPv4 addresses, 1 CIDR. */
static void
load_entries(unsigned m, char **e)
{
	unsigned i;

	for (i = 0; i < 12; i++)
		e[i] = exact_name(m * 12 + i);
	for (i = 0; i < 5; i++) {
		char *suf = wild_suffix(m * 5 + i);

		e[12 + i] = xasprintf("*.%s", suf);
		free(suf);
	}
	for (i = 0; i < 2; i++)
		e[17 + i] = xasprintf("192.0.%u.%u", m % 250, 1 + i);
	e[19] = xasprintf("10.%u.%u.0/24", m / 250, m % 250);
}

static void
write_manifests(const char *dir, char **paths)
{
	char *e[NENTRIES];
	unsigned m, i;

	for (m = 0; m < NMANIFESTS; m++) {
		char *name, *text;
		FILE *f;

		load_entries(m, e);
		name = xasprintf("app%04u", m);
		text = manifest_text(name, m, e, NENTRIES);
		paths[m] = xasprintf("%s/%s.json", dir, name);
		if ((f = fopen(paths[m], "w")) == NULL)
			die("%s: %s", paths[m], strerror(errno));
		if (fputs(text, f) == EOF || fclose(f) == EOF)
			die("%s: write error", paths[m]);
		free(text);
		free(name);
		for (i = 0; i < NENTRIES; i++)
			free(e[i]);
	}
}

static double
time_netd_load(char **paths)
{
	double t0 = now_ns();
	unsigned m;

	for (m = 0; m < NMANIFESTS; m++) {
		struct policy_diag *d = policy_diag_new(paths[m]);
		struct policy *p;

		if (d == NULL)
			die("out of memory");
		if ((p = policy_load_file(paths[m], d)) == NULL) {
			policy_diag_print(d, stderr);
			die("%s: does not load", paths[m]);
		}
		sink += policy_name_count(p);
		policy_free(p);
		policy_diag_free(d);
	}
	return now_ns() - t0;
}

static double
time_jansson_load(char **paths)
{
	double t0 = now_ns();
	json_error_t err;
	unsigned m;

	for (m = 0; m < NMANIFESTS; m++) {
		json_t *root;

		if ((root = json_load_file(paths[m], 0, &err)) == NULL)
			die("%s: %s", paths[m], err.text);
		sink += json_object_size(root);
		json_decref(root);
	}
	return now_ns() - t0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1)
		fprintf(stderr, "bench_policy: %s: %s\n", path,
		    strerror(errno));
	return 0;
}

static void
bench_load(void)
{
	char tmpl[] = "/tmp/netd-bench.XXXXXX", *dir, *paths[NMANIFESTS];
	double tn[REPS], tj[REPS], n_ms, j_ms;
	unsigned m;
	int r;

	if ((dir = mkdtemp(tmpl)) == NULL)
		die("mkdtemp: %s", strerror(errno));
	write_manifests(dir, paths);

	/* Warm the page cache and the allocator, then alternate. */
	time_netd_load(paths);
	time_jansson_load(paths);
	for (r = 0; r < REPS; r++) {
		tn[r] = time_netd_load(paths);
		tj[r] = time_jansson_load(paths);
	}
	n_ms = median(tn, REPS) / 1e6;
	j_ms = median(tj, REPS) / 1e6;

	printf("load + compile: %d manifests x %d AllowedConnections "
	    "(12 names, 5 wildcards, 2 IPv4, 1 CIDR)\n",
	    NMANIFESTS, NENTRIES);
	printf("  %-28s %12s %12s %12s\n", "", "netd", "jansson",
	    "netd/jansson");
	printf("  %-28s %12.2f %12.2f %11.2fx\n", "total, ms", n_ms, j_ms,
	    n_ms / j_ms);
	printf("  %-28s %12.2f %12.2f %11.2fx\n", "per manifest, us",
	    n_ms * 1e3 / NMANIFESTS, j_ms * 1e3 / NMANIFESTS, n_ms / j_ms);
	printf("\n");

	for (m = 0; m < NMANIFESTS; m++)
		free(paths[m]);
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		fprintf(stderr, "bench_policy: %s: %s\n", dir,
		    strerror(errno));
}

/* ---- lookup ---- */

static bool
naive_allows(const struct naive_pat *v, size_t n, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++) {
		if (!v[i].wild) {
			if (strcasecmp(name, v[i].s) == 0)
				return true;
		} else if (len > v[i].len + 1 &&
		    name[len - v[i].len - 1] == '.' &&
		    strcasecmp(name + len - v[i].len, v[i].s) == 0)
			return true;
	}
	return false;
}

static void
patset_init(struct patset *ps, size_t n)
{
	struct policy_diag *d;
	size_t i, half = n / 2;
	char *text;
	int c;

	ps->n = n;
	ps->pats = xmalloc(n * sizeof(*ps->pats));
	ps->naive = xmalloc(n * sizeof(*ps->naive));
	for (i = 0; i < n; i++) {
		char *suf;

		if (i % 2 == 0)
			ps->pats[i] = exact_name((unsigned)(i / 2));
		else {
			suf = wild_suffix((unsigned)(i / 2));
			ps->pats[i] = xasprintf("*.%s", suf);
			free(suf);
		}
		ps->naive[i].wild = ps->pats[i][0] == '*';
		ps->naive[i].s = ps->pats[i] + (ps->naive[i].wild ? 2 : 0);
		ps->naive[i].len = strlen(ps->naive[i].s);
	}

	text = manifest_text("lookup", (unsigned)n, ps->pats, n);
	if ((d = policy_diag_new("lookup.json")) == NULL)
		die("out of memory");
	if ((ps->pol = policy_load_buf(text, strlen(text), d)) == NULL) {
		policy_diag_print(d, stderr);
		die("the %zu-pattern manifest does not load", n);
	}
	if (policy_name_count(ps->pol) != n)
		die("%zu-pattern policy has %zu names", n,
		    policy_name_count(ps->pol));
	policy_diag_free(d);
	free(text);

	/* Queries: uniformly over the list, the same for both matchers. */
	for (c = 0; c < Q_COUNT; c++) {
		ps->q[c] = xmalloc(NQUERIES * sizeof(char *));
		for (i = 0; i < NQUERIES; i++) {
			unsigned k = rng() % (unsigned)half;
			char *suf;

			switch (c) {
			case Q_EXACT:
				ps->q[c][i] = exact_name(k);
				break;
			case Q_WILD:
				suf = wild_suffix(k);
				ps->q[c][i] = xasprintf("d%u.%s", rng() % 100,
				    suf);
				free(suf);
				break;
			default:
				ps->q[c][i] = miss_name(k);
				break;
			}
		}
	}

	/* Both matchers must agree, and the classes must be what they say. */
	for (c = 0; c < Q_COUNT; c++)
		for (i = 0; i < NQUERIES; i++) {
			bool a = policy_allows_name(ps->pol, ps->q[c][i]);
			bool b = naive_allows(ps->naive, n, ps->q[c][i]);

			if (a != b || a != (c != Q_MISS))
				die("%s (%s, %zu patterns): netd %d, naive %d",
				    ps->q[c][i], qclass_name[c], n, a, b);
		}
}

static void
patset_free(struct patset *ps)
{
	int c;

	for (c = 0; c < Q_COUNT; c++)
		free_strv(ps->q[c], NQUERIES);
	free_strv(ps->pats, ps->n);
	free(ps->naive);
	policy_free(ps->pol);
}

static double
run_lookups(const struct patset *ps, int c, bool naive, size_t count)
{
	char *const *q = ps->q[c];
	size_t i, hits = 0;
	double t0 = now_ns();

	for (i = 0; i < count; i++) {
		const char *name = q[i % NQUERIES];

		if (naive)
			hits += naive_allows(ps->naive, ps->n, name);
		else
			hits += policy_allows_name(ps->pol, name);
	}
	sink += hits;
	return now_ns() - t0;
}

/* Median ns per lookup over REPS runs of at least MIN_RUN_NS each. */
static double
ns_per_lookup(const struct patset *ps, int c, bool naive)
{
	double t[REPS], el;
	size_t count = 256;
	int r;

	while ((el = run_lookups(ps, c, naive, count)) < MIN_RUN_NS &&
	    count < ((size_t)1 << 30))
		count *= el < MIN_RUN_NS / 16 ? 8 : 2;
	for (r = 0; r < REPS; r++)
		t[r] = run_lookups(ps, c, naive, count) / (double)count;
	return median(t, REPS);
}

static void
bench_lookup(void)
{
	struct patset small, large;
	double ns[2][2][Q_COUNT];	/* [naive][large][class] */
	int c, nv;

	patset_init(&small, 10);
	patset_init(&large, 10000);
	for (nv = 0; nv < 2; nv++)
		for (c = 0; c < Q_COUNT; c++) {
			ns[nv][0][c] = ns_per_lookup(&small, c, nv);
			ns[nv][1][c] = ns_per_lookup(&large, c, nv);
		}

	printf("name lookup: policy_allows_name vs naive linear matcher, "
	    "ns/lookup\n");
	printf("(patterns: half exact names, half wildcards; names of 3-5 "
	    "labels)\n");
	printf("  %-13s %9s %9s %9s   %9s %9s %9s\n", "", "netd", "netd",
	    "netd", "naive", "naive", "naive");
	printf("  %-13s %9s %9s %9s   %9s %9s %9s\n", "query", "10",
	    "10,000", "10k/10", "10", "10,000", "10k/10");
	for (c = 0; c < Q_COUNT; c++)
		printf("  %-13s %9.1f %9.1f %8.2fx   %9.1f %9.1f %8.1fx\n",
		    qclass_name[c], ns[0][0][c], ns[0][1][c],
		    ns[0][1][c] / ns[0][0][c], ns[1][0][c], ns[1][1][c],
		    ns[1][1][c] / ns[1][0][c]);
	printf("  at 10,000 patterns naive/netd:");
	for (c = 0; c < Q_COUNT; c++)
		printf(" %s %.0fx%s", qclass_name[c],
		    ns[1][1][c] / ns[0][1][c], c + 1 < Q_COUNT ? "," : "\n");
	printf("  at 10 patterns naive/netd:    ");
	for (c = 0; c < Q_COUNT; c++)
		printf(" %s %.2fx%s", qclass_name[c],
		    ns[1][0][c] / ns[0][0][c], c + 1 < Q_COUNT ? "," : "\n");

	patset_free(&small);
	patset_free(&large);
}

int
main(void)
{
	double t0 = now_ns();

	printf("bench_policy: median of %d runs\n\n", REPS);
	bench_load();
	bench_lookup();
	printf("\ntotal bench time %.1f s\n", (now_ns() - t0) / 1e9);
	return 0;
}
