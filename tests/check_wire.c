/*
 * dns/wire.c: queries, answers and their CNAME chains, SVCB/HTTPS hints,
 * error replies, TTL caps; truncation at every octet, hostile pointers,
 * names and counts. Messages are built by hand with the m_* helpers.
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "dns.h"

#define MSG_MAX		4096
#define GOT_MAX		64

/* A message under construction. Overflow fails the test. */
struct msg {
	uint8_t		 b[MSG_MAX];
	size_t		 len;
};

/* Addresses passed to the callback. */
struct got {
	struct dns_addr	 a[GOT_MAX];
	size_t		 n;
};

static struct msg *m;
static struct got *got;
/* dns_answer_filter(): the message expected, its output, keep's calls. */
static struct msg *fwant, *fout;
static struct got *calls;

static void
setup(void)
{
	m = calloc(1, sizeof(*m));
	got = calloc(1, sizeof(*got));
	fwant = calloc(1, sizeof(*fwant));
	fout = calloc(1, sizeof(*fout));
	calls = calloc(1, sizeof(*calls));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(fwant);
	ck_assert_ptr_nonnull(fout);
	ck_assert_ptr_nonnull(calls);
}

static void
teardown(void)
{
	free(m);
	free(got);
	free(fwant);
	free(fout);
	free(calls);
	m = fwant = fout = NULL;
	got = calls = NULL;
}

static void
collect(const struct dns_addr *a, void *arg)
{
	struct got *g = arg;

	if (g->n < GOT_MAX)
		g->a[g->n] = *a;
	g->n++;
}

static void
m_raw(struct msg *mm, const void *p, size_t n)
{
	ck_assert_uint_le(n, MSG_MAX - mm->len);
	memcpy(mm->b + mm->len, p, n);
	mm->len += n;
}

static void
m_u8(struct msg *mm, unsigned v)
{
	uint8_t b = (uint8_t)v;

	m_raw(mm, &b, 1);
}

static void
m_u16(struct msg *mm, unsigned v)
{
	m_u8(mm, v >> 8);
	m_u8(mm, v);
}

static void
m_u32(struct msg *mm, uint32_t v)
{
	m_u16(mm, v >> 16);
	m_u16(mm, v & 0xffff);
}

static void
set16(struct msg *mm, size_t off, unsigned v)
{
	mm->b[off] = (uint8_t)(v >> 8);
	mm->b[off + 1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A compression pointer to off. */
static void
m_ptr(struct msg *mm, size_t off)
{
	m_u16(mm, 0xc000 | (unsigned)off);
}

/*
 * The labels of a dotted name, then the root ("" or "." is the root
 * alone). With end_ptr non-zero, a pointer to end_ptr ends the name
 * instead of the root. Returns the offset of the name.
 */
static size_t
m_labels(struct msg *mm, const char *name, size_t end_ptr)
{
	size_t off = mm->len;
	const char *p = name, *dot;

	while (*p != '\0') {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n > 0) {
			m_u8(mm, (unsigned)n);
			m_raw(mm, p, n);
		}
		p += n;
		if (*p == '.')
			p++;
	}
	if (end_ptr != 0)
		m_ptr(mm, end_ptr);
	else
		m_u8(mm, 0);
	return off;
}

static size_t
m_name(struct msg *mm, const char *name)
{
	return m_labels(mm, name, 0);
}

static void
m_hdr(struct msg *mm, unsigned id, unsigned flags, unsigned qd, unsigned an,
    unsigned ns, unsigned ar)
{
	mm->len = 0;
	m_u16(mm, id);
	m_u16(mm, flags);
	m_u16(mm, qd);
	m_u16(mm, an);
	m_u16(mm, ns);
	m_u16(mm, ar);
}

static void
m_counts(struct msg *mm, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	set16(mm, 4, qd);
	set16(mm, 6, an);
	set16(mm, 8, ns);
	set16(mm, 10, ar);
}

static void
m_question(struct msg *mm, const char *name, unsigned type, unsigned class)
{
	m_name(mm, name);
	m_u16(mm, type);
	m_u16(mm, class);
}

/*
 * Start a record: the owner is name, or when name is NULL a pointer to
 * ptr. Returns the offset of the rdlength field (the TTL is the 4 octets
 * before it); write the rdata, then rr_end().
 */
/* The fixed fields after an owner already written; as rr_begin(). */
static size_t
rr_fixed(struct msg *mm, unsigned type, unsigned class, uint32_t ttl)
{
	size_t rdl;

	m_u16(mm, type);
	m_u16(mm, class);
	m_u32(mm, ttl);
	rdl = mm->len;
	m_u16(mm, 0);
	return rdl;
}

static size_t
rr_begin(struct msg *mm, const char *name, size_t ptr, unsigned type,
    unsigned class, uint32_t ttl)
{
	if (name != NULL)
		m_name(mm, name);
	else
		m_ptr(mm, ptr);
	return rr_fixed(mm, type, class, ttl);
}

static void
rr_end(struct msg *mm, size_t rdl)
{
	set16(mm, rdl, (unsigned)(mm->len - rdl - 2));
}

static size_t
rr_addr(struct msg *mm, const char *name, size_t ptr, uint32_t ttl,
    const char *addr)
{
	uint8_t a[16];
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	size_t rdl;

	ck_assert_int_eq(inet_pton(af, addr, a), 1);
	rdl = rr_begin(mm, name, ptr, af == AF_INET ? DNS_TYPE_A :
	    DNS_TYPE_AAAA, DNS_CLASS_IN, ttl);
	m_raw(mm, a, af == AF_INET ? 4 : 16);
	rr_end(mm, rdl);
	return rdl;
}

/* Returns the offset of the target name, for later pointers. */
static size_t
rr_cname(struct msg *mm, const char *name, size_t ptr, uint32_t ttl,
    const char *target)
{
	size_t rdl = rr_begin(mm, name, ptr, DNS_TYPE_CNAME, DNS_CLASS_IN,
	    ttl), off;

	off = m_name(mm, target);
	rr_end(mm, rdl);
	return off;
}

static size_t
rr_soa(struct msg *mm, const char *name, uint32_t ttl, uint32_t minimum)
{
	size_t rdl = rr_begin(mm, name, 0, DNS_TYPE_SOA, DNS_CLASS_IN, ttl);

	m_name(mm, "ns1.example.com");
	m_name(mm, "hostmaster.example.com");
	m_u32(mm, 2024010101);
	m_u32(mm, 7200);
	m_u32(mm, 3600);
	m_u32(mm, 1209600);
	m_u32(mm, minimum);
	rr_end(mm, rdl);
	return rdl;
}

/* OPT: udp size and the TTL field (ext rcode, version, DO). */
static size_t
rr_opt(struct msg *mm, unsigned udp, uint32_t ttl)
{
	size_t rdl = rr_begin(mm, "", 0, DNS_TYPE_OPT, udp, ttl);

	rr_end(mm, rdl);
	return rdl;
}

static void
ck_addr(const struct dns_addr *a, const char *want, uint16_t type,
    uint32_t ttl)
{
	uint8_t w[16];
	int af = strchr(want, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(af, want, w), 1);
	ck_assert_int_eq(a->family, af);
	ck_assert_mem_eq(a->addr, w, af == AF_INET ? 4 : 16);
	ck_assert_uint_eq(a->type, type);
	ck_assert_uint_eq(a->ttl, ttl);
}

/* A query (RD set) for name in its own buffer, parsed into q. */
static void
make_query(struct dns_query *q, unsigned id, const char *name, unsigned type)
{
	struct msg qm;

	m_hdr(&qm, id, DNS_F_RD, 1, 0, 0, 0);
	m_question(&qm, name, type, DNS_CLASS_IN);
	ck_assert_int_eq(dns_query_parse(qm.b, qm.len, q), DNS_OK);
}

/* The start of an answer to q into m: header and the question. */
static void
m_answer(struct msg *mm, const struct dns_query *q, unsigned rcode)
{
	m_hdr(mm, q->id, DNS_F_QR | DNS_F_RD | DNS_F_RA | rcode, 1, 0, 0, 0);
	m_raw(mm, q->qname, q->qname_len);
	m_u16(mm, q->qtype);
	m_u16(mm, q->qclass);
}

static enum dns_status
answer(const struct dns_query *q, struct dns_answer *ans)
{
	got->n = 0;
	return dns_answer_addrs(m->b, m->len, q, ans, collect, got);
}

/* The same parse from an exact-size heap copy: ASan sees any overread. */
static enum dns_status
answer_exact(const uint8_t *buf, size_t len, const struct dns_query *q,
    struct dns_answer *ans)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	enum dns_status st;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, len);
	got->n = 0;
	st = dns_answer_addrs(copy, len, q, ans, collect, got);
	free(copy);
	return st;
}

/* Queries. */

START_TEST(test_query_basic)
{
	struct dns_query q;

	m_hdr(m, 0x1234, DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "www.Example.COM", DNS_TYPE_A, DNS_CLASS_IN);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_uint_eq(q.id, 0x1234);
	ck_assert_uint_eq(q.flags, DNS_F_RD);
	ck_assert(q.rd);
	ck_assert_uint_eq(q.qtype, DNS_TYPE_A);
	ck_assert_uint_eq(q.qclass, DNS_CLASS_IN);
	ck_assert_str_eq(q.name, "www.example.com");
	ck_assert(q.hostname);
	/* The wire name keeps the case it came with (0x20 randomization). */
	ck_assert_uint_eq(q.qname_len, 17);
	ck_assert_mem_eq(q.qname, "\3www\7Example\3COM", 17);
	ck_assert_uint_eq(q.qend, m->len);
	ck_assert(!q.edns);

	m_hdr(m, 7, 0, 1, 0, 0, 0);
	m_question(m, "_http._tcp.my-host.local", 65, DNS_CLASS_IN);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert(!q.rd);
	ck_assert_uint_eq(q.qtype, DNS_TYPE_HTTPS);
	ck_assert_str_eq(q.name, "_http._tcp.my-host.local");
	ck_assert(q.hostname);
}
END_TEST

