/*
 * The learn table, compact. Entries, groups (one per (uid, name)) and
 * uid nodes live in three arrays and refer to each other by 32-bit index
 * (NIL for none); the arrays double as they fill, never past the table's
 * bound, and free slots are reused. Each entry sits on four structures:
 *   - its group's list, least recently refreshed first, for the per-name
 *     cap;
 *   - the chain of its address's hash bucket, where the holders of one
 *     address keep their order, most recently refreshed first: there is
 *     no node per address, each entry carries its own;
 *   - the table's list, least recently refreshed first, for the bound;
 *   - a binary min-heap on expiry, to find an expired victim first.
 * Groups hang off a node per uid, so forgetting a uid touches only its
 * own entries. A group's name is a string of its exact length.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "learn.h"

#define NIL		UINT32_MAX
#define SLAB_MIN	64
#define HTAB_MIN	64

/* 56 octets. family 0 marks a free slot, chained through a_next. */
struct entry {
	uint64_t	 expires_ms;
	uint32_t	 g;
	uint32_t	 g_prev, g_next;
	uint32_t	 l_prev, l_next;
	uint32_t	 a_next;		/* address bucket chain */
	uint32_t	 hidx;
	uint8_t		 family;
	uint8_t		 addr[16];
};

/* 40 octets and the name. name NULL marks a free slot (hnext links). */
struct group {
	uint32_t	 hnext;
	uint32_t	 hash;
	uint32_t	 uid;
	uint32_t	 u_prev, u_next;	/* the uid's groups */
	uint32_t	 head, tail;		/* oldest first */
	uint32_t	 n;
	char		*name;
};

struct luid {
	uint32_t	 hnext;		/* also the free list */
	uint32_t	 uid;
	uint32_t	 groups;
};

/* Chained hash table of indices; nb is a power of two. */
struct htab {
	uint32_t	*b;
	size_t		 nb;
	size_t		 n;
};

struct learn {
	struct entry	*ev;
	struct group	*gv;
	struct luid	*uv;
	uint32_t	 ecap, gcap, ucap;
	uint32_t	 efree, gfree, ufree;
	struct htab	 addrs;		/* entries by address */
	struct htab	 groups;
	struct htab	 uids;
	uint32_t	 lru_head, lru_tail;	/* oldest first */
	uint32_t	*heap;			/* n of them */
	size_t		 heapcap;
	size_t		 n;
	size_t		 max_entries;
	unsigned	 max_per_name;
	uint64_t	 seed;
};

/* The murmur3 finalizer: every input bit moves every output bit. */
static uint64_t
fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint32_t
hash_uid(const struct learn *l, uid_t uid)
{
	return (uint32_t)fmix(l->seed ^ (uint64_t)uid);
}

static uint32_t
hash_addr(const struct learn *l, int family, const uint8_t *key)
{
	uint64_t w0, w1;

	memcpy(&w0, key, sizeof(w0));
	memcpy(&w1, key + 8, sizeof(w1));
	return (uint32_t)fmix(fmix(fmix(l->seed + (uint64_t)family) ^ w0) ^
	    w1);
}

static uint32_t
hash_group(const struct learn *l, uid_t uid, const char *name, size_t len)
{
	uint64_t h, w;
	size_t i;

	h = fmix(l->seed ^ ((uint64_t)len << 32 | (uint64_t)uid));
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, name + i, sizeof(w));
		h = fmix(h ^ w);
	}
	if (i < len) {
		w = 0;
		memcpy(&w, name + i, len - i);
		h = fmix(h ^ w);
	}
	return (uint32_t)h;
}

/* The 16-byte key of an address, or -1 for an unknown family. */
static int
addr_key(int family, const uint8_t *addr, uint8_t key[16])
{
	memset(key, 0, 16);
	if (family == AF_INET)
		memcpy(key, addr, 4);
	else if (family == AF_INET6)
		memcpy(key, addr, 16);
	else
		return -1;
	return 0;
}

/* --- hash tables ---------------------------------------------------- */

/* The link and the hash of element i, per table. */
struct hops {
	uint32_t	*(*link)(struct learn *, uint32_t);
	uint32_t	 (*hash)(struct learn *, uint32_t);
};

