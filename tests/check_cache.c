/*
 * dns/cache.c: hits and misses, keys (case, type, class), TTL countdown
 * and expiry, replacement, LRU eviction by entries and by bytes, refused
 * messages, counters, flush; 100k puts against both bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "dns.h"
#include "dns_cache.h"

#define T0		1000000ULL	/* a now_ms well away from 0 */
#define CLASS_CH	3
#define MSG_MAX		2048

static struct dns_cache *c;

static void
setup(void)
{
	c = NULL;
}

static void
teardown(void)
{
	dns_cache_free(c);
	c = NULL;
}

/* "www.example.com" in wire form into out (DNS_NAME_MAX); its length. */
static size_t
wire(const char *text, uint8_t *out)
{
	size_t n = 0, l;
	const char *dot;

	while (*text != '\0') {
		dot = strchr(text, '.');
		l = dot != NULL ? (size_t)(dot - text) : strlen(text);
		/* No ck_assert here: Check logs each one, and loops call. */
		if (n + 1 + l + 1 > DNS_NAME_MAX)
			ck_abort_msg("name too long: %s", text);
		out[n++] = (uint8_t)l;
		memcpy(out + n, text, l);
		n += l;
		text += l;
		if (*text == '.')
			text++;
	}
	out[n++] = 0;
	return n;
}

/* A message of len octets that tells fill and the offset apart. */
static void
msg_fill(uint8_t *m, size_t len, unsigned fill)
{
	size_t i;

	for (i = 0; i < len; i++)
		m[i] = (uint8_t)(fill * 31 + i);
}

static int
put(const char *name, uint16_t type, uint16_t class, size_t len,
    unsigned fill, uint32_t ttl, uint64_t now)
{
	uint8_t qn[DNS_NAME_MAX], m[MSG_MAX];
	size_t qlen = wire(name, qn);

	ck_assert_uint_le(len, MSG_MAX);
	msg_fill(m, len, fill);
	return dns_cache_put(c, qn, qlen, type, class, m, len, ttl, now);
}

static const uint8_t *
get(const char *name, uint16_t type, uint16_t class, uint64_t now,
    size_t *len, uint32_t *ttl)
{
	uint8_t qn[DNS_NAME_MAX];
	size_t qlen = wire(name, qn);

	*len = 0;
	*ttl = 0;
	return dns_cache_get(c, qn, qlen, type, class, now, len, ttl);
}

/* A hit on name (type A, class IN) holding len octets of fill. */
static void
assert_hit(const char *name, uint64_t now, size_t len, unsigned fill,
    uint32_t ttl)
{
	uint8_t m[MSG_MAX];
	const uint8_t *p;
	size_t got_len;
	uint32_t got_ttl;

	p = get(name, DNS_TYPE_A, DNS_CLASS_IN, now, &got_len, &got_ttl);
	ck_assert_msg(p != NULL, "%s: miss", name);
	ck_assert_uint_eq(got_len, len);
	ck_assert_uint_eq(got_ttl, ttl);
	msg_fill(m, len, fill);
	ck_assert_mem_eq(p, m, len);
}

static void
assert_miss(const char *name, uint64_t now)
{
	size_t len;
	uint32_t ttl;

	ck_assert_msg(get(name, DNS_TYPE_A, DNS_CLASS_IN, now, &len,
	    &ttl) == NULL, "%s: hit", name);
}

static struct dns_cache_stats
stats(void)
{
	struct dns_cache_stats st;

	memset(&st, 0xa5, sizeof(st));
	dns_cache_get_stats(c, &st);
	return st;
}