START_TEST(test_query_edns)
{
	struct dns_query q;

	m_hdr(m, 1, DNS_F_RD | DNS_F_AD, 1, 0, 0, 2);
	m_question(m, "example.com", DNS_TYPE_AAAA, DNS_CLASS_IN);
	/* Another additional record (a cookie-less TSIG look-alike). */
	rr_addr(m, "glue.example.com", 0, 60, "192.0.2.9");
	rr_opt(m, 4096, 0x00008000);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert(q.edns);
	ck_assert_uint_eq(q.edns_udp, 4096);
	ck_assert_uint_eq(q.edns_version, 0);
	ck_assert(q.edns_do);
	ck_assert_uint_eq(q.qend, DNS_HDR_LEN + 13 + 4);

	/* Version 1, DO clear, a small size is reported as sent. */
	m_hdr(m, 1, 0, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_opt(m, 100, 0x00010000);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert(q.edns);
	ck_assert_uint_eq(q.edns_udp, 100);
	ck_assert_uint_eq(q.edns_version, 1);
	ck_assert(!q.edns_do);
}
END_TEST

struct name_case {
	const char	*wire;		/* labels; the root is added */
	size_t		 len;
	const char	*text;
	bool		 hostname;
};

#define NC(w, t, h)	{ w, sizeof(w) - 1, t, h }

static const struct name_case names[] = {
	NC("\3www\7example\3com", "www.example.com", true),
	NC("\3WwW\7EXAMPLE\3cOm", "www.example.com", true),
	NC("\4_tcp\5a-b_c", "_tcp.a-b_c", true),
	NC("\0010\0019", "0.9", true),
	NC("", ".", false),
	NC("\3a.b\3com", "a\\046b.com", false),
	NC("\1*\7example", "\\042.example", false),
	NC("\3a b", "a\\032b", false),
	NC("\2\0\377", "\\000\\255", false),
	NC("\1\\\1\"", "\\092.\\034", false),
	NC("\4caf\351", "caf\\233", false),
	NC("\1@\1[", "\\064.\\091", false),
};

START_TEST(test_query_names)
{
	const struct name_case *c = &names[_i];
	struct dns_query q;

	m_hdr(m, 1, 0, 1, 0, 0, 0);
	m_raw(m, c->wire, c->len);
	m_u8(m, 0);
	m_u16(m, DNS_TYPE_A);
	m_u16(m, DNS_CLASS_IN);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_str_eq(q.name, c->text);
	ck_assert_msg(q.hostname == c->hostname, "%s: hostname %d", c->text,
	    q.hostname);
	ck_assert_uint_eq(q.qname_len, c->len + 1);
	ck_assert_mem_eq(q.qname, c->wire, c->len);
}
END_TEST

/*
 * One octet of a valid query (header, "\3www\7example\3com", A IN, OPT)
 * changed. Offsets: flags 2-3, counts 4-11, name 12-28, type 29-30,
 * class 31-32, OPT 33-43.
 */
struct query_mut {
	const char		*what;
	size_t			 off;
	uint8_t			 val;
	enum dns_status		 st;
};

static const struct query_mut query_muts[] = {
	{ "unchanged", 0, 0x12, DNS_OK },
	{ "QR set", 2, 0x81, DNS_EQR },
	{ "opcode IQUERY", 2, 0x09, DNS_EOPCODE },
	{ "opcode STATUS", 2, 0x11, DNS_EOPCODE },
	{ "opcode NOTIFY", 2, 0x21, DNS_EOPCODE },
	{ "qdcount 0", 5, 0, DNS_EFORMAT },
	{ "qdcount 2", 5, 2, DNS_EFORMAT },
	{ "ancount 1", 7, 1, DNS_EFORMAT },
	{ "nscount 1", 9, 1, DNS_EFORMAT },
	{ "arcount 0 (OPT ignored)", 11, 0, DNS_OK },
	{ "arcount 2", 11, 2, DNS_ESHORT },
	{ "qdcount 257", 4, 1, DNS_ECOUNT },
	{ "ancount 0xff00", 6, 0xff, DNS_ECOUNT },
	{ "arcount 0xff01", 10, 0xff, DNS_ECOUNT },
	{ "label type 0x40", 12, 0x40, DNS_EBADNAME },
	{ "label type 0x80", 12, 0x80, DNS_EBADNAME },
	{ "pointer forward", 12, 0xc0, DNS_EPTR },
	{ "label runs past the end", 12, 0x3f, DNS_ESHORT },
	{ "label runs over the type", 24, 9, DNS_ESHORT },
	{ "OPT type changed (unknown type)", 35, 0x2a, DNS_OK },
	{ "OPT rdlength over the end", 43, 1, DNS_ESHORT },
};

static void
m_base_query(struct msg *mm)
{
	m_hdr(mm, 0x1234, DNS_F_RD, 1, 0, 0, 1);
	m_question(mm, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_opt(mm, 1232, 0);
}

START_TEST(test_query_refuse)
{
	const struct query_mut *c = &query_muts[_i];
	struct dns_query q;
	enum dns_status st;

	m_base_query(m);
	ck_assert_uint_eq(m->len, 44);
	m->b[c->off] = c->val;
	st = dns_query_parse(m->b, m->len, &q);
	ck_assert_msg(st == c->st, "%s: %s, want %s", c->what,
	    dns_strerror(st), dns_strerror(c->st));
}
END_TEST

START_TEST(test_query_structure)
{
	struct dns_query q;

	/* Two OPT records. */
	m_hdr(m, 1, 0, 1, 0, 0, 2);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_opt(m, 1232, 0);
	rr_opt(m, 1232, 0);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_EFORMAT);

	/* An OPT option running past the rdata. */
	m_hdr(m, 1, 0, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	m_raw(m, "\0\0\51\4\320\0\0\0\0\0\12\0\12\0\10abcdef", 21);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_EFORMAT);
	/* The same option with its right length. */
	m->b[m->len - 7] = 6;
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert(q.edns);

	/* An OPT record not owned by the root. */
	m_hdr(m, 1, 0, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_begin(m, "x", 0, DNS_TYPE_OPT, 1232, 0);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_EFORMAT);
	/* Nor by a pointer to the root. */
	m_hdr(m, 1, 0, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_begin(m, NULL, DNS_HDR_LEN + 12, DNS_TYPE_OPT, 1232, 0);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_EFORMAT);

	/* Octets after the last record are ignored. */
	m_hdr(m, 1, 0, 1, 0, 0, 0);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	m_raw(m, "junk", 4);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_uint_eq(q.qend, m->len - 4);

	/* No header. */
	ck_assert_int_eq(dns_query_parse(m->b, 11, &q), DNS_ESHORT);
	ck_assert_int_eq(dns_query_parse(NULL, 0, &q), DNS_ESHORT);
}
END_TEST

/* Answers. */

START_TEST(test_answer_simple)
{
	struct dns_query q;
	struct dns_answer ans;

	make_query(&q, 0xbeef, "api.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rr_addr(m, NULL, DNS_HDR_LEN, 300, "192.0.2.1");
	rr_addr(m, "API.EXAMPLE.com", 0, 200, "192.0.2.2");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.rcode, 0);
	ck_assert_uint_eq(ans.naddrs, 2);
	ck_assert_uint_eq(got->n, 2);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_A, 300);
	ck_addr(&got->a[1], "192.0.2.2", DNS_TYPE_A, 200);
	ck_assert_uint_eq(ans.min_ttl, 200);
	ck_assert_uint_eq(ans.ncname, 0);
	ck_assert_uint_eq(ans.neg_ttl, DNS_TTL_NONE);
	ck_assert(!ans.tc);
	ck_assert(!ans.edns);

	/* A NULL callback: still counted. */
	ck_assert_int_eq(dns_answer_addrs(m->b, m->len, &q, &ans, NULL, NULL),
	    DNS_OK);
	ck_assert_uint_eq(ans.naddrs, 2);

	/* No address: NODATA. */
	m_answer(m, &q, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.naddrs, 0);
	ck_assert_uint_eq(ans.min_ttl, DNS_TTL_NONE);
}
END_TEST

START_TEST(test_answer_aaaa)
{
	struct dns_query q;
	struct dns_answer ans;

	make_query(&q, 9, "v6.example.com", DNS_TYPE_AAAA);
	m_answer(m, &q, 0);
	rr_addr(m, NULL, DNS_HDR_LEN, 120, "2001:db8::1");
	rr_addr(m, NULL, DNS_HDR_LEN, 7200, "2001:db8:ffff::abcd");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 2);
	ck_addr(&got->a[0], "2001:db8::1", DNS_TYPE_AAAA, 120);
	ck_addr(&got->a[1], "2001:db8:ffff::abcd", DNS_TYPE_AAAA, 7200);
	ck_assert_uint_eq(ans.min_ttl, 120);
}
END_TEST

/*
 * allowed name -> CNAME -> CNAME -> A, with records for other names
 * around it that must not be reached: an A for another name, a CNAME from
 * another name into the chain, an A of another class, and A records for
 * the chain's end in the authority and additional sections.
 */
static void
m_chain(struct msg *mm, const struct dns_query *q, bool reversed)
{
	size_t t1, t2 = 0;

	m_answer(mm, q, 0);
	if (!reversed) {
		t1 = rr_cname(mm, NULL, DNS_HDR_LEN, 300, "a.cdn.example.net");
		t2 = rr_cname(mm, NULL, t1, 60, "b.edge.example.org");
		rr_addr(mm, NULL, t2, 3600, "192.0.2.10");
		rr_addr(mm, "evil.example", 0, 3600, "203.0.113.66");
		rr_cname(mm, "other.example", 0, 10, "b.edge.example.org");
		rr_addr(mm, NULL, t2, 30, "2001:db8::10");
	} else {
		/* The same records, end of the chain first. */
		rr_addr(mm, "b.edge.example.org", 0, 3600, "192.0.2.10");
		rr_addr(mm, "evil.example", 0, 3600, "203.0.113.66");
		rr_cname(mm, "other.example", 0, 10, "b.edge.example.org");
		rr_addr(mm, "B.Edge.Example.Org", 0, 30, "2001:db8::10");
		rr_cname(mm, "a.cdn.example.net", 0, 60,
		    "b.edge.example.org");
		rr_cname(mm, NULL, DNS_HDR_LEN, 300, "a.cdn.example.net");
	}
	{
		size_t rdl = rr_begin(mm, "b.edge.example.org", 0,
		    DNS_TYPE_A, 3 /* CH */, 5);

		m_raw(mm, "\300\0\2\77", 4);
		rr_end(mm, rdl);
	}
	rr_soa(mm, "example.net", 900, 60);
	rr_addr(mm, "b.edge.example.org", 0, 5, "198.51.100.1");
	m_counts(mm, 1, 7, 1, 1);
}

START_TEST(test_answer_chain)
{
	struct dns_query q;
	struct dns_answer ans;
	int reversed;

	make_query(&q, 0x4242, "www.example.com", DNS_TYPE_A);
	for (reversed = 0; reversed <= 1; reversed++) {
		m_chain(m, &q, reversed);
		ck_assert_int_eq(answer(&q, &ans), DNS_OK);
		ck_assert_uint_eq(ans.ncname, 2);
		ck_assert_uint_eq(got->n, 2);
		ck_assert_uint_eq(ans.naddrs, 2);
		/* Each TTL is capped by the CNAMEs that led to it (60). */
		ck_addr(&got->a[0], "192.0.2.10", DNS_TYPE_A, 60);
		ck_addr(&got->a[1], "2001:db8::10", DNS_TYPE_AAAA, 30);
		ck_assert_uint_eq(ans.min_ttl, 30);
		ck_assert_uint_eq(ans.neg_ttl, 60);
	}
}
END_TEST

START_TEST(test_answer_chain_only_from_question)
{
	struct dns_query q;
	struct dns_answer ans;

	/* A chain that starts at another name is not followed. */
	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rr_cname(m, "www.example.com.evil", 0, 300, "x.example.net");
	rr_addr(m, "x.example.net", 0, 300, "203.0.113.1");
	rr_addr(m, "example.com", 0, 300, "203.0.113.2");
	rr_addr(m, "wwwexample.com", 0, 300, "203.0.113.3");
	m_counts(m, 1, 4, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 0);
	ck_assert_uint_eq(got->n, 0);

	/* Only the first CNAME of a name is followed. */
	m_answer(m, &q, 0);
	rr_cname(m, NULL, DNS_HDR_LEN, 300, "one.example.net");
	rr_cname(m, NULL, DNS_HDR_LEN, 300, "two.example.net");
	rr_addr(m, "one.example.net", 0, 300, "192.0.2.1");
	rr_addr(m, "two.example.net", 0, 300, "203.0.113.1");
	m_counts(m, 1, 4, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 1);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_A, 300);

	/* A CNAME of another class is not followed. */
	m_answer(m, &q, 0);
	{
		size_t rdl = rr_begin(m, NULL, DNS_HDR_LEN, DNS_TYPE_CNAME,
		    3 /* CH */, 300);

		m_name(m, "one.example.net");
		rr_end(m, rdl);
	}
	rr_addr(m, "one.example.net", 0, 300, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 0);
	ck_assert_uint_eq(got->n, 0);
}
END_TEST

START_TEST(test_answer_cname_loop)
{
	struct dns_query q;
	struct dns_answer ans;

	/* www -> a -> www: ends, both names reached, no error. */
	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rr_cname(m, NULL, DNS_HDR_LEN, 300, "a.example.com");
	rr_cname(m, "a.example.com", 0, 100, "WWW.example.com");
	rr_addr(m, "a.example.com", 0, 50, "192.0.2.1");
	m_counts(m, 1, 3, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 2);
	ck_assert_uint_eq(got->n, 1);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_A, 50);

	/* A name that is its own CNAME. */
	m_answer(m, &q, 0);
	rr_cname(m, NULL, DNS_HDR_LEN, 300, "www.example.com");
	rr_addr(m, NULL, DNS_HDR_LEN, 30, "192.0.2.2");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 1);
	ck_assert_uint_eq(got->n, 1);
	ck_assert_uint_eq(ans.min_ttl, 30);
}
END_TEST

