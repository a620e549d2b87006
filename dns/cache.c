/*
 * The DNS answer cache: a chained hash table over the lower-cased key,
 * with SipHash-2-4 and a random seed per cache, and an LRU list through
 * the same entries. The table doubles while entries outnumber buckets,
 * up to the first power of two at or above max_entries, so chains stay
 * short without a rehash ever walking more than the cache holds.
 */
#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_cache.h"

#define BUCKETS_MIN	16
/* 2^24 pointers is 128 MiB; past that, chains grow instead. */
#define BUCKETS_MAX	((size_t)1 << 24)

/* Key octets as hashed: lower-cased name, then type and class. */
#define KEY_MAX		(DNS_NAME_MAX + 4)

/* Under this many milliseconds left, an entry has expired. */
#define TTL_MIN_MS	1000

/*
 * One cached answer, allocated with its key and message: data holds
 * qname_len octets of lower-cased name, then len octets of message.
 */
struct entry {
	LIST_ENTRY(entry)	 chain;
	TAILQ_ENTRY(entry)	 lru;
	uint64_t		 hash;
	uint64_t		 expire_ms;
	size_t			 len;
	uint32_t		 ttl;
	uint16_t		 qtype;
	uint16_t		 qclass;
	uint8_t			 qname_len;
	uint8_t			 data[];
};

LIST_HEAD(chain, entry);
TAILQ_HEAD(lru, entry);

struct dns_cache {
	struct chain		*buckets;
	size_t			 nbuckets;	/* a power of two, or 0 */
	size_t			 buckets_cap;	/* growth stops here */
	struct lru		 lru;		/* most recently used first */
	size_t			 max_entries;
	size_t			 max_bytes;
	uint64_t		 seed[2];
	struct dns_cache_stats	 st;
};

/* A key as looked up: lower-cased and hashed once. */
struct key {
	uint8_t			 buf[KEY_MAX];
	size_t			 qname_len;
	uint16_t		 qtype;
	uint16_t		 qclass;
	uint64_t		 hash;
};

static uint64_t
rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);	\
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);	\
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of n octets under k. */
static uint64_t
siphash(const uint64_t k[2], const uint8_t *p, size_t n)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k[1] ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i, rest = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	while (rest > 0) {
		rest--;
		b |= (uint64_t)p[i + rest] << (8 * rest);
	}
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * Without entropy yet (early boot), take what the kernel has: the seed
 * only spreads buckets, it protects no secret.
 */
static void
seed_init(struct dns_cache *c)
{
	uint8_t b[sizeof(c->seed)];
	size_t got = 0;
	ssize_t n;
	unsigned flags = GRND_NONBLOCK;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, flags);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (flags == GRND_NONBLOCK) {
			flags = GRND_INSECURE;
			continue;
		}
		/* XXX no getrandom(): the layout of memory is all we have. */
		c->seed[0] = (uint64_t)(uintptr_t)c;
		c->seed[1] = (uint64_t)(uintptr_t)&got;
		return;
	}
	c->seed[0] = le64(b);
	c->seed[1] = le64(b + 8);
}

static size_t
buckets_cap(size_t max_entries)
{
	size_t n = BUCKETS_MIN;

	while (n < max_entries && n < BUCKETS_MAX)
		n <<= 1;
	return n;
}

