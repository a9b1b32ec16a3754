/* gateway_internal.h - what gateway.c (the bridge) and gateway_auth.c
 * share. */
#ifndef SG_GATEWAY_INTERNAL_H
#define SG_GATEWAY_INTERNAL_H

#include <uv.h>

#include "authreq.h"
#include "gateway.h"
#include "jwt.h"
#include "map.h"
#include "redis_conn.h"

typedef struct sg_gw_route {
    char *nsp;
    char *pattern; /* '*' matches any run of characters */
    struct sg_gw_route *next;
} sg_gw_route_t;

/* An ack of a routed event, waiting for a worker's reply. All share one
 * timeout, so the list in creation order is also in deadline order and one
 * timer serves them. */
typedef struct sg_gw_pending {
    char token[24];
    sg_ack_t *ack;
    uint64_t deadline;
    struct sg_gw_pending *prev, *next;
} sg_gw_pending_t;

struct sg_gateway {
    sg_server_t *srv;
    const sg_config_t *cfg;
    uv_loop_t *loop;
    /* bridge */
    sg_redis_t *redis;
    char node[65];
    char *reply_channel;
    sg_gw_route_t *routes;
    sg_map_t *pending; /* token -> sg_gw_pending_t */
    sg_map_t *summaries; /* socket id -> its summary as JSON text (sg_buf_t) */
    sg_gw_pending_t *head, *tail;
    uv_timer_t timer;
    uint64_t next_token;
    /* authentication */
    sg_jwt_verifier_t *jwt;
    sg_authreq_url_t *auth_url;
    struct sg_gw_authing *authing; /* CONNECTs waiting for authUrl */
    sg_socket_t *joining;          /* being accepted now ... */
    json_t *joining_rooms;         /* ... and the rooms it joins */
    sg_gateway_stats_t st;
    int stopped; /* the server stops: handlers do nothing (disconnects still come) */
};

/* gateway.c: the bridge */
int sg_gw__bridge_start(sg_gateway_t *g, char *err, size_t errlen);
void sg_gw__bridge_stop(sg_gateway_t *g);
/** A JSON object of what a backend should know of s: address, time,
 *  secure, query and socket.data (claims of its token). New reference. */
json_t *sg_gw__summary(sg_socket_t *s);

/* gateway_auth.c */
int sg_gw__auth_start(sg_gateway_t *g, char *err, size_t errlen);
void sg_gw__auth_stop(sg_gateway_t *g);

#endif
