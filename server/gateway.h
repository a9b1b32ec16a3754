/* gateway.h - gateway mode: client events handed to workers in any
 * language through a Redis Stream (the bridge, gateway.c), and connect-time
 * authentication by JSON Web Token or an HTTP endpoint (gateway_auth.c).
 *
 * Both sit on the embedding API like an app: the bridge is a catch-all
 * event handler on each routed namespace (events an app handles itself stay
 * with the app), the authentication a middleware on every namespace. Entry
 * and reply formats: README, "Gateway mode". */
#ifndef SG_GATEWAY_H
#define SG_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "siogate.h"

typedef struct sg_gateway sg_gateway_t;

/** Install what the configuration asks for (bridge != off, authJwt != off,
 *  authUrl set) on srv; *out is NULL when nothing is on. 0, or SG_EINVAL
 *  with err filled (a key that does not load, a bad authUrl, a bad Redis
 *  URL). Call after the apps are installed, before sg_server_start. The
 *  gateway frees itself when the server stops. */
int sg_gateway_install(sg_server_t *srv, sg_gateway_t **out, char *err, size_t errlen);

typedef struct sg_gateway_stats {
    uint64_t entries;        /* entries appended (events, connects, disconnects) */
    uint64_t failed;         /* entries not appended: Redis down or refusing */
    uint64_t replies;        /* worker replies delivered to a client's ack */
    uint64_t stray_replies;  /* replies for no pending ack (late, garbled, other node) */
    uint64_t ack_timeouts;   /* acks answered "bridge timeout" */
    uint64_t ack_errors;     /* acks answered "bridge unavailable" */
    uint64_t ack_busy;       /* acks answered "bridge busy" (bridgeMaxPending) */
    size_t pending;          /* acks awaiting a worker now */
    uint64_t auth_ok, auth_refused, auth_errors; /* connect-time authentication */
    int redis_up;            /* the bridge's Redis is connected */
} sg_gateway_stats_t;

void sg_gateway_stats(const sg_gateway_t *g, sg_gateway_stats_t *out);

#endif
