/*
 * The learn table. Each entry sits on four structures at once:
 *   - its group, one per (uid, name): a list, least recently refreshed
 *     first, for the per-name cap;
 *   - its address node, one per (family, address): a list, most recently
 *     refreshed first, for lookups and the "still held" test;
 *   - the table's list, least recently refreshed first, for the global
 *     bound;
 *   - a binary min-heap on expiry, to find an expired victim first.
 * Groups hang off a node per uid, so forgetting a uid touches only its
 * own entries. The three hash tables chain and double as they fill.
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

#define HTAB_MIN	64
#define HEAP_MIN	64

struct hnode {
	struct hnode	*next;
	uint64_t	 hash;
};

struct htab {
	struct hnode	**b;
	size_t		  nb;		/* a power of two */
	size_t		  n;
};

struct entry;
struct group;

struct luid {
	struct hnode	 hn;		/* first: the hash node is the node */
	uid_t		 uid;
	struct group	*groups;
};

struct group {
	struct hnode	 hn;
	struct luid	*u;
	struct group	*u_prev, *u_next;
	struct entry	*head, *tail;	/* oldest first */
	size_t		 n;
	uid_t		 uid;
	size_t		 namelen;
	char		 name[];
};

struct anode {
	struct hnode	 hn;
	struct entry	*list;		/* newest first */
	size_t		 n;
	int		 family;
	uint8_t		 addr[16];
};

struct entry {
	struct group	*g;
	struct anode	*an;
	struct entry	*g_prev, *g_next;
	struct entry	*a_prev, *a_next;
	struct entry	*l_prev, *l_next;
	uint64_t	 expires_ms;
	size_t		 hidx;
};

struct learn {
	struct htab	 uids;
	struct htab	 groups;
	struct htab	 addrs;
	struct entry	*lru_head, *lru_tail;	/* oldest first */
	struct entry	**heap;			/* l->n of them */
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

static uint64_t
hash_uid(const struct learn *l, uid_t uid)
{
	return fmix(l->seed ^ (uint64_t)uid);
}

static uint64_t
hash_addr(const struct learn *l, int family, const uint8_t *key)
{
	uint64_t w0, w1;

	memcpy(&w0, key, sizeof(w0));
	memcpy(&w1, key + 8, sizeof(w1));
	return fmix(fmix(fmix(l->seed + (uint64_t)family) ^ w0) ^ w1);
}

static uint64_t
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
	return h;
}

static int
htab_init(struct htab *t)
{
	t->nb = HTAB_MIN;
	t->n = 0;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL)
		return -1;
	return 0;
}

static void
htab_grow(struct htab *t)
{
	struct hnode **nb, *hn, *next;
	size_t i, size = t->nb * 2;

	/* On failure the chains just get longer. */
	if ((nb = calloc(size, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nb; i++) {
		for (hn = t->b[i]; hn != NULL; hn = next) {
			next = hn->next;
			hn->next = nb[hn->hash & (size - 1)];
			nb[hn->hash & (size - 1)] = hn;
		}
	}
	free(t->b);
	t->b = nb;
	t->nb = size;
}

static void
htab_insert(struct htab *t, struct hnode *hn)
{
	struct hnode **bp;

	if (t->n >= t->nb)
		htab_grow(t);
	bp = &t->b[hn->hash & (t->nb - 1)];
	hn->next = *bp;
	*bp = hn;
	t->n++;
}

static void
htab_remove(struct htab *t, struct hnode *hn)
{
	struct hnode **pp;

	pp = &t->b[hn->hash & (t->nb - 1)];
	while (*pp != hn)
		pp = &(*pp)->next;
	*pp = hn->next;
	t->n--;
}

static struct hnode *
htab_first(const struct htab *t, uint64_t hash)
{
	return t->b[hash & (t->nb - 1)];
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

static struct luid *
uid_find(const struct learn *l, uid_t uid, uint64_t h)
{
	struct hnode *hn;

	for (hn = htab_first(&l->uids, h); hn != NULL; hn = hn->next)
		if (hn->hash == h && ((struct luid *)hn)->uid == uid)
			return (struct luid *)hn;
	return NULL;
}

static struct group *
group_find(const struct learn *l, uid_t uid, const char *name, size_t len,
    uint64_t h)
{
	struct hnode *hn;
	struct group *g;

	for (hn = htab_first(&l->groups, h); hn != NULL; hn = hn->next) {
		g = (struct group *)hn;
		if (hn->hash == h && g->uid == uid && g->namelen == len &&
		    memcmp(g->name, name, len) == 0)
			return g;
	}
	return NULL;
}

static struct anode *
anode_find(const struct learn *l, int family, const uint8_t *key,
    uint64_t h)
{
	struct hnode *hn;
	struct anode *an;

	for (hn = htab_first(&l->addrs, h); hn != NULL; hn = hn->next) {
		an = (struct anode *)hn;
		if (hn->hash == h && an->family == family &&
		    memcmp(an->addr, key, 16) == 0)
			return an;
	}
	return NULL;
}

/* The entry of g for an: walk whichever list is shorter. */
static struct entry *
entry_find(const struct group *g, const struct anode *an)
{
	struct entry *e;

	if (g->n <= an->n) {
		for (e = g->head; e != NULL; e = e->g_next)
			if (e->an == an)
				return e;
	} else {
		for (e = an->list; e != NULL; e = e->a_next)
			if (e->g == g)
				return e;
	}
	return NULL;
}

static void
heap_set(struct learn *l, size_t i, struct entry *e)
{
	l->heap[i] = e;
	e->hidx = i;
}

static void
heap_up(struct learn *l, size_t i)
{
	struct entry *e = l->heap[i];
	size_t p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (l->heap[p]->expires_ms <= e->expires_ms)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, e);
}

static void
heap_down(struct learn *l, size_t i)
{
	struct entry *e = l->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->n)
			break;
		if (c + 1 < l->n &&
		    l->heap[c + 1]->expires_ms < l->heap[c]->expires_ms)
			c++;
		if (e->expires_ms <= l->heap[c]->expires_ms)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, e);
}