static int
table_resize(struct dns_cache *c, size_t nb)
{
	struct chain *nt;
	struct entry *e;
	size_t i;

	if ((nt = calloc(nb, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < c->nbuckets; i++) {
		while ((e = LIST_FIRST(&c->buckets[i])) != NULL) {
			LIST_REMOVE(e, chain);
			LIST_INSERT_HEAD(&nt[e->hash & (nb - 1)], e, chain);
		}
	}
	free(c->buckets);
	c->buckets = nt;
	c->nbuckets = nb;
	return 0;
}

struct dns_cache *
dns_cache_new(size_t max_entries, size_t max_bytes)
{
	struct dns_cache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	TAILQ_INIT(&c->lru);
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	if (max_entries == 0)
		return c;
	c->buckets_cap = buckets_cap(max_entries);
	if (table_resize(c, BUCKETS_MIN) == -1) {
		free(c);
		return NULL;
	}
	seed_init(c);
	return c;
}

void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	dns_cache_flush(c);
	free(c->buckets);
	free(c);
}

size_t
dns_cache_entry_size(size_t qname_len, size_t len)
{
	size_t fixed = sizeof(struct entry);

	if (qname_len > SIZE_MAX - fixed || len > SIZE_MAX - fixed - qname_len)
		return SIZE_MAX;
	return fixed + qname_len + len;
}

static int
key_make(const struct dns_cache *c, struct key *k, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, uint16_t qclass)
{
	size_t i;
	uint8_t ch;

	if (qname == NULL || qname_len == 0 || qname_len > DNS_NAME_MAX)
		return -1;
	for (i = 0; i < qname_len; i++) {
		ch = qname[i];
		k->buf[i] = ch >= 'A' && ch <= 'Z' ?
		    (uint8_t)(ch + ('a' - 'A')) : ch;
	}
	k->buf[i++] = (uint8_t)(qtype >> 8);
	k->buf[i++] = (uint8_t)qtype;
	k->buf[i++] = (uint8_t)(qclass >> 8);
	k->buf[i++] = (uint8_t)qclass;
	k->qname_len = qname_len;
	k->qtype = qtype;
	k->qclass = qclass;
	k->hash = siphash(c->seed, k->buf, i);
	return 0;
}

static struct entry *
lookup(const struct dns_cache *c, const struct key *k)
{
	struct entry *e;

	LIST_FOREACH(e, &c->buckets[k->hash & (c->nbuckets - 1)], chain) {
		if (e->hash == k->hash && e->qtype == k->qtype &&
		    e->qclass == k->qclass && e->qname_len == k->qname_len &&
		    memcmp(e->data, k->buf, k->qname_len) == 0)
			return e;
	}
	return NULL;
}

static void
entry_remove(struct dns_cache *c, struct entry *e)
{
	LIST_REMOVE(e, chain);
	TAILQ_REMOVE(&c->lru, e, lru);
	c->st.entries--;
	c->st.bytes -= dns_cache_entry_size(e->qname_len, e->len);
	free(e);
}

int
dns_cache_put(struct dns_cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, const uint8_t *msg, size_t len,
    uint32_t ttl, uint64_t now_ms)
{
	struct key k;
	struct entry *e, *old;
	size_t size;
	uint64_t ttl_ms;

	if (c == NULL || msg == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (key_make(c, &k, qname, qname_len, qtype, qclass) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (c->max_entries == 0)
		return 0;
	old = lookup(c, &k);
	size = dns_cache_entry_size(qname_len, len);
	if (ttl == 0 || ttl > INT32_MAX || size > c->max_bytes) {
		if (old != NULL)
			entry_remove(c, old);
		return 0;
	}

	/* Allocate first: on ENOMEM the cache stays as it was. */
	if ((e = malloc(size)) == NULL)
		return -1;
	e->hash = k.hash;
	ttl_ms = (uint64_t)ttl * 1000;
	e->expire_ms = now_ms > UINT64_MAX - ttl_ms ? UINT64_MAX :
	    now_ms + ttl_ms;
	e->len = len;
	e->ttl = ttl;
	e->qtype = qtype;
	e->qclass = qclass;
	e->qname_len = (uint8_t)qname_len;
	memcpy(e->data, k.buf, qname_len);
	memcpy(e->data + qname_len, msg, len);

	if (old != NULL)
		entry_remove(c, old);
	while (c->st.entries >= c->max_entries ||
	    size > c->max_bytes - c->st.bytes) {
		entry_remove(c, TAILQ_LAST(&c->lru, lru));
		c->st.evictions++;
	}
	LIST_INSERT_HEAD(&c->buckets[k.hash & (c->nbuckets - 1)], e, chain);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->st.entries++;
	c->st.bytes += size;
	c->st.inserts++;

	/* A failed resize only leaves chains longer. */
	if (c->st.entries > c->nbuckets && c->nbuckets < c->buckets_cap)
		(void)table_resize(c, c->nbuckets * 2);
	return 0;
}

const uint8_t *
dns_cache_get(struct dns_cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, uint64_t now_ms, size_t *len,
    uint32_t *ttl_left)
{
	struct key k;
	struct entry *e;
	uint64_t left;

	if (c == NULL || c->max_entries == 0)
		goto miss;
	if (key_make(c, &k, qname, qname_len, qtype, qclass) == -1)
		goto miss;
	if ((e = lookup(c, &k)) == NULL)
		goto miss;
	if (e->expire_ms <= now_ms || e->expire_ms - now_ms < TTL_MIN_MS) {
		entry_remove(c, e);
		c->st.expired++;
		goto miss;
	}
	left = (e->expire_ms - now_ms) / 1000;
	*ttl_left = left < e->ttl ? (uint32_t)left : e->ttl;
	*len = e->len;
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->st.hits++;
	return e->data + e->qname_len;

miss:
	if (c != NULL)
		c->st.misses++;
	return NULL;
}

void
dns_cache_flush(struct dns_cache *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL)
		entry_remove(c, e);
}

void
dns_cache_get_stats(const struct dns_cache *c, struct dns_cache_stats *st)
{
	*st = c->st;
}
