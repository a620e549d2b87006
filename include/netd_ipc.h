/*
 * The control protocol between netd and netctl, over a unix stream socket.
 * A message is a fixed header followed by len octets of JSON (an object).
 * Every request gets exactly one reply: NETD_IPC_OK with the result, or
 * NETD_IPC_ERROR with {"error": "..."}. A peer that sends a header with an
 * unknown type or a length over NETD_IPC_MAX gets an error reply and is
 * disconnected; the daemon never trusts the length or the body.
 */
#ifndef NETD_INCLUDE_NETD_IPC_H
#define NETD_INCLUDE_NETD_IPC_H

#include <stdint.h>

#define NETD_IPC_MAGIC		0x6e657464u	/* "netd" */
#define NETD_IPC_VERSION	1
#define NETD_IPC_MAX		(2 * 1024 * 1024)	/* body octets */

enum netd_ipc_type {
	NETD_IPC_OK = 0,	/* reply */
	NETD_IPC_ERROR,		/* reply: {"error": "..."} */
	NETD_IPC_STATUS,	/* {} */
	NETD_IPC_APPS,		/* {} */
	NETD_IPC_SHOW,		/* {"app": NAME or COMPONENTID} */
	NETD_IPC_REGISTER,	/* {"manifest": TEXT, "file": PATH, ["uid": N]}
				   the caller's pid (SO_PEERCRED) is the app */
	NETD_IPC_STOP,		/* {"app": NAME or COMPONENTID} */
	NETD_IPC_RELOAD,	/* {} */
	NETD_IPC_GRANT,		/* {"app": APP, "address": ADDR, "seconds": N}
				   what a DNS answer would grant, by hand */
	NETD_IPC_EVENTS,	/* {["follow": true]}: recent events; with
				   follow, each new event follows as an
				   NETD_IPC_OK message until the peer closes */
	NETD_IPC_TYPE_MAX,
};

/* Mutating requests need root or the admin group. */
#define NETD_IPC_IS_ADMIN(t)	((t) == NETD_IPC_REGISTER ||	\
				 (t) == NETD_IPC_STOP ||	\
				 (t) == NETD_IPC_RELOAD ||	\
				 (t) == NETD_IPC_GRANT)

struct netd_ipc_hdr {
	uint32_t	 magic;		/* NETD_IPC_MAGIC */
	uint16_t	 version;	/* NETD_IPC_VERSION */
	uint16_t	 type;		/* enum netd_ipc_type */
	uint32_t	 len;		/* body octets that follow */
} __attribute__((packed));

#endif /* NETD_INCLUDE_NETD_IPC_H */