/* e's expiry changed. */
static void
heap_fix(struct learn *l, struct entry *e)
{
	heap_up(l, e->hidx);
	heap_down(l, e->hidx);
}

/* Room for one more entry in the heap. */
static int
heap_reserve(struct learn *l)
{
	struct entry **v;
	size_t cap;

	if (l->n < l->heapcap)
		return 0;
	cap = l->heapcap ? l->heapcap * 2 : HEAP_MIN;
	if (cap > l->max_entries)
		cap = l->max_entries;
	if ((v = reallocarray(l->heap, cap, sizeof(*v))) == NULL)
		return -1;
	l->heap = v;
	l->heapcap = cap;
	return 0;
}

static void
uid_release(struct learn *l, struct luid *u)
{
	if (u->groups != NULL)
		return;
	htab_remove(&l->uids, &u->hn);
	free(u);
}

static void
group_release(struct learn *l, struct group *g)
{
	if (g->n != 0)
		return;
	if (g->u_prev != NULL)
		g->u_prev->u_next = g->u_next;
	else
		g->u->groups = g->u_next;
	if (g->u_next != NULL)
		g->u_next->u_prev = g->u_prev;
	htab_remove(&l->groups, &g->hn);
	uid_release(l, g->u);
	free(g);
}

static void
anode_release(struct learn *l, struct anode *an)
{
	if (an->n != 0)
		return;
	htab_remove(&l->addrs, &an->hn);
	free(an);
}

static void
group_unlink(struct entry *e)
{
	struct group *g = e->g;

	if (e->g_prev != NULL)
		e->g_prev->g_next = e->g_next;
	else
		g->head = e->g_next;
	if (e->g_next != NULL)
		e->g_next->g_prev = e->g_prev;
	else
		g->tail = e->g_prev;
	g->n--;
}

static void
group_append(struct entry *e)
{
	struct group *g = e->g;

	e->g_next = NULL;
	e->g_prev = g->tail;
	if (g->tail != NULL)
		g->tail->g_next = e;
	else
		g->head = e;
	g->tail = e;
	g->n++;
}

static void
anode_unlink(struct entry *e)
{
	struct anode *an = e->an;

	if (e->a_prev != NULL)
		e->a_prev->a_next = e->a_next;
	else
		an->list = e->a_next;
	if (e->a_next != NULL)
		e->a_next->a_prev = e->a_prev;
	an->n--;
}

static void
anode_push(struct entry *e)
{
	struct anode *an = e->an;

	e->a_prev = NULL;
	e->a_next = an->list;
	if (an->list != NULL)
		an->list->a_prev = e;
	an->list = e;
	an->n++;
}

static void
lru_unlink(struct learn *l, struct entry *e)
{
	if (e->l_prev != NULL)
		e->l_prev->l_next = e->l_next;
	else
		l->lru_head = e->l_next;
	if (e->l_next != NULL)
		e->l_next->l_prev = e->l_prev;
	else
		l->lru_tail = e->l_prev;
}