START_TEST(test_hit_miss)
{
	uint8_t qn[DNS_NAME_MAX], m[100];
	const uint8_t *p;
	size_t qlen, len;
	uint32_t ttl;

	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	assert_miss("www.example.com", T0);

	/* The cache keeps a copy: the caller's buffer may change. */
	qlen = wire("www.example.com", qn);
	msg_fill(m, sizeof(m), 7);
	ck_assert_int_eq(dns_cache_put(c, qn, qlen, DNS_TYPE_A, DNS_CLASS_IN,
	    m, sizeof(m), 60, T0), 0);
	memset(m, 0, sizeof(m));
	memset(qn, 0, sizeof(qn));
	assert_hit("www.example.com", T0, 100, 7, 60);

	assert_miss("example.com", T0);
	assert_miss("www.example.co", T0);
	assert_miss("ww.example.com", T0);
	assert_miss("www.example.com.x", T0);

	/* Twice: a hit does not consume the entry. */
	p = get("www.example.com", DNS_TYPE_A, DNS_CLASS_IN, T0 + 500, &len,
	    &ttl);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 100);
	ck_assert_uint_eq(ttl, 59);
	ck_assert_uint_eq(stats().entries, 1);
}
END_TEST

START_TEST(test_case)
{
	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("WwW.ExAmple.COM", DNS_TYPE_A, DNS_CLASS_IN,
	    40, 1, 60, T0), 0);
	assert_hit("www.example.com", T0, 40, 1, 60);
	assert_hit("WWW.EXAMPLE.COM", T0, 40, 1, 60);
	assert_hit("wWw.eXaMpLe.cOm", T0, 40, 1, 60);

	/* Same key in another case: replaced, not added. */
	ck_assert_int_eq(put("www.example.com", DNS_TYPE_A, DNS_CLASS_IN,
	    41, 2, 60, T0), 0);
	ck_assert_uint_eq(stats().entries, 1);
	assert_hit("WWW.example.com", T0, 41, 2, 60);

	/* Only ASCII letters fold: '@' and '`', '[' and '{' differ by 0x20. */
	ck_assert_int_eq(put("a@b", DNS_TYPE_A, DNS_CLASS_IN, 10, 3, 60, T0),
	    0);
	ck_assert_int_eq(put("x[y", DNS_TYPE_A, DNS_CLASS_IN, 10, 4, 60, T0),
	    0);
	assert_miss("a`b", T0);
	assert_miss("x{y", T0);
	assert_hit("A@B", T0, 10, 3, 60);
	assert_hit("X[Y", T0, 10, 4, 60);
	ck_assert_uint_eq(stats().entries, 3);
}
END_TEST

START_TEST(test_type_class)
{
	const uint8_t *p;
	size_t len;
	uint32_t ttl;

	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("example.com", DNS_TYPE_A, DNS_CLASS_IN, 30, 1,
	    60, T0), 0);
	ck_assert_ptr_null(get("example.com", DNS_TYPE_AAAA, DNS_CLASS_IN, T0,
	    &len, &ttl));
	ck_assert_ptr_null(get("example.com", DNS_TYPE_A, CLASS_CH, T0, &len,
	    &ttl));
	ck_assert_int_eq(put("example.com", DNS_TYPE_AAAA, DNS_CLASS_IN, 50, 2,
	    120, T0), 0);
	ck_assert_int_eq(put("example.com", DNS_TYPE_A, CLASS_CH, 70, 3, 180,
	    T0), 0);
	ck_assert_uint_eq(stats().entries, 3);
	/* Type and class are not folded into each other. */
	ck_assert_ptr_null(get("example.com", CLASS_CH, DNS_TYPE_A, T0, &len,
	    &ttl));

	assert_hit("example.com", T0, 30, 1, 60);
	p = get("example.com", DNS_TYPE_AAAA, DNS_CLASS_IN, T0, &len, &ttl);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 50);
	ck_assert_uint_eq(ttl, 120);
	ck_assert_uint_eq(p[0], (uint8_t)(2 * 31));
	p = get("example.com", DNS_TYPE_A, CLASS_CH, T0, &len, &ttl);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 70);
	ck_assert_uint_eq(ttl, 180);
	ck_assert_uint_eq(p[0], (uint8_t)(3 * 31));
}
END_TEST