static uint32_t *
entry_link(struct learn *l, uint32_t i)
{
	return &l->ev[i].a_next;
}

static uint32_t
entry_hash(struct learn *l, uint32_t i)
{
	return hash_addr(l, l->ev[i].family, l->ev[i].addr);
}

static uint32_t *
group_link(struct learn *l, uint32_t i)
{
	return &l->gv[i].hnext;
}

static uint32_t
group_hash(struct learn *l, uint32_t i)
{
	return l->gv[i].hash;
}

static uint32_t *
luid_link(struct learn *l, uint32_t i)
{
	return &l->uv[i].hnext;
}

static uint32_t
luid_hash(struct learn *l, uint32_t i)
{
	return hash_uid(l, l->uv[i].uid);
}

static const struct hops addr_ops = { entry_link, entry_hash };
static const struct hops group_ops = { group_link, group_hash };
static const struct hops uid_ops = { luid_link, luid_hash };

static int
htab_init(struct htab *t)
{
	t->nb = HTAB_MIN;
	t->n = 0;
	if ((t->b = malloc(t->nb * sizeof(*t->b))) == NULL)
		return -1;
	memset(t->b, 0xff, t->nb * sizeof(*t->b));
	return 0;
}

static uint32_t *
htab_head(const struct htab *t, uint32_t hash)
{
	return &t->b[hash & (t->nb - 1)];
}

/*
 * Double the buckets. Each old chain goes, in its order, to the two
 * buckets it splits into, so the holders of an address keep theirs.
 */
static void
htab_grow(struct learn *l, struct htab *t, const struct hops *o)
{
	uint32_t *nb, *tail[2], i, next, c;
	size_t k, size = t->nb * 2;

	/* On failure the chains just get longer. */
	if (size > (size_t)UINT32_MAX + 1 ||
	    (nb = malloc(size * sizeof(*nb))) == NULL)
		return;
	memset(nb, 0xff, size * sizeof(*nb));
	for (k = 0; k < t->nb; k++) {
		tail[0] = &nb[k];
		tail[1] = &nb[k + t->nb];
		for (i = t->b[k]; i != NIL; i = next) {
			next = *o->link(l, i);
			c = (o->hash(l, i) & (uint32_t)(size - 1)) != k;
			*o->link(l, i) = NIL;
			*tail[c] = i;
			tail[c] = o->link(l, i);
		}
	}
	free(t->b);
	t->b = nb;
	t->nb = size;
}

static void
htab_push(struct learn *l, struct htab *t, const struct hops *o, uint32_t i,
    uint32_t hash)
{
	uint32_t *bp;

	if (t->n >= t->nb)
		htab_grow(l, t, o);
	bp = htab_head(t, hash);
	*o->link(l, i) = *bp;
	*bp = i;
	t->n++;
}

static void
htab_remove(struct learn *l, struct htab *t, const struct hops *o,
    uint32_t i, uint32_t hash)
{
	uint32_t *pp = htab_head(t, hash);

	while (*pp != i)
		pp = o->link(l, *pp);
	*pp = *o->link(l, i);
	t->n--;
}

/* --- slabs ------------------------------------------------------------ */

/* Room for one more element in an array of size-octet slots. */
static int
slab_grow(void **v, uint32_t *cap, size_t size, size_t limit)
{
	size_t ncap = *cap ? (size_t)*cap * 2 : SLAB_MIN;
	void *nv;

	if (ncap > limit)
		ncap = limit;
	if (ncap <= *cap) {
		errno = ENOMEM;
		return -1;
	}
	if ((nv = reallocarray(*v, ncap, size)) == NULL)
		return -1;
	*v = nv;
	*cap = (uint32_t)ncap;
	return 0;
}

static uint32_t
entry_alloc(struct learn *l)
{
	uint32_t i;

	if (l->efree == NIL) {
		uint32_t old = l->ecap;

		if (slab_grow((void **)&l->ev, &l->ecap, sizeof(*l->ev),
		    l->max_entries) == -1)
			return NIL;
		for (i = l->ecap; i > old; i--) {
			l->ev[i - 1].family = 0;
			l->ev[i - 1].a_next = l->efree;
			l->efree = i - 1;
		}
	}
	i = l->efree;
	l->efree = l->ev[i].a_next;
	return i;
}

