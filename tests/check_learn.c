/* netd/learn.c: which app learned which address from which name. */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "dns.h"
#include "learn.h"

#define EVMAX	64

/* An address from up to four leading bytes, the rest zero. */
#define IP(a, b, c, d)	((const uint8_t[16]){ (a), (b), (c), (d) })

static struct learn *l;
static struct learn_addr ev[EVMAX];
static size_t nev;

static void
setup(void)
{
	l = NULL;
	nev = 0;
}

static void
teardown(void)
{
	learn_free(l);
	l = NULL;
}

static int
add(uid_t uid, const char *name, int family, const uint8_t *addr,
    uint64_t expires_ms, uint64_t now_ms)
{
	return learn_add(l, uid, name, family, addr, expires_ms, now_ms, ev,
	    EVMAX, &nev);
}

static bool
ev_is(size_t i, int family, const uint8_t *addr)
{
	size_t len = family == AF_INET ? 4 : 16;
	static const uint8_t zero[16];

	return i < nev && ev[i].family == family &&
	    memcmp(ev[i].addr, addr, len) == 0 &&
	    memcmp(ev[i].addr + len, zero, 16 - len) == 0;
}

START_TEST(test_refresh)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(1, 2, 3, 4), 500,
	    0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(1, 2, 3, 4), 900,
	    10), 0);
	ck_assert_uint_eq(nev, 0);
	/* A shorter expiry is taken too: the last answer wins. */
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(1, 2, 3, 4), 700,
	    20), 0);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 20), 1);
	ck_assert_uint_eq(learn_size(l), 1);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(1, 2, 3, 4), &h));
	ck_assert_uint_eq(h.expires_ms, 700);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 700), 0);
	ck_assert_uint_eq(learn_count(l, 1000, "b.example", 20), 0);
	ck_assert_uint_eq(learn_count(l, 1001, "a.example", 20), 0);
}
END_TEST

START_TEST(test_cap_evicts_oldest)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(2, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 2), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 1)));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 2), 2);
	ck_assert_uint_eq(learn_size(l), 2);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 3), &h));
	/* Other names and uids have caps of their own. */
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 3), 0);
	ck_assert_int_eq(add(1001, "a.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 3), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_uint_eq(learn_size(l), 4);
}
END_TEST

START_TEST(test_refresh_reorders)
{
	ck_assert_ptr_nonnull(l = learn_new(2, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 2), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 3), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 2)));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 3), 2);
}
END_TEST

START_TEST(test_held_by_other_name)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(1, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "cdn.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_str_eq(h.name, "cdn.example");
	/* Held by another uid only: that does not keep this uid's grant. */
	ck_assert_int_eq(add(1001, "b.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 2), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 2)));
	/* Held under another name, but expired there: reported. */
	ck_assert_int_eq(add(1000, "old.example", AF_INET, IP(10, 0, 0, 3),
	    5, 2), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 10), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 3)));
}
END_TEST

START_TEST(test_expired_not_reported)
{
	ck_assert_ptr_nonnull(l = learn_new(1, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    100, 0), 0);
	/* Expiry is exclusive: at now == expires_ms the grant is gone. */
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 100), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_uint_eq(learn_size(l), 1);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 100), 1);
}
END_TEST

/* Over the cap, expired entries go before older live ones. */
START_TEST(test_expired_first)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(2, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    5000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    50, 1), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    5000, 100), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 100), 2);
}
END_TEST