static void
lru_append(struct learn *l, struct entry *e)
{
	e->l_next = NULL;
	e->l_prev = l->lru_tail;
	if (l->lru_tail != NULL)
		l->lru_tail->l_next = e;
	else
		l->lru_head = e;
	l->lru_tail = e;
}

/* Unlinks and frees e, then its group, uid and address if now empty. */
static void
entry_remove(struct learn *l, struct entry *e)
{
	struct entry *last;
	struct group *g = e->g;
	struct anode *an = e->an;
	size_t i = e->hidx;

	last = l->heap[--l->n];
	if (last != e) {
		heap_set(l, i, last);
		heap_fix(l, last);
	}
	lru_unlink(l, e);
	group_unlink(e);
	anode_unlink(e);
	free(e);
	group_release(l, g);
	anode_release(l, an);
}

/* Whether removing e takes its address away from its uid. */
static bool
must_revoke(const struct entry *e, uint64_t now_ms)
{
	const struct entry *o;

	if (e->expires_ms <= now_ms)
		return false;
	for (o = e->an->list; o != NULL; o = o->a_next)
		if (o != e && o->g->uid == e->g->uid && o->expires_ms > now_ms)
			return false;
	return true;
}

static void
report(const struct entry *e, struct learn_addr *evicted, size_t *nevicted)
{
	struct learn_addr *ea = &evicted[(*nevicted)++];

	ea->family = e->an->family;
	memcpy(ea->addr, e->an->addr, sizeof(ea->addr));
}

/*
 * Bring g down to the cap, sparing keep. Expired entries go first: they
 * hold no grant, so removing them costs the app nothing.
 */
static void
trim(struct learn *l, struct group *g, struct entry *keep, uint64_t now_ms,
    struct learn_addr *evicted, size_t nevicted_max, size_t *nevicted)
{
	struct entry *e, *next;

	for (e = g->head; e != NULL && g->n > l->max_per_name; e = next) {
		next = e->g_next;
		if (e != keep && e->expires_ms <= now_ms)
			entry_remove(l, e);
	}
	while (g->n > l->max_per_name) {
		if ((e = g->head) == keep)
			e = e->g_next;
		if (must_revoke(e, now_ms)) {
			/* XXX the rest waits for the next add of g */
			if (*nevicted >= nevicted_max)
				return;
			report(e, evicted, nevicted);
		}
		entry_remove(l, e);
	}
}

static unsigned
clamp_per_name(unsigned n)
{
	if (n < LEARN_PER_NAME_MIN)
		return LEARN_PER_NAME_MIN;
	if (n > LEARN_PER_NAME_MAX)
		return LEARN_PER_NAME_MAX;
	return n;
}