static void
entry_dealloc(struct learn *l, uint32_t i)
{
	l->ev[i].family = 0;
	l->ev[i].a_next = l->efree;
	l->efree = i;
}

static uint32_t
group_alloc(struct learn *l)
{
	uint32_t i;

	if (l->gfree == NIL) {
		uint32_t old = l->gcap;

		if (slab_grow((void **)&l->gv, &l->gcap, sizeof(*l->gv),
		    l->max_entries) == -1)
			return NIL;
		for (i = l->gcap; i > old; i--) {
			l->gv[i - 1].name = NULL;
			l->gv[i - 1].hnext = l->gfree;
			l->gfree = i - 1;
		}
	}
	i = l->gfree;
	l->gfree = l->gv[i].hnext;
	return i;
}

static uint32_t
luid_alloc(struct learn *l)
{
	uint32_t i;

	if (l->ufree == NIL) {
		uint32_t old = l->ucap;

		if (slab_grow((void **)&l->uv, &l->ucap, sizeof(*l->uv),
		    l->max_entries) == -1)
			return NIL;
		for (i = l->ucap; i > old; i--) {
			l->uv[i - 1].hnext = l->ufree;
			l->ufree = i - 1;
		}
	}
	i = l->ufree;
	l->ufree = l->uv[i].hnext;
	return i;
}

/* --- finding ---------------------------------------------------------- */

static uint32_t
uid_find(const struct learn *l, uid_t uid, uint32_t h)
{
	uint32_t i;

	for (i = *htab_head(&l->uids, h); i != NIL; i = l->uv[i].hnext)
		if (l->uv[i].uid == uid)
			return i;
	return NIL;
}

static uint32_t
group_find(const struct learn *l, uid_t uid, const char *name, size_t len,
    uint32_t h)
{
	const struct group *g;
	uint32_t i;

	for (i = *htab_head(&l->groups, h); i != NIL; i = g->hnext) {
		g = &l->gv[i];
		if (g->hash == h && g->uid == uid &&
		    strncmp(g->name, name, len) == 0 && g->name[len] == '\0')
			return i;
	}
	return NIL;
}

static bool
entry_is(const struct entry *e, int family, const uint8_t *key)
{
	return e->family == family && memcmp(e->addr, key, 16) == 0;
}

/* g's entry for the address: a walk over g's list, at most the cap. */
static uint32_t
entry_find(const struct learn *l, uint32_t g, int family, const uint8_t *key)
{
	uint32_t i;

	for (i = l->gv[g].head; i != NIL; i = l->ev[i].g_next)
		if (entry_is(&l->ev[i], family, key))
			return i;
	return NIL;
}

/* --- the heap --------------------------------------------------------- */

static void
heap_set(struct learn *l, size_t i, uint32_t e)
{
	l->heap[i] = e;
	l->ev[e].hidx = (uint32_t)i;
}

static uint64_t
heap_exp(const struct learn *l, size_t i)
{
	return l->ev[l->heap[i]].expires_ms;
}

static void
heap_up(struct learn *l, size_t i)
{
	uint32_t e = l->heap[i];
	uint64_t x = l->ev[e].expires_ms;
	size_t p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (heap_exp(l, p) <= x)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, e);
}

static void
heap_down(struct learn *l, size_t i)
{
	uint32_t e = l->heap[i];
	uint64_t x = l->ev[e].expires_ms;
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->n)
			break;
		if (c + 1 < l->n && heap_exp(l, c + 1) < heap_exp(l, c))
			c++;
		if (x <= heap_exp(l, c))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, e);
}

/* e's expiry changed. */
static void
heap_fix(struct learn *l, uint32_t e)
{
	heap_up(l, l->ev[e].hidx);
	heap_down(l, l->ev[e].hidx);
}

/* Room for one more entry in the heap. */
static int
heap_reserve(struct learn *l)
{
	uint32_t *v;
	size_t cap;

	if (l->n < l->heapcap)
		return 0;
	cap = l->heapcap ? l->heapcap * 2 : SLAB_MIN;
	if (cap > l->max_entries)
		cap = l->max_entries;
	if (cap <= l->n) {
		errno = ENOMEM;
		return -1;
	}
	if ((v = reallocarray(l->heap, cap, sizeof(*v))) == NULL)
		return -1;
	l->heap = v;
	l->heapcap = cap;
	return 0;
}