START_TEST(test_lookup_prefers_own_uid)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1001, "b.example", AF_INET, IP(10, 0, 0, 1),
	    2000, 1), 0);
	ck_assert_int_eq(add(1002, "c.example", AF_INET, IP(10, 0, 0, 1),
	    3000, 2), 0);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1000);
	ck_assert_str_eq(h.name, "a.example");
	ck_assert_uint_eq(h.expires_ms, 1000);
	ck_assert(learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1001);
	ck_assert_str_eq(h.name, "b.example");
	/* Not resolved by 1003: the last app that did. */
	ck_assert(learn_lookup(l, 1003, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1002);
	ck_assert_str_eq(h.name, "c.example");
	/* A refresh makes 1000's entry the most recent. */
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    4000, 3), 0);
	ck_assert(learn_lookup(l, 1003, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1000);
	/* Of one uid's names, the most recently refreshed. */
	ck_assert_int_eq(add(1001, "d.example", AF_INET, IP(10, 0, 0, 1),
	    4000, 4), 0);
	ck_assert(learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_str_eq(h.name, "d.example");
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert(!learn_lookup(l, 1000, AF_UNIX, IP(10, 0, 0, 1), &h));
}
END_TEST

START_TEST(test_lookup_expired)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    100, 0), 0);
	ck_assert_int_eq(add(1001, "b.example", AF_INET, IP(10, 0, 0, 2),
	    100, 0), 0);
	/* Long after: still explained, with the old expiry. */
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 100000), 0);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1000);
	ck_assert_str_eq(h.name, "a.example");
	ck_assert_uint_eq(h.expires_ms, 100);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_uint_eq(h.uid, 1001);
	ck_assert_str_eq(h.name, "b.example");
}
END_TEST

START_TEST(test_forget_uid)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1001, "c.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_uint_eq(learn_size(l), 4);
	learn_forget_uid(l, 1000);
	ck_assert_uint_eq(learn_size(l), 1);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 0), 0);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(h.uid, 1001);
	learn_forget_uid(l, 1000);
	learn_forget_uid(l, 4242);
	ck_assert_uint_eq(learn_size(l), 1);
	/* The uid comes back with a clean slate. */
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 1), 0);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 1), 1);
	learn_forget_uid(l, 1001);
	learn_forget_uid(l, 1000);
	ck_assert_uint_eq(learn_size(l), 0);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
}
END_TEST

START_TEST(test_family)
{
	static const uint8_t v6[16] = { 1, 2, 3, 4 };
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(1, 100));
	ck_assert_int_eq(add(1000, "four.example", AF_INET, IP(1, 2, 3, 4),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "six.example", AF_INET6, v6, 1000, 0), 0);
	ck_assert_uint_eq(learn_size(l), 2);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(1, 2, 3, 4), &h));
	ck_assert_str_eq(h.name, "four.example");
	ck_assert(learn_lookup(l, 1000, AF_INET6, v6, &h));
	ck_assert_str_eq(h.name, "six.example");
	/* Same bytes, other family: not a refresh, and reported apart. */
	ck_assert_int_eq(add(1000, "four.example", AF_INET6, v6, 1000, 1), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(1, 2, 3, 4)));
	ck_assert(learn_lookup(l, 1000, AF_INET6, v6, &h));
	ck_assert_str_eq(h.name, "four.example");
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(1, 2, 3, 4), &h));
	/* Only 4 bytes of an IPv4 address are read or compared. */
	ck_assert_int_eq(add(1000, "x.example", AF_INET,
	    (const uint8_t[16]){ 9, 9, 9, 9, 0xff, 0xff }, 1000, 2), 0);
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(9, 9, 9, 9), &h));
	ck_assert_str_eq(h.name, "x.example");
	ck_assert_int_eq(add(1000, "x.example", AF_INET, IP(9, 9, 9, 8),
	    1000, 3), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(9, 9, 9, 9)));
}
END_TEST

START_TEST(test_set_max_per_name)
{
	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 2), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 3), 0);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 1, 1),
	    1000, 3), 0);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 1, 2),
	    1000, 3), 0);
	learn_set_max_per_name(l, 2);
	/* Nothing moves until the next add of that name. */
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 4), 4);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 4), 0);
	ck_assert_uint_eq(nev, 3);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 1)));
	ck_assert(ev_is(1, AF_INET, IP(10, 0, 0, 2)));
	ck_assert(ev_is(2, AF_INET, IP(10, 0, 0, 3)));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 4), 2);
	ck_assert_uint_eq(learn_count(l, 1000, "b.example", 4), 2);
	/* A refresh trims too. */
	learn_set_max_per_name(l, 1);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 1, 1),
	    1000, 5), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 1, 2)));
	ck_assert_uint_eq(learn_count(l, 1000, "b.example", 5), 1);
	/* 0 is clamped to 1. */
	learn_set_max_per_name(l, 0);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 1, 3),
	    1000, 6), 0);
	ck_assert_uint_eq(learn_count(l, 1000, "b.example", 6), 1);
}
END_TEST

