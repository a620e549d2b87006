/*
 * netd/nft.c against the real kernel: each test runs in a network
 * namespace of its own (unshare), so the host's tables are never touched.
 * Needs root (CAP_NET_ADMIN); otherwise every test says SKIPPED and passes.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <valgrind/valgrind.h>

#include "check_suites.h"
#include "check_util.h"
#include "nft.h"

static struct nft *n;
static int skipped;

static void
setup(void)
{
	struct nft_layout lay = { .uid_min = 10000, .uid_max = 59999,
	    .nflog_group = 100 };
	char err[NFT_ERR_MAX];

	skipped = geteuid() != 0 || unshare(CLONE_NEWNET) == -1;
	if (skipped) {
		printf("check_nft: SKIPPED (needs root for a network "
		    "namespace)\n");
		return;
	}
	n = nft_open(&lay, err, sizeof(err));
	ck_assert_msg(n != NULL, "nft_open: %s", err);
	ck_assert_msg(nft_rebuild(n, NULL, 0, err, sizeof(err)) == 0,
	    "rebuild: %s", err);
}

static void
teardown(void)
{
	nft_close(n);
	n = NULL;
}

static uint8_t *
a4(const char *s, uint8_t *buf)
{
	ck_assert_int_eq(inet_pton(AF_INET, s, buf), 1);
	return buf;
}

static struct nft_grant_info *
find(struct nft_grant_info *g, ssize_t ng, uid_t uid, const char *addr)
{
	uint8_t a[16];
	ssize_t i;
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, addr, a), 1);
	for (i = 0; i < ng; i++)
		if (g[i].uid == uid && g[i].family == fam &&
		    memcmp(g[i].addr, a, fam == AF_INET ? 4 : 16) == 0)
			return &g[i];
	return NULL;
}

START_TEST(test_grant_refresh)
{
	struct nft_grant_info *g;
	uint8_t addrs[8], a6[16];
	char err[NFT_ERR_MAX];
	ssize_t ng;

	if (skipped)
		return;
	a4("198.51.100.7", addrs);
	a4("198.51.100.8", addrs + 4);
	ck_assert(nft_grant(n, 10001, AF_INET, addrs, 2, 5000, err,
	    sizeof(err)) == 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", a6), 1);
	ck_assert(nft_grant(n, 10002, AF_INET6, a6, 1, 5000, err,
	    sizeof(err)) == 0);
	/* A second grant with a longer timeout refreshes the first. */
	ck_assert(nft_grant(n, 10001, AF_INET, addrs, 1, 600000, err,
	    sizeof(err)) == 0);
	ng = nft_grants_list(n, (uid_t)-1, &g);
	ck_assert_int_eq(ng, 3);
	ck_assert_uint_gt(find(g, ng, 10001, "198.51.100.7")->expires_ms,
	    500000);
	ck_assert_uint_le(find(g, ng, 10001, "198.51.100.8")->expires_ms,
	    5000);
	ck_assert_ptr_nonnull(find(g, ng, 10002, "2001:db8::7"));
	free(g);
	ng = nft_grants_list(n, 10002, &g);
	ck_assert_int_eq(ng, 1);
	free(g);
	ck_assert_uint_eq(nft_get_stats(n)->grants, 4);
	/* Invalid grants are refused before the kernel. */
	ck_assert_int_eq(nft_grant(n, 10001, AF_UNIX, addrs, 1, 1000, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(nft_grant(n, 10001, AF_INET, addrs, 1, 0, err,
	    sizeof(err)), -1);
}
END_TEST

/*
 * The ledger: what netd granted, counted without the kernel; a revoke takes
 * the element out of both.
 */
START_TEST(test_ledger_revoke)
{
	struct nft_grant_info *g;
	uint8_t addrs[4 * 3000];
	char err[NFT_ERR_MAX];
	size_t i;
	ssize_t ng;

	if (skipped)
		return;
	for (i = 0; i < 3000; i++) {
		addrs[i * 4] = 198;
		addrs[i * 4 + 1] = 18;
		addrs[i * 4 + 2] = (uint8_t)(i >> 8);
		addrs[i * 4 + 3] = (uint8_t)i;
	}
	ck_assert_msg(nft_grant(n, 10001, AF_INET, addrs, 3000, 60000, err,
	    sizeof(err)) == 0, "%s", err);
	/* The same again: a refresh, not new entries. */
	ck_assert(nft_grant(n, 10001, AF_INET, addrs, 3000, 60000, err,
	    sizeof(err)) == 0);
	ck_assert_int_eq(nft_grants_count(n), 3000);
	/* Every other one taken back, in the kernel and in the ledger. */
	for (i = 0; i < 3000; i += 2)
		ck_assert_msg(nft_revoke(n, 10001, AF_INET, addrs + i * 4, 1,
		    err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nft_grants_count(n), 1500);
	ng = nft_grants_list(n, 10001, &g);
	ck_assert_int_eq(ng, 1500);
	free(g);
}
END_TEST

/*
 * max_grants_per_app: past it, the uid's grants that expire first go, in
 * the kernel and in the ledger; other uids keep theirs.
 */
START_TEST(test_grant_cap)
{
	struct nft_layout lay = { .uid_min = 10000, .uid_max = 59999,
	    .nflog_group = 100, .max_grants_per_app = 64 };
	struct nft_grant_info *g;
	char err[NFT_ERR_MAX], s[32];
	uint8_t a[4];
	ssize_t ng;
	unsigned i;

	if (skipped)
		return;
	nft_set_layout(n, &lay);
	ck_assert(nft_grant(n, 10002, AF_INET, a4("203.0.113.1", a), 1,
	    60000, err, sizeof(err)) == 0);
	/* Each later grant lives longer: the first ones expire first. */
	for (i = 0; i < 100; i++) {
		snprintf(s, sizeof(s), "198.18.0.%u", i);
		ck_assert_msg(nft_grant(n, 10001, AF_INET, a4(s, a), 1,
		    60000 + i * 100, err, sizeof(err)) == 0, "%s", err);
	}
	ng = nft_grants_list(n, 10001, &g);
	ck_assert_int_le(ng, 64);
	ck_assert_int_ge(ng, 56);		/* down to 7/8 at a time */
	ck_assert_int_eq(nft_grants_count(n), ng + 1);
	ck_assert_uint_eq(nft_get_stats(n)->evicted, 100 - (uint64_t)ng);
	ck_assert_ptr_null(find(g, ng, 10001, "198.18.0.0"));
	ck_assert_ptr_nonnull(find(g, ng, 10001, "198.18.0.99"));
	free(g);
	ng = nft_grants_list(n, 10002, &g);
	ck_assert_int_eq(ng, 1);
	free(g);
	/* Refreshing what is there evicts nothing. */
	ck_assert(nft_grant(n, 10001, AF_INET, a4("198.18.0.99", a), 1,
	    60000, err, sizeof(err)) == 0);
	ck_assert_uint_eq(nft_get_stats(n)->evicted, 100 - (uint64_t)
	    nft_grants_list(n, 10001, &g));
	free(g);
}
END_TEST

START_TEST(test_app_add_del)
{
	struct policy *p = load_str(MANIFEST("\"AllowedConnections\": ["
	    "\"10.0.0.0/8\", \"192.0.2.1\", \"2001:db8::/32\", \"a.example\"],"
	    "\"AllowedTcpServerPorts\": [9000], \"AllowedUdpServerPorts\": "
	    "[5683]"), NULL);
	struct nft_app a = { 10001, "app", p };
	struct nft_grant_info *g;
	uint8_t addr[4];
	char err[NFT_ERR_MAX];
	ssize_t ng;

	if (skipped) {
		policy_free(p);
		return;
	}
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(nft_app_add(n, &a, err, sizeof(err)) == 0, "%s", err);
	/* Adding the same app again changes nothing and succeeds. */
	ck_assert_msg(nft_app_add(n, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert(nft_grant(n, 10001, AF_INET, a4("198.51.100.1", addr), 1,
	    60000, err, sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10002, AF_INET, addr, 1, 60000, err,
	    sizeof(err)) == 0);
	ck_assert_msg(nft_app_del(n, &a, err, sizeof(err)) == 0, "%s", err);
	/* Its grants went with it; another uid's stayed. */
	ng = nft_grants_list(n, (uid_t)-1, &g);
	ck_assert_int_eq(ng, 1);
	ck_assert_uint_eq(g[0].uid, 10002);
	free(g);
	/* The table can be rebuilt with the app in one transaction. */
	ck_assert_msg(nft_rebuild(n, &a, 1, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(nft_grants_list(n, (uid_t)-1, &g), 0);
	free(g);
	policy_free(p);
}
END_TEST

/* A kernel error names what caused it, and the batch applies nothing. */
START_TEST(test_error_names_entry)
{
	struct policy *p = load_str(MANIFEST("\"AllowedConnections\": ["
	    "\"192.0.2.1\"]"), NULL);
	struct nft_app a = { 10001, "app", p };
	char err[NFT_ERR_MAX];
	uint64_t errors;
	uint8_t addr[4];

	if (skipped) {
		policy_free(p);
		return;
	}
	/* Deleting an app that was never added is not an error. */
	ck_assert_int_eq(nft_app_del(n, &a, err, sizeof(err)), 0);
	/* With the table gone, adding fails and names the entry. */
	ck_assert_int_eq(system("nft delete table inet netd"), 0);
	errors = nft_get_stats(n)->errors;
	ck_assert_int_eq(nft_app_add(n, &a, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nftables refused app 'app' (uid 10001)") !=
	    NULL, "%s", err);
	ck_assert_msg(strstr(err, "No such file or directory") != NULL, "%s",
	    err);
	ck_assert_uint_eq(nft_get_stats(n)->errors, errors + 1);
	/* And a grant fails and says so. */
	ck_assert_int_eq(nft_grant(n, 10001, AF_INET, a4("192.0.2.9", addr),
	    1, 1000, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "grant of 1 address to uid 10001") != NULL,
	    "%s", err);
	policy_free(p);
}
END_TEST

/* 10,000 addresses in one grant: split into messages, one transaction. */
START_TEST(test_big_grant)
{
	uint8_t *addrs = calloc(10000, 4);
	struct nft_grant_info *g;
	char err[NFT_ERR_MAX];
	uint64_t tx;
	int i;

	if (skipped) {
		free(addrs);
		return;
	}
	ck_assert_ptr_nonnull(addrs);
	for (i = 0; i < 10000; i++) {
		addrs[i * 4] = 10;
		addrs[i * 4 + 1] = (uint8_t)(i >> 16);
		addrs[i * 4 + 2] = (uint8_t)(i >> 8);
		addrs[i * 4 + 3] = (uint8_t)i;
	}
	tx = nft_get_stats(n)->transactions;
	ck_assert_msg(nft_grant(n, 10001, AF_INET, addrs, 10000, 60000, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(nft_get_stats(n)->transactions, tx + 1);
	ck_assert_int_eq(nft_grants_list(n, 10001, &g), 10000);
	free(g);
	free(addrs);
}
END_TEST

/*
 * A grant reuses the batch buffer: with netd's malloc setting (blocks of
 * 128 KiB and more are mappings of their own) a buffer allocated per grant
 * cost an mmap, a munmap and a fresh page each, and cut the DNS proxy's
 * throughput by three. 1,000 grants now fault in a few pages (the ledger
 * growing), not one or more each.
 */
START_TEST(test_grant_no_fresh_pages)
{
	struct rusage ru0, ru1;
	char err[NFT_ERR_MAX];
	uint8_t a[4] = { 100, 64, 0, 0 };
	long faults;
	int i;

	/*
	 * ASan's and valgrind's allocators hand out fresh memory by design
	 * (quarantine, delayed reuse): glibc's malloc is what is measured.
	 */
#ifdef __SANITIZE_ADDRESS__
	return;
#endif
	if (skipped || RUNNING_ON_VALGRIND)
		return;
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);		/* as netd's main() */
	ck_assert(nft_grant(n, 10001, AF_INET, a, 1, 60000, err,
	    sizeof(err)) == 0);
	getrusage(RUSAGE_SELF, &ru0);
	for (i = 1; i <= 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		ck_assert_msg(nft_grant(n, 10001, AF_INET, a, 1, 60000, err,
		    sizeof(err)) == 0, "%s", err);
	}
	getrusage(RUSAGE_SELF, &ru1);
	faults = ru1.ru_minflt - ru0.ru_minflt;
	ck_assert_msg(faults < 250, "1,000 grants faulted in %ld pages",
	    faults);
}
END_TEST

/*
 * nft_grants_of() answers from the ledger what the kernel holds: the same
 * addresses and (within a second) the same time left, sorted, after
 * grants, a refresh and a revoke; nothing for a uid without grants.
 */
START_TEST(test_grants_of)
{
	struct nft_grant_info *k, *l;
	char err[NFT_ERR_MAX];
	uint8_t v4[12], v6[16];
	ssize_t nk, nl, i;

	if (skipped)
		return;
	a4("198.51.100.9", v4);
	a4("192.0.2.3", v4 + 4);
	a4("203.0.113.200", v4 + 8);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::9", v6), 1);
	ck_assert(nft_grant(n, 10001, AF_INET, v4, 3, 30000, err,
	    sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10001, AF_INET6, v6, 1, 90000, err,
	    sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10002, AF_INET, v4, 1, 30000, err,
	    sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10001, AF_INET, v4 + 4, 1, 600000, err,
	    sizeof(err)) == 0);
	ck_assert(nft_revoke(n, 10001, AF_INET, v4 + 8, 1, err,
	    sizeof(err)) == 0);
	nk = nft_grants_list(n, 10001, &k);
	nl = nft_grants_of(n, 10001, &l);
	ck_assert_int_eq(nk, 3);
	ck_assert_int_eq(nl, 3);
	for (i = 0; i < nl; i++) {
		struct nft_grant_info *m;
		char buf[INET6_ADDRSTRLEN];

		ck_assert_uint_eq(l[i].uid, 10001);
		inet_ntop(l[i].family, l[i].addr, buf, sizeof(buf));
		ck_assert_msg((m = find(k, nk, 10001, buf)) != NULL,
		    "%s is in the ledger, not in the kernel", buf);
		ck_assert_msg(l[i].expires_ms + 1000 > m->expires_ms &&
		    m->expires_ms + 1000 > l[i].expires_ms,
		    "%s: ledger %llu ms left, kernel %llu", buf,
		    (unsigned long long)l[i].expires_ms,
		    (unsigned long long)m->expires_ms);
		if (i > 0)
			ck_assert(l[i - 1].family < l[i].family ||
			    (l[i - 1].family == l[i].family &&
			    memcmp(l[i - 1].addr, l[i].addr, 16) < 0));
	}
	ck_assert_uint_gt(find(l, nl, 10001, "192.0.2.3")->expires_ms,
	    500000);
	ck_assert_ptr_null(find(l, nl, 10001, "203.0.113.200"));
	free(k);
	free(l);
	ck_assert_int_eq(nft_grants_of(n, 10003, &l), 0);
	free(l);
}
END_TEST

/* A rebuild keeps the grants of registered apps, with their time left. */
START_TEST(test_rebuild_keeps_grants)
{
	struct policy *p = load_str(MANIFEST(""), NULL);
	struct nft_app a = { 10001, "app", p };
	struct nft_grant_info *g;
	uint8_t addr[4];
	char err[NFT_ERR_MAX];
	ssize_t ng;

	if (skipped) {
		policy_free(p);
		return;
	}
	ck_assert(nft_rebuild(n, &a, 1, err, sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10001, AF_INET, a4("192.0.2.7", addr), 1,
	    300000, err, sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10002, AF_INET, addr, 1, 300000, err,
	    sizeof(err)) == 0);
	ck_assert_msg(nft_rebuild(n, &a, 1, err, sizeof(err)) == 0, "%s",
	    err);
	ng = nft_grants_list(n, (uid_t)-1, &g);
	ck_assert_int_eq(ng, 1);
	ck_assert_uint_eq(g[0].uid, 10001);
	ck_assert_uint_gt(g[0].expires_ms, 290000);
	ck_assert_uint_le(g[0].expires_ms, 300000);
	free(g);
	/* What a rebuild kept, a delete still finds (the ledger is refilled). */
	ck_assert_msg(nft_app_del(n, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nft_grants_list(n, (uid_t)-1, &g), 0);
	free(g);
	policy_free(p);
}
END_TEST

/* Hundreds of messages in one batch: every ack fits (SO_RCVBUFFORCE). */
START_TEST(test_many_apps)
{
	struct policy *p = load_str(MANIFEST("\"AllowedConnections\": ["
	    "\"192.0.2.1\", \"10.0.0.0/8\", \"2001:db8::/32\"],"
	    "\"AllowedTcpServerPorts\": [9000]"), NULL);
	struct nft_app *apps = calloc(300, sizeof(*apps));
	char err[NFT_ERR_MAX];
	int i;

	if (skipped) {
		policy_free(p);
		free(apps);
		return;
	}
	for (i = 0; i < 300; i++) {
		apps[i].uid = (uid_t)(10000 + i);
		apps[i].name = "app";
		apps[i].pol = p;
	}
	ck_assert_msg(nft_rebuild(n, apps, 300, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_msg(nft_rebuild(n, apps, 300, err, sizeof(err)) == 0, "%s",
	    err);
	free(apps);
	policy_free(p);
}
END_TEST

/* Deleting an app with many grants leaves none, whatever the dump does. */
START_TEST(test_del_many_grants)
{
	struct policy *p = load_str(MANIFEST(""), NULL);
	struct nft_app a = { 10001, "app", p };
	uint8_t *addrs = calloc(1000, 4);
	struct nft_grant_info *g;
	char err[NFT_ERR_MAX];
	int i;

	if (skipped) {
		policy_free(p);
		free(addrs);
		return;
	}
	ck_assert(nft_app_add(n, &a, err, sizeof(err)) == 0);
	for (i = 0; i < 1000; i++) {
		addrs[i * 4] = 10;
		addrs[i * 4 + 2] = (uint8_t)(i >> 8);
		addrs[i * 4 + 3] = (uint8_t)i;
	}
	ck_assert(nft_grant(n, 10001, AF_INET, addrs, 1000, 60000, err,
	    sizeof(err)) == 0);
	ck_assert(nft_grant(n, 10002, AF_INET, addrs, 10, 60000, err,
	    sizeof(err)) == 0);
	ck_assert_msg(nft_app_del(n, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nft_grants_list(n, 10001, &g), 0);
	free(g);
	ck_assert_int_eq(nft_grants_list(n, 10002, &g), 10);
	free(g);
	free(addrs);
	policy_free(p);
}
END_TEST

Suite *
nft_suite(void)
{
	Suite *s = suite_create("nft");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_grant_refresh);
	tcase_add_test(core, test_app_add_del);
	tcase_add_test(core, test_ledger_revoke);
	tcase_add_test(core, test_grants_of);
	tcase_add_test(core, test_grant_cap);
	tcase_add_test(core, test_error_names_entry);
	tcase_add_test(core, test_rebuild_keeps_grants);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_big_grant);
	tcase_add_test(limits, test_grant_no_fresh_pages);
	tcase_add_test(limits, test_many_apps);
	tcase_add_test(limits, test_del_many_grants);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