struct learn *
learn_new(unsigned max_per_name, size_t max_entries)
{
	struct learn *l;

	if (max_entries == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->max_per_name = clamp_per_name(max_per_name);
	l->max_entries = max_entries;
	/*
	 * Answers can be chosen by whoever serves a name, so the hashes are
	 * seeded from the kernel's random pool (the heap address, which ASLR
	 * varies, should that fail).
	 */
	if (getrandom(&l->seed, sizeof(l->seed), GRND_NONBLOCK) !=
	    sizeof(l->seed))
		l->seed = (uint64_t)(uintptr_t)l;
	l->seed = fmix(l->seed ^ 0x9e3779b97f4a7c15ULL);
	if (htab_init(&l->uids) == -1 || htab_init(&l->groups) == -1 ||
	    htab_init(&l->addrs) == -1) {
		learn_free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

static void
htab_free_nodes(struct htab *t)
{
	struct hnode *hn, *next;
	size_t i;

	if (t->b == NULL)
		return;
	for (i = 0; i < t->nb; i++) {
		for (hn = t->b[i]; hn != NULL; hn = next) {
			next = hn->next;
			free(hn);
		}
	}
	free(t->b);
}

void
learn_free(struct learn *l)
{
	struct entry *e, *next;

	if (l == NULL)
		return;
	for (e = l->lru_head; e != NULL; e = next) {
		next = e->l_next;
		free(e);
	}
	/* Each node begins with its hash node, so free(hn) frees it. */
	htab_free_nodes(&l->groups);
	htab_free_nodes(&l->addrs);
	htab_free_nodes(&l->uids);
	free(l->heap);
	free(l);
}

void
learn_set_max_per_name(struct learn *l, unsigned max_per_name)
{
	l->max_per_name = clamp_per_name(max_per_name);
}

int
learn_add(struct learn *l, uid_t uid, const char *name, int family,
    const uint8_t *addr, uint64_t expires_ms, uint64_t now_ms,
    struct learn_addr *evicted, size_t nevicted_max, size_t *nevicted)
{
	uint8_t key[16];
	uint64_t hg, ha, hu;
	struct group *g;
	struct anode *an;
	struct entry *e, *v;
	struct luid *u = NULL;
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
	an = anode_find(l, family, key, ha);

	if (g != NULL && an != NULL && (e = entry_find(g, an)) != NULL) {
		e->expires_ms = expires_ms;
		heap_fix(l, e);
		group_unlink(e);
		group_append(e);
		anode_unlink(e);
		anode_push(e);
		lru_unlink(l, e);
		lru_append(l, e);
		goto cap;
	}

	if (l->n >= l->max_entries) {
		/* The expired entry that expired first, else the oldest. */
		v = l->heap[0];
		if (v->expires_ms > now_ms)
			v = l->lru_head;
		/*
		 * Forgotten, not revoked: a full table must not close what
		 * another app resolved. Its grant runs out with its TTL.
		 */
		entry_remove(l, v);
		/* That may have freed g or an. */
		g = group_find(l, uid, name, len, hg);
		an = anode_find(l, family, key, ha);
	}

	if (heap_reserve(l) == -1)
		return -1;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	if (g == NULL) {
		hu = hash_uid(l, uid);
		if ((u = uid_find(l, uid, hu)) == NULL) {
			if ((u = calloc(1, sizeof(*u))) == NULL)
				goto fail;
			u->hn.hash = hu;
			u->uid = uid;
			htab_insert(&l->uids, &u->hn);
		}
		if ((g = calloc(1, sizeof(*g) + len + 1)) == NULL)
			goto fail;
		g->hn.hash = hg;
		g->uid = uid;
		g->namelen = len;
		memcpy(g->name, name, len);
		g->u = u;
		g->u_next = u->groups;
		if (u->groups != NULL)
			u->groups->u_prev = g;
		u->groups = g;
		htab_insert(&l->groups, &g->hn);
	}
	if (an == NULL) {
		if ((an = calloc(1, sizeof(*an))) == NULL)
			goto fail;
		an->hn.hash = ha;
		an->family = family;
		memcpy(an->addr, key, sizeof(an->addr));
		htab_insert(&l->addrs, &an->hn);
	}

	e->g = g;
	e->an = an;
	e->expires_ms = expires_ms;
	group_append(e);
	anode_push(e);
	lru_append(l, e);
	l->heap[l->n++] = e;
	heap_up(l, l->n - 1);

cap:
	trim(l, g, e, now_ms, evicted, nevicted_max, nevicted);
	return 0;

fail:
	/* Drop the nodes made for e; existing ones hold entries. */
	free(e);
	if (g != NULL)
		group_release(l, g);
	else if (u != NULL)
		uid_release(l, u);
	errno = ENOMEM;
	return -1;
}

bool
learn_lookup(const struct learn *l, uid_t uid, int family,
    const uint8_t *addr, struct learn_hit *out)
{
	uint8_t key[16];
	struct anode *an;
	struct entry *e;

	if (addr_key(family, addr, key) == -1)
		return false;
	if ((an = anode_find(l, family, key, hash_addr(l, family, key))) ==
	    NULL)
		return false;
	for (e = an->list; e != NULL; e = e->a_next)
		if (e->g->uid == uid)
			break;
	if (e == NULL)
		e = an->list;
	out->uid = e->g->uid;
	out->name = e->g->name;
	out->expires_ms = e->expires_ms;
	return true;
}

void
learn_forget_uid(struct learn *l, uid_t uid)
{
	uint64_t h = hash_uid(l, uid);
	struct luid *u;

	/* The last entry of a uid frees its node: look it up each time. */
	while ((u = uid_find(l, uid, h)) != NULL)
		entry_remove(l, u->groups->head);
}

size_t
learn_count(const struct learn *l, uid_t uid, const char *name,
    uint64_t now_ms)
{
	struct group *g;
	struct entry *e;
	size_t len, n = 0;

	len = strnlen(name, DNS_NAME_TEXT_MAX);
	if ((g = group_find(l, uid, name, len,
	    hash_group(l, uid, name, len))) == NULL)
		return 0;
	for (e = g->head; e != NULL; e = e->g_next)
		if (e->expires_ms > now_ms)
			n++;
	return n;
}

size_t
learn_size(const struct learn *l)
{
	return l->n;
}