/*
 * A full table: the entry that expired first goes, else the least
 * recently refreshed one.
 */
START_TEST(test_max_entries)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(8, 3));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "b.example", AF_INET, IP(10, 0, 0, 2),
	    50, 0), 0);
	ck_assert_int_eq(add(1001, "c.example", AF_INET, IP(10, 0, 0, 3),
	    40, 0), 0);
	/* Both expired: the one expired first goes, unreported. */
	ck_assert_int_eq(add(1001, "c.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 60), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_uint_eq(learn_size(l), 3);
	ck_assert(!learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 3), &h));
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_int_eq(add(1001, "d.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 60), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	/*
	 * None expired: the oldest goes, forgotten but not reported: a full
	 * table never closes a grant (its TTL does).
	 */
	ck_assert_int_eq(add(1001, "d.example", AF_INET, IP(10, 0, 0, 6),
	    1000, 61), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(learn_size(l), 3);
	/* A refresh takes no room. */
	ck_assert_int_eq(add(1001, "c.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 62), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_uint_eq(learn_size(l), 3);
	/*
	 * The oldest is now (1001, d, .5); the same uid takes .5 under
	 * another name: the grant stays, nothing to revoke.
	 */
	ck_assert_int_eq(add(1001, "e.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 63), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 5), &h));
	ck_assert_str_eq(h.name, "e.example");
	ck_assert_uint_eq(learn_count(l, 1001, "d.example", 63), 1);
	/* Another uid pushing out 1001's entry revokes nothing either. */
	ck_assert_int_eq(add(1002, "f.example", AF_INET, IP(10, 0, 0, 6),
	    1000, 64), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert(!learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 6), &h) ||
	    h.uid == 1002);
	ck_assert_uint_eq(learn_size(l), 3);
}
END_TEST

START_TEST(test_invalid)
{
	char name[DNS_NAME_TEXT_MAX + 1];
	size_t n = 99;

	learn_free(NULL);
	errno = 0;
	ck_assert_ptr_null(learn_new(4, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(l = learn_new(4, 10));
	errno = 0;
	ck_assert_int_eq(learn_add(l, 1000, "a.example", AF_UNIX,
	    IP(1, 2, 3, 4), 1000, 0, ev, EVMAX, &n), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(n, 0);
	/* The longest text name fits, one more byte does not. */
	memset(name, 'a', sizeof(name));
	name[DNS_NAME_TEXT_MAX - 1] = '\0';
	ck_assert_int_eq(add(1000, name, AF_INET, IP(1, 2, 3, 4), 1000, 0), 0);
	ck_assert_uint_eq(learn_count(l, 1000, name, 0), 1);
	name[DNS_NAME_TEXT_MAX - 1] = 'a';
	name[DNS_NAME_TEXT_MAX] = '\0';
	errno = 0;
	ck_assert_int_eq(add(1000, name, AF_INET, IP(1, 2, 3, 5), 1000, 0),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(learn_count(l, 1000, name, 0), 0);
	ck_assert_uint_eq(learn_size(l), 1);
	/* Clamped to LEARN_PER_NAME_MAX. */
	learn_free(l);
	ck_assert_ptr_nonnull(l = learn_new(100000, 5000));
	for (n = 0; n < LEARN_PER_NAME_MAX + 10; n++)
		ck_assert_int_eq(add(1000, "a.example", AF_INET6,
		    IP(0x20, 0x01, (uint8_t)(n >> 8), (uint8_t)n), 1000, 0),
		    0);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 0),
	    LEARN_PER_NAME_MAX);
}
END_TEST

/* evicted[] too small: nothing to revoke is ever dropped unreported. */
START_TEST(test_evicted_room)
{
	struct learn_addr one[1];
	size_t n = 99;
	struct learn_hit h;

	/* Making room in a full table needs no room in evicted[]. */
	ck_assert_ptr_nonnull(l = learn_new(4, 1));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(learn_add(l, 1000, "a.example", AF_INET,
	    IP(10, 0, 0, 2), 1000, 1, one, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(learn_size(l), 1);
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	learn_free(l);

	/* Trimming stops when evicted[] is full and resumes later. */
	ck_assert_ptr_nonnull(l = learn_new(4, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 3),
	    1000, 2), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 3), 0);
	learn_set_max_per_name(l, 1);
	ck_assert_int_eq(learn_add(l, 1000, "a.example", AF_INET,
	    IP(10, 0, 0, 5), 1000, 4, one, 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(one[0].family, AF_INET);
	ck_assert_mem_eq(one[0].addr, IP(10, 0, 0, 1), 16);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 4), 4);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 5), 0);
	ck_assert_uint_eq(nev, 3);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 2)));
	ck_assert(ev_is(1, AF_INET, IP(10, 0, 0, 3)));
	ck_assert(ev_is(2, AF_INET, IP(10, 0, 0, 4)));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 5), 1);
}
END_TEST

