/*
 * dns: the DNS wire format for the filtering proxy. A pure library over
 * caller-owned buffers: no sockets, no globals, no allocation. It parses
 * client queries and upstream answers, and builds or patches replies; it
 * is not a resolver, a cache or a general record decoder.
 *
 * Every read goes through a cursor that checks the length first; nothing
 * past len is ever read. A compression pointer must point at or after the
 * header and strictly before the start of the labels that contain it, and
 * the labels it leads to must end before that start too: every hop goes
 * wholly backwards. A name follows at most DNS_PTR_MAX pointers. A name
 * reached through a pointer must not run over the type, class, TTL or
 * rdlength octets of a question or record, so rewriting TTLs in place
 * never changes a name. Malformed input returns a specific dns_status; a
 * message is never trusted in part.
 *
 * Names given to the policy matcher are text (struct dns_query); names in
 * answers are compared on the wire, ignoring ASCII case, never as text.
 */
#ifndef NETD_INCLUDE_DNS_H
#define NETD_INCLUDE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN		12
#define DNS_NAME_MAX		255	/* wire octets, root label included */
#define DNS_LABEL_MAX		63
/* Text form of the longest name with every octet escaped, and its NUL. */
#define DNS_NAME_TEXT_MAX	1004
/* Pointers followed in one name: one a label is all a name can use. */
#define DNS_PTR_MAX		127
/* CNAME records followed from the question name. */
#define DNS_CHAIN_MAX		16
/* Room for any reply dns_build_error() makes. */
#define DNS_ERROR_MAX		(DNS_HDR_LEN + DNS_NAME_MAX + 4 + 11)
/* UDP payload size announced in the OPT record of our error replies. */
#define DNS_EDNS_UDP		1232
#define DNS_TTL_NONE		UINT32_MAX

#define DNS_CLASS_IN		1

#define DNS_TYPE_A		1
#define DNS_TYPE_NS		2
#define DNS_TYPE_CNAME		5
#define DNS_TYPE_SOA		6
#define DNS_TYPE_PTR		12
#define DNS_TYPE_MX		15
#define DNS_TYPE_AAAA		28
#define DNS_TYPE_SRV		33
#define DNS_TYPE_OPT		41
#define DNS_TYPE_SVCB		64
#define DNS_TYPE_HTTPS		65

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_NOTIMP	4
#define DNS_RCODE_REFUSED	5
#define DNS_RCODE_BADVERS	16	/* needs EDNS */

/* Header flags, in the second 16-bit word of the header. */
#define DNS_F_QR		0x8000
#define DNS_F_OPCODE		0x7800
#define DNS_F_AA		0x0400
#define DNS_F_TC		0x0200
#define DNS_F_RD		0x0100
#define DNS_F_RA		0x0080
#define DNS_F_AD		0x0020
#define DNS_F_CD		0x0010
#define DNS_F_RCODE		0x000f

enum dns_status {
	DNS_OK = 0,
	DNS_ESHORT,		/* message ends inside a field */
	DNS_EBADNAME,		/* reserved label type, label over 63, or
				   name over 255 octets */
	DNS_ELOOP,		/* more than DNS_PTR_MAX pointers in a name */
	DNS_EPTR,		/* pointer not strictly backwards, or into
				   the header */
	DNS_ECOUNT,		/* section counts cannot fit in the message */
	DNS_EFORMAT,		/* wrong structure: question count, rdata
				   size for its type, OPT, SVCB parameters */
	DNS_EQR,		/* QR bit wrong for the direction */
	DNS_EOPCODE,		/* opcode is not QUERY */
	DNS_EMISMATCH,		/* answer id or question differs from the
				   query's */
	DNS_ECHAIN,		/* CNAME chain longer than DNS_CHAIN_MAX */
	DNS_ENOSPC,		/* output buffer too small */
	DNS_EINVAL,		/* invalid argument */
};

const char	*dns_strerror(enum dns_status);