/* --- lists ------------------------------------------------------------ */

static void
group_unlink(struct learn *l, uint32_t i)
{
	struct entry *e = &l->ev[i];
	struct group *g = &l->gv[e->g];

	if (e->g_prev != NIL)
		l->ev[e->g_prev].g_next = e->g_next;
	else
		g->head = e->g_next;
	if (e->g_next != NIL)
		l->ev[e->g_next].g_prev = e->g_prev;
	else
		g->tail = e->g_prev;
	g->n--;
}

static void
group_append(struct learn *l, uint32_t i)
{
	struct entry *e = &l->ev[i];
	struct group *g = &l->gv[e->g];

	e->g_next = NIL;
	e->g_prev = g->tail;
	if (g->tail != NIL)
		l->ev[g->tail].g_next = i;
	else
		g->head = i;
	g->tail = i;
	g->n++;
}

static void
lru_unlink(struct learn *l, uint32_t i)
{
	struct entry *e = &l->ev[i];

	if (e->l_prev != NIL)
		l->ev[e->l_prev].l_next = e->l_next;
	else
		l->lru_head = e->l_next;
	if (e->l_next != NIL)
		l->ev[e->l_next].l_prev = e->l_prev;
	else
		l->lru_tail = e->l_prev;
}

static void
lru_append(struct learn *l, uint32_t i)
{
	struct entry *e = &l->ev[i];

	e->l_next = NIL;
	e->l_prev = l->lru_tail;
	if (l->lru_tail != NIL)
		l->ev[l->lru_tail].l_next = i;
	else
		l->lru_head = i;
	l->lru_tail = i;
}

/* --- removal ---------------------------------------------------------- */

static void
uid_release(struct learn *l, uint32_t u)
{
	if (l->uv[u].groups != NIL)
		return;
	htab_remove(l, &l->uids, &uid_ops, u, hash_uid(l, l->uv[u].uid));
	l->uv[u].hnext = l->ufree;
	l->ufree = u;
}

static void
group_release(struct learn *l, uint32_t i)
{
	struct group *g = &l->gv[i];
	uint32_t u;

	if (g->n != 0)
		return;
	u = uid_find(l, g->uid, hash_uid(l, g->uid));
	if (g->u_prev != NIL)
		l->gv[g->u_prev].u_next = g->u_next;
	else
		l->uv[u].groups = g->u_next;
	if (g->u_next != NIL)
		l->gv[g->u_next].u_prev = g->u_prev;
	htab_remove(l, &l->groups, &group_ops, i, g->hash);
	free(g->name);
	g->name = NULL;
	g->hnext = l->gfree;
	l->gfree = i;
	uid_release(l, u);
}

/* Unlinks and frees entry i, then its group and uid if now empty. */
static void
entry_remove(struct learn *l, uint32_t i)
{
	struct entry *e = &l->ev[i];
	uint32_t last, g = e->g;
	size_t h = e->hidx;

	last = l->heap[--l->n];
	if (last != i) {
		heap_set(l, h, last);
		heap_fix(l, last);
	}
	lru_unlink(l, i);
	group_unlink(l, i);
	htab_remove(l, &l->addrs, &addr_ops, i, entry_hash(l, i));
	entry_dealloc(l, i);
	group_release(l, g);
}

/* Whether removing entry i takes its address away from its uid. */
static bool
must_revoke(const struct learn *l, uint32_t i, uint64_t now_ms)
{
	const struct entry *e = &l->ev[i], *o;
	uint32_t j, uid = l->gv[e->g].uid;

	if (e->expires_ms <= now_ms)
		return false;
	for (j = *htab_head(&l->addrs, hash_addr(l, e->family, e->addr));
	    j != NIL; j = o->a_next) {
		o = &l->ev[j];
		if (j != i && entry_is(o, e->family, e->addr) &&
		    l->gv[o->g].uid == uid && o->expires_ms > now_ms)
			return false;
	}
	return true;
}