/*
 * 100k adds into a table of 65536: the bound holds after every add, at
 * most 2 addresses are reported each time, and a reported address is no
 * longer granted to its uid by any entry.
 */
START_TEST(test_stress)
{
	const size_t max = 65536;
	uint8_t a[16];
	char name[32];
	struct learn_hit h;
	uint32_t x = 12345;
	uint64_t now;
	size_t i, j;
	uid_t uid;
	int fam;

	ck_assert_ptr_nonnull(l = learn_new(16, max));
	for (i = 0; i < 100000; i++) {
		x = x * 1103515245 + 12345;
		uid = 10000 + (x >> 8) % 50;
		snprintf(name, sizeof(name), "h%u.example",
		    (unsigned)((x >> 12) % 3000));
		fam = (x >> 30) & 1 ? AF_INET6 : AF_INET;
		memset(a, 0, sizeof(a));
		if (fam == AF_INET) {
			memcpy(a, &x, sizeof(x));
		} else {
			a[0] = 0x20;
			a[1] = 0x01;
			a[2] = 0x0d;
			a[3] = 0xb8;
			memcpy(a + 8, &i, sizeof(uint32_t));
			memcpy(a + 12, &x, sizeof(x));
		}
		now = i;
		if (add(uid, name, fam, a, now + 30000, now) == -1 ||
		    learn_size(l) > max || nev > 2 ||
		    learn_count(l, uid, name, now) > 16)
			ck_abort_msg("add %zu: size %zu, %zu evicted", i,
			    learn_size(l), nev);
		for (j = 0; j < nev; j++) {
			if (learn_lookup(l, uid, ev[j].family, ev[j].addr,
			    &h) && h.uid == uid && h.expires_ms > now)
				ck_abort_msg("add %zu: evicted but granted",
				    i);
		}
	}
	ck_assert_uint_eq(learn_size(l), max);
	for (uid = 10000; uid < 10050; uid++)
		learn_forget_uid(l, uid);
	ck_assert_uint_eq(learn_size(l), 0);
}
END_TEST

/*
 * A model of the contract with linear scans, against the table, over
 * random adds, refreshes, cap changes and forgets on few uids, names and
 * addresses. Expiries are all distinct, so every choice is determined.
 */
#define M_MAX		24
#define M_UIDS		3
#define M_NAMES		4
#define M_ADDRS		6

struct ment {
	bool		 used;
	uid_t		 uid;
	int		 name;
	int		 family;
	uint8_t		 a;
	uint64_t	 exp;
	uint64_t	 seq;
};

static struct ment m[M_MAX];
static uint64_t mclock;
static int mmax;
static const char *mnames[M_NAMES] = {
	"a.example", "b.example", "c.example", "d.example"
};

static bool
m_held(int skip, uid_t uid, int family, uint8_t a, uint64_t now)
{
	int i;

	for (i = 0; i < M_MAX; i++)
		if (i != skip && m[i].used && m[i].uid == uid &&
		    m[i].family == family && m[i].a == a && m[i].exp > now)
			return true;
	return false;
}