/* hops CNAMEs c0 -> c1 -> ... then an A at the end. */
static void
m_long_chain(struct msg *mm, const struct dns_query *q, int hops)
{
	char name[32];
	size_t prev = DNS_HDR_LEN;
	int i;

	m_answer(mm, q, 0);
	for (i = 0; i < hops; i++) {
		snprintf(name, sizeof(name), "c%d.example.net", i);
		prev = rr_cname(mm, NULL, prev, 300, name);
	}
	rr_addr(mm, NULL, prev, 300, "192.0.2.99");
	m_counts(mm, 1, (unsigned)hops + 1, 0, 0);
}

START_TEST(test_answer_chain_limit)
{
	struct dns_query q;
	struct dns_answer ans;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_long_chain(m, &q, DNS_CHAIN_MAX);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, DNS_CHAIN_MAX);
	ck_assert_uint_eq(got->n, 1);
	m_long_chain(m, &q, DNS_CHAIN_MAX + 1);
	ck_assert_int_eq(answer(&q, &ans), DNS_ECHAIN);
	ck_assert_uint_eq(got->n, 0);
}
END_TEST

/* Answers that do not answer the query: www.example.com A IN, id 0x4242. */
struct mismatch_case {
	const char		*what;
	unsigned		 id;
	unsigned		 flags;
	unsigned		 qd;
	const char		*qname;
	unsigned		 qtype;
	unsigned		 qclass;
	enum dns_status		 st;
};

#define ANS_F	(DNS_F_QR | DNS_F_RD | DNS_F_RA)

static const struct mismatch_case mismatches[] = {
	{ "matching", 0x4242, ANS_F, 1, "www.example.com", 1, 1, DNS_OK },
	{ "name in other case", 0x4242, ANS_F, 1, "WWW.eXample.COM", 1, 1,
	    DNS_OK },
	{ "wrong id", 0x4243, ANS_F, 1, "www.example.com", 1, 1,
	    DNS_EMISMATCH },
	{ "wrong name", 0x4242, ANS_F, 1, "www.example.net", 1, 1,
	    DNS_EMISMATCH },
	{ "longer name", 0x4242, ANS_F, 1, "www.example.com.evil", 1, 1,
	    DNS_EMISMATCH },
	{ "shorter name", 0x4242, ANS_F, 1, "example.com", 1, 1,
	    DNS_EMISMATCH },
	{ "wrong type", 0x4242, ANS_F, 1, "www.example.com", 28, 1,
	    DNS_EMISMATCH },
	{ "wrong class", 0x4242, ANS_F, 1, "www.example.com", 1, 3,
	    DNS_EMISMATCH },
	{ "QR clear", 0x4242, DNS_F_RD, 1, "www.example.com", 1, 1,
	    DNS_EQR },
	{ "opcode STATUS", 0x4242, ANS_F | 0x1000, 1, "www.example.com", 1,
	    1, DNS_EOPCODE },
	{ "no question", 0x4242, ANS_F, 0, NULL, 0, 0, DNS_EMISMATCH },
	{ "two questions", 0x4242, ANS_F, 2, "www.example.com", 1, 1,
	    DNS_EMISMATCH },
};

START_TEST(test_answer_mismatch)
{
	const struct mismatch_case *c = &mismatches[_i];
	struct dns_query q;
	struct dns_answer ans;
	enum dns_status st;
	unsigned i;

	make_query(&q, 0x4242, "www.example.com", DNS_TYPE_A);
	m_hdr(m, c->id, c->flags, c->qd, 1, 0, 0);
	for (i = 0; i < c->qd; i++)
		m_question(m, c->qname, c->qtype, c->qclass);
	rr_addr(m, "www.example.com", 0, 60, "192.0.2.1");
	st = answer(&q, &ans);
	ck_assert_msg(st == c->st, "%s: %s, want %s", c->what,
	    dns_strerror(st), dns_strerror(c->st));
	ck_assert_uint_eq(got->n, st == DNS_OK ? 1 : 0);
}
END_TEST

START_TEST(test_answer_negative)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t t;

	/* NXDOMAIN at the end of a chain: nothing is reached. */
	make_query(&q, 5, "gone.example.com", DNS_TYPE_A);
	m_answer(m, &q, DNS_RCODE_NXDOMAIN);
	t = rr_cname(m, NULL, DNS_HDR_LEN, 600, "x.example.net");
	rr_addr(m, NULL, t, 600, "192.0.2.1");
	rr_soa(m, "example.net", 3600, 300);
	rr_soa(m, "example.com", 10, 10);
	m_counts(m, 1, 2, 2, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.rcode, DNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ans.naddrs, 0);
	ck_assert_uint_eq(got->n, 0);
	ck_assert_uint_eq(ans.ncname, 1);
	ck_assert_uint_eq(ans.neg_ttl, 300);

	/* The SOA's own TTL when it is lower; an SOA in the answer section
	   does not count. */
	m_answer(m, &q, 0);
	rr_soa(m, "example.com", 20, 300);
	rr_soa(m, "example.com", 120, 300);
	m_counts(m, 1, 1, 1, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.neg_ttl, 120);

	/* SERVFAIL with addresses: none are passed on. */
	m_answer(m, &q, DNS_RCODE_SERVFAIL);
	rr_addr(m, NULL, DNS_HDR_LEN, 600, "192.0.2.1");
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.rcode, DNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(got->n, 0);
}
END_TEST

START_TEST(test_answer_edns)
{
	struct dns_query q;
	struct dns_answer ans;

	make_query(&q, 5, "example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	m->b[3] |= 0x02;			/* low bits: rcode 2 */
	rr_addr(m, NULL, DNS_HDR_LEN, 600, "192.0.2.1");
	rr_opt(m, 1232, 0x01008000);		/* ext rcode 1, DO */
	m_counts(m, 1, 1, 0, 1);
	set16(m, 2, get16(m->b + 2) | DNS_F_TC);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.rcode, 0x12);
	ck_assert(ans.edns);
	ck_assert(ans.edns_do);
	ck_assert(ans.tc);
	ck_assert_uint_eq(ans.edns_udp, 1232);
	ck_assert_uint_eq(got->n, 0);

	/* Top bit set in a TTL: 0 (RFC 2181). */
	m_answer(m, &q, 0);
	rr_addr(m, NULL, DNS_HDR_LEN, 0x80000000u, "192.0.2.1");
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 1);
	ck_assert_uint_eq(got->a[0].ttl, 0);
	ck_assert_uint_eq(ans.min_ttl, 0);
}
END_TEST

/* SVCB/HTTPS rdata: priority, target, then parameters as given. */
static void
rr_svcb(struct msg *mm, size_t ptr, unsigned type, unsigned prio,
    const char *target, const void *params, size_t plen)
{
	size_t rdl = rr_begin(mm, NULL, ptr, type, DNS_CLASS_IN, 300);

	m_u16(mm, prio);
	m_name(mm, target);
	m_raw(mm, params, plen);
	rr_end(mm, rdl);
}

#define P_ALPN		"\0\1\0\3\2h2"
#define P_V4HINT	"\0\4\0\10\300\0\2\1\300\0\2\2"
#define P_V6HINT	"\0\6\0\20\40\1\15\270\0\0\0\0\0\0\0\0\0\0\0\1"

START_TEST(test_answer_svcb)
{
	static const char params[] = P_ALPN P_V4HINT P_V6HINT;
	struct dns_query q;
	struct dns_answer ans;
	size_t t;

	make_query(&q, 7, "svc.example.com", DNS_TYPE_HTTPS);
	m_answer(m, &q, 0);
	t = rr_cname(m, NULL, DNS_HDR_LEN, 100, "cdn.example.net");
	rr_svcb(m, t, DNS_TYPE_HTTPS, 1, ".", params, sizeof(params) - 1);
	/* AliasMode: its parameters are ignored. */
	rr_svcb(m, t, DNS_TYPE_HTTPS, 0, "alias.example.org", P_V4HINT,
	    sizeof(P_V4HINT) - 1);
	/* Another name's hints are not reached. */
	rr_svcb(m, 0x0c + 0x25, DNS_TYPE_HTTPS, 1, ".", P_V4HINT,
	    sizeof(P_V4HINT) - 1);
	m_counts(m, 1, 4, 0, 0);
	/* The last owner pointed at "example.net" inside the CNAME target. */
	ck_assert_uint_eq(m->b[0x0c + 0x25], 7);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 3);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[1], "192.0.2.2", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[2], "2001:db8::1", DNS_TYPE_HTTPS, 100);

	/* SVCB (64) with only an ipv6hint. */
	make_query(&q, 8, "_dns.resolver.arpa", DNS_TYPE_SVCB);
	m_answer(m, &q, 0);
	rr_svcb(m, DNS_HDR_LEN, DNS_TYPE_SVCB, 1, "dns.example.net",
	    P_ALPN P_V6HINT, sizeof(P_ALPN P_V6HINT) - 1);
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 1);
	ck_addr(&got->a[0], "2001:db8::1", DNS_TYPE_SVCB, 300);

	/* Hints are not taken from an A query's unrelated record types. */
	make_query(&q, 9, "svc.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rr_svcb(m, DNS_HDR_LEN, 99, 1, ".", P_V4HINT, sizeof(P_V4HINT) - 1);
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 0);
}
END_TEST

/* Records with a shape their type forbids: the whole answer is refused. */
struct shape_case {
	const char	*what;
	unsigned	 type;
	const char	*rdata;
	size_t		 len;
	unsigned	 section;	/* answer 0, authority 1, add. 2 */
	enum dns_status	 st;
};

#define SC(w, t, r, s, st)	{ w, t, r, sizeof(r) - 1, s, st }

static const struct shape_case shapes[] = {
	SC("A of 4 octets", DNS_TYPE_A, "\300\0\2\1", 0, DNS_OK),
	SC("A of 5 octets", DNS_TYPE_A, "\300\0\2\1\1", 0, DNS_EFORMAT),
	SC("A of 3 octets", DNS_TYPE_A, "\300\0\2", 0, DNS_EFORMAT),
	SC("AAAA of 4 octets", DNS_TYPE_AAAA, "\300\0\2\1", 0, DNS_EFORMAT),
	SC("A in additional, 0 octets", DNS_TYPE_A, "", 2, DNS_EFORMAT),
	SC("CNAME", DNS_TYPE_CNAME, "\1x\300\14", 0, DNS_OK),
	SC("CNAME with a spare octet", DNS_TYPE_CNAME, "\1x\0\0", 0,
	    DNS_EFORMAT),
	SC("CNAME name past the rdata", DNS_TYPE_CNAME, "\3abc", 0,
	    DNS_EFORMAT),
	SC("CNAME empty", DNS_TYPE_CNAME, "", 0, DNS_EFORMAT),
	SC("CNAME bad label", DNS_TYPE_CNAME, "\100x\0", 0, DNS_EBADNAME),
	SC("CNAME forward pointer", DNS_TYPE_CNAME, "\300\377", 0,
	    DNS_EPTR),
	SC("SOA short", DNS_TYPE_SOA, "\0\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4",
	    1, DNS_EFORMAT),
	SC("SOA", DNS_TYPE_SOA,
	    "\0\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5", 1, DNS_OK),
	SC("OPT in the answer section", DNS_TYPE_OPT, "", 0, DNS_EFORMAT),
	SC("OPT in authority", DNS_TYPE_OPT, "", 1, DNS_EFORMAT),
	SC("OPT option short", DNS_TYPE_OPT, "\0\12\0\10abc", 2,
	    DNS_EFORMAT),
	SC("OPT option header short", DNS_TYPE_OPT, "\0\12\0", 2,
	    DNS_EFORMAT),
	SC("HTTPS", DNS_TYPE_HTTPS, "\0\1\0" P_ALPN P_V4HINT, 0, DNS_OK),
	SC("HTTPS no target", DNS_TYPE_HTTPS, "\0\1", 0, DNS_EFORMAT),
	SC("HTTPS keys out of order", DNS_TYPE_HTTPS,
	    "\0\1\0" P_V4HINT P_ALPN, 0, DNS_EFORMAT),
	SC("HTTPS key twice", DNS_TYPE_HTTPS, "\0\1\0" P_ALPN P_ALPN, 0,
	    DNS_EFORMAT),
	SC("HTTPS ipv4hint of 5", DNS_TYPE_HTTPS,
	    "\0\1\0\0\4\0\5\300\0\2\1\1", 0, DNS_EFORMAT),
	SC("HTTPS ipv4hint empty", DNS_TYPE_HTTPS, "\0\1\0\0\4\0\0", 0,
	    DNS_EFORMAT),
	SC("HTTPS ipv6hint of 4", DNS_TYPE_HTTPS,
	    "\0\1\0\0\6\0\4\300\0\2\1", 0, DNS_EFORMAT),
	SC("HTTPS value past the rdata", DNS_TYPE_HTTPS,
	    "\0\1\0\0\1\0\11\2h2", 0, DNS_EFORMAT),
	SC("HTTPS param header short", DNS_TYPE_HTTPS, "\0\1\0\0\1\0", 0,
	    DNS_EFORMAT),
	SC("SVCB alias, hint ignored but checked", DNS_TYPE_SVCB,
	    "\0\0\0\0\4\0\3\1\2\3", 0, DNS_EFORMAT),
	SC("unknown type, any rdata", 99, "\377\377\300", 0, DNS_OK),
};