/*
 * A client query, filled in by dns_query_parse(). Plain data that the
 * caller owns and may embed or copy.
 *
 * name is the question name in presentation form: lower case, labels
 * joined by '.', no trailing dot, "." for the root. Octets other than
 * [A-Za-z0-9_-] (a '.' or a space inside a label, NUL, 8-bit octets) are
 * written as \DDD, so the text is printable, unambiguous and safe to log.
 * hostname is true when no octet needed an escape and the name is not the
 * root: only such names go to the policy matcher, the proxy answers the
 * others locally (a policy entry can never hold an escaped octet).
 */
struct dns_query {
	uint16_t	 id;
	uint16_t	 flags;		/* raw header flags (DNS_F_*) */
	bool		 rd;
	uint16_t	 qtype;
	uint16_t	 qclass;
	uint8_t		 qname[DNS_NAME_MAX];	/* wire form, as received */
	size_t		 qname_len;
	char		 name[DNS_NAME_TEXT_MAX];
	bool		 hostname;
	bool		 edns;		/* an OPT record was present */
	uint16_t	 edns_udp;	/* as sent (RFC 6891: < 512 is 512) */
	uint8_t		 edns_version;
	bool		 edns_do;
	size_t		 qend;		/* offset after the question */
};

/*
 * Parse a client query of len octets: QR clear, opcode QUERY, exactly one
 * question, no answer or authority records; the additional section may
 * hold one OPT record (owner the root) and other records, which are
 * checked for shape and skipped. Octets after the last record are ignored.
 *
 * Returns DNS_OK and fills q, or an error and leaves q unspecified. The
 * proxy drops DNS_EQR (a reply sent to it) and DNS_ESHORT without a
 * header, answers DNS_EOPCODE with NOTIMP and other errors with FORMERR
 * (dns_build_error()).
 */
enum dns_status	 dns_query_parse(const uint8_t *buf, size_t len,
		    struct dns_query *q);

/* An address reached from the question name. Plain data. */
struct dns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network byte order */
	uint16_t	 type;		/* A, AAAA, SVCB or HTTPS (a hint) */
	/*
	 * Seconds: the least of the record's TTL and the TTLs of the CNAME
	 * records that led to its owner. A TTL with the top bit set counts
	 * as 0 (RFC 2181 §8).
	 */
	uint32_t	 ttl;
};

/* What dns_answer_addrs() learned besides the addresses. Plain data. */
struct dns_answer {
	uint16_t	 flags;		/* raw header flags (DNS_F_*) */
	uint16_t	 rcode;		/* 12 bits, with the OPT extension */
	bool		 tc;
	bool		 edns;
	uint16_t	 edns_udp;
	bool		 edns_do;
	size_t		 naddrs;	/* addresses passed to the callback */
	size_t		 ncname;	/* CNAME records followed */
	/* Least TTL of the CNAMEs followed and the addresses, or NONE. */
	uint32_t	 min_ttl;
	/* Negative caching: least of the SOA TTL and its MINIMUM field,
	   from the first SOA of the authority section, or NONE. */
	uint32_t	 neg_ttl;
};

/*
 * Check that the upstream answer of len octets answers q (QR set, opcode
 * QUERY, q's id, one question whose name equals q's ignoring ASCII case,
 * same type and class), check the shape of every record, then follow the
 * CNAME chain of the answer section from the question name: the first
 * CNAME of each name is followed, a target already reached ends the chain,
 * more than DNS_CHAIN_MAX hops is DNS_ECHAIN. Records for names outside
 * the chain, of another class, or in other sections are ignored.
 *
 * Only when the whole message is valid and its rcode is NOERROR, cb (which
 * may be NULL) is called once for every A and AAAA record of a reached
 * name and every address of the ipv4hint and ipv6hint parameters of its
 * ServiceMode SVCB and HTTPS records, in message order; an address may
 * repeat. ans is always filled on DNS_OK. The callback must not keep the
 * dns_addr pointer. An upstream id other than the client's (c-ares picks
 * its own) is put back with dns_set_id() first. The walk costs up to
 * DNS_CHAIN_MAX + 2 passes over the answer section.
 */
enum dns_status	 dns_answer_addrs(const uint8_t *buf, size_t len,
		    const struct dns_query *q, struct dns_answer *ans,
		    void (*cb)(const struct dns_addr *, void *), void *arg);