START_TEST(test_ttl_countdown)
{
	struct dns_cache_stats st;

	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 1, 5, T0),
	    0);
	assert_hit("a.test", T0, 20, 1, 5);
	assert_hit("a.test", T0 + 1, 20, 1, 4);
	assert_hit("a.test", T0 + 999, 20, 1, 4);
	assert_hit("a.test", T0 + 1000, 20, 1, 4);
	assert_hit("a.test", T0 + 1001, 20, 1, 3);
	assert_hit("a.test", T0 + 2500, 20, 1, 2);
	assert_hit("a.test", T0 + 4000, 20, 1, 1);
	/* Exactly ttl after the put: gone. */
	assert_miss("a.test", T0 + 5000);
	st = stats();
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.expired, 1);

	/* Under a second left counts as expired. */
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 2, 5, T0),
	    0);
	assert_miss("b.test", T0 + 4001);
	ck_assert_uint_eq(stats().expired, 2);
	ck_assert_uint_eq(stats().entries, 0);

	/* Long past. */
	ck_assert_int_eq(put("c.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 3, 5, T0),
	    0);
	assert_miss("c.test", T0 + 86400000);
	ck_assert_uint_eq(stats().expired, 3);

	/* A ttl of 1 lives for its first millisecond only. */
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 4, 1, T0),
	    0);
	assert_hit("d.test", T0, 20, 4, 1);
	assert_miss("d.test", T0 + 1);

	/* Expiry is per entry: a refresh restarts the clock. */
	ck_assert_int_eq(put("e.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 5, 10,
	    T0), 0);
	ck_assert_int_eq(put("e.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 6, 10,
	    T0 + 8000), 0);
	assert_hit("e.test", T0 + 12000, 20, 6, 6);
	st = stats();
	ck_assert_uint_eq(st.expired, 4);
	ck_assert_uint_eq(st.entries, 1);
}
END_TEST

START_TEST(test_ttl_bounds)
{
	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);

	/* ttl 0 stores nothing, and says so in no counter. */
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 1, 0, T0),
	    0);
	assert_miss("a.test", T0);
	ck_assert_uint_eq(stats().entries, 0);
	ck_assert_uint_eq(stats().inserts, 0);

	/* Top bit set reads as 0 (RFC 2181 §8); DNS_TTL_NONE is one. */
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 1,
	    0x80000000u, T0), 0);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 1,
	    DNS_TTL_NONE, T0), 0);
	assert_miss("a.test", T0);
	ck_assert_uint_eq(stats().inserts, 0);

	/* The largest valid TTL, near the end of the clock: no wrap. */
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 2,
	    0x7fffffff, T0), 0);
	assert_hit("b.test", T0, 20, 2, 0x7fffffff);
	assert_hit("b.test", T0 + 1000ULL * 0x7ffffffe, 20, 2, 1);
	assert_miss("b.test", T0 + 1000ULL * 0x7fffffff);
	ck_assert_int_eq(put("c.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 3,
	    0x7fffffff, UINT64_MAX - 5000), 0);
	assert_hit("c.test", UINT64_MAX - 5000, 20, 3, 5);
	assert_miss("c.test", UINT64_MAX);

	/* A ttl 0 answer replaces a cached one: nothing is left. */
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 4, 60,
	    T0), 0);
	ck_assert_uint_eq(stats().entries, 1);
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 5, 0,
	    T0), 0);
	assert_miss("d.test", T0);
	ck_assert_uint_eq(stats().entries, 0);
	ck_assert_uint_eq(stats().bytes, 0);
	ck_assert_uint_eq(stats().evictions, 0);
}
END_TEST

/* A clock that steps back never stretches an entry past its ttl. */
START_TEST(test_clock_back)
{
	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 1, 10,
	    T0), 0);
	assert_hit("a.test", T0 - 5000, 20, 1, 10);
	assert_hit("a.test", 0, 20, 1, 10);
	assert_hit("a.test", T0 + 9000, 20, 1, 1);
}
END_TEST