START_TEST(test_answer_shape)
{
	const struct shape_case *c = &shapes[_i];
	struct dns_query q;
	struct dns_answer ans;
	enum dns_status st;
	size_t rdl;
	unsigned counts[3] = { 0, 0, 0 };

	make_query(&q, 3, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rdl = rr_begin(m, c->type == DNS_TYPE_OPT ? "" : NULL, DNS_HDR_LEN,
	    c->type, DNS_CLASS_IN, 60);
	m_raw(m, c->rdata, c->len);
	rr_end(m, rdl);
	counts[c->section] = 1;
	m_counts(m, 1, counts[0], counts[1], counts[2]);
	st = answer(&q, &ans);
	ck_assert_msg(st == c->st, "%s: %s, want %s", c->what,
	    dns_strerror(st), dns_strerror(c->st));
}
END_TEST

/* Error replies. */

static const unsigned rcodes[] = {
	DNS_RCODE_NXDOMAIN, DNS_RCODE_REFUSED, DNS_RCODE_SERVFAIL,
	DNS_RCODE_FORMERR, DNS_RCODE_NOTIMP, DNS_RCODE_NOERROR,
};

START_TEST(test_error_reply)
{
	unsigned rcode = rcodes[_i];
	uint8_t out[DNS_ERROR_MAX];
	size_t outlen = sizeof(out);
	struct dns_query q;
	struct dns_answer ans;

	m_hdr(m, 0xa55a, DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "Blocked.Example.com", DNS_TYPE_AAAA, DNS_CLASS_IN);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_int_eq(dns_build_error(m->b, m->len, rcode, out, &outlen),
	    DNS_OK);
	ck_assert_uint_eq(outlen, m->len);
	ck_assert_uint_eq(get16(out), 0xa55a);
	ck_assert_uint_eq(get16(out + 2), DNS_F_QR | DNS_F_RD | DNS_F_RA |
	    rcode);
	ck_assert_uint_eq(get16(out + 4), 1);
	ck_assert_uint_eq(get16(out + 6), 0);
	ck_assert_uint_eq(get16(out + 8), 0);
	ck_assert_uint_eq(get16(out + 10), 0);
	/* The question as the client sent it, case included. */
	ck_assert_mem_eq(out + DNS_HDR_LEN, m->b + DNS_HDR_LEN,
	    m->len - DNS_HDR_LEN);
	/* It answers the query. */
	got->n = 0;
	ck_assert_int_eq(dns_answer_addrs(out, outlen, &q, &ans, collect,
	    got), DNS_OK);
	ck_assert_uint_eq(ans.rcode, rcode);
	ck_assert_uint_eq(got->n, 0);
}
END_TEST

START_TEST(test_error_flags)
{
	uint8_t out[DNS_ERROR_MAX];
	size_t outlen = sizeof(out);

	/* RD clear stays clear; CD is copied; AA, TC, AD, Z are not. */
	m_hdr(m, 1, DNS_F_CD | DNS_F_AD | DNS_F_AA | DNS_F_TC | 0x0040, 1, 0,
	    0, 0);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_REFUSED, out,
	    &outlen), DNS_OK);
	ck_assert_uint_eq(get16(out + 2), DNS_F_QR | DNS_F_RA | DNS_F_CD |
	    DNS_RCODE_REFUSED);

	/* NOTIMP for another opcode keeps the opcode and the question. */
	m_hdr(m, 2, 0x2000 | DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "example.com", 6, DNS_CLASS_IN);
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_NOTIMP, out,
	    &outlen), DNS_OK);
	ck_assert_uint_eq(get16(out + 2), DNS_F_QR | 0x2000 | DNS_F_RD |
	    DNS_F_RA | DNS_RCODE_NOTIMP);
	ck_assert_uint_eq(outlen, m->len);
	ck_assert_uint_eq(get16(out + 4), 1);

	/* In place: out may be the query's own buffer. */
	m_hdr(m, 3, DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	outlen = sizeof(m->b);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_NXDOMAIN,
	    m->b, &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, m->len);
	ck_assert_uint_eq(get16(m->b + 2), 0x8183);
	ck_assert_mem_eq(m->b + DNS_HDR_LEN, "\7example\3com\0\0\1\0\1", 17);
}
END_TEST

START_TEST(test_error_edns)
{
	uint8_t out[DNS_ERROR_MAX];
	size_t outlen = sizeof(out), qlen;
	struct dns_query q;
	struct dns_answer ans;

	m_hdr(m, 0x0102, DNS_F_RD, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	qlen = m->len;
	rr_opt(m, 4096, 0x00008000);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_SERVFAIL,
	    out, &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, qlen + 11);
	ck_assert_uint_eq(get16(out + 10), 1);
	ck_assert_mem_eq(out + qlen, "\0\0\51\4\320\0\0\200\0\0\0", 11);
	ck_assert_int_eq(dns_answer_addrs(out, outlen, &q, &ans, NULL, NULL),
	    DNS_OK);
	ck_assert_uint_eq(ans.rcode, DNS_RCODE_SERVFAIL);
	ck_assert(ans.edns);

	/* BADVERS (16): the upper bits go in the OPT record. */
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_BADVERS,
	    out, &outlen), DNS_OK);
	ck_assert_uint_eq(get16(out + 2) & DNS_F_RCODE, 0);
	ck_assert_uint_eq(out[qlen + 5], 1);
	ck_assert_int_eq(dns_answer_addrs(out, outlen, &q, &ans, NULL, NULL),
	    DNS_OK);
	ck_assert_uint_eq(ans.rcode, DNS_RCODE_BADVERS);

	/* Without EDNS there is nowhere to put them. */
	m_hdr(m, 0x0102, DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_BADVERS,
	    out, &outlen), DNS_EINVAL);
	ck_assert_int_eq(dns_build_error(m->b, m->len, 0x1000, out, &outlen),
	    DNS_EINVAL);
	ck_assert_int_eq(dns_build_error(m->b, m->len, 0, NULL, &outlen),
	    DNS_EINVAL);
	ck_assert_int_eq(dns_build_error(m->b, m->len, 0, out, NULL),
	    DNS_EINVAL);
}
END_TEST

START_TEST(test_error_formerr)
{
	uint8_t out[DNS_ERROR_MAX];
	size_t outlen = sizeof(out);

	/* The question cannot be read: the header id alone. */
	m_hdr(m, 0xdead, DNS_F_RD, 1, 0, 0, 0);
	m_raw(m, "\100abc\0\0\1\0\1", 9);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, DNS_HDR_LEN);
	ck_assert_mem_eq(out, "\336\255\201\201\0\0\0\0\0\0\0\0", 12);

	/* A truncated question, or none. */
	m_hdr(m, 0xbeef, 0, 1, 0, 0, 0);
	m_raw(m, "\7example\3com\0\0\1", 15);
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_OK);
	ck_assert_mem_eq(out, "\276\357\200\201\0\0\0\0\0\0\0\0", 12);
	m_hdr(m, 0xbeef, 0, 0, 0, 0, 0);
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, DNS_HDR_LEN);

	/* The question reads but the rest is broken: question, no OPT. */
	m_hdr(m, 0x0001, 0, 1, 0, 0, 1);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	m_raw(m, "\0\0\51\4\320\0\0\200\0\0\7", 11);
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, m->len - 11);
	ck_assert_uint_eq(get16(out + 4), 1);
	ck_assert_uint_eq(get16(out + 10), 0);

	/* No header: no reply. */
	outlen = sizeof(out);
	ck_assert_int_eq(dns_build_error(m->b, 11, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_ESHORT);
	/* Room for the header but not the question. */
	outlen = 20;
	ck_assert_int_eq(dns_build_error(m->b, m->len, DNS_RCODE_FORMERR, out,
	    &outlen), DNS_ENOSPC);
	ck_assert_uint_eq(outlen, 20);
}
END_TEST

START_TEST(test_set_id)
{
	m_hdr(m, 0x1111, DNS_F_RD, 1, 0, 0, 0);
	m_question(m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	ck_assert_int_eq(dns_set_id(m->b, m->len, 0xabcd), DNS_OK);
	ck_assert_uint_eq(get16(m->b), 0xabcd);
	ck_assert_uint_eq(get16(m->b + 2), DNS_F_RD);
	ck_assert_int_eq(dns_set_id(m->b, 11, 1), DNS_ESHORT);
	ck_assert_uint_eq(get16(m->b), 0xabcd);
}
END_TEST

START_TEST(test_cap_ttls)
{
	uint8_t before[MSG_MAX];
	size_t ttl[8], n = 0, i, opt;
	static const uint32_t want[] = { 300, 300, 60, 0, 0, 300, 300 };

	m_hdr(m, 1, ANS_F, 1, 0, 0, 0);
	m_question(m, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN);
	/* Owner pointer, type, class: the TTL is 6 octets in. */
	ttl[n++] = m->len + 6;
	rr_cname(m, NULL, DNS_HDR_LEN, 86400, "a.example.net");
	ttl[n++] = rr_addr(m, "a.example.net", 0, 3600, "192.0.2.1") - 4;
	ttl[n++] = rr_addr(m, "a.example.net", 0, 60, "192.0.2.2") - 4;
	ttl[n++] = rr_addr(m, "a.example.net", 0, 0, "192.0.2.3") - 4;
	ttl[n++] = rr_addr(m, "a.example.net", 0, 0x80000001u,
	    "192.0.2.4") - 4;
	ttl[n++] = rr_soa(m, "example.net", 7200, 86400) - 4;
	ttl[n++] = rr_addr(m, "ns.example.net", 0, 100000, "2001:db8::53") -
	    4;
	opt = rr_opt(m, 1232, 0x0100ffff) - 4;
	m_counts(m, 1, 5, 1, 2);
	ck_assert_uint_eq(get32(m->b + ttl[0]), 86400);

	memcpy(before, m->b, m->len);
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, 300), DNS_OK);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(get32(m->b + ttl[i]), want[i]);
		memcpy(before + ttl[i], m->b + ttl[i], 4);
	}
	/* The OPT "TTL" (flags) and every other octet are unchanged. */
	ck_assert_uint_eq(get32(m->b + opt), 0x0100ffff);
	ck_assert_mem_eq(before, m->b, m->len);

	/* Capping again changes nothing. */
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, UINT32_MAX), DNS_OK);
	ck_assert_mem_eq(before, m->b, m->len);
}
END_TEST

