/*
 * dns_cache: a bounded cache of upstream DNS answers for the filtering
 * proxy, shared by all apps. A pure library: no sockets, no clock reads
 * (the caller passes now_ms from a monotonic clock), no globals. It stores
 * opaque messages under (qname, qtype, qclass); it neither parses nor
 * rewrites them, and it is not a resolver.
 *
 * Lookups and stores cost O(1) on average: a hash table keyed with a
 * per-cache random seed (so clients cannot aim at one bucket) and an LRU
 * list. The cache holds at most max_entries entries and max_bytes octets,
 * counted per entry by dns_cache_entry_size(); the hash table itself
 * (under two pointers per entry of max_entries, 16 at least) is outside
 * that count.
 */
#ifndef NETD_INCLUDE_DNS_CACHE_H
#define NETD_INCLUDE_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct dns_cache;

/* Counters since dns_cache_new(); dns_cache_flush() keeps them. */
struct dns_cache_stats {
	size_t		 entries;	/* entries held now */
	size_t		 bytes;		/* their dns_cache_entry_size() sum */
	uint64_t	 hits;		/* gets that returned a message */
	uint64_t	 misses;	/* other gets, expired ones included */
	uint64_t	 inserts;	/* puts that stored a message */
	uint64_t	 evictions;	/* entries dropped to make room */
	uint64_t	 expired;	/* expired entries dropped by a get */
};

/*
 * A cache of at most max_entries entries and max_bytes octets. A
 * max_entries of 0 turns the cache off: puts store nothing and gets miss.
 * Returns NULL with errno ENOMEM. The caller frees with dns_cache_free().
 */
struct dns_cache	*dns_cache_new(size_t max_entries, size_t max_bytes);

/* Free the cache and every message in it. Accepts NULL. */
void			 dns_cache_free(struct dns_cache *);

/*
 * The octets an entry counts against max_bytes: len octets of message,
 * qname_len octets of key and the fixed per-entry overhead. SIZE_MAX if
 * that does not fit in a size_t.
 */
size_t			 dns_cache_entry_size(size_t qname_len, size_t len);

/*
 * Store a copy of the message msg of len octets under the key qname (wire
 * form, 1 to DNS_NAME_MAX octets, as in struct dns_query; ASCII letters
 * compare ignoring case), qtype and qclass, valid for ttl seconds after
 * now_ms. The new entry is the most recently used; an entry under the
 * same key is replaced. Least recently used entries are evicted until
 * the new one fits within max_entries and max_bytes.
 *
 * Nothing is stored, and 0 returned, when the cache is off, when ttl is 0
 * or has its top bit set (RFC 2181 §8 reads that as 0, so DNS_TTL_NONE is
 * never cached), or when dns_cache_entry_size() exceeds max_bytes; an
 * entry under the same key is removed then, as the newer answer must not
 * be cached, and no other entry is evicted.
 *
 * Returns 0, or -1 with errno EINVAL (bad key, msg NULL or len 0) or
 * ENOMEM; on ENOMEM the cache is unchanged. Invalidates every message
 * pointer returned by dns_cache_get().
 */
int			 dns_cache_put(struct dns_cache *, const uint8_t *qname,
			    size_t qname_len, uint16_t qtype, uint16_t qclass,
			    const uint8_t *msg, size_t len, uint32_t ttl,
			    uint64_t now_ms);

/*
 * Look up the key (as for dns_cache_put()) at now_ms. On a hit, return
 * the stored message, set *len to its length and *ttl_left to the whole
 * seconds it has left (rounded down, at least 1, at most the ttl it was
 * stored with, should now_ms run backwards), and mark the entry most
 * recently used. An entry with less than 1000 ms left has expired: it is
 * removed and the get misses. Returns NULL on a miss or an invalid key.
 *
 * The message belongs to the cache and is the upstream answer as stored:
 * copy it before patching its id or TTLs (dns_set_id(), dns_cap_ttls()
 * with *ttl_left). The pointer stays valid until the next put, flush or
 * free on this cache, or a later get that finds this entry expired.
 */
const uint8_t		*dns_cache_get(struct dns_cache *, const uint8_t *qname,
			    size_t qname_len, uint16_t qtype, uint16_t qclass,
			    uint64_t now_ms, size_t *len, uint32_t *ttl_left);

/*
 * Remove every entry (for a reload or an upstream change). The counters
 * are kept. Invalidates every pointer returned by dns_cache_get().
 */
void			 dns_cache_flush(struct dns_cache *);

/* Fill st with the current sizes and the counters. */
void			 dns_cache_get_stats(const struct dns_cache *,
			    struct dns_cache_stats *st);

#endif /* NETD_INCLUDE_DNS_CACHE_H */