START_TEST(test_replace)
{
	struct dns_cache_stats st;
	size_t qlen = sizeof("\7example\3com");

	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("example.com", DNS_TYPE_A, DNS_CLASS_IN, 40, 1,
	    10, T0), 0);
	st = stats();
	ck_assert_uint_eq(st.bytes, dns_cache_entry_size(qlen, 40));
	ck_assert_int_eq(put("example.com", DNS_TYPE_A, DNS_CLASS_IN, 80, 2,
	    20, T0 + 1000), 0);
	assert_hit("example.com", T0 + 1000, 80, 2, 20);
	st = stats();
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.bytes, dns_cache_entry_size(qlen, 80));
	ck_assert_uint_eq(st.inserts, 2);
	ck_assert_uint_eq(st.evictions, 0);

	/* Shorter again, and the byte count follows. */
	ck_assert_int_eq(put("example.com", DNS_TYPE_A, DNS_CLASS_IN, 12, 3,
	    30, T0 + 2000), 0);
	assert_hit("example.com", T0 + 2000, 12, 3, 30);
	ck_assert_uint_eq(stats().bytes, dns_cache_entry_size(qlen, 12));
}
END_TEST

START_TEST(test_lru_entries)
{
	struct dns_cache_stats st;

	c = dns_cache_new(3, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 1, 60, T0),
	    0);
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 2, 60, T0),
	    0);
	ck_assert_int_eq(put("c.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 3, 60, T0),
	    0);
	ck_assert_uint_eq(stats().evictions, 0);

	/* a is the oldest put but was just used: b goes. */
	assert_hit("a.test", T0, 10, 1, 60);
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 4, 60, T0),
	    0);
	st = stats();
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.evictions, 1);
	assert_miss("b.test", T0);
	/* Now (most recent first) a, c, d after these. */
	assert_hit("d.test", T0, 10, 4, 60);
	assert_hit("c.test", T0, 10, 3, 60);
	assert_hit("a.test", T0, 10, 1, 60);

	/* Replacing when full evicts nothing, and refreshes d. */
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 5, 60, T0),
	    0);
	ck_assert_uint_eq(stats().evictions, 1);
	ck_assert_int_eq(put("e.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 6, 60, T0),
	    0);
	st = stats();
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.evictions, 2);
	assert_miss("c.test", T0);
	assert_hit("a.test", T0, 10, 1, 60);
	assert_hit("d.test", T0, 10, 5, 60);
	assert_hit("e.test", T0, 10, 6, 60);
}
END_TEST

START_TEST(test_lru_one)
{
	c = dns_cache_new(1, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 1, 60, T0),
	    0);
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 2, 60, T0),
	    0);
	assert_miss("a.test", T0);
	assert_hit("b.test", T0, 10, 2, 60);
	ck_assert_uint_eq(stats().entries, 1);
	ck_assert_uint_eq(stats().evictions, 1);
}
END_TEST