START_TEST(test_cap_ttls_bad)
{
	uint8_t before[MSG_MAX];

	m_hdr(m, 1, ANS_F, 1, 2, 0, 0);
	m_question(m, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN);
	rr_addr(m, NULL, DNS_HDR_LEN, 86400, "192.0.2.1");
	rr_addr(m, NULL, DNS_HDR_LEN, 86400, "192.0.2.2");
	memcpy(before, m->b, m->len);
	/* The second record is cut: nothing is rewritten. */
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len - 1, 60), DNS_ESHORT);
	ck_assert_mem_eq(before, m->b, m->len);
	/* A bad name in the second record. */
	m->b[m->len - 16] = 0xc0;
	m->b[m->len - 15] = 0xff;
	memcpy(before, m->b, m->len);
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, 60), DNS_EPTR);
	ck_assert_mem_eq(before, m->b, m->len);
}
END_TEST

START_TEST(test_strerror)
{
	enum dns_status st, st2;

	for (st = DNS_OK; st <= DNS_EINVAL; st++) {
		ck_assert_str_ne(dns_strerror(st), "unknown error");
		for (st2 = DNS_OK; st2 < st; st2++)
			ck_assert_str_ne(dns_strerror(st), dns_strerror(st2));
	}
	ck_assert_str_eq(dns_strerror(DNS_EINVAL + 1), "unknown error");
	ck_assert_str_eq(dns_strerror((enum dns_status)-1), "unknown error");
}
END_TEST

/* Filtering (DNS rebinding). */

/* Every call is recorded in arg (a struct got). */
static bool
keep_public(const struct dns_addr *a, void *arg)
{
	collect(a, arg);
	return !dns_addr_is_private(a);
}

static bool
keep_all(const struct dns_addr *a, void *arg)
{
	collect(a, arg);
	return true;
}

/* Filter m into fout with keep_public; calls gets keep's arguments. */
static enum dns_status
filter(const struct dns_query *q, size_t *ndropped)
{
	calls->n = 0;
	fout->len = MSG_MAX;
	*ndropped = 12345;
	return dns_answer_filter(m->b, m->len, q, keep_public, calls, fout->b,
	    &fout->len, ndropped);
}

/* The output is fwant, octet for octet. */
static void
ck_want(void)
{
	ck_assert_uint_eq(fout->len, fwant->len);
	ck_assert_mem_eq(fout->b, fwant->b, fwant->len);
}

static enum dns_status
answer_out(const struct dns_query *q, struct dns_answer *ans)
{
	got->n = 0;
	return dns_answer_addrs(fout->b, fout->len, q, ans, collect, got);
}

/* A one-address SvcParam, ipv4hint or ipv6hint. */
static void
m_hint(struct msg *mm, const char *addr)
{
	uint8_t a[16];
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(af, addr, a), 1);
	m_u16(mm, af == AF_INET ? 4 : 6);
	m_u16(mm, af == AF_INET ? 4 : 16);
	m_raw(mm, a, af == AF_INET ? 4 : 16);
}

/*
 * www.example.com -> a.cdn.example.net -> b.edge.example.org, whose name
 * is first written in full by a private A record that goes: the second
 * CNAME's target, the addresses kept after it and the SOA all point into
 * that record's owner, and an additional A points into the SOA's rdata.
 */
START_TEST(test_filter_basic)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t t1, o2, ns1, rdl, nd;

	make_query(&q, 0x5151, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	t1 = rr_cname(m, NULL, DNS_HDR_LEN, 300, "a.cdn.example.net");
	o2 = m->len;
	rr_addr(m, "b.edge.example.org", 0, 60, "10.1.2.3");
	rdl = rr_begin(m, NULL, t1, DNS_TYPE_CNAME, DNS_CLASS_IN, 120);
	m_ptr(m, o2);
	rr_end(m, rdl);
	rr_addr(m, NULL, o2, 3600, "192.0.2.10");
	rr_addr(m, NULL, o2, 90, "fe80::1");
	rr_addr(m, NULL, o2, 30, "2001:db8::10");
	rdl = rr_begin(m, NULL, o2 + 2, DNS_TYPE_SOA, DNS_CLASS_IN, 900);
	ns1 = m_labels(m, "ns1", o2 + 2);
	m_labels(m, "hostmaster", o2 + 2);
	m_u32(m, 1);
	m_u32(m, 7200);
	m_u32(m, 3600);
	m_u32(m, 1209600);
	m_u32(m, 60);
	rr_end(m, rdl);
	rr_addr(m, NULL, o2, 5, "127.0.0.1");
	rr_addr(m, NULL, ns1, 7, "198.51.100.1");
	/* Any class: a CH "A" of 4 octets is judged too. */
	rdl = rr_begin(m, NULL, o2, DNS_TYPE_A, 3, 8);
	m_raw(m, "\12\0\0\1", 4);
	rr_end(m, rdl);
	rr_opt(m, 1232, 0x00008000);
	m_counts(m, 1, 6, 1, 4);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 4);

	m_answer(fwant, &q, 0);
	rr_cname(fwant, "www.example.com", 0, 300, "a.cdn.example.net");
	rr_cname(fwant, "a.cdn.example.net", 0, 120, "b.edge.example.org");
	rr_addr(fwant, "b.edge.example.org", 0, 3600, "192.0.2.10");
	rr_addr(fwant, "b.edge.example.org", 0, 30, "2001:db8::10");
	rdl = rr_begin(fwant, "edge.example.org", 0, DNS_TYPE_SOA,
	    DNS_CLASS_IN, 900);
	m_name(fwant, "ns1.edge.example.org");
	m_name(fwant, "hostmaster.edge.example.org");
	m_u32(fwant, 1);
	m_u32(fwant, 7200);
	m_u32(fwant, 3600);
	m_u32(fwant, 1209600);
	m_u32(fwant, 60);
	rr_end(fwant, rdl);
	rr_addr(fwant, "ns1.edge.example.org", 0, 7, "198.51.100.1");
	rr_opt(fwant, 1232, 0x00008000);
	m_counts(fwant, 1, 4, 1, 2);

	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 4);
	ck_want();
	/* Uncompressed, it is longer than what came in. */
	ck_assert_uint_gt(fout->len, m->len);

	/* keep saw every address, in order, with the record's own TTL. */
	ck_assert_uint_eq(calls->n, 7);
	ck_addr(&calls->a[0], "10.1.2.3", DNS_TYPE_A, 60);
	ck_addr(&calls->a[1], "192.0.2.10", DNS_TYPE_A, 3600);
	ck_addr(&calls->a[2], "fe80::1", DNS_TYPE_AAAA, 90);
	ck_addr(&calls->a[3], "2001:db8::10", DNS_TYPE_AAAA, 30);
	ck_addr(&calls->a[4], "127.0.0.1", DNS_TYPE_A, 5);
	ck_addr(&calls->a[5], "198.51.100.1", DNS_TYPE_A, 7);
	ck_addr(&calls->a[6], "10.0.0.1", DNS_TYPE_A, 8);

	/* The output answers the query with the addresses kept. */
	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 2);
	ck_assert_uint_eq(got->n, 2);
	ck_addr(&got->a[0], "192.0.2.10", DNS_TYPE_A, 120);
	ck_addr(&got->a[1], "2001:db8::10", DNS_TYPE_AAAA, 30);
	ck_assert_uint_eq(ans.min_ttl, 30);
	ck_assert_uint_eq(ans.neg_ttl, 60);
	ck_assert(ans.edns);
	ck_assert(ans.edns_do);
	ck_assert_uint_eq(ans.flags, DNS_F_QR | DNS_F_RD | DNS_F_RA);
}
END_TEST

/*
 * HTTPS records: one wholly public (kept), one with a private ipv6hint,
 * one with a private ipv4hint first (keep is not asked about the second
 * address), an AliasMode one with a private hint (dropped too), one whose
 * target points into a dropped record's target, and an SVCB.
 */
START_TEST(test_filter_svcb)
{
	static const char params[] = P_ALPN P_V4HINT P_V6HINT;
	struct dns_query q;
	struct dns_answer ans;
	size_t t, tg, tc, rdl, nd;

	make_query(&q, 7, "svc.example.com", DNS_TYPE_HTTPS);
	m_answer(m, &q, 0);
	t = rr_cname(m, NULL, DNS_HDR_LEN, 100, "cdn.example.net");
	rdl = rr_begin(m, NULL, t, DNS_TYPE_HTTPS, DNS_CLASS_IN, 300);
	m_u16(m, 1);
	tg = m_name(m, "pool.cdn.example.net");
	m_raw(m, params, sizeof(params) - 1);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, t, DNS_TYPE_HTTPS, DNS_CLASS_IN, 300);
	m_u16(m, 2);
	m_labels(m, "alt", tg);
	m_hint(m, "192.0.2.3");
	m_hint(m, "fc00::1");
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, t, DNS_TYPE_HTTPS, DNS_CLASS_IN, 300);
	m_u16(m, 3);
	tc = m_labels(m, "far", tg);
	m_raw(m, "\0\4\0\10\300\250\1\1\300\0\2\11", 12);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, t, DNS_TYPE_HTTPS, DNS_CLASS_IN, 300);
	m_u16(m, 0);
	m_name(m, "alias.example.org");
	m_hint(m, "10.0.0.1");
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, t, DNS_TYPE_HTTPS, DNS_CLASS_IN, 200);
	m_u16(m, 4);
	m_ptr(m, tc);
	m_hint(m, "192.0.2.4");
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, t, DNS_TYPE_SVCB, DNS_CLASS_IN, 50);
	m_u16(m, 1);
	m_name(m, "");
	m_hint(m, "2001:db8::1");
	rr_end(m, rdl);
	m_counts(m, 1, 7, 0, 0);

	m_answer(fwant, &q, 0);
	rr_cname(fwant, "svc.example.com", 0, 100, "cdn.example.net");
	rdl = rr_begin(fwant, "cdn.example.net", 0, DNS_TYPE_HTTPS,
	    DNS_CLASS_IN, 300);
	m_u16(fwant, 1);
	m_name(fwant, "pool.cdn.example.net");
	m_raw(fwant, params, sizeof(params) - 1);
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "cdn.example.net", 0, DNS_TYPE_HTTPS,
	    DNS_CLASS_IN, 200);
	m_u16(fwant, 4);
	m_name(fwant, "far.pool.cdn.example.net");
	m_hint(fwant, "192.0.2.4");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "cdn.example.net", 0, DNS_TYPE_SVCB,
	    DNS_CLASS_IN, 50);
	m_u16(fwant, 1);
	m_name(fwant, "");
	m_hint(fwant, "2001:db8::1");
	rr_end(fwant, rdl);
	m_counts(fwant, 1, 4, 0, 0);

	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 3);
	ck_want();
	ck_assert_uint_eq(calls->n, 9);
	ck_addr(&calls->a[2], "2001:db8::1", DNS_TYPE_HTTPS, 300);
	ck_addr(&calls->a[4], "fc00::1", DNS_TYPE_HTTPS, 300);
	ck_addr(&calls->a[5], "192.168.1.1", DNS_TYPE_HTTPS, 300);
	ck_addr(&calls->a[6], "10.0.0.1", DNS_TYPE_HTTPS, 300);
	ck_addr(&calls->a[7], "192.0.2.4", DNS_TYPE_HTTPS, 200);
	ck_addr(&calls->a[8], "2001:db8::1", DNS_TYPE_SVCB, 50);

	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 5);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[1], "192.0.2.2", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[2], "2001:db8::1", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[3], "192.0.2.4", DNS_TYPE_HTTPS, 100);
	ck_addr(&got->a[4], "2001:db8::1", DNS_TYPE_SVCB, 50);
}
END_TEST

/*
 * Names in the rdata of NS, MX, PTR, SRV and NAPTR that point into a
 * dropped record are written out in full, keeping their case; an unknown
 * type's rdata and an MX whose name does not read are copied verbatim.
 */
