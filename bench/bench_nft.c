/*
 * bench_nft: what netd's nftables programmer costs, each figure beside a
 * reference measured in the same run.
 *
 *  register  nft_app_add of an app with 64 AllowedConnections entries (IPv4
 *            literals and CIDRs: 64 static4 elements, plus the apps
 *            element), until the kernel acked; then nft_app_del.
 *            Reference: the same elements added, then deleted, by a whole
 *            "nft -f FILE" process (fork + exec + wait).
 *  grant     nft_grant of 2 IPv4 addresses, median and p99 of many calls,
 *            new elements and refreshes; nft_grant of 10,000 addresses in
 *            one call. Reference: "nft -f" adding the same elements with
 *            the same timeout.
 *  packets   TCP connects per second through a veth, by a client running
 *            as a registered app uid whose grant covers the server, with
 *            no table at all (the reference), no table in a second
 *            namespace (the noise gauge), the netd table with no app but
 *            the client outside the app uid range, with only the client's
 *            app, and with 1,000 apps of 100 grants each (100,000 allow4
 *            elements). The tables are measured in turn, the order
 *            rotated each round, PKT_REPS rounds; "vs none" is the median
 *            of each round's own ratio to no table.
 *  app_del   nft_app_del of an app with 100 grants in a table holding
 *            1 app and 1,000 apps x 100 grants (a scaling check).
 *
 * Run as root by bench/bench_nft.sh, which creates the network namespaces
 * this program enters by name (setns on /run/netns/PREFIX-*):
 *   PREFIX-ctl   register and grant benchmarks (lo only)
 *   PREFIX-srv   the TCP server; veth sK with 10.77.K.2/24 for each K
 *   PREFIX-cK    client K (K = 0..NCLIENTS-1): veth v0 with 10.77.K.1/24
 * The script deletes them afterwards. Temporary files go to a directory
 * under $TMPDIR (default /tmp). Timed figures are medians.
 *
 * usage: bench_nft PREFIX
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nft.h"
#include "policy.h"
#include "bench.h"

#define UID_MIN_APP	10000
#define UID_MAX_APP	59999
#define NFLOG_GROUP	100

/* register */
#define NSTATIC		64
#define REG_UID		10001		/* netd's app */
#define REG_REF_UID	10002		/* the same elements, by nft -f */
#define REG_REPS	101
#define REG_REF_REPS	21

/* grant */
#define GRANT_UID	10003
#define GRANT_CALLS	2000
#define GRANT_REF_CALLS	200
#define GRANT_TIMEOUT	60000		/* ms: outlasts the benchmark step */
#define BIG_GRANT	10000
#define BIG_REPS	5

/* packets */
#define NCLIENTS	5
#define NAPPS		1000
#define NGRANTS		100
#define CLIENT_APP	500		/* the app the client runs as */
#define OTHER_UID	65534		/* nobody: outside the app range */
#define SERVER_PORT	5001
#define PKT_REPS	31
#define PKT_SECS	0.5
#define PKT_WARM_SECS	0.3
#define LONG_TIMEOUT	3600000		/* ms: grants that outlast the run */

/* app_del scaling */
#define DEL_UID		59999
#define DEL_GRANTS	100
#define DEL_REPS	3

enum tbl {
	T_NONE,		/* no table at all */
	T_NETD,		/* netd's table, built by nft_rebuild */
};

struct client {
	const char	*label;
	enum tbl	 table;
	size_t		 napps;		/* registered apps */
	size_t		 ngrants;	/* grants per app */
	uid_t		 uid;		/* the client process runs as */
	struct nft	*nft;
	struct policy	**pols;
	double		 cps[PKT_REPS];
	double		 med;
	double		 ratio;		/* median of the rounds' ratios */
};

struct run_result {
	uint64_t	 ok;
	uint64_t	 fail;
	int		 err;		/* first errno */
	double		 secs;
};

static const char	*prefix;
static char		*tmpdir;
static pid_t		 main_pid;
static pid_t		 server_pid = -1;
static volatile size_t	 sink;

static void
cleanup(void)
{
	if (getpid() != main_pid)
		return;
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (tmpdir != NULL) {
		char cmd[256];

		/* Only our own mkdtemp directory. */
		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_nft: cannot remove %s\n",
			    tmpdir);
		free(tmpdir);
		tmpdir = NULL;
	}
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_nft: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != main_pid)
		_exit(1);
	exit(1);
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p;

	if ((p = calloc(n ? n : 1, sz)) == NULL)
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