/*
 * Build a reply to the query in buf with the given rcode (0-15, or up to
 * 4095 when the query had a valid OPT record) into out, whose size is
 * *outlen; on DNS_OK *outlen is set to the reply's length (at most
 * DNS_ERROR_MAX). The reply keeps the id, the opcode and the RD and CD
 * bits, sets QR and RA, and echoes the first question when it parses
 * (qdcount 1) or echoes nothing (all counts 0); when the whole query
 * parsed and had EDNS, it carries an OPT record (DNS_EDNS_UDP, DO copied).
 * Returns DNS_ESHORT when buf holds no header, DNS_ENOSPC, DNS_EINVAL.
 * out may be buf itself (a reply in place); other overlaps are not
 * allowed. It does not judge the query: the caller decides whether to
 * reply.
 */
enum dns_status	 dns_build_error(const uint8_t *buf, size_t len,
		    unsigned rcode, uint8_t *out, size_t *outlen);

/* Set the message id in place. DNS_ESHORT if buf holds no header. */
enum dns_status	 dns_set_id(uint8_t *buf, size_t len, uint16_t id);

/*
 * Lower, in place, every TTL of the answer, authority and additional
 * sections (OPT excepted) to at most max_ttl; a TTL with the top bit set
 * becomes 0. The whole message is checked first: on error buf is left
 * unchanged.
 */
enum dns_status	 dns_cap_ttls(uint8_t *buf, size_t len, uint32_t max_ttl);

/*
 * DNS rebinding protection: copy the upstream answer buf of len octets
 * into out, whose size is *outlen, leaving out every A and AAAA record,
 * of any section and class, whose address keep(addr, arg) rejects, and
 * every SVCB and HTTPS record (AliasMode too) one of whose ipv4hint or
 * ipv6hint addresses it rejects. keep gets the address with the record's
 * type and its own TTL (top bit set counts as 0), and must not keep the
 * pointer; it is not called again for a record already left out.
 * Everything else is kept, in order: the header with its id, flags and
 * rcode (the counts recomputed), the question as received, every other
 * record, OPT. Octets after the last record are not copied.
 *
 * Leaving out a record would break compression pointers into it, so the
 * output holds none: owner names are written out in full, and so are the
 * names in the rdata of NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX
 * (RFC 3597 §4), RP, AFSDB, RT, SIG, PX, NXT, NAPTR, SRV (which it says to
 * decompress too) and the target of SVCB and HTTPS. Other rdata is copied
 * verbatim: it may not hold compressed names. So is rdata of those types
 * that does not have their shape, which dns_answer_addrs() does not check
 * beyond CNAME, SOA, SVCB and HTTPS. The output can be longer than buf.
 *
 * The answer is first checked as dns_answer_addrs() does, with any rcode;
 * its errors are returned as they are, and nothing is written. On DNS_OK,
 * *outlen is the output's length and *ndropped (if not NULL) the number
 * of records left out; the output answers q as buf did (for zero records
 * left out, the caller may as well send buf). DNS_ENOSPC when the output
 * needs more than *outlen or 65535 octets; DNS_EINVAL when q, keep, out
 * or outlen is NULL or out overlaps buf. On error *outlen and *ndropped
 * are unchanged and out holds unspecified octets, but nothing is read or
 * written out of bounds.
 */
enum dns_status	 dns_answer_filter(const uint8_t *buf, size_t len,
		    const struct dns_query *q,
		    bool (*keep)(const struct dns_addr *, void *), void *arg,
		    uint8_t *out, size_t *outlen, size_t *ndropped);

/*
 * Whether addr lies in a range private to a site or a host: IPv4 0/8,
 * 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16; IPv6 ::,
 * ::1, fe80::/10, fc00::/7, and the IPv4-mapped (::ffff:0:0/96) forms of
 * the IPv4 ranges. False for any other family. XXX NAT64 (64:ff9b::/96)
 * and 6to4 forms of private IPv4 addresses are not recognized.
 */
bool		 dns_addr_is_private(const struct dns_addr *);

#endif /* NETD_INCLUDE_DNS_H */