static void
m_evict(int i, uint64_t now, struct learn_addr *out, size_t *nout)
{
	if (m[i].exp > now &&
	    !m_held(i, m[i].uid, m[i].family, m[i].a, now)) {
		memset(&out[*nout], 0, sizeof(out[*nout]));
		out[*nout].family = m[i].family;
		out[*nout].addr[0] = m[i].a;
		(*nout)++;
	}
	m[i].used = false;
}

/* The victim of a full table: the first expired, else the oldest. */
static int
m_victim(uint64_t now)
{
	int i, v = -1;

	for (i = 0; i < M_MAX; i++)
		if (m[i].used && m[i].exp <= now &&
		    (v == -1 || m[i].exp < m[v].exp))
			v = i;
	if (v == -1)
		for (i = 0; i < M_MAX; i++)
			if (m[i].used && (v == -1 || m[i].seq < m[v].seq))
				v = i;
	return v;
}

static void
m_set_max(int max, uint64_t now)
{
	int i, n;

	mmax = max;
	for (;;) {
		for (i = 0, n = 0; i < M_MAX; i++)
			n += m[i].used;
		if (n <= mmax)
			break;
		m[m_victim(now)].used = false;
	}
}

static void
m_add(unsigned cap, uid_t uid, int name, int family, uint8_t a,
    uint64_t exp, uint64_t now, struct learn_addr *out, size_t *nout)
{
	int i, k = -1, v, n;

	*nout = 0;
	for (i = 0; i < M_MAX; i++)
		if (m[i].used && m[i].uid == uid && m[i].name == name &&
		    m[i].family == family && m[i].a == a)
			k = i;
	if (k == -1) {
		for (i = 0, n = 0; i < M_MAX; i++)
			n += m[i].used;
		/* A full table forgets, it does not revoke. */
		if (n >= mmax)
			m[m_victim(now)].used = false;
		for (k = 0; m[k].used; k++)
			;
		m[k].used = true;
		m[k].uid = uid;
		m[k].name = name;
		m[k].family = family;
		m[k].a = a;
	}
	m[k].exp = exp;
	m[k].seq = ++mclock;
	for (;;) {
		for (i = 0, n = 0; i < M_MAX; i++)
			n += m[i].used && m[i].uid == uid && m[i].name == name;
		if (n <= (int)cap)
			break;
		v = -1;
		for (i = 0; i < M_MAX; i++)
			if (i != k && m[i].used && m[i].uid == uid &&
			    m[i].name == name && m[i].exp <= now &&
			    (v == -1 || m[i].seq < m[v].seq))
				v = i;
		if (v == -1)
			for (i = 0; i < M_MAX; i++)
				if (i != k && m[i].used && m[i].uid == uid &&
				    m[i].name == name &&
				    (v == -1 || m[i].seq < m[v].seq))
					v = i;
		m_evict(v, now, out, nout);
	}
}

static void
m_check(uint64_t now)
{
	struct learn_hit h;
	uint8_t addr[16];
	size_t n = 0;
	int i, b, fam, name;
	uid_t uid;

	for (i = 0; i < M_MAX; i++)
		n += m[i].used;
	/* Plain tests: a Check assertion per step would dominate the time. */
	if (learn_size(l) != n)
		ck_abort_msg("size %zu, model %zu", learn_size(l), n);
	for (uid = 1000; uid < 1000 + M_UIDS + 1; uid++) {
		for (name = 0; name < M_NAMES; name++) {
			for (i = 0, n = 0; i < M_MAX; i++)
				n += m[i].used && m[i].uid == uid &&
				    m[i].name == name && m[i].exp > now;
			if (learn_count(l, uid, mnames[name], now) != n)
				ck_abort_msg("count %u %s", (unsigned)uid,
				    mnames[name]);
		}
		for (fam = 0; fam < 2; fam++) {
			for (b = 0; b < M_ADDRS; b++) {
				int f = fam ? AF_INET6 : AF_INET, own = -1;
				int any = -1;

				memset(addr, 0, sizeof(addr));
				addr[0] = (uint8_t)b;
				for (i = 0; i < M_MAX; i++) {
					if (!m[i].used || m[i].family != f ||
					    m[i].a != b)
						continue;
					if (any == -1 || m[i].seq > m[any].seq)
						any = i;
					if (m[i].uid == uid && (own == -1 ||
					    m[i].seq > m[own].seq))
						own = i;
				}
				if (own != -1)
					any = own;
				if (any == -1) {
					if (learn_lookup(l, uid, f, addr, &h))
						ck_abort_msg("lookup %d/%d "
						    "found", f, b);
					continue;
				}
				if (!learn_lookup(l, uid, f, addr, &h) ||
				    h.uid != m[any].uid ||
				    strcmp(h.name, mnames[m[any].name]) != 0 ||
				    h.expires_ms != m[any].exp)
					ck_abort_msg("lookup %u %d/%d",
					    (unsigned)uid, f, b);
			}
		}
	}
}

