/* gw_internal.h - the state the parts of gateway mode share: the
 * bridge (gateway_bridge.c), the authentication (gateway_auth.c) and the
 * module that starts them (gateway.c). The parts see only this header. */
#ifndef SG_GW_INTERNAL_H
#define SG_GW_INTERNAL_H

#include <uv.h>

#include "authreq.h"
#include "buf.h"
#include "jwt.h"
#include "map.h"
#include "redis_conn.h"
#include "siogate.h"

/* What each part counts (read by gateway.c for /metrics). */
typedef struct sg_gw_counters {
    uint64_t entries, failed, replies, stray_replies, ack_timeouts, ack_errors, ack_busy;
    uint64_t too_large, rate_limited; /* routed events refused before an entry was made */
    size_t pending;
    uint64_t auth_ok, auth_refused, auth_errors;
} sg_gw_counters_t;

typedef struct sg_gw_route {
    char *nsp;
    char *pattern; /* '*' matches any run of characters */
    struct sg_gw_route *next;
} sg_gw_route_t;

/* What the bridge keeps per socket (gateway_bridge.c). */
typedef struct sg_gw_sock {
    sg_buf_t *summary; /* the handshake summary as JSON text, made once */
    uint32_t pending;  /* its acks awaiting a worker */
    uint8_t gone;      /* it disconnected; freed with its last pending ack */
    double tokens;     /* bridgeRate's bucket (filled to bridgeBurst at creation) */
    uint64_t refill;   /* when tokens was last topped up, loop ms */
} sg_gw_sock_t;

/* An ack of a routed event, waiting for a worker's reply. All share one
 * timeout, so the list in creation order is also in deadline order and one
 * timer serves them. */
typedef struct sg_gw_pending {
    char token[24];
    sg_ack_t *ack;
    sg_gw_sock_t *sock;
    uint64_t deadline;
    struct sg_gw_pending *prev, *next;
} sg_gw_pending_t;

typedef struct sg_gw sg_gw_t;

struct sg_gw {
    sg_server_t *srv;
    const sg_config_t *cfg;
    uv_loop_t *loop;
    /* bridge */
    sg_redis_t *redis;
    char node[65];
    char maxlen[24];   /* bridgeMaxLen as XADD's argument, formatted once */
    char *reply_channel;
    sg_gw_route_t *routes;
    sg_map_t *pending; /* token -> sg_gw_pending_t */
    sg_map_t *socks;   /* socket id -> sg_gw_sock_t */
    sg_gw_pending_t *head, *tail;
    uv_timer_t timer;
    uint64_t next_token;
    /* authentication */
    sg_jwt_verifier_t *jwt;
    sg_authreq_url_t *auth_url;
    struct sg_gw_authing *authing; /* CONNECTs waiting for authUrl */
    size_t nauthing;
    sg_socket_t *joining;          /* being accepted now ... */
    json_t *joining_rooms;         /* ... and the rooms it joins */
    sg_gw_counters_t st;
    int stopped; /* the server stops: handlers do nothing (disconnects still come) */
};

/** A JSON object of what a backend should know of s: address, time,
 *  secure, query and socket.data (claims of its token). New reference. */
static inline json_t *sg_gw__summary(sg_socket_t *s)
{
    static const char *const keep[] = {"address", "time", "secure", "query"};
    json_t *hs = sg_socket_handshake(s);
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(hs, keep[i]);
        if (v)
            json_object_set(o, keep[i], v);
    }
    json_object_set(o, "data", sg_socket_data_json(s));
    return o;
}

/* gateway_bridge.c */
int sg_gw__bridge_start(sg_gw_t *g, char *err, size_t errlen);
/** Answer what waits, close the Redis connection and the timer. */
void sg_gw__bridge_stop(sg_gw_t *g);

/* gateway_auth.c */
int sg_gw__auth_start(sg_gw_t *g, char *err, size_t errlen);
void sg_gw__auth_stop(sg_gw_t *g);

#endif