static void
report(const struct learn *l, uint32_t i, struct learn_addr *evicted,
    size_t *nevicted)
{
	struct learn_addr *ea = &evicted[(*nevicted)++];

	ea->family = l->ev[i].family;
	memcpy(ea->addr, l->ev[i].addr, sizeof(ea->addr));
}

/*
 * Bring g down to the cap, sparing keep. Expired entries go first: they
 * hold no grant, so removing them costs the app nothing.
 */
static void
trim(struct learn *l, uint32_t g, uint32_t keep, uint64_t now_ms,
    struct learn_addr *evicted, size_t nevicted_max, size_t *nevicted)
{
	uint32_t e, next;

	for (e = l->gv[g].head; e != NIL && l->gv[g].n > l->max_per_name;
	    e = next) {
		next = l->ev[e].g_next;
		if (e != keep && l->ev[e].expires_ms <= now_ms)
			entry_remove(l, e);
	}
	while (l->gv[g].n > l->max_per_name) {
		if ((e = l->gv[g].head) == keep)
			e = l->ev[e].g_next;
		if (must_revoke(l, e, now_ms)) {
			/* XXX the rest waits for the next add of g */
			if (*nevicted >= nevicted_max)
				return;
			report(l, e, evicted, nevicted);
		}
		entry_remove(l, e);
	}
}

/* The victim of a full table: the first expired, else the oldest. */
static void
forget_one(struct learn *l, uint64_t now_ms)
{
	uint32_t v = l->heap[0];

	if (l->ev[v].expires_ms > now_ms)
		v = l->lru_head;
	entry_remove(l, v);
}

/* --- adding ----------------------------------------------------------- */

/*
 * A new entry (uid's group g for name, or a new group when g is NIL),
 * newest everywhere. The caller made room. NIL on ENOMEM.
 */
static uint32_t
insert(struct learn *l, uint32_t g, uid_t uid, const char *name, size_t len,
    uint32_t hg, int family, const uint8_t *key, uint32_t ha,
    uint64_t expires_ms)
{
	struct entry *e;
	struct group *gp;
	uint32_t i, u = NIL, hu;

	if (heap_reserve(l) == -1 || (i = entry_alloc(l)) == NIL)
		return NIL;
	if (g == NIL) {
		hu = hash_uid(l, uid);
		if ((u = uid_find(l, uid, hu)) == NIL) {
			if ((u = luid_alloc(l)) == NIL)
				goto fail;
			l->uv[u].uid = uid;
			l->uv[u].groups = NIL;
			htab_push(l, &l->uids, &uid_ops, u, hu);
		}
		if ((g = group_alloc(l)) == NIL)
			goto fail;
		gp = &l->gv[g];
		if ((gp->name = malloc(len + 1)) == NULL) {
			gp->hnext = l->gfree;
			l->gfree = g;
			goto fail;
		}
		memcpy(gp->name, name, len);
		gp->name[len] = '\0';
		gp->hash = hg;
		gp->uid = uid;
		gp->head = gp->tail = NIL;
		gp->n = 0;
		gp->u_prev = NIL;
		gp->u_next = l->uv[u].groups;
		if (gp->u_next != NIL)
			l->gv[gp->u_next].u_prev = g;
		l->uv[u].groups = g;
		htab_push(l, &l->groups, &group_ops, g, hg);
	}
	e = &l->ev[i];
	e->g = g;
	e->family = (uint8_t)family;
	memcpy(e->addr, key, 16);
	e->expires_ms = expires_ms;
	group_append(l, i);
	htab_push(l, &l->addrs, &addr_ops, i, ha);
	lru_append(l, i);
	l->heap[l->n++] = i;
	heap_up(l, l->n - 1);
	return i;

fail:
	/* Nothing links the slot yet; a new uid node holds no group. */
	entry_dealloc(l, i);
	if (u != NIL)
		uid_release(l, u);
	errno = ENOMEM;
	return NIL;
}