START_TEST(test_filter_rdata_names)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t og, rdl, nd;

	make_query(&q, 0x0bad, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	og = m->len;
	rr_addr(m, "gone.Example.net", 0, 60, "10.0.0.7");
	rr_addr(m, NULL, DNS_HDR_LEN, 60, "192.0.2.1");
	rdl = rr_begin(m, NULL, og + 5, DNS_TYPE_NS, DNS_CLASS_IN, 600);
	m_labels(m, "ns1", og + 5);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, og + 5, DNS_TYPE_NS, DNS_CLASS_IN, 600);
	m_name(m, "NS2.Example.NET");
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, og, DNS_TYPE_MX, DNS_CLASS_IN, 300);
	m_u16(m, 10);
	m_labels(m, "mail", og);
	rr_end(m, rdl);
	rdl = rr_begin(m, "7.0.0.10.in-addr.arpa", 0, DNS_TYPE_PTR,
	    DNS_CLASS_IN, 300);
	m_ptr(m, og);
	rr_end(m, rdl);
	m_labels(m, "_sip._tcp", og + 5);
	rdl = rr_fixed(m, DNS_TYPE_SRV, DNS_CLASS_IN, 300);
	m_u16(m, 1);
	m_u16(m, 2);
	m_u16(m, 5060);
	m_labels(m, "sip", og + 5);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, og, 99, DNS_CLASS_IN, 300);
	m_raw(m, "\300\14\1x", 4);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, og, DNS_TYPE_MX, DNS_CLASS_IN, 300);
	m_raw(m, "\0\1\300\377", 4);
	rr_end(m, rdl);
	rdl = rr_begin(m, NULL, og, 35, DNS_CLASS_IN, 300);
	m_raw(m, "\0\144\0\12\1U\7E2U+sip\0", 15);
	m_labels(m, "nap", og + 5);
	rr_end(m, rdl);
	rr_addr(m, NULL, og, 0x80000005u, "::ffff:10.0.0.1");
	rr_opt(m, 4096, 0);
	m_counts(m, 1, 2, 2, 8);
	ck_assert_int_eq(answer(&q, &ans), DNS_OK);

	m_answer(fwant, &q, 0);
	rr_addr(fwant, "www.example.com", 0, 60, "192.0.2.1");
	rdl = rr_begin(fwant, "Example.net", 0, DNS_TYPE_NS, DNS_CLASS_IN,
	    600);
	m_name(fwant, "ns1.Example.net");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "Example.net", 0, DNS_TYPE_NS, DNS_CLASS_IN,
	    600);
	m_name(fwant, "NS2.Example.NET");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "gone.Example.net", 0, DNS_TYPE_MX,
	    DNS_CLASS_IN, 300);
	m_u16(fwant, 10);
	m_name(fwant, "mail.gone.Example.net");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "7.0.0.10.in-addr.arpa", 0, DNS_TYPE_PTR,
	    DNS_CLASS_IN, 300);
	m_name(fwant, "gone.Example.net");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "_sip._tcp.Example.net", 0, DNS_TYPE_SRV,
	    DNS_CLASS_IN, 300);
	m_u16(fwant, 1);
	m_u16(fwant, 2);
	m_u16(fwant, 5060);
	m_name(fwant, "sip.Example.net");
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "gone.Example.net", 0, 99, DNS_CLASS_IN, 300);
	m_raw(fwant, "\300\14\1x", 4);
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "gone.Example.net", 0, DNS_TYPE_MX,
	    DNS_CLASS_IN, 300);
	m_raw(fwant, "\0\1\300\377", 4);
	rr_end(fwant, rdl);
	rdl = rr_begin(fwant, "gone.Example.net", 0, 35, DNS_CLASS_IN, 300);
	m_raw(fwant, "\0\144\0\12\1U\7E2U+sip\0", 15);
	m_name(fwant, "nap.Example.net");
	rr_end(fwant, rdl);
	rr_opt(fwant, 4096, 0);
	m_counts(fwant, 1, 1, 2, 7);

	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 2);
	ck_want();
	ck_assert_uint_eq(calls->n, 3);
	ck_addr(&calls->a[0], "10.0.0.7", DNS_TYPE_A, 60);
	ck_addr(&calls->a[1], "192.0.2.1", DNS_TYPE_A, 60);
	/* A TTL with the top bit set counts as 0. */
	ck_addr(&calls->a[2], "::ffff:10.0.0.1", DNS_TYPE_AAAA, 0);
	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 1);
	ck_addr(&got->a[0], "192.0.2.1", DNS_TYPE_A, 60);
}
END_TEST

/*
 * Nothing to drop in an uncompressed answer: the same octets, less those
 * after the last record. Header flags (TC, AD), the rcode and its EDNS
 * extension are kept, and records are judged whatever the rcode.
 */
START_TEST(test_filter_unchanged)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t nd, len;

	make_query(&q, 0x1001, "www.example.com", DNS_TYPE_AAAA);
	m_answer(m, &q, 0);
	set16(m, 2, get16(m->b + 2) | DNS_F_TC | DNS_F_AD);
	rr_cname(m, "www.example.com", 0, 30, "v6.example.net");
	rr_addr(m, "v6.example.net", 0, 30, "2001:db8::1");
	rr_soa(m, "example.net", 60, 60);
	rr_addr(m, "ns.example.net", 0, 30, "192.0.2.53");
	rr_opt(m, 1232, 0);
	m_counts(m, 1, 2, 1, 2);
	len = m->len;
	m_raw(m, "junk", 4);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 0);
	ck_assert_uint_eq(fout->len, len);
	ck_assert_mem_eq(fout->b, m->b, len);

	/* NXDOMAIN (12 bits, with EDNS): a private glue address goes. */
	m_answer(m, &q, DNS_RCODE_NXDOMAIN);
	rr_soa(m, "example.com", 60, 30);
	rr_addr(m, "ns.example.com", 0, 30, "192.168.0.53");
	rr_opt(m, 1232, 0x01000000);
	m_counts(m, 1, 0, 1, 2);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 1);
	ck_assert_uint_eq(fout->len, m->len - 30);
	ck_assert_uint_eq(get16(fout->b + 10), 1);
	ck_assert_mem_eq(fout->b, m->b, 10);
	ck_assert_mem_eq(fout->b + 12, m->b + 12, fout->len - 12 - 11);
	ck_assert_mem_eq(fout->b + fout->len - 11, m->b + m->len - 11, 11);
	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.rcode, 0x13);
	ck_assert_uint_eq(ans.neg_ttl, 30);
}
END_TEST

/* Every address private: the CNAME stays, the answer has no address. */
START_TEST(test_filter_all)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t t, nd;

	make_query(&q, 3, "intranet.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	t = rr_cname(m, NULL, DNS_HDR_LEN, 300, "host.corp.example");
	rr_addr(m, NULL, t, 300, "10.0.0.1");
	rr_addr(m, NULL, t, 300, "172.16.0.1");
	rr_addr(m, NULL, t, 300, "::1");
	m_counts(m, 1, 4, 0, 0);

	m_answer(fwant, &q, 0);
	rr_cname(fwant, "intranet.example.com", 0, 300, "host.corp.example");
	m_counts(fwant, 1, 1, 0, 0);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 3);
	ck_want();
	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.ncname, 1);
	ck_assert_uint_eq(ans.naddrs, 0);
	ck_assert_uint_eq(ans.min_ttl, 300);

	/* keep_all drops nothing, and ndropped may be NULL. */
	fout->len = MSG_MAX;
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    fout->b, &fout->len, NULL), DNS_OK);
	ck_assert_int_eq(answer_out(&q, &ans), DNS_OK);
	ck_assert_uint_eq(ans.naddrs, 3);
}
END_TEST

/* What dns_answer_addrs() refuses is refused; keep is never called. */
START_TEST(test_filter_refuse)
{
	struct dns_query q, q2;
	struct dns_answer ans;
	size_t nd, outlen;

	make_query(&q, 0x4242, "www.example.com", DNS_TYPE_A);
	m_chain(m, &q, false);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);

	make_query(&q2, 0x4243, "www.example.com", DNS_TYPE_A);
	ck_assert_int_eq(filter(&q2, &nd), DNS_EMISMATCH);
	ck_assert_uint_eq(calls->n, 0);
	ck_assert_uint_eq(fout->len, MSG_MAX);
	set16(m, 2, DNS_F_RD);
	ck_assert_int_eq(filter(&q, &nd), DNS_EQR);
	ck_assert_uint_eq(calls->n, 0);
	m_long_chain(m, &q, DNS_CHAIN_MAX + 1);
	ck_assert_int_eq(filter(&q, &nd), DNS_ECHAIN);
	ck_assert_uint_eq(calls->n, 0);
	outlen = MSG_MAX;
	ck_assert_int_eq(dns_answer_filter(m->b, 11, &q, keep_all, calls,
	    fout->b, &outlen, &nd), DNS_ESHORT);

	/* Arguments. */
	m_chain(m, &q, false);
	outlen = MSG_MAX;
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, NULL, keep_all,
	    calls, fout->b, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, NULL, calls,
	    fout->b, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    NULL, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    fout->b, NULL, &nd), DNS_EINVAL);
	/* out may not overlap buf, at either end; it may follow it. */
	outlen = MSG_MAX - m->len;
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    m->b, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    m->b + m->len - 1, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b + 1, m->len - 1, &q,
	    keep_all, calls, m->b, &outlen, &nd), DNS_EINVAL);
	ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q, keep_all, calls,
	    m->b + m->len, &outlen, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 0);
	ck_assert_int_eq(dns_answer_addrs(m->b + m->len, outlen, &q, &ans,
	    NULL, NULL), DNS_OK);
	ck_assert_uint_eq(ans.naddrs, 2);
}
END_TEST

/* Private ranges: the edges of each, in both families. */
struct private_case {
	const char	*addr;
	bool		 private;
};

static const struct private_case privates[] = {
	{ "0.0.0.0", true },
	{ "0.255.255.255", true },
	{ "1.0.0.0", false },
	{ "9.255.255.255", false },
	{ "10.0.0.0", true },
	{ "10.255.255.255", true },
	{ "11.0.0.0", false },
	{ "100.63.255.255", false },
	{ "100.64.0.0", true },
	{ "100.127.255.255", true },
	{ "100.128.0.0", false },
	{ "126.255.255.255", false },
	{ "127.0.0.1", true },
	{ "127.255.255.255", true },
	{ "128.0.0.0", false },
	{ "169.253.255.255", false },
	{ "169.254.0.0", true },
	{ "169.254.255.255", true },
	{ "169.255.0.0", false },
	{ "172.15.255.255", false },
	{ "172.16.0.0", true },
	{ "172.31.255.255", true },
	{ "172.32.0.0", false },
	{ "192.167.255.255", false },
	{ "192.168.0.0", true },
	{ "192.168.255.255", true },
	{ "192.169.0.0", false },
	{ "8.8.8.8", false },
	{ "192.0.2.1", false },
	{ "224.0.0.1", false },
	{ "255.255.255.255", false },
	{ "::", true },
	{ "::1", true },
	{ "::2", false },
	{ "::1:0:0:1", false },
	{ "1::", false },
	{ "fe80::", true },
	{ "fe80::1", true },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
	{ "fec0::", false },
	{ "fc00::", true },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
	{ "fe00::", false },
	{ "ff02::1", false },
	{ "2001:db8::1", false },
	{ "::ffff:10.0.0.1", true },
	{ "::ffff:0.0.0.0", true },
	{ "::ffff:127.0.0.1", true },
	{ "::ffff:100.64.0.0", true },
	{ "::ffff:100.63.255.255", false },
	{ "::ffff:172.15.255.255", false },
	{ "::ffff:172.16.0.0", true },
	{ "::ffff:169.254.1.1", true },
	{ "::ffff:192.168.1.1", true },
	{ "::ffff:8.8.8.8", false },
	{ "::fffe:10.0.0.1", false },
	{ "::1:ffff:10.0.0.1", false },
	{ "::10.0.0.1", false },	/* IPv4-compatible: deprecated */
};