/* A growing string. */
struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		r = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (r < 0)
			die("vsnprintf failed");
		if ((size_t)r < room) {
			b->len += (size_t)r;
			return;
		}
		b->cap = (b->cap + (size_t)r + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			die("out of memory");
	}
}

static char *
write_tmp(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		die("%s: %s", path, strerror(errno));
	if (fputs(text, f) == EOF || fclose(f) == EOF)
		die("%s: write error", path);
	return path;
}

/* ---- namespaces, processes ---- */

static void
ns_enter(const char *suffix)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s-%s", prefix, suffix);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s: %s (run bench/bench_nft.sh)", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) == -1)
		die("setns %s: %s", path, strerror(errno));
	close(fd);
}

static void
ns_client(int k)
{
	char s[16];

	snprintf(s, sizeof(s), "c%d", k);
	ns_enter(s);
}

/*
 * fork + exec + wait of nft with these arguments, in the current network
 * namespace, stdout to /dev/null. Returns the elapsed ns; dies unless nft
 * exits 0.
 */
static double
run_nft(const char *const argv[])
{
	double t0 = now_ns(), t1;
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		/* Listings to /dev/null; errors stay on stderr. */
		if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1)
			_exit(126);
		execvp("nft", (char *const *)argv);
		fprintf(stderr, "bench_nft: exec nft: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	t1 = now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("nft %s %s failed (status %#x)", argv[1],
		    argv[2] ? argv[2] : "", st);
	return t1 - t0;
}

static double
run_nft_file(const char *path)
{
	const char *argv[] = { "nft", "-f", path, NULL };

	return run_nft(argv);
}

static void
nft_flush_allow4(void)
{
	const char *argv[] = { "nft", "flush set inet netd allow4", NULL };

	run_nft(argv);
}

/* ---- policies ---- */

static struct policy *
load_manifest(const char *name, unsigned id, char *const *entries, size_t n)
{
	struct policy_diag *d;
	struct policy *p;
	struct sbuf b = { 0 };
	size_t i;

	sb_printf(&b, "{\n  \"SchemaVersion\": 1,\n  \"Name\": \"%s\",\n"
	    "  \"ComponentId\": \"%08x-7e57-4e5f-8a9b-%012x\",\n"
	    "  \"EntryPoint\": \"/bin/app\",\n"
	    "  \"Capabilities\": {\n    \"AllowedConnections\": [",
	    name, id, id);
	for (i = 0; i < n; i++)
		sb_printf(&b, "%s\n      \"%s\"", i ? "," : "", entries[i]);
	sb_printf(&b, "\n    ]\n  }\n}\n");
	if ((d = policy_diag_new(name)) == NULL)
		die("out of memory");
	if ((p = policy_load_buf(b.s, b.len, d)) == NULL) {
		policy_diag_print(d, stderr);
		die("manifest %s does not load", name);
	}
	policy_diag_free(d);
	free(b.s);
	return p;
}

static struct nft *
open_nft(void)
{
	struct nft_layout lay = { .uid_min = UID_MIN_APP,
	    .uid_max = UID_MAX_APP, .nflog_group = NFLOG_GROUP };
	char err[NFT_ERR_MAX];
	struct nft *n;

	if ((n = nft_open(&lay, err, sizeof(err))) == NULL)
		die("nft_open: %s", err);
	if (nft_rebuild(n, NULL, 0, err, sizeof(err)) == -1)
		die("nft_rebuild: %s", err);
	return n;
}

static double
time_app_add(struct nft *n, const struct nft_app *a)
{
	char err[NFT_ERR_MAX];
	double t0 = now_ns(), t1;

	if (nft_app_add(n, a, err, sizeof(err)) == -1)
		die("nft_app_add uid %u: %s", (unsigned)a->uid, err);
	t1 = now_ns();
	return t1 - t0;
}

static double
time_app_del(struct nft *n, const struct nft_app *a)
{
	char err[NFT_ERR_MAX];
	double t0 = now_ns(), t1;

	if (nft_app_del(n, a, err, sizeof(err)) == -1)
		die("nft_app_del uid %u: %s", (unsigned)a->uid, err);
	t1 = now_ns();
	return t1 - t0;
}