START_TEST(test_lru_bytes)
{
	struct dns_cache_stats st;
	size_t qlen = sizeof("\1a\4test"), e = dns_cache_entry_size(qlen, 100);

	c = dns_cache_new(100, 3 * e);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 100, 1, 60,
	    T0), 0);
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 100, 2, 60,
	    T0), 0);
	ck_assert_int_eq(put("c.test", DNS_TYPE_A, DNS_CLASS_IN, 100, 3, 60,
	    T0), 0);
	st = stats();
	ck_assert_uint_eq(st.bytes, 3 * e);
	ck_assert_uint_eq(st.evictions, 0);

	assert_hit("a.test", T0, 100, 1, 60);
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 100, 4, 60,
	    T0), 0);
	st = stats();
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.bytes, 3 * e);
	ck_assert_uint_eq(st.evictions, 1);
	assert_miss("b.test", T0);

	/* Order now d, a, c. One more octet than fits: c goes, a stays. */
	ck_assert_int_eq(put("d.test", DNS_TYPE_A, DNS_CLASS_IN, 101, 5, 60,
	    T0), 0);
	st = stats();
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(st.bytes, 2 * e + 1);
	ck_assert_uint_eq(st.evictions, 2);
	assert_miss("c.test", T0);
	assert_hit("a.test", T0, 100, 1, 60);

	/* Order a, d. An entry over two slots' size takes both. */
	ck_assert_int_eq(put("e.test", DNS_TYPE_A, DNS_CLASS_IN, 100 + e + 1, 6,
	    60, T0), 0);
	st = stats();
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.bytes, 2 * e + 1);
	ck_assert_uint_eq(st.evictions, 4);
	assert_miss("a.test", T0);
	assert_miss("d.test", T0);
	assert_hit("e.test", T0, 100 + e + 1, 6, 60);

	/* Exactly full is allowed. */
	ck_assert_int_eq(put("f.test", DNS_TYPE_A, DNS_CLASS_IN, 99, 7, 60,
	    T0), 0);
	st = stats();
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(st.bytes, 3 * e);
	ck_assert_uint_eq(st.evictions, 4);
}
END_TEST

START_TEST(test_oversized)
{
	struct dns_cache_stats st;
	size_t qlen = sizeof("\1a\4test"), e = dns_cache_entry_size(qlen, 100);

	c = dns_cache_new(100, e);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 100, 1, 60,
	    T0), 0);
	/* One octet over max_bytes: refused, and a is not evicted for it. */
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 101, 2, 60,
	    T0), 0);
	assert_miss("b.test", T0);
	assert_hit("a.test", T0, 100, 1, 60);
	st = stats();
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.inserts, 1);
	ck_assert_uint_eq(st.evictions, 0);

	/* A refused answer under a's key drops the older a. */
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 1000, 3, 60,
	    T0), 0);
	assert_miss("a.test", T0);
	st = stats();
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.evictions, 0);

	/* A cache too small for any entry stores nothing. */
	dns_cache_free(c);
	c = dns_cache_new(100, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 1, 1, 60, T0),
	    0);
	assert_miss("a.test", T0);
	ck_assert_uint_eq(stats().inserts, 0);
}
END_TEST

START_TEST(test_stats)
{
	struct dns_cache_stats st;
	size_t qlen = sizeof("\1a\4test");

	c = dns_cache_new(2, 1 << 20);
	ck_assert_ptr_nonnull(c);
	st = stats();
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.misses, 0);
	ck_assert_uint_eq(st.inserts, 0);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.expired, 0);

	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 1, 5, T0),
	    0);
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 20, 2, 60, T0),
	    0);
	assert_hit("a.test", T0, 10, 1, 5);		/* hit 1 */
	assert_hit("b.test", T0, 20, 2, 60);		/* hit 2 */
	assert_miss("x.test", T0);			/* miss 1 */
	ck_assert_int_eq(put("c.test", DNS_TYPE_A, DNS_CLASS_IN, 30, 3, 60,
	    T0), 0);				/* evicts a */
	assert_miss("a.test", T0);			/* miss 2 */
	assert_miss("c.test", T0 + 60000);		/* miss 3, expired */
	ck_assert_int_eq(put("b.test", DNS_TYPE_A, DNS_CLASS_IN, 40, 4, 60,
	    T0), 0);				/* replaces b */
	assert_hit("b.test", T0 + 1000, 40, 4, 59);	/* hit 3 */

	st = stats();
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.bytes, dns_cache_entry_size(qlen, 40));
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.inserts, 4);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_uint_eq(st.expired, 1);
}
END_TEST