START_TEST(test_private)
{
	const struct private_case *c = &privates[_i];
	struct dns_addr a;
	int af = strchr(c->addr, ':') ? AF_INET6 : AF_INET;

	memset(&a, 0xee, sizeof(a));
	a.family = af;
	ck_assert_int_eq(inet_pton(af, c->addr, a.addr), 1);
	ck_assert_msg(dns_addr_is_private(&a) == c->private, "%s: %d",
	    c->addr, !c->private);
	/* Another family is never private. */
	a.family = AF_UNSPEC;
	ck_assert(!dns_addr_is_private(&a));
}
END_TEST

/* Limits. */

/* A rich answer: chain, hints, SOA, OPT. */
static void
m_rich_answer(struct msg *mm, struct dns_query *q)
{
	static const char params[] = P_ALPN P_V4HINT P_V6HINT;
	size_t t;

	make_query(q, 0x7777, "www.example.com", DNS_TYPE_HTTPS);
	m_answer(mm, q, 0);
	t = rr_cname(mm, NULL, DNS_HDR_LEN, 100, "cdn.example.net");
	rr_svcb(mm, t, DNS_TYPE_HTTPS, 1, ".", params, sizeof(params) - 1);
	rr_addr(mm, NULL, t, 50, "192.0.2.7");
	rr_soa(mm, "example.net", 900, 60);
	rr_opt(mm, 1232, 0);
	m_counts(mm, 1, 3, 1, 1);
}

/* Every proper prefix of a valid message is an error, read in bounds. */
START_TEST(test_truncated_answer)
{
	struct dns_query q;
	struct dns_answer ans;
	uint8_t *copy;
	size_t n;
	enum dns_status st;

	m_rich_answer(m, &q);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_OK);
	ck_assert_uint_eq(got->n, 4);
	for (n = 0; n < m->len; n++) {
		st = answer_exact(m->b, n, &q, &ans);
		ck_assert_msg(st != DNS_OK, "prefix %zu accepted", n);
		ck_assert_uint_eq(got->n, 0);
		/* And capping TTLs of the prefix changes nothing. */
		copy = malloc(n > 0 ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, m->b, n);
		ck_assert_int_ne(dns_cap_ttls(copy, n, 1), DNS_OK);
		ck_assert(n == 0 || memcmp(copy, m->b, n) == 0);
		free(copy);
	}
}
END_TEST

START_TEST(test_truncated_query)
{
	struct dns_query q;
	enum dns_status st;
	uint8_t *copy;
	size_t n;

	m_hdr(m, 1, DNS_F_RD, 1, 0, 0, 1);
	m_question(m, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN);
	m_raw(m, "\0\0\51\4\320\0\0\200\0\0\10\0\12\0\4abcd", 19);
	for (n = 0; n <= m->len; n++) {
		copy = malloc(n > 0 ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, m->b, n);
		st = dns_query_parse(copy, n, &q);
		if (n == m->len)
			ck_assert_int_eq(st, DNS_OK);
		else
			ck_assert_msg(st == DNS_ESHORT || st == DNS_ECOUNT,
			    "prefix %zu: %s", n, dns_strerror(st));
		free(copy);
	}
}
END_TEST

/*
 * Hostile compression pointers, in the owner of the one answer record.
 * The question "www.example.com" is at 12, its type at 29; the record
 * starts at 33.
 */
struct ptr_case {
	const char	*what;
	const char	*owner;		/* octets at offset 33 */
	size_t		 len;
	enum dns_status	 st;
};

#define PC(w, o, st)	{ w, o, sizeof(o) - 1, st }

static const struct ptr_case ptrs[] = {
	PC("to the question", "\300\14", DNS_OK),
	PC("into the question", "\3www\300\20", DNS_OK),
	PC("to itself", "\300\41", DNS_EPTR),
	PC("to itself after a label", "\1a\300\41", DNS_EPTR),
	PC("forward", "\300\43", DNS_EPTR),
	PC("far out of bounds", "\377\377", DNS_EPTR),
	PC("into the header", "\300\4", DNS_EPTR),
	PC("to offset 0", "\300\0", DNS_EPTR),
	PC("cut in half", "\300", DNS_ESHORT),
	PC("reserved type 0x40", "\100\14", DNS_EBADNAME),
	PC("reserved type 0x80", "\200\14", DNS_EBADNAME),
};

START_TEST(test_pointers)
{
	const struct ptr_case *c = &ptrs[_i];
	struct dns_query q;
	struct dns_answer ans;
	enum dns_status st;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	ck_assert_uint_eq(m->len, 33);
	m_raw(m, c->owner, c->len);
	if (c->st != DNS_ESHORT) {
		/* Type 99, class, TTL, empty rdata. */
		m_raw(m, "\0\143\0\1\0\0\0\0\0\0", 10);
	}
	m_counts(m, 1, 1, 0, 0);
	st = answer_exact(m->b, m->len, &q, &ans);
	ck_assert_msg(st == c->st, "%s: %s, want %s", c->what,
	    dns_strerror(st), dns_strerror(c->st));
}
END_TEST

/*
 * A loop A -> B -> A: B (a later owner) points back to A, whose labels
 * end with a pointer to B. The backward leg is allowed, the forward one
 * is not, so the walk from B stops at its second pointer.
 */
START_TEST(test_pointer_loop)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t a, b, rdl;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	/* Record 1: type 99, rdata "\1x" then a pointer to B (patched). */
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	a = m->len;
	m_raw(m, "\1x\300\0", 4);
	rr_end(m, rdl);
	/* Record 2: owner B = pointer to A. */
	b = m->len;
	rr_addr(m, NULL, a, 60, "192.0.2.1");
	m->b[a + 3] = (uint8_t)b;
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);

	/* The same with A and B the other way: A's pointer goes forward. */
	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	b = m->len;
	rdl = rr_begin(m, NULL, 0, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
	a = m->len;
	m_raw(m, "\1x\300\0", 4);
	rr_end(m, rdl);
	m->b[b + 1] = (uint8_t)a;
	m->b[a + 3] = (uint8_t)b;
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);
}
END_TEST

/*
 * A pointer that leads a name over the fixed fields of an earlier question
 * or record. The TTL of the first record, 0x01610000, reads "\1a\0" as a
 * name: capping that TTL would silently rename the second record.
 */
START_TEST(test_pointer_fixed)
{
	struct dns_query q;
	struct dns_answer ans;
	uint8_t before[MSG_MAX];
	size_t rdl, owner;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rdl = rr_addr(m, NULL, DNS_HDR_LEN, 0x01610000, "192.0.2.1");
	rr_addr(m, NULL, rdl - 4, 60, "192.0.2.2");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);
	memcpy(before, m->b, m->len);
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, 60), DNS_EPTR);
	ck_assert_mem_eq(before, m->b, m->len);

	/* The same with a TTL, 0xc00c0000, that reads as a pointer. */
	m_answer(m, &q, 0);
	rdl = rr_addr(m, NULL, DNS_HDR_LEN, 0xc00c0000u, "192.0.2.1");
	rr_addr(m, NULL, rdl - 4, 60, "192.0.2.2");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);

	/* Into the question's type (0x0001: a root and a label). */
	m_answer(m, &q, 0);
	rr_addr(m, NULL, DNS_HDR_LEN + 17, 60, "192.0.2.1");
	m_counts(m, 1, 1, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);

	/* Into an rdlength (0x0004), from a CNAME target. */
	m_answer(m, &q, 0);
	rdl = rr_addr(m, "a.example.com", 0, 60, "192.0.2.1");
	owner = rr_begin(m, NULL, DNS_HDR_LEN, DNS_TYPE_CNAME, DNS_CLASS_IN,
	    60);
	m_ptr(m, rdl);
	rr_end(m, owner);
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);

	/*
	 * Into the content of a label, "\1\13\0": read from the \13, an
	 * 11-octet label covers the root, the fixed fields after the name,
	 * and ends on the rdata "\0", a root.
	 */
	m_answer(m, &q, 0);
	owner = m->len;
	m_raw(m, "\1\13\0", 3);
	m_raw(m, "\0\143\0\1\0\0\0\0\0\1\0", 11);
	rr_addr(m, NULL, owner + 1, 60, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);
	/* From the start of that owner it is a name. */
	m->b[m->len - 15] = (uint8_t)owner;
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_OK);
}
END_TEST

/*
 * A pointer back into "\12ab", the end of an unknown record's rdata: read
 * forward, the 10-octet label runs over the pointer itself and the type,
 * class and half the TTL (256) of its own record; then "\1" "\0" and the
 * rdlength's "\0" end the name. Capping the TTL to 60 would rewrite that
 * owner. The run a pointer leads to must end before the pointer's run.
 */
START_TEST(test_pointer_overrun)
{
	struct dns_query q;
	struct dns_answer ans;
	uint8_t before[MSG_MAX];
	size_t rdl, x;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	x = m->len;
	m_raw(m, "\12ab", 3);
	rr_end(m, rdl);
	rr_addr(m, NULL, x, 256, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);
	memcpy(before, m->b, m->len);
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, 60), DNS_EPTR);
	ck_assert_mem_eq(before, m->b, m->len);

	/* A label that ends just before the pointer is fine. */
	m_answer(m, &q, 0);
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	x = m->len;
	m_raw(m, "\2ab\0", 4);
	rr_end(m, rdl);
	rr_addr(m, NULL, x, 256, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_OK);
	/* One octet longer, the next length octet would be the pointer. */
	m->b[x] = 3;
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);

	/*
	 * A pointer cut by the start of the run that led to it: its second
	 * octet, \14, is the first of the next owner "\14abcdefghijkl", and
	 * would point at the question.
	 */
	m_answer(m, &q, 0);
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	x = m->len;
	m_raw(m, "\2ab\300", 4);
	rr_end(m, rdl);
	m_labels(m, "abcdefghijkl", x);
	m_raw(m, "\0\1\0\1\0\0\0\0\0\4\300\0\2\1", 14);
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EPTR);
}
END_TEST

/*
 * A name reached through hops pointers, each to the one before: the owner
 * of the last record points at the last pointer of an unknown record's
 * rdata, which holds "\1a\0" then hops - 1 pointers.
 */