static double
time_grant(struct nft *n, uid_t uid, const uint32_t *addrs, size_t na,
    uint32_t timeout_ms)
{
	char err[NFT_ERR_MAX];
	double t0 = now_ns(), t1;

	if (nft_grant(n, uid, AF_INET, addrs, na, timeout_ms, err,
	    sizeof(err)) == -1)
		die("nft_grant of %zu to uid %u: %s", na, (unsigned)uid, err);
	t1 = now_ns();
	return t1 - t0;
}

static size_t
grants_of(struct nft *n, uid_t uid)
{
	struct nft_grant_info *g;
	ssize_t r;

	if ((r = nft_grants_list(n, uid, &g)) == -1)
		die("nft_grants_list: %s", strerror(errno));
	free(g);
	return (size_t)r;
}

static void
print_ratio_row(const char *what, double netd, double ref)
{
	printf("  %-34s %10.1f %10.1f %9.1fx\n", what, netd, ref, ref / netd);
}

/* ---- register ---- */

/* 48 literals, 8 /16s and 8 /24s: disjoint, 64 prefixes. */
static void
static_entries(char **e)
{
	unsigned i;

	for (i = 0; i < 48; i++)
		e[i] = xasprintf("198.51.100.%u", i + 1);
	for (i = 0; i < 8; i++)
		e[48 + i] = xasprintf("10.%u.0.0/16", i + 1);
	for (i = 0; i < 8; i++)
		e[56 + i] = xasprintf("172.16.%u.0/24", i + 1);
}

static char *
static_file(const char *verb, uid_t uid, char *const *e)
{
	struct sbuf b = { 0 };
	unsigned i;

	if (strcmp(verb, "add") == 0)
		sb_printf(&b, "add element inet netd apps { %u : jump app }\n",
		    (unsigned)uid);
	else
		sb_printf(&b, "%s element inet netd apps { %u }\n", verb,
		    (unsigned)uid);
	sb_printf(&b, "%s element inet netd static4 {", verb);
	for (i = 0; i < NSTATIC; i++)
		sb_printf(&b, "%s %u . %s", i ? "," : "", (unsigned)uid, e[i]);
	sb_printf(&b, " }\n");
	return b.s;
}

static void
bench_register(void)
{
	char *e[NSTATIC], *txt, *add_path, *del_path, *rdel;
	double ta[REG_REPS], td[REG_REPS], ra[REG_REF_REPS], rd[REG_REF_REPS];
	double ma, md, mra, mrd;
	struct nft_app a, ar;
	struct policy *p;
	struct nft *n;
	char err[NFT_ERR_MAX];
	unsigned i, k;

	ns_enter("ctl");
	n = open_nft();
	static_entries(e);
	p = load_manifest("reg64", 64, e, NSTATIC);
	if (policy_prefix_count(p, AF_INET) != NSTATIC)
		die("the 64-entry manifest compiles to %zu IPv4 prefixes",
		    policy_prefix_count(p, AF_INET));
	a = (struct nft_app){ REG_UID, "reg64", p };
	ar = (struct nft_app){ REG_REF_UID, "reg64-ref", p };

	txt = static_file("add", REG_REF_UID, e);
	add_path = write_tmp("reg-add.nft", txt);
	free(txt);
	txt = static_file("delete", REG_REF_UID, e);
	del_path = write_tmp("reg-del.nft", txt);
	free(txt);
	/* netd-added, nft-deleted: for the cross-check only. */
	txt = static_file("delete", REG_UID, e);
	rdel = write_tmp("reg-xdel.nft", txt);
	free(txt);

	/*
	 * Both write the same kernel elements: what nft -f added, netd
	 * deletes (a delete must match key and interval end exactly), and
	 * the other way round.
	 */
	run_nft_file(add_path);
	if (nft_app_del(n, &ar, err, sizeof(err)) == -1)
		die("elements added by nft -f differ from netd's: %s", err);
	time_app_add(n, &a);
	run_nft_file(rdel);

	/* Warm up, then alternate. */
	time_app_add(n, &a);
	time_app_del(n, &a);
	run_nft_file(add_path);
	run_nft_file(del_path);
	for (i = 0, k = 0; i < REG_REPS; i++) {
		ta[i] = time_app_add(n, &a);
		td[i] = time_app_del(n, &a);
		if (i % (REG_REPS / REG_REF_REPS) == 0 && k < REG_REF_REPS) {
			ra[k] = run_nft_file(add_path);
			rd[k] = run_nft_file(del_path);
			k++;
		}
	}
	if (k != REG_REF_REPS)
		die("register: %u reference runs", k);
	ma = median(ta, REG_REPS) / 1e3;
	md = median(td, REG_REPS) / 1e3;
	mra = median(ra, REG_REF_REPS) / 1e3;
	mrd = median(rd, REG_REF_REPS) / 1e3;

	printf("register: 1 app, %d AllowedConnections (48 IPv4, 16 CIDRs): "
	    "1 apps + %d static4\nelements, until the kernel acked; median "
	    "of %d (netd), %d (nft -f, fork+exec+wait)\n", NSTATIC, NSTATIC,
	    REG_REPS, REG_REF_REPS);
	printf("  %-34s %10s %10s %10s\n", "", "netd", "nft -f",
	    "nft/netd");
	print_ratio_row("add (nft_app_add), us", ma, mra);
	print_ratio_row("delete (nft_app_del), us", md, mrd);
	printf("  target: netd add >= 10x faster than nft -f: %s (%.1fx)\n\n",
	    mra / ma >= 10 ? "met" : "MISSED", mra / ma);

	for (i = 0; i < NSTATIC; i++)
		free(e[i]);
	free(add_path);
	free(del_path);
	free(rdel);
	policy_free(p);
	nft_close(n);
}