/* Entry i was refreshed: newest in its group, its address and the table. */
static void
touch(struct learn *l, uint32_t i, uint64_t expires_ms, uint32_t ha)
{
	l->ev[i].expires_ms = expires_ms;
	heap_fix(l, i);
	group_unlink(l, i);
	group_append(l, i);
	lru_unlink(l, i);
	lru_append(l, i);
	/* First in its bucket: before every other holder of the address. */
	htab_remove(l, &l->addrs, &addr_ops, i, ha);
	htab_push(l, &l->addrs, &addr_ops, i, ha);
}

/* --- the API ---------------------------------------------------------- */

static unsigned
clamp_per_name(unsigned n)
{
	if (n < LEARN_PER_NAME_MIN)
		return LEARN_PER_NAME_MIN;
	if (n > LEARN_PER_NAME_MAX)
		return LEARN_PER_NAME_MAX;
	return n;
}

static size_t
clamp_entries(size_t n)
{
	return n > LEARN_ENTRIES_MAX ? LEARN_ENTRIES_MAX : n;
}

size_t
learn_entries_for_cache(unsigned cache_size)
{
	size_t n = (size_t)cache_size * LEARN_PER_ANSWER;

	if (n < LEARN_ENTRIES_MIN)
		n = LEARN_ENTRIES_MIN;
	return clamp_entries(n);
}

