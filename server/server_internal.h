/* server_internal.h - the server object (server.c) and the state each
 * module keeps in it. Modules below the server take the parts they need
 * (the engine takes sg_engine_t, the WebSocket writer its sg_ws_out_t);
 * this header is for the files that wire them together. */
#ifndef SG_SERVER_INTERNAL_H
#define SG_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <uv.h>

#include "buf.h"
#include "defer.h"
#include "engine.h"
#include "listen.h"
#include "log.h"
#include "map.h"
#include "observe.h"
#include "registry.h"
#include "siogate.h"
#include "stats.h"
#include "timers.h"
#include "ws.h"

_Static_assert(LWS_PRE <= SG_BUF_HEADROOM, "buffer headroom must fit the lws frame header");

typedef struct sg_socket sg_socket_t;
typedef struct sg_ackgroup sg_ackgroup_t;

struct sg_server {
    sg_config_t cfg;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    int owns_loop;
    struct lws_context *ctx;      /* NULL once shutdown began */
    struct lws_context *ctx_live; /* NULLed by lws when the context is fully gone */
    struct lws_vhost *vhost;
    struct lws_protocols protocols[2];
    sg_listener_t listener;
    sg_timers_t timers;           /* every deadline of the server */
    sg_timer_t slab_trim;         /* once a second: empty slab chunks go back (slab.h) */
    sg_defer_t defer;             /* safe points for frees */
    sg_stats_t stats;
    sg_engine_t engine;           /* Engine.IO sessions */
    sg_ws_out_t ws_out;
    char *eio_echo_path;
    uv_signal_t sig_int, sig_term;
    int signals_on;
    int stopping;
    int started;
    /* Socket.IO */
    sg_nsp_t *nsps;
    sg_map_t *nsp_map;
    sg_map_t *acks;               /* (socket, id) -> pending ack (acks.c) */
    sg_ackgroup_t *groups;        /* live broadcasts with acks (ackgroup.c) */
    sg_socket_t **dead_sockets;   /* disconnected, freed at a safe point */
    size_t ndead, capdead;
    int dead_hook;
    sg_backend_t *backend;        /* the cluster backend (registry.h) */
    struct sg_admin *admin;       /* the admin listener (admin.h), or NULL */
    const sg_observer_t *observer; /* who watches the Socket.IO layer (observe.h), or NULL */
    double started_at;            /* seconds since the epoch */
    /* drain.c */
    int draining;
    void (*drained)(sg_server_t *srv); /* what ends the drain */
    uv_timer_t drain_timer;
    uint64_t drain_start;
    size_t drain_total, drain_closed;
    void *app;
    void (*app_free)(void *);
    struct sg_stop_hook *stop_hooks; /* sg_server_on_stop, most recent first */
    struct {                      /* modules' /metrics families (sg_server__add_metrics) */
        void (*fn)(void *ud, sg_sbuf_t *out); /* sg_metrics_writer */
        void *ud;
    } metrics[4];
    size_t nmetrics;
};

/* ---- loop.c: the libwebsockets context on our loop ---- */
/** Create the lws context (no listener: listen.c accepts). 0 or SG_EIO. */
int sg_loop__start(sg_server_t *srv);
/** Finish what lws could not inside the loop once it ran dry. */
void sg_loop__finish(sg_server_t *srv);

/** Add (or, with fn NULL, remove the one of ud) a module's /metrics
 *  families; at most four modules. */
static inline void sg_server__add_metrics(sg_server_t *srv, void (*fn)(void *, sg_sbuf_t *),
                                          void *ud)
{
    size_t i = 0;
    while (i < srv->nmetrics && srv->metrics[i].ud != ud)
        i++;
    if (fn && i == srv->nmetrics && i < sizeof(srv->metrics) / sizeof(srv->metrics[0])) {
        srv->metrics[srv->nmetrics].fn = fn;
        srv->metrics[srv->nmetrics++].ud = ud;
    } else if (!fn && i < srv->nmetrics) {
        srv->metrics[i] = srv->metrics[--srv->nmetrics];
    }
}

#endif