static enum dns_status
pointer_chain(int hops)
{
	struct dns_query q;
	struct dns_answer ans;
	size_t rdl, prev;
	int i;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	prev = m_name(m, "a");
	for (i = 0; i < hops - 1; i++) {
		size_t here = m->len;

		m_ptr(m, prev);
		prev = here;
	}
	rr_end(m, rdl);
	rr_addr(m, NULL, prev, 60, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	return answer_exact(m->b, m->len, &q, &ans);
}

START_TEST(test_pointer_hops)
{
	ck_assert_int_eq(pointer_chain(1), DNS_OK);
	ck_assert_int_eq(pointer_chain(DNS_PTR_MAX), DNS_OK);
	ck_assert_int_eq(pointer_chain(DNS_PTR_MAX + 1), DNS_ELOOP);
	ck_assert_int_eq(pointer_chain(1000), DNS_ELOOP);
}
END_TEST

/* A query for labels of the given lengths ('a's), read back. */
static enum dns_status
query_labels(const int *lens, size_t n, struct dns_query *q)
{
	uint8_t lab[64];
	size_t i;

	memset(lab, 'a', sizeof(lab));
	m_hdr(m, 1, 0, 1, 0, 0, 0);
	for (i = 0; i < n; i++) {
		m_u8(m, (unsigned)lens[i]);
		m_raw(m, lab, (size_t)lens[i] & 63);
	}
	m_u8(m, 0);
	m_u16(m, DNS_TYPE_A);
	m_u16(m, DNS_CLASS_IN);
	return dns_query_parse(m->b, m->len, q);
}

START_TEST(test_name_limits)
{
	static const int l63[] = { 63, 3 }, l64[] = { 64, 3 };
	/* 64 + 64 + 64 + 62 + 1 = 255 octets; one more is 256. */
	static const int n255[] = { 63, 63, 63, 61 };
	static const int n256[] = { 63, 63, 63, 62 };
	struct dns_query q;

	ck_assert_int_eq(query_labels(l63, 2, &q), DNS_OK);
	ck_assert_uint_eq(strlen(q.name), 67);
	ck_assert_int_eq(query_labels(l64, 2, &q), DNS_EBADNAME);
	ck_assert_int_eq(query_labels(n255, 4, &q), DNS_OK);
	ck_assert_uint_eq(q.qname_len, DNS_NAME_MAX);
	ck_assert_uint_eq(strlen(q.name), 253);
	ck_assert_int_eq(query_labels(n256, 4, &q), DNS_EBADNAME);
}
END_TEST

/* A name over 255 octets made of pointers to a name of 200 octets. */
START_TEST(test_name_limits_compressed)
{
	struct dns_query q;
	struct dns_answer ans;
	uint8_t lab[50];
	size_t rdl, first, second;
	int i;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	memset(lab, 'b', sizeof(lab));
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	first = m->len;
	for (i = 0; i < 4; i++) {
		m_u8(m, 49);
		m_raw(m, lab, 49);
	}
	m_u8(m, 0);			/* 201 octets */
	second = m->len;
	m_u8(m, 49);
	m_raw(m, lab, 49);
	m_ptr(m, first);		/* 50 + 201 = 251: fine */
	rr_end(m, rdl);
	rr_addr(m, NULL, second, 60, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_OK);
	/* One more label on the second name: 256. */
	m_answer(m, &q, 0);
	rdl = rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 0);
	first = m->len;
	for (i = 0; i < 4; i++) {
		m_u8(m, 49);
		m_raw(m, lab, 49);
	}
	m_u8(m, 0);
	second = m->len;
	m_u8(m, 49);
	m_raw(m, lab, 49);
	m_u8(m, 4);
	m_raw(m, lab, 4);
	m_ptr(m, first);
	rr_end(m, rdl);
	rr_addr(m, NULL, second, 60, "192.0.2.1");
	m_counts(m, 1, 2, 0, 0);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_EBADNAME);
}
END_TEST

/* The longest text: 250 escaped octets in 4 labels, 1003 characters. */
START_TEST(test_name_text_max)
{
	static const int lens[] = { 63, 63, 63, 61 };
	struct dns_query q;
	size_t i, j, off = DNS_HDR_LEN;

	ck_assert_int_eq(query_labels(lens, 4, &q), DNS_OK);
	for (i = 0; i < 4; i++) {
		for (j = 1; j <= (size_t)lens[i]; j++)
			m->b[off + j] = '.';
		off += 1 + (size_t)lens[i];
	}
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_OK);
	ck_assert_uint_eq(strlen(q.name), DNS_NAME_TEXT_MAX - 1);
	ck_assert(!q.hostname);
	ck_assert_mem_eq(q.name, "\\046\\046", 8);
}
END_TEST

/* Counts a 40-octet message cannot hold, in every section. */
struct count_case {
	unsigned	 qd, an, ns, ar;
};

static const struct count_case counts[] = {
	{ 1, 65535, 0, 0 },
	{ 1, 0, 65535, 0 },
	{ 1, 0, 0, 65535 },
	{ 65535, 0, 0, 0 },
	{ 1, 3, 0, 0 },		/* 12 + 5 + 33 = 50 > 40 */
	{ 6, 0, 0, 0 },		/* 12 + 30 = 42 > 40 */
	{ 65535, 65535, 65535, 65535 },
};

START_TEST(test_absurd_counts)
{
	const struct count_case *c = &counts[_i];
	struct dns_query q;
	struct dns_answer ans;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	m_answer(m, &q, 0);
	m_raw(m, "\300\14\0\1\0\1\0\0\0\0", 10);
	ck_assert_uint_eq(m->len, 43);
	m->len = 40;
	m_counts(m, c->qd, c->an, c->ns, c->ar);
	ck_assert_int_eq(answer_exact(m->b, m->len, &q, &ans), DNS_ECOUNT);
	ck_assert_int_eq(dns_cap_ttls(m->b, m->len, 0), DNS_ECOUNT);
	set16(m, 2, DNS_F_RD);
	ck_assert_int_eq(dns_query_parse(m->b, m->len, &q), DNS_ECOUNT);
}
END_TEST

/*
 * Every output size short of the message is DNS_ENOSPC, written into an
 * exact-size heap buffer (ASan sees a write past it); the exact size
 * gives the same octets as a large buffer.
 */
START_TEST(test_filter_nospace)
{
	struct dns_query q;
	uint8_t *buf;
	size_t n, outlen, nd;

	m_rich_answer(m, &q);
	rr_addr(m, NULL, DNS_HDR_LEN, 5, "127.0.0.1");
	m_counts(m, 1, 3, 1, 2);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 1);
	for (n = 0; n <= fout->len; n++) {
		buf = malloc(n > 0 ? n : 1);
		ck_assert_ptr_nonnull(buf);
		outlen = n;
		if (n < fout->len)
			ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q,
			    keep_public, calls, buf, &outlen, &nd),
			    DNS_ENOSPC);
		else {
			ck_assert_int_eq(dns_answer_filter(m->b, m->len, &q,
			    keep_public, calls, buf, &outlen, &nd), DNS_OK);
			ck_assert_uint_eq(outlen, n);
			ck_assert_mem_eq(buf, fout->b, n);
		}
		free(buf);
	}
}
END_TEST

/* Every proper prefix of an answer is refused before keep is called. */
START_TEST(test_filter_truncated)
{
	struct dns_query q;
	uint8_t *copy, dst[MSG_MAX];
	size_t n, outlen, nd;

	m_rich_answer(m, &q);
	for (n = 0; n < m->len; n++) {
		copy = malloc(n > 0 ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, m->b, n);
		calls->n = 0;
		outlen = sizeof(dst);
		ck_assert_int_ne(dns_answer_filter(copy, n, &q, keep_public,
		    calls, dst, &outlen, &nd), DNS_OK);
		ck_assert_uint_eq(calls->n, 0);
		ck_assert_uint_eq(outlen, sizeof(dst));
		free(copy);
	}
}
END_TEST

/*
 * n empty records of type 99 owned by a pointer to a 253-octet question
 * name: 12 octets each in, 263 out. The output may not pass 65535 octets,
 * however large the buffer: 248 records make 65493, 249 make 65756.
 */
static enum dns_status
filter_long(unsigned n, size_t *outlen)
{
	static const int lens[] = { 63, 63, 63, 59 };
	struct dns_query q;
	struct dns_answer ans;
	uint8_t *dst;
	size_t nd;
	enum dns_status st;
	unsigned i;

	ck_assert_int_eq(query_labels(lens, 4, &q), DNS_OK);
	ck_assert_uint_eq(q.qname_len, 253);
	set16(m, 2, ANS_F);
	for (i = 0; i < n; i++)
		rr_end(m, rr_begin(m, NULL, DNS_HDR_LEN, 99, DNS_CLASS_IN, 60));
	m_counts(m, 1, n, 0, 0);
	ck_assert_uint_eq(m->len, DNS_HDR_LEN + 257 + 12 * n);
	dst = malloc(70000);
	ck_assert_ptr_nonnull(dst);
	*outlen = 70000;
	st = dns_answer_filter(m->b, m->len, &q, keep_public, calls, dst,
	    outlen, &nd);
	if (st == DNS_OK) {
		ck_assert_uint_eq(nd, 0);
		ck_assert_uint_eq(get16(dst + 6), n);
		ck_assert_int_eq(dns_answer_addrs(dst, *outlen, &q, &ans, NULL,
		    NULL), DNS_OK);
	}
	free(dst);
	return st;
}

START_TEST(test_filter_max)
{
	size_t outlen;

	ck_assert_int_eq(filter_long(248, &outlen), DNS_OK);
	ck_assert_uint_eq(outlen, DNS_HDR_LEN + 257 + 248 * 263);
	ck_assert_int_eq(filter_long(249, &outlen), DNS_ENOSPC);
	ck_assert_uint_eq(outlen, 70000);
}
END_TEST

/* An owner reached through DNS_PTR_MAX pointers, written out as "a". */
START_TEST(test_filter_pointer_hops)
{
	struct dns_query q;
	size_t nd;

	make_query(&q, 1, "www.example.com", DNS_TYPE_A);
	ck_assert_int_eq(pointer_chain(DNS_PTR_MAX), DNS_OK);
	ck_assert_int_eq(filter(&q, &nd), DNS_OK);
	ck_assert_uint_eq(nd, 0);
	/* The owners: 15 octets more for the first, 1 for the A record. */
	ck_assert_uint_eq(fout->len, m->len + 16);
	ck_assert_mem_eq(fout->b + fout->len - 17, "\1a\0\0\1\0\1\0\0\0\74\0\4"
	    "\300\0\2\1", 17);
}
END_TEST

Suite *
wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_query_basic);
	tcase_add_test(core, test_query_edns);
	tcase_add_loop_test(core, test_query_names, 0,
	    sizeof(names) / sizeof(names[0]));
	tcase_add_loop_test(core, test_query_refuse, 0,
	    sizeof(query_muts) / sizeof(query_muts[0]));
	tcase_add_test(core, test_query_structure);
	tcase_add_test(core, test_answer_simple);
	tcase_add_test(core, test_answer_aaaa);
	tcase_add_test(core, test_answer_chain);
	tcase_add_test(core, test_answer_chain_only_from_question);
	tcase_add_test(core, test_answer_cname_loop);
	tcase_add_test(core, test_answer_chain_limit);
	tcase_add_loop_test(core, test_answer_mismatch, 0,
	    sizeof(mismatches) / sizeof(mismatches[0]));
	tcase_add_test(core, test_answer_negative);
	tcase_add_test(core, test_answer_edns);
	tcase_add_test(core, test_answer_svcb);
	tcase_add_loop_test(core, test_answer_shape, 0,
	    sizeof(shapes) / sizeof(shapes[0]));
	tcase_add_loop_test(core, test_error_reply, 0,
	    sizeof(rcodes) / sizeof(rcodes[0]));
	tcase_add_test(core, test_error_flags);
	tcase_add_test(core, test_error_edns);
	tcase_add_test(core, test_error_formerr);
	tcase_add_test(core, test_set_id);
	tcase_add_test(core, test_cap_ttls);
	tcase_add_test(core, test_cap_ttls_bad);
	tcase_add_test(core, test_strerror);
	tcase_add_test(core, test_filter_basic);
	tcase_add_test(core, test_filter_svcb);
	tcase_add_test(core, test_filter_rdata_names);
	tcase_add_test(core, test_filter_unchanged);
	tcase_add_test(core, test_filter_all);
	tcase_add_test(core, test_filter_refuse);
	tcase_add_loop_test(core, test_private, 0,
	    sizeof(privates) / sizeof(privates[0]));

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_truncated_answer);
	tcase_add_test(limits, test_truncated_query);
	tcase_add_loop_test(limits, test_pointers, 0,
	    sizeof(ptrs) / sizeof(ptrs[0]));
	tcase_add_test(limits, test_pointer_loop);
	tcase_add_test(limits, test_pointer_fixed);
	tcase_add_test(limits, test_pointer_overrun);
	tcase_add_test(limits, test_pointer_hops);
	tcase_add_test(limits, test_name_limits);
	tcase_add_test(limits, test_name_limits_compressed);
	tcase_add_test(limits, test_name_text_max);
	tcase_add_loop_test(limits, test_absurd_counts, 0,
	    sizeof(counts) / sizeof(counts[0]));
	tcase_add_test(limits, test_filter_nospace);
	tcase_add_test(limits, test_filter_truncated);
	tcase_add_test(limits, test_filter_max);
	tcase_add_test(limits, test_filter_pointer_hops);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