START_TEST(test_model)
{
	struct learn_addr want[EVMAX];
	uint8_t addr[16];
	uint32_t x = 777;
	uint64_t t = 0, now, exp;
	unsigned cap = 3;
	size_t nwant, j;
	int i, fam, name, a;
	uid_t uid;

	memset(m, 0, sizeof(m));
	mclock = 0;
	mmax = M_MAX;
	ck_assert_ptr_nonnull(l = learn_new(cap, M_MAX));
	for (i = 1; i < 6000; i++) {
		x = x * 1103515245 + 12345;
		t += (x >> 16) % 3;
		now = t << 16;
		x = x * 1103515245 + 12345;
		if ((x >> 16) % 100 == 0) {
			uid = 1000 + (x >> 8) % M_UIDS;
			learn_forget_uid(l, uid);
			for (j = 0; j < M_MAX; j++)
				if (m[j].uid == uid)
					m[j].used = false;
			m_check(now);
			continue;
		}
		if ((x >> 16) % 100 < 3) {
			cap = 1 + (x >> 4) % 4;
			learn_set_max_per_name(l, cap);
			continue;
		}
		if ((x >> 16) % 100 < 5) {
			/* A new bound, often lower: the arrays are rebuilt. */
			int max = 4 + (int)((x >> 4) % (M_MAX - 3));

			m_set_max(max, now);
			ck_assert_int_eq(learn_set_max_entries(l, (size_t)max,
			    now), 0);
			ck_assert_uint_eq(learn_get_max_entries(l),
			    (size_t)max);
			m_check(now);
			continue;
		}
		uid = 1000 + (x >> 4) % M_UIDS;
		name = (x >> 8) % M_NAMES;
		fam = (x >> 12) & 1 ? AF_INET6 : AF_INET;
		a = (x >> 20) % M_ADDRS;
		/* A quarter live long, so that full tables meet live ones. */
		exp = ((t + (x >> 24) % 7 + ((x >> 28) % 4 == 0 ? 64 : 0)) <<
		    16) | (uint64_t)i;
		memset(addr, 0, sizeof(addr));
		addr[0] = (uint8_t)a;
		m_add(cap, uid, name, fam, (uint8_t)a, exp, now, want, &nwant);
		ck_assert_int_eq(add(uid, mnames[name], fam, addr, exp, now),
		    0);
		ck_assert_uint_eq(nev, nwant);
		for (j = 0; j < nev; j++) {
			ck_assert_int_eq(ev[j].family, want[j].family);
			ck_assert_mem_eq(ev[j].addr, want[j].addr, 16);
		}
		m_check(now);
	}
}
END_TEST

START_TEST(test_entries_for_cache)
{
	ck_assert_uint_eq(learn_entries_for_cache(0), LEARN_ENTRIES_MIN);
	ck_assert_uint_eq(learn_entries_for_cache(1), LEARN_ENTRIES_MIN);
	ck_assert_uint_eq(learn_entries_for_cache(10000),
	    10000 * LEARN_PER_ANSWER);
	/* netd.conf's largest cache_size still fits the indices. */
	ck_assert_uint_eq(learn_entries_for_cache(10000000),
	    10000000 * LEARN_PER_ANSWER);
	ck_assert_uint_eq(learn_entries_for_cache(UINT32_MAX),
	    LEARN_ENTRIES_MAX);
}
END_TEST