START_TEST(test_flush)
{
	struct dns_cache_stats st;
	char name[32];
	unsigned i;

	c = dns_cache_new(100, 1 << 20);
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		ck_assert_int_eq(put(name, DNS_TYPE_A, DNS_CLASS_IN, 50, i, 60,
		    T0), 0);
	}
	assert_hit("n3.test", T0, 50, 3, 60);
	dns_cache_flush(c);
	st = stats();
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.inserts, 5);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.evictions, 0);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		assert_miss(name, T0);
	}
	ck_assert_uint_eq(stats().misses, 5);

	/* Usable again, and a second flush of an empty cache is harmless. */
	ck_assert_int_eq(put("n1.test", DNS_TYPE_A, DNS_CLASS_IN, 50, 9, 60,
	    T0), 0);
	assert_hit("n1.test", T0, 50, 9, 60);
	dns_cache_flush(c);
	dns_cache_flush(c);
	ck_assert_uint_eq(stats().entries, 0);
}
END_TEST

START_TEST(test_free_null)
{
	dns_cache_free(NULL);
	dns_cache_flush(NULL);
	/* Free with entries in it: valgrind and ASan see no leak. */
	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 1, 60, T0),
	    0);
	dns_cache_free(c);
	c = NULL;
}
END_TEST

START_TEST(test_off)
{
	struct dns_cache_stats st;

	c = dns_cache_new(0, 1 << 20);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put("a.test", DNS_TYPE_A, DNS_CLASS_IN, 10, 1, 60, T0),
	    0);
	assert_miss("a.test", T0);
	dns_cache_flush(c);
	st = stats();
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.inserts, 0);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.misses, 1);
}
END_TEST