static int
learn_init(struct learn *l, unsigned max_per_name, size_t max_entries,
    uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	l->efree = l->gfree = l->ufree = NIL;
	l->lru_head = l->lru_tail = NIL;
	l->max_per_name = clamp_per_name(max_per_name);
	l->max_entries = clamp_entries(max_entries);
	l->seed = seed;
	if (htab_init(&l->addrs) == -1 || htab_init(&l->groups) == -1 ||
	    htab_init(&l->uids) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Frees what l holds, not l. */
static void
learn_fini(struct learn *l)
{
	uint32_t i;

	for (i = 0; i < l->gcap; i++)
		free(l->gv[i].name);
	free(l->ev);
	free(l->gv);
	free(l->uv);
	free(l->addrs.b);
	free(l->groups.b);
	free(l->uids.b);
	free(l->heap);
}

struct learn *
learn_new(unsigned max_per_name, size_t max_entries)
{
	struct learn *l;
	uint64_t seed;

	if (max_entries == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = malloc(sizeof(*l))) == NULL)
		return NULL;
	/*
	 * Answers can be chosen by whoever serves a name, so the hashes are
	 * seeded from the kernel's random pool (the heap address, which ASLR
	 * varies, should that fail).
	 */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)l;
	if (learn_init(l, max_per_name, max_entries,
	    fmix(seed ^ 0x9e3779b97f4a7c15ULL)) == -1) {
		learn_fini(l);
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

void
learn_free(struct learn *l)
{
	if (l == NULL)
		return;
	learn_fini(l);
	free(l);
}

void
learn_set_max_per_name(struct learn *l, unsigned max_per_name)
{
	l->max_per_name = clamp_per_name(max_per_name);
}

int
learn_set_max_entries(struct learn *l, size_t max_entries, uint64_t now_ms)
{
	struct learn nl;
	struct entry *e;
	struct group *g;
	uint32_t i, ng;

	if (max_entries == 0) {
		errno = EINVAL;
		return -1;
	}
	max_entries = clamp_entries(max_entries);
	while (l->n > max_entries)
		forget_one(l, now_ms);
	if (max_entries >= l->max_entries || (l->ecap <= max_entries &&
	    l->gcap <= max_entries && l->ucap <= max_entries &&
	    l->heapcap <= max_entries)) {
		l->max_entries = max_entries;
		return 0;
	}
	/*
	 * Smaller: a new table, its arrays no larger than the bound, with
	 * the entries added again oldest first, so that every order (name,
	 * address holders, table) comes out as it was.
	 */
	if (learn_init(&nl, l->max_per_name, max_entries, l->seed) == -1)
		goto fail;
	for (i = l->lru_head; i != NIL; i = e->l_next) {
		e = &l->ev[i];
		g = &l->gv[e->g];
		ng = group_find(&nl, g->uid, g->name, strlen(g->name),
		    g->hash);
		if (insert(&nl, ng, g->uid, g->name, strlen(g->name), g->hash,
		    e->family, e->addr, entry_hash(l, i), e->expires_ms) ==
		    NIL)
			goto fail;
	}
	learn_fini(l);
	*l = nl;
	return 0;
fail:
	/* The old arrays stay: still within the new bound in entries. */
	learn_fini(&nl);
	l->max_entries = max_entries;
	errno = ENOMEM;
	return -1;
}

int
learn_add(struct learn *l, uid_t uid, const char *name, int family,
    const uint8_t *addr, uint64_t expires_ms, uint64_t now_ms,
    struct learn_addr *evicted, size_t nevicted_max, size_t *nevicted)
{
	uint8_t key[16];
	uint32_t hg, ha, g, e;
	size_t len;

	*nevicted = 0;
	len = strnlen(name, DNS_NAME_TEXT_MAX);
	if (addr_key(family, addr, key) == -1 || len == DNS_NAME_TEXT_MAX) {
		errno = EINVAL;
		return -1;
	}
	hg = hash_group(l, uid, name, len);
	ha = hash_addr(l, family, key);
	g = group_find(l, uid, name, len, hg);
	if (g != NIL && (e = entry_find(l, g, family, key)) != NIL) {
		touch(l, e, expires_ms, ha);
		goto cap;
	}
	if (l->n >= l->max_entries) {
		/*
		 * Forgotten, not revoked: a full table must not close what
		 * another app resolved. Its grant runs out with its TTL.
		 */
		forget_one(l, now_ms);
		/* That may have freed g. */
		g = group_find(l, uid, name, len, hg);
	}
	if ((e = insert(l, g, uid, name, len, hg, family, key, ha,
	    expires_ms)) == NIL)
		return -1;
	g = l->ev[e].g;
cap:
	trim(l, g, e, now_ms, evicted, nevicted_max, nevicted);
	return 0;
}

bool
learn_lookup(const struct learn *l, uid_t uid, int family,
    const uint8_t *addr, struct learn_hit *out)
{
	const struct entry *e, *any = NULL;
	uint8_t key[16];
	uint32_t i;

	if (addr_key(family, addr, key) == -1)
		return false;
	/* The holders of an address are in the bucket newest first. */
	for (i = *htab_head(&l->addrs, hash_addr(l, family, key)); i != NIL;
	    i = e->a_next) {
		e = &l->ev[i];
		if (!entry_is(e, family, key))
			continue;
		if (any == NULL)
			any = e;
		if (l->gv[e->g].uid == uid) {
			any = e;
			break;
		}
	}
	if (any == NULL)
		return false;
	out->uid = l->gv[any->g].uid;
	out->name = l->gv[any->g].name;
	out->expires_ms = any->expires_ms;
	return true;
}

void
learn_forget_uid(struct learn *l, uid_t uid)
{
	uint32_t h = hash_uid(l, uid), u;

	/* The last entry of a uid frees its node: look it up each time. */
	while ((u = uid_find(l, uid, h)) != NIL)
		entry_remove(l, l->gv[l->uv[u].groups].head);
}

size_t
learn_count(const struct learn *l, uid_t uid, const char *name,
    uint64_t now_ms)
{
	uint32_t g, e;
	size_t len, n = 0;

	len = strnlen(name, DNS_NAME_TEXT_MAX);
	if ((g = group_find(l, uid, name, len,
	    hash_group(l, uid, name, len))) == NIL)
		return 0;
	for (e = l->gv[g].head; e != NIL; e = l->ev[e].g_next)
		if (l->ev[e].expires_ms > now_ms)
			n++;
	return n;
}

size_t
learn_size(const struct learn *l)
{
	return l->n;
}

size_t
learn_get_max_entries(const struct learn *l)
{
	return l->max_entries;
}

size_t
learn_memory(const struct learn *l)
{
	size_t b = sizeof(*l), i;

	b += (size_t)l->ecap * sizeof(*l->ev) +
	    (size_t)l->gcap * sizeof(*l->gv) +
	    (size_t)l->ucap * sizeof(*l->uv) +
	    (l->addrs.nb + l->groups.nb + l->uids.nb) * sizeof(uint32_t) +
	    l->heapcap * sizeof(*l->heap);
	for (i = 0; i < l->gcap; i++)
		if (l->gv[i].name != NULL)
			b += strlen(l->gv[i].name) + 1;
	return b;
}
