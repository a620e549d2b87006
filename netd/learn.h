/*
 * learn: the DNS proxy's memory of which addresses each app (uid) learned
 * from which name, and until when each is granted. It enforces the cap on
 * addresses open per (app, name) and says which name a denied address was
 * resolved from. Pure: the caller passes the time and programs the kernel;
 * nothing here reads a clock, does I/O or keeps globals.
 *
 * An entry is (uid, name, address) with an expiry; it is live while
 * expires_ms > now_ms. Expired entries stay until they are displaced or
 * forgotten, so a late denial can still be explained ("grant expired").
 * Every operation costs a few hash lookups plus a walk over one name's
 * list (at most max_per_name) or one address's holders, never the table.
 *
 * Memory follows the bound, not the names seen: the table's arrays grow
 * up to max_entries slots and no further. An entry takes 56 octets, its
 * (uid, name) 40 octets plus the name, shared by the addresses of that
 * name, and the hash buckets and heap up to 4 octets each per entry: about
 * 150 octets when every entry has a name of its own (learn_memory()).
 */
#ifndef NETD_NETD_LEARN_H
#define NETD_NETD_LEARN_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of max_per_name; values outside are clamped. */
#define LEARN_PER_NAME_MIN	1
#define LEARN_PER_NAME_MAX	1024
/* max_entries above this is clamped (indices are 32 bits). */
#define LEARN_ENTRIES_MAX	((size_t)1 << 28)
/* learn_entries_for_cache(): entries per cached answer, and the floor. */
#define LEARN_PER_ANSWER	4
#define LEARN_ENTRIES_MIN	4096

struct learn;

/* An address whose grant the caller must revoke. Plain data. */
struct learn_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network order; AF_INET: 4, zeros */
};

/* Who resolved an address. name belongs to the table (see below). */
struct learn_hit {
	uid_t		 uid;
	const char	*name;
	uint64_t	 expires_ms;
};

/*
 * The bound the DNS proxy gives the table for a cache of cache_size
 * answers: LEARN_PER_ANSWER entries per answer (an answer carries a few
 * addresses, and more than one app may learn them), at least
 * LEARN_ENTRIES_MIN (a proxy without a cache still learns), at most
 * LEARN_ENTRIES_MAX.
 */
size_t		 learn_entries_for_cache(unsigned cache_size);

/*
 * A table of at most max_entries entries (which bounds its memory;
 * clamped to LEARN_ENTRIES_MAX) and at most max_per_name addresses per
 * (uid, name), clamped to LEARN_PER_NAME_MIN..LEARN_PER_NAME_MAX. Returns
 * NULL on error (errno ENOMEM, or EINVAL when max_entries is 0). Caller
 * frees with learn_free().
 */
struct learn	*learn_new(unsigned max_per_name, size_t max_entries);
/* Frees the table and every name it handed out. Accepts NULL. */
void		 learn_free(struct learn *);

/*
 * A new cap (reload), clamped as in learn_new(). Nothing is removed now:
 * a (uid, name) over the new cap is trimmed by its next learn_add().
 */
void		 learn_set_max_per_name(struct learn *, unsigned);

/*
 * A new bound (reload), clamped as in learn_new(). A lower one removes
 * entries at once as a full table does (the first expired, else the least
 * recently refreshed; forgotten, not revoked) and moves the rest into
 * arrays no larger than the new bound. Returns 0, or -1 with errno EINVAL
 * (0) or ENOMEM: then the entries are within the new bound all the same,
 * only the arrays keep their old size. Invalidates learn_hit names.
 */
int		 learn_set_max_entries(struct learn *, size_t max_entries,
		    uint64_t now_ms);
size_t		 learn_get_max_entries(const struct learn *);

/*
 * uid resolved name (text, as the caller compares it: lower case, NUL
 * included at most DNS_NAME_TEXT_MAX bytes) to addr (4 bytes for AF_INET,
 * 16 for AF_INET6), granted until expires_ms. An existing (uid, name,
 * addr) entry is refreshed: it takes the new expiry, even if earlier, and
 * becomes the newest.
 *
 * Entries are removed to make room:
 *  - when the table holds max_entries and a new entry is needed, one
 *    entry goes first: the expired entry that expired first, else the
 *    least recently refreshed of the table;
 *  - then, while (uid, name) holds more than max_per_name addresses, its
 *    expired ones (oldest first), then its least recently refreshed ones.
 *    The entry just added or refreshed is never removed.
 * An address removed by the cap that was live, and that no other live
 * entry of the same uid holds (under another name, or the address being
 * added), is written to evicted[], in the order of removal, and *nevicted
 * is its count (set on every return): the caller revokes those grants.
 * Expired or still-held ones are dropped silently, and so is the entry
 * that makes room in a full table: that one is forgotten, not revoked
 * (its grant runs out with its TTL), so that one app's lookups never
 * close another's.
 *
 * An add reports at most 2 addresses, or, after learn_set_max_per_name()
 * lowered the cap, up to old cap - new cap + 2. When evicted[] is full,
 * trimming stops and resumes at the next learn_add() for that (uid, name):
 * an address to revoke is never removed without being reported.
 *
 * Returns 0, or -1 with errno set: EINVAL (family, name too long) or
 * ENOMEM. On -1 the new entry is not stored; addresses in evicted[] were
 * removed all the same and must still be revoked.
 * Invalidates every learn_hit name.
 */
int		 learn_add(struct learn *, uid_t uid, const char *name,
		    int family, const uint8_t *addr, uint64_t expires_ms,
		    uint64_t now_ms, struct learn_addr *evicted,
		    size_t nevicted_max, size_t *nevicted);

/*
 * Who resolved addr (4 or 16 bytes by family): the most recently
 * refreshed entry of uid if it has one, else the most recently refreshed
 * entry of any uid. Expired entries count too (compare hit.expires_ms with
 * the time to tell "expired" from "never resolved"). Returns true and
 * fills *out, or false. out->name is valid until the next learn_add(),
 * learn_forget_uid() or learn_free().
 */
bool		 learn_lookup(const struct learn *, uid_t uid, int family,
		    const uint8_t *addr, struct learn_hit *out);

/*
 * Forget every entry of uid (the app stopped). Reports nothing: the
 * caller drops the app's grants as a whole. Invalidates learn_hit names.
 */
void		 learn_forget_uid(struct learn *, uid_t);

/* How many live addresses (uid, name) holds at now_ms. */
size_t		 learn_count(const struct learn *, uid_t uid,
		    const char *name, uint64_t now_ms);
/* How many entries the table holds, expired ones included. */
size_t		 learn_size(const struct learn *);
/* Octets the table holds in its arrays, names and buckets (not malloc's
   own overhead). */
size_t		 learn_memory(const struct learn *);

#endif /* NETD_NETD_LEARN_H */