/* ---- grant ---- */

static char *
grant_file(uid_t uid, const uint32_t *addrs, size_t na)
{
	struct sbuf b = { 0 };
	char a[INET_ADDRSTRLEN];
	size_t i;

	sb_printf(&b, "add element inet netd allow4 {");
	for (i = 0; i < na; i++) {
		inet_ntop(AF_INET, &addrs[i], a, sizeof(a));
		sb_printf(&b, "%s %u . %s timeout %us", i ? "," : "",
		    (unsigned)uid, a, GRANT_TIMEOUT / 1000);
	}
	sb_printf(&b, " }\n");
	return b.s;
}

static void
bench_grant(void)
{
	static double tn[GRANT_CALLS], tr[GRANT_CALLS], tf[GRANT_REF_CALLS];
	double big[BIG_REPS], bigref[BIG_REPS], mn, p99n, mr, p99r, mf, p99f;
	double mb, mbr;
	char *e[1], *txt, **paths, *bigpath;
	uint32_t addrs[2], *many;
	struct nft_app a;
	struct policy *p;
	struct nft *n;
	unsigned i;

	ns_enter("ctl");
	n = open_nft();
	e[0] = xasprintf("192.0.2.1");
	p = load_manifest("granted", 3, e, 1);
	a = (struct nft_app){ GRANT_UID, "granted", p };
	time_app_add(n, &a);

	/* 2 addresses a call: new elements, then the same ones refreshed. */
	for (i = 0; i < 50; i++) {
		addrs[0] = htonl(0x64000000u + 2 * i);		/* warm-up */
		addrs[1] = htonl(0x64000000u + 2 * i + 1);
		time_grant(n, GRANT_UID, addrs, 2, GRANT_TIMEOUT);
	}
	for (i = 0; i < GRANT_CALLS; i++) {
		addrs[0] = htonl(0x64400000u + 2 * i);		/* 100.64/10 */
		addrs[1] = htonl(0x64400000u + 2 * i + 1);
		tn[i] = time_grant(n, GRANT_UID, addrs, 2, GRANT_TIMEOUT);
	}
	for (i = 0; i < GRANT_CALLS; i++) {
		addrs[0] = htonl(0x64400000u + 2 * i);
		addrs[1] = htonl(0x64400000u + 2 * i + 1);
		tr[i] = time_grant(n, GRANT_UID, addrs, 2, GRANT_TIMEOUT);
	}
	if (grants_of(n, GRANT_UID) != 2 * GRANT_CALLS + 100)
		die("grant: %zu grants in the kernel, %d expected",
		    grants_of(n, GRANT_UID), 2 * GRANT_CALLS + 100);

	/* The reference: one nft -f process per 2-address grant. */
	paths = xcalloc(GRANT_REF_CALLS, sizeof(*paths));
	for (i = 0; i < GRANT_REF_CALLS; i++) {
		char name[32];

		addrs[0] = htonl(0x64600000u + 2 * i);
		addrs[1] = htonl(0x64600000u + 2 * i + 1);
		txt = grant_file(GRANT_UID, addrs, 2);
		snprintf(name, sizeof(name), "grant2-%u.nft", i);
		paths[i] = write_tmp(name, txt);
		free(txt);
	}
	for (i = 0; i < GRANT_REF_CALLS; i++)
		tf[i] = run_nft_file(paths[i]);
	if (grants_of(n, GRANT_UID) != 2 * GRANT_CALLS + 100 +
	    2 * GRANT_REF_CALLS)
		die("grant: nft -f grants are not read back as netd's");
	for (i = 0; i < GRANT_REF_CALLS; i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
	free(paths);

	mn = median(tn, GRANT_CALLS) / 1e3;
	p99n = percentile(tn, GRANT_CALLS, 99) / 1e3;
	mr = median(tr, GRANT_CALLS) / 1e3;
	p99r = percentile(tr, GRANT_CALLS, 99) / 1e3;
	mf = median(tf, GRANT_REF_CALLS) / 1e3;
	p99f = percentile(tf, GRANT_REF_CALLS, 99) / 1e3;

	/* 10,000 addresses in one call, into an empty allow4. */
	many = xcalloc(BIG_GRANT, sizeof(*many));
	for (i = 0; i < BIG_GRANT; i++)
		many[i] = htonl(0x64800000u + i);	/* 100.128/10 */
	txt = grant_file(GRANT_UID, many, BIG_GRANT);
	bigpath = write_tmp("grant10k.nft", txt);
	free(txt);
	for (i = 0; i < BIG_REPS; i++) {
		nft_flush_allow4();
		big[i] = time_grant(n, GRANT_UID, many, BIG_GRANT,
		    GRANT_TIMEOUT);
		if (i == 0 && grants_of(n, GRANT_UID) != BIG_GRANT)
			die("grant: %zu of %d elements in the kernel",
			    grants_of(n, GRANT_UID), BIG_GRANT);
		nft_flush_allow4();
		bigref[i] = run_nft_file(bigpath);
		if (i == 0 && grants_of(n, GRANT_UID) != BIG_GRANT)
			die("grant: nft -f added %zu of %d elements",
			    grants_of(n, GRANT_UID), BIG_GRANT);
	}
	nft_flush_allow4();
	mb = median(big, BIG_REPS) / 1e6;
	mbr = median(bigref, BIG_REPS) / 1e6;

	printf("grant: nft_grant of 2 IPv4 addresses (one batch), until the "
	    "kernel acked;\n%d calls (netd), %d nft -f processes "
	    "(reference)\n", GRANT_CALLS, GRANT_REF_CALLS);
	printf("  %-34s %10s %10s %10s\n", "", "netd", "nft -f",
	    "nft/netd");
	print_ratio_row("new elements, median us", mn, mf);
	print_ratio_row("new elements, p99 us", p99n, p99f);
	printf("  %-34s %10.1f %10s\n", "refresh (elements exist), median us",
	    mr, "-");
	printf("  %-34s %10.1f %10s\n", "refresh (elements exist), p99 us",
	    p99r, "-");
	printf("  target: median <= 20 us: %s (%.1f us)\n",
	    mn <= 20 ? "met" : "MISSED", mn);
	printf("grant: %d IPv4 addresses with timeouts in one batch, into "
	    "an empty allow4;\nmedian of %d\n", BIG_GRANT, BIG_REPS);
	printf("  %-34s %10s %10s %10s\n", "", "netd", "nft -f",
	    "nft/netd");
	print_ratio_row("10,000 elements, ms", mb, mbr);
	printf("  %-34s %10.2f %10.2f\n", "per element, us",
	    mb * 1e3 / BIG_GRANT, mbr * 1e3 / BIG_GRANT);
	printf("\n");

	unlink(bigpath);
	free(bigpath);
	free(many);
	free(e[0]);
	time_app_del(n, &a);
	policy_free(p);
	nft_close(n);
}

/* ---- packets ---- */

static in_addr_t
server_addr(int k)
{
	return htonl(0x0a4d0002u | (uint32_t)k << 8);	/* 10.77.K.2 */
}

static void
start_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int pfd[2], one = 1;
	char c;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	if ((server_pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (server_pid == 0) {
		int ls;

		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ns_enter("srv");
		if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			die("server socket: %s", strerror(errno));
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sin.sin_port = htons(SERVER_PORT);
		if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(ls, 4096) == -1)
			die("server bind/listen: %s", strerror(errno));
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		close(pfd[1]);
		for (;;) {
			int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

			if (s != -1)
				close(s);
		}
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		die("the server did not start");
	close(pfd[0]);
}

static void
become(uid_t uid)
{
	if (setgroups(0, NULL) == -1 || setresgid(uid, uid, uid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		die("cannot become uid %u: %s", (unsigned)uid,
		    strerror(errno));
}

static void
connect_loop(in_addr_t addr, double secs, uint64_t max, struct run_result *r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct linger lg = { 1, 0 };	/* close with RST: no TIME_WAIT */
	struct timeval tv = { 2, 0 };
	double t0 = now_ns(), end = t0 + secs * 1e9, t = t0;
	int s;

	sin.sin_addr.s_addr = addr;
	sin.sin_port = htons(SERVER_PORT);
	memset(r, 0, sizeof(*r));
	do {
		if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			r->err = errno;
			r->fail++;
			break;
		}
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			r->ok++;
		else {
			if (r->err == 0)
				r->err = errno;
			r->fail++;
		}
		close(s);
		t = now_ns();
	} while (t < end && r->ok + r->fail < max);
	r->secs = (t - t0) / 1e9;
}

/* Connect from client k's namespace as uid, in a child process. */
static void
client_run(int k, uid_t uid, double secs, uint64_t max, struct run_result *r)
{
	int pfd[2], st;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct run_result res;

		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ns_client(k);
		become(uid);
		connect_loop(server_addr(k), secs, max, &res);
		if (write(pfd[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], r, sizeof(*r)) != (ssize_t)sizeof(*r))
		die("client %d: no result", k);
	close(pfd[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
}

/* Manifest i: a name, a wildcard, an IPv4 literal, a CIDR. */
static struct policy *
small_policy(unsigned i)
{
	char *e[4], name[32];
	struct policy *p;
	unsigned j;

	e[0] = xasprintf("app%u.example.com", i);
	e[1] = xasprintf("*.t%u.example.net", i);
	e[2] = xasprintf("198.51.100.%u", i % 250 + 1);
	e[3] = xasprintf("10.%u.%u.0/24", 100 + i / 250, i % 250);
	snprintf(name, sizeof(name), "app%04u", i);
	p = load_manifest(name, 0x1000 + i, e, 4);
	for (j = 0; j < 4; j++)
		free(e[j]);
	return p;
}

/*
 * The netd table in client k's namespace: napps apps (uid UID_MIN_APP +
 * i) with ngrants grants each; the client's app has the server among its.
 */
static void
setup_netd(int k, struct client *c, double *t_reg, double *t_grant)
{
	uint32_t *addrs = xcalloc(c->ngrants ? c->ngrants : 1, 4);
	char name[32];
	size_t i, j;

	ns_client(k);
	c->nft = open_nft();
	c->pols = xcalloc(c->napps, sizeof(*c->pols));
	*t_reg = *t_grant = 0;
	for (i = 0; i < c->napps; i++) {
		unsigned idx = c->napps == 1 ? CLIENT_APP : (unsigned)i;
		struct nft_app a;

		c->pols[i] = small_policy(idx);
		snprintf(name, sizeof(name), "app%04u", idx);
		a = (struct nft_app){ UID_MIN_APP + idx, name, c->pols[i] };
		*t_reg += time_app_add(c->nft, &a);
		for (j = 0; j < c->ngrants; j++)	/* 100.64.0.0/10 */
			addrs[j] = htonl(0x64400000u + (uint32_t)(idx *
			    c->ngrants + j));
		if (idx == CLIENT_APP)
			addrs[0] = server_addr(k);
		if (c->ngrants > 0)
			*t_grant += time_grant(c->nft, a.uid, addrs,
			    c->ngrants, LONG_TIMEOUT);
	}
	if (grants_of(c->nft, (uid_t)-1) != c->napps * c->ngrants)
		die("client %d: %zu grants in the kernel, %zu expected", k,
		    grants_of(c->nft, (uid_t)-1), c->napps * c->ngrants);
	free(addrs);
}

static void
bench_app_del_scale(struct client *small, struct client *large)
{
	const char *list[] = { "nft", "list set inet netd allow4", NULL };
	struct client *cs[2] = { small, large };
	double t[2][DEL_REPS], tl[2][DEL_REPS], tn[2][DEL_REPS];
	double to[2][DEL_REPS], m[2], ml[2], mn[2], mo[2], t0;
	struct nft_grant_info *g;
	uint32_t addrs[DEL_GRANTS];
	struct nft_app a;
	struct policy *p;
	int c, r;
	size_t j;

	p = small_policy(9999);
	a = (struct nft_app){ DEL_UID, "del-probe", p };
	for (j = 0; j < DEL_GRANTS; j++)
		addrs[j] = htonl(0x647f0000u + (uint32_t)j);
	for (r = 0; r < DEL_REPS; r++)
		for (c = 0; c < 2; c++) {
			time_app_add(cs[c]->nft, &a);
			time_grant(cs[c]->nft, DEL_UID, addrs, DEL_GRANTS,
			    LONG_TIMEOUT);
			t0 = now_ns();
			if (grants_of(cs[c]->nft, DEL_UID) != DEL_GRANTS)
				die("app_del: grants of uid %u missing",
				    DEL_UID);
			tl[c][r] = now_ns() - t0;
			t0 = now_ns();
			if (nft_grants_of(cs[c]->nft, DEL_UID, &g) !=
			    DEL_GRANTS)
				die("app_del: the ledger lacks grants of "
				    "uid %u", DEL_UID);
			to[c][r] = now_ns() - t0;
			free(g);
			t[c][r] = time_app_del(cs[c]->nft, &a);
		}
	/* The reference reader: nft listing the whole allow4. */
	for (r = 0; r < DEL_REPS; r++)
		for (c = 0; c < 2; c++) {
			ns_client(c == 0 ? NCLIENTS - 2 : NCLIENTS - 1);
			tn[c][r] = run_nft(list);
		}
	for (c = 0; c < 2; c++) {
		m[c] = median(t[c], DEL_REPS) / 1e3;
		ml[c] = median(tl[c], DEL_REPS) / 1e3;
		mn[c] = median(tn[c], DEL_REPS) / 1e3;
		mo[c] = median(to[c], DEL_REPS) / 1e3;
	}
	printf("app_del scaling: an app with %d grants, in a table of 1 app "
	    "(%d grants)\nand of 1,000 apps (100,000 grants); median of %d, "
	    "us\n", DEL_GRANTS, DEL_GRANTS, DEL_REPS);
	printf("  %-34s %10s %10s %10s\n", "", "1,000 apps", "1 app",
	    "ratio");
	printf("  %-34s %10.0f %10.0f %9.0fx\n", "nft_app_del", m[1], m[0],
	    m[1] / m[0]);
	printf("  %-34s %10.0f %10.0f %9.0fx\n",
	    "nft_grants_list(uid) alone", ml[1], ml[0], ml[1] / ml[0]);
	printf("  %-34s %10.0f %10.0f %9.0fx\n",
	    "nft list set allow4 (reference)", mn[1], mn[0], mn[1] / mn[0]);
	printf("  %-34s %10.1f %10.1f %9.1fx\n",
	    "nft_grants_of(uid) (netctl show)", mo[1], mo[0], mo[1] / mo[0]);
	policy_free(p);
}

static void
bench_packets(void)
{
	struct client cl[NCLIENTS] = {
		{ "no table (reference)", T_NONE, 0, 0,
		    UID_MIN_APP + CLIENT_APP, NULL, NULL, { 0 }, 0, 0 },
		{ "no table, twin (noise gauge)", T_NONE, 0, 0,
		    UID_MIN_APP + CLIENT_APP, NULL, NULL, { 0 }, 0, 0 },
		{ "netd, 0 apps, uid outside range", T_NETD, 0, 0,
		    OTHER_UID, NULL, NULL, { 0 }, 0, 0 },
		{ "netd, 1 app x 1 grant", T_NETD, 1, 1,
		    UID_MIN_APP + CLIENT_APP, NULL, NULL, { 0 }, 0, 0 },
		{ "netd, 1,000 apps x 100 grants", T_NETD, NAPPS, NGRANTS,
		    UID_MIN_APP + CLIENT_APP, NULL, NULL, { 0 }, 0, 0 },
	};
	struct run_result res;
	double treg = 0, tgr = 0;
	int k, r, i;

	for (k = 0; k < NCLIENTS; k++) {
		if (cl[k].table == T_NETD)
			setup_netd(k, &cl[k], &treg, &tgr);
	}
	start_server();

	/*
	 * The rules work: in the full table, a registered app without a
	 * grant for the server is refused at once (TCP reset).
	 */
	client_run(NCLIENTS - 1, UID_MIN_APP, 5, 1, &res);
	if (res.ok != 0 || res.err != ECONNREFUSED)
		die("an app without a grant connected (ok %llu, %s)",
		    (unsigned long long)res.ok, strerror(res.err));

	for (k = 0; k < NCLIENTS; k++) {
		client_run(k, cl[k].uid, PKT_WARM_SECS, UINT64_MAX, &res);
		if (res.fail != 0)
			die("%s: %llu connects failed (%s)", cl[k].label,
			    (unsigned long long)res.fail, strerror(res.err));
	}
	for (r = 0; r < PKT_REPS; r++)
		for (i = 0; i < NCLIENTS; i++) {
			k = (i + r) % NCLIENTS;		/* rotate the order */
			client_run(k, cl[k].uid, PKT_SECS, UINT64_MAX, &res);
			if (res.fail != 0)
				die("%s: %llu connects failed (%s)",
				    cl[k].label, (unsigned long long)res.fail,
				    strerror(res.err));
			cl[k].cps[r] = (double)res.ok / res.secs;
		}
	/*
	 * Each round runs every table back to back: a round's own ratio to
	 * "no table" cancels what drifts between rounds (the other core's
	 * load, the host), which moves the rates by up to 30% here. The
	 * figure is the median of those ratios; the twin measures the noise
	 * left (two namespaces with no table).
	 */
	for (k = 0; k < NCLIENTS; k++) {
		double rr[PKT_REPS];

		for (r = 0; r < PKT_REPS; r++)
			rr[r] = cl[k].cps[r] / cl[0].cps[r];
		cl[k].ratio = median(rr, PKT_REPS);
	}
	for (k = 0; k < NCLIENTS; k++)
		cl[k].med = median(cl[k].cps, PKT_REPS);

	printf("packets: TCP connect + close (RST) per second over a veth "
	    "between two namespaces,\none client process as app uid %u "
	    "(its grant covers the server), %.1f s runs,\n%d rounds; "
	    "setup of 1,000 apps: registrations %.0f ms, grants %.0f ms\n",
	    UID_MIN_APP + CLIENT_APP, PKT_SECS, PKT_REPS, treg / 1e6,
	    tgr / 1e6);
	printf("  %-34s %10s %10s %10s %10s\n", "table", "connects/s",
	    "min", "max", "vs none");
	printf("  %-34s %10s %10s %10s %10s\n", "", "median", "", "",
	    "paired");
	for (k = 0; k < NCLIENTS; k++)
		printf("  %-34s %10.0f %10.0f %10.0f %9.1f%%\n", cl[k].label,
		    cl[k].med, cl[k].cps[0], cl[k].cps[PKT_REPS - 1],
		    (cl[k].ratio - 1) * 100);
	printf("  target: 1,000 apps x 100 grants within 5%% of no table: "
	    "%s (%+.1f%%; the twin, %+.1f%%, is the noise)\n",
	    cl[NCLIENTS - 1].ratio >= 0.95 ? "met" : "MISSED",
	    (cl[NCLIENTS - 1].ratio - 1) * 100, (cl[1].ratio - 1) * 100);
	printf("  1,000 apps vs 1 app (set size alone): %+.1f%%\n\n",
	    (cl[NCLIENTS - 1].ratio / cl[NCLIENTS - 2].ratio - 1) * 100);

	bench_app_del_scale(&cl[NCLIENTS - 2], &cl[NCLIENTS - 1]);

	for (k = 0; k < NCLIENTS; k++) {
		size_t j;

		for (j = 0; j < cl[k].napps; j++)
			policy_free(cl[k].pols[j]);
		free(cl[k].pols);
		nft_close(cl[k].nft);
	}
}

int
main(int argc, char **argv)
{
	const char *td = getenv("TMPDIR");
	double t0 = now_ns();
	char *tmpl;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_nft PREFIX (run by "
		    "bench/bench_nft.sh)\n");
		return 2;
	}
	prefix = argv[1];
	main_pid = getpid();
	if (geteuid() != 0)
		die("must run as root");
	tmpl = xasprintf("%s/netd-bench-nft.XXXXXX", td && *td ? td : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		die("mkdtemp %s: %s", tmpl, strerror(errno));
	tmpdir = tmpl;
	atexit(cleanup);
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("bench_nft: netd's nftables programmer beside nft(8) %s\n\n",
	    "(nftables CLI)");
	bench_register();
	bench_grant();
	bench_packets();
	printf("\nbench_nft time %.1f s\n", (now_ns() - t0) / 1e9);
	sink++;
	return 0;
}
