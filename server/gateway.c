/* gateway.c - gateway mode as a module: starts the bridge
 * (gateway_bridge.c) and the authentication (gateway_auth.c) that the
 * configuration asks for, stops them with the server, frees them with it,
 * and shows their counters on /metrics. */
#include <string.h>

#include "gateway.h"
#include "gw_internal.h"
#include "metrics.h"
#include "server_internal.h"
#include "util.h"

/* Nothing the gateway drops goes uncounted: these are those counters. */
static void write_metrics(void *ud, sg_sbuf_t *o)
{
    const sg_gw_t *g = ud;
    const sg_gw_counters_t *c = &g->st;
    if (g->pending) {
        sg_metrics_one(o, "siogate_bridge_entries_total", "counter",
                       "Entries appended to bridgeStream (events, connects, disconnects).",
                       c->entries);
        sg_metrics_one(o, "siogate_bridge_failed_total", "counter",
                       "Entries not appended: the bridge's Redis was down or refused.", c->failed);
        sg_metrics_one(o, "siogate_bridge_replies_total", "counter",
                       "Worker replies delivered to a client's ack.", c->replies);
        sg_metrics_one(o, "siogate_bridge_stray_replies_total", "counter",
                       "Replies that matched no pending ack (late, malformed, or another node's).",
                       c->stray_replies);
        const char *name = "siogate_bridge_ack_errors_total";
        sg_metrics_head(o, name, "counter",
                        "Client acks of routed events answered with an error, by cause.");
        sg_metrics_labelled(o, name, "cause", "timeout", c->ack_timeouts);
        sg_metrics_labelled(o, name, "cause", "unavailable", c->ack_errors);
        sg_metrics_labelled(o, name, "cause", "busy", c->ack_busy);
        name = "siogate_bridge_refused_total";
        sg_metrics_head(o, name, "counter",
                        "Routed events refused before an entry was made, by cause.");
        sg_metrics_labelled(o, name, "cause", "too_large", c->too_large);
        sg_metrics_labelled(o, name, "cause", "rate_limit", c->rate_limited);
        sg_metrics_one(o, "siogate_bridge_pending_acks", "gauge",
                       "Acks awaiting a worker's reply.", c->pending);
        sg_metrics_one(o, "siogate_bridge_up", "gauge",
                       "1 while the bridge's Redis connection is ready.",
                       g->redis && sg_redis_can_send(g->redis));
    }
    if (g->jwt || g->auth_url) {
        const char *name = "siogate_auth_total";
        sg_metrics_head(o, name, "counter", "Connect-time authentications, by result.");
        sg_metrics_labelled(o, name, "result", "accepted", c->auth_ok);
        sg_metrics_labelled(o, name, "result", "refused", c->auth_refused);
        sg_metrics_labelled(o, name, "result", "error", c->auth_errors);
    }
}

/* At stop, while the sockets and the loop are still there: answer what
 * waits, close the connections; the handlers see `stopped` from here on
 * (disconnects still come). */
static void gateway_stop(void *ud)
{
    sg_gw_t *g = ud;
    sg_server__add_metrics(g->srv, NULL, g);
    g->stopped = 1;
    sg_gw__auth_stop(g);
    if (g->pending)
        sg_gw__bridge_stop(g);
}

/* Once every socket is gone (sg_server_free). */
static void gateway_release(void *ud)
{
    sg_free(ud);
}

int sg_gateway_install(sg_server_t *srv, sg_gateway_t **out, char *err, size_t errlen)
{
    const sg_config_t *cfg = sg_server_config(srv);
    *out = NULL;
    int bridge = strcmp(cfg->bridge, "off") != 0;
    int auth = strcmp(cfg->auth_jwt, "off") != 0 || (cfg->auth_url && cfg->auth_url[0]);
    if (!bridge && !auth)
        return 0;
    sg_gw_t *g = sg_calloc(1, sizeof(*g));
    g->srv = srv;
    g->cfg = cfg;
    g->loop = sg_server_loop(srv);
    /* the bridge first: it may create namespaces, which auth then guards */
    int rc = bridge ? sg_gw__bridge_start(g, err, errlen) : 0;
    if (rc == 0 && auth)
        rc = sg_gw__auth_start(g, err, errlen);
    if (rc != 0) {
        /* handlers may be on namespaces already: g lives until the server goes */
        gateway_stop(g);
        sg_server_on_stop(srv, NULL, gateway_release, g);
        return SG_EINVAL;
    }
    sg_server_on_stop(srv, gateway_stop, gateway_release, g);
    sg_server__add_metrics(srv, write_metrics, g);
    *out = g;
    return 0;
}