/*
 * A lower bound forgets at once, as a full table does (expired first,
 * then the least recently refreshed; nothing reported), and what stays
 * keeps its order: per name for the cap, per address for lookups.
 */
START_TEST(test_set_max_entries)
{
	struct learn_hit h;

	ck_assert_ptr_nonnull(l = learn_new(2, 100));
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 1),
	    1000, 0), 0);
	ck_assert_int_eq(add(1000, "a.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 1), 0);
	ck_assert_int_eq(add(1001, "b.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 2), 0);
	ck_assert_int_eq(add(1001, "c.example", AF_INET, IP(10, 0, 0, 3),
	    30, 3), 0);
	ck_assert_int_eq(add(1000, "d.example", AF_INET, IP(10, 0, 0, 2),
	    1000, 4), 0);
	ck_assert_int_eq(add(1002, "e.example", AF_INET, IP(10, 0, 0, 4),
	    1000, 5), 0);
	ck_assert_uint_eq(learn_size(l), 6);
	errno = 0;
	ck_assert_int_eq(learn_set_max_entries(l, 0, 50), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(learn_get_max_entries(l), 100);
	/* Down to 4: c (expired) goes first, then a's .1 (the oldest). */
	ck_assert_int_eq(learn_set_max_entries(l, 4, 50), 0);
	ck_assert_uint_eq(learn_get_max_entries(l), 4);
	ck_assert_uint_eq(learn_size(l), 4);
	ck_assert(!learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 3), &h));
	ck_assert(!learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 1), &h));
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 50), 1);
	/* The holders of .2 are still newest first: d, then b, then a. */
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_str_eq(h.name, "d.example");
	ck_assert(learn_lookup(l, 1003, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_str_eq(h.name, "d.example");
	ck_assert(learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_str_eq(h.name, "b.example");
	/* Full at 4: the next add forgets the oldest, a's .2. */
	ck_assert_int_eq(add(1002, "e.example", AF_INET, IP(10, 0, 0, 5),
	    1000, 51), 0);
	ck_assert_uint_eq(nev, 0);
	ck_assert_uint_eq(learn_size(l), 4);
	ck_assert_uint_eq(learn_count(l, 1000, "a.example", 51), 0);
	/*
	 * The cap still works on what was moved: e holds .4 and .5; .6
	 * makes room by forgetting b's .2, then the cap takes .4 back.
	 */
	ck_assert_int_eq(add(1002, "e.example", AF_INET, IP(10, 0, 0, 6),
	    1000, 52), 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert(ev_is(0, AF_INET, IP(10, 0, 0, 4)));
	ck_assert_uint_eq(learn_size(l), 3);
	ck_assert(learn_lookup(l, 1001, AF_INET, IP(10, 0, 0, 2), &h));
	ck_assert_str_eq(h.name, "d.example");
	/* Higher again: room for more, nothing moves. */
	ck_assert_int_eq(learn_set_max_entries(l, 1000, 53), 0);
	ck_assert_uint_eq(learn_size(l), 3);
	ck_assert_int_eq(add(1003, "f.example", AF_INET, IP(10, 0, 0, 7),
	    1000, 54), 0);
	ck_assert_int_eq(add(1003, "g.example", AF_INET, IP(10, 0, 0, 8),
	    1000, 54), 0);
	ck_assert_uint_eq(learn_size(l), 5);
	/* Clamped like learn_new(). */
	ck_assert_int_eq(learn_set_max_entries(l, SIZE_MAX, 55), 0);
	ck_assert_uint_eq(learn_get_max_entries(l), LEARN_ENTRIES_MAX);
}
END_TEST

/*
 * One address held under many names, while other adds make the hash
 * tables grow: lookups still find the most recently refreshed holder.
 */
START_TEST(test_holders_order)
{
	struct learn_hit h;
	char name[32];
	uint8_t a[16];
	uint32_t i;

	ck_assert_ptr_nonnull(l = learn_new(1, 100000));
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%u.example", (unsigned)i);
		ck_assert_int_eq(add(1000 + i % 3, name, AF_INET,
		    IP(10, 9, 9, 9), 100000, i), 0);
		memset(a, 0, sizeof(a));
		memcpy(a, &i, sizeof(i));
		a[0] = 0x20;
		snprintf(name, sizeof(name), "o%u.example", (unsigned)i);
		ck_assert_int_eq(add(2000, name, AF_INET6, a, 100000, i), 0);
		ck_assert(learn_lookup(l, 999, AF_INET, IP(10, 9, 9, 9), &h));
		snprintf(name, sizeof(name), "n%u.example", (unsigned)i);
		ck_assert_str_eq(h.name, name);
	}
	ck_assert(learn_lookup(l, 1000, AF_INET, IP(10, 9, 9, 9), &h));
	ck_assert_str_eq(h.name, "n4998.example");
	ck_assert_int_eq(add(1001, "n7.example", AF_INET, IP(10, 9, 9, 9),
	    100000, 6000), 0);
	ck_assert(learn_lookup(l, 1002, AF_INET, IP(10, 9, 9, 9), &h));
	ck_assert_str_eq(h.name, "n4997.example");
	ck_assert(learn_lookup(l, 1003, AF_INET, IP(10, 9, 9, 9), &h));
	ck_assert_str_eq(h.name, "n7.example");
	ck_assert_uint_eq(learn_size(l), 10000);
}
END_TEST

/*
 * Memory follows the bound, not the names seen: 200,000 names through a
 * table of 10,000 entries stop growing it once full, at under 160 octets
 * an entry (names of 16 to 17 characters).
 */
START_TEST(test_memory_bound)
{
	const size_t max = 10000;
	size_t full = 0, bytes;
	char name[32];
	uint8_t a[16];
	uint32_t i;

	ck_assert_ptr_nonnull(l = learn_new(16, max));
	for (i = 0; i < 200000; i++) {
		snprintf(name, sizeof(name), "h%06u.bench.test", (unsigned)i);
		memset(a, 0, sizeof(a));
		memcpy(a, &i, sizeof(i));
		ck_assert_int_eq(add(1000, name, AF_INET, a, 1000000 + i, i),
		    0);
		if (i == max)
			full = learn_memory(l);
	}
	bytes = learn_memory(l);
	ck_assert_uint_eq(learn_size(l), max);
	ck_assert_uint_le(bytes, full + max);	/* names a character longer */
	ck_assert_uint_lt(bytes, max * 160);
	/* A lower bound gives the memory back. */
	ck_assert_int_eq(learn_set_max_entries(l, 1000, 200000), 0);
	ck_assert_uint_eq(learn_size(l), 1000);
	ck_assert_uint_lt(learn_memory(l), 1000 * 160);
}
END_TEST

Suite *
learn_suite(void)
{
	Suite *s = suite_create("learn");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_refresh);
	tcase_add_test(core, test_cap_evicts_oldest);
	tcase_add_test(core, test_refresh_reorders);
	tcase_add_test(core, test_held_by_other_name);
	tcase_add_test(core, test_expired_not_reported);
	tcase_add_test(core, test_expired_first);
	tcase_add_test(core, test_lookup_prefers_own_uid);
	tcase_add_test(core, test_lookup_expired);
	tcase_add_test(core, test_forget_uid);
	tcase_add_test(core, test_family);
	tcase_add_test(core, test_set_max_per_name);
	tcase_add_test(core, test_model);
	tcase_add_test(core, test_entries_for_cache);
	tcase_add_test(core, test_set_max_entries);
	tcase_add_test(core, test_holders_order);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 60);
	tcase_add_test(limits, test_max_entries);
	tcase_add_test(limits, test_invalid);
	tcase_add_test(limits, test_evicted_room);
	tcase_add_test(limits, test_stress);
	tcase_add_test(limits, test_memory_bound);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