START_TEST(test_einval)
{
	uint8_t qn[DNS_NAME_MAX + 1], m[10];
	size_t len;
	uint32_t ttl;

	memset(qn, 'a', sizeof(qn));
	memset(m, 0, sizeof(m));
	c = dns_cache_new(10, 1 << 20);
	ck_assert_ptr_nonnull(c);

	errno = 0;
	ck_assert_int_eq(dns_cache_put(c, qn, 0, 1, 1, m, 10, 60, T0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(dns_cache_put(c, qn, DNS_NAME_MAX + 1, 1, 1, m, 10,
	    60, T0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(dns_cache_put(c, NULL, 5, 1, 1, m, 10, 60, T0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(dns_cache_put(c, qn, 5, 1, 1, NULL, 10, 60, T0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(dns_cache_put(c, qn, 5, 1, 1, m, 0, 60, T0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(stats().entries, 0);

	ck_assert_ptr_null(dns_cache_get(c, qn, 0, 1, 1, T0, &len, &ttl));
	ck_assert_ptr_null(dns_cache_get(c, qn, DNS_NAME_MAX + 1, 1, 1, T0,
	    &len, &ttl));
	ck_assert_ptr_null(dns_cache_get(c, NULL, 5, 1, 1, T0, &len, &ttl));

	/* The longest key is fine, and one octet shorter is another key. */
	ck_assert_int_eq(dns_cache_put(c, qn, DNS_NAME_MAX, 1, 1, m, 10, 60,
	    T0), 0);
	ck_assert_ptr_nonnull(dns_cache_get(c, qn, DNS_NAME_MAX, 1, 1, T0,
	    &len, &ttl));
	ck_assert_uint_eq(len, 10);
	ck_assert_ptr_null(dns_cache_get(c, qn, DNS_NAME_MAX - 1, 1, 1, T0,
	    &len, &ttl));
}
END_TEST

START_TEST(test_entry_size)
{
	size_t base = dns_cache_entry_size(0, 0);

	/* Key and message octets, plus at least two lists' links. */
	ck_assert_uint_ge(base, 4 * sizeof(void *) + 8);
	ck_assert_uint_eq(dns_cache_entry_size(10, 100), base + 110);
	ck_assert_uint_eq(dns_cache_entry_size(255, 65535), base + 65790);
	ck_assert_uint_eq(dns_cache_entry_size(1, SIZE_MAX), SIZE_MAX);
	ck_assert_uint_eq(dns_cache_entry_size(SIZE_MAX, 1), SIZE_MAX);
	ck_assert_uint_eq(dns_cache_entry_size(SIZE_MAX - base, 0), SIZE_MAX);
	ck_assert_uint_eq(dns_cache_entry_size(0, SIZE_MAX - base), SIZE_MAX);
	ck_assert_uint_eq(dns_cache_entry_size(1, SIZE_MAX - base - 1),
	    SIZE_MAX);
}
END_TEST

/* A deterministic generator: the same run every time. */
static uint32_t
lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

#define STRESS_N	100000
#define STRESS_ENTRIES	20000
#define STRESS_QLEN	sizeof("\10h0000000\4test")

/*
 * 100k distinct keys, small messages first (max_entries binds), then
 * larger ones (max_bytes binds), with gets of recent keys in between so
 * the LRU order is not the put order. After every put both bounds hold;
 * at the end every surviving entry is found, with the right message, and
 * the counters add up.
 */
START_TEST(test_stress_bounds)
{
	struct dns_cache_stats st;
	size_t max_bytes = 2500000, len, sum;
	uint32_t seed = 1, ttl, *lens;
	uint8_t qn[DNS_NAME_MAX], m[MSG_MAX];
	const uint8_t *p;
	char name[32];
	uint64_t hits;
	unsigned i, j;

	lens = calloc(STRESS_N, sizeof(*lens));
	ck_assert_ptr_nonnull(lens);
	ck_assert_uint_eq(wire("h0099999.test", qn), STRESS_QLEN);
	c = dns_cache_new(STRESS_ENTRIES, max_bytes);
	ck_assert_ptr_nonnull(c);
	hits = 0;
	for (i = 0; i < STRESS_N; i++) {
		snprintf(name, sizeof(name), "h%07u.test", i);
		wire(name, qn);
		lens[i] = i < STRESS_N / 2 ? 1 + lcg(&seed) % 32 :
		    1 + lcg(&seed) % 600;
		msg_fill(m, lens[i], i);
		if (dns_cache_put(c, qn, STRESS_QLEN, DNS_TYPE_A,
		    DNS_CLASS_IN, m, lens[i], 3600, T0) != 0)
			ck_abort_msg("put %u failed", i);
		st = stats();
		if (st.entries > STRESS_ENTRIES || st.bytes > max_bytes)
			ck_abort_msg("put %u: %zu entries, %zu bytes", i,
			    st.entries, st.bytes);
		if (i == STRESS_N / 2 - 1)
			ck_assert_uint_eq(st.entries, STRESS_ENTRIES);
		if (i > 0 && lcg(&seed) % 2 == 0) {
			j = i - 1 - lcg(&seed) % (i < 50 ? i : 50);
			snprintf(name, sizeof(name), "h%07u.test", j);
			wire(name, qn);
			if (dns_cache_get(c, qn, STRESS_QLEN, DNS_TYPE_A,
			    DNS_CLASS_IN, T0, &len, &ttl) != NULL)
				hits++;
		}
	}
	st = stats();
	ck_assert_uint_eq(st.inserts, STRESS_N);
	ck_assert_uint_eq(st.entries + st.evictions, STRESS_N);
	ck_assert_uint_eq(st.hits, hits);
	/* max_bytes binds: not even the largest entry would fit now. */
	ck_assert_uint_gt(st.bytes + dns_cache_entry_size(STRESS_QLEN, 600),
	    max_bytes);
	ck_assert_uint_lt(st.entries, STRESS_ENTRIES);

	/* What is left is exactly what the counters say. */
	sum = 0;
	hits = 0;
	for (i = 0; i < STRESS_N; i++) {
		snprintf(name, sizeof(name), "h%07u.test", i);
		wire(name, qn);
		p = dns_cache_get(c, qn, STRESS_QLEN, DNS_TYPE_A,
		    DNS_CLASS_IN, T0 + 1000, &len, &ttl);
		if (p == NULL)
			continue;
		hits++;
		msg_fill(m, lens[i], i);
		if (len != lens[i] || ttl != 3599 || memcmp(p, m, len) != 0)
			ck_abort_msg("get %u: len %zu ttl %u", i, len,
			    (unsigned)ttl);
		sum += dns_cache_entry_size(STRESS_QLEN, len);
	}
	ck_assert_uint_eq(hits, st.entries);
	ck_assert_uint_eq(sum, st.bytes);
	free(lens);
}
END_TEST

/* 100k entries in one table, all found; the 100001st evicts the LRU. */
START_TEST(test_stress_grow)
{
	struct dns_cache_stats st;
	uint8_t qn[DNS_NAME_MAX], m[8];
	const uint8_t *p;
	char name[32];
	size_t len;
	uint32_t ttl;
	unsigned i;

	c = dns_cache_new(STRESS_N, SIZE_MAX);
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < STRESS_N; i++) {
		snprintf(name, sizeof(name), "h%07u.test", i);
		wire(name, qn);
		memcpy(m, &i, sizeof(i));
		if (dns_cache_put(c, qn, STRESS_QLEN, DNS_TYPE_AAAA,
		    DNS_CLASS_IN, m, sizeof(i), 60, T0) != 0)
			ck_abort_msg("put %u failed", i);
	}
	st = stats();
	ck_assert_uint_eq(st.entries, STRESS_N);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.bytes, STRESS_N *
	    dns_cache_entry_size(STRESS_QLEN, sizeof(i)));
	for (i = 0; i < STRESS_N; i++) {
		snprintf(name, sizeof(name), "H%07u.TEST", i);
		wire(name, qn);
		p = dns_cache_get(c, qn, STRESS_QLEN, DNS_TYPE_AAAA,
		    DNS_CLASS_IN, T0, &len, &ttl);
		if (p == NULL || len != sizeof(i) ||
		    memcmp(p, &i, sizeof(i)) != 0)
			ck_abort_msg("get %u: wrong or missing", i);
	}
	ck_assert_uint_eq(stats().hits, STRESS_N);

	/* The gets ran in order: h0000000 is now the least recently used. */
	ck_assert_int_eq(put("new.test", DNS_TYPE_AAAA, DNS_CLASS_IN, 8, 1, 60,
	    T0), 0);
	st = stats();
	ck_assert_uint_eq(st.entries, STRESS_N);
	ck_assert_uint_eq(st.evictions, 1);
	wire("h0000000.test", qn);
	ck_assert_ptr_null(dns_cache_get(c, qn, STRESS_QLEN, DNS_TYPE_AAAA,
	    DNS_CLASS_IN, T0, &len, &ttl));
	wire("h0000001.test", qn);
	ck_assert_ptr_nonnull(dns_cache_get(c, qn, STRESS_QLEN, DNS_TYPE_AAAA,
	    DNS_CLASS_IN, T0, &len, &ttl));
}
END_TEST

Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_hit_miss);
	tcase_add_test(core, test_case);
	tcase_add_test(core, test_type_class);
	tcase_add_test(core, test_ttl_countdown);
	tcase_add_test(core, test_ttl_bounds);
	tcase_add_test(core, test_clock_back);
	tcase_add_test(core, test_replace);
	tcase_add_test(core, test_lru_entries);
	tcase_add_test(core, test_lru_one);
	tcase_add_test(core, test_lru_bytes);
	tcase_add_test(core, test_oversized);
	tcase_add_test(core, test_stats);
	tcase_add_test(core, test_flush);
	tcase_add_test(core, test_free_null);
	tcase_add_test(core, test_off);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 120);
	tcase_add_test(limits, test_einval);
	tcase_add_test(limits, test_entry_size);
	tcase_add_test(limits, test_stress_bounds);
	tcase_add_test(limits, test_stress_grow);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
