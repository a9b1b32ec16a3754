/* ackgroup.c - broadcasts with acknowledgements: one packet id for every
 * recipient, as Node does, and a group that completes when every client
 * answered (here and, through the adapter, on every other node) or the
 * timeout fires. The same group, in forwarding mode, answers another node's
 * broadcast. Every live group is on the server's list, so that shutdown can
 * answer each one (SG_ESTATE) instead of leaving its deadline behind. */
#include <stddef.h>

#include "sio_internal.h"
#include "util.h"

struct sg_ackgroup {
    unsigned refs;
    size_t expected; /* clients reached: local plus the counts other nodes report */
    sg_data_t **responses;
    size_t n;
    sg_bcast_ack_cb cb;
    void *ud;
    sg_adapter_reply_t *fwd; /* answering another node: each ack goes there */
    sg_server_t *srv;
    sg_timer_t timer;
    unsigned timeout;  /* ms, also each member's own ack timeout */
    sg_ackgroup_t *prev, *next; /* the server's live groups */
    int done;
    int err;          /* reported at the end: SG_EIO when the cluster part failed */
    sg_adapter_t *adapter;
    void *handle;     /* the adapter's pending remote part, or NULL */
    int servers_known;
    size_t servers, counts;
};

typedef sg_ackgroup_t ack_group_t;

static void group_release(ack_group_t *g)
{
    if (--g->refs)
        return;
    for (size_t i = 0; i < g->n && !g->fwd; i++)
        sg_data_free(g->responses[i]);
    sg_free(g->responses);
    sg_free(g);
}

static void group_finish(ack_group_t *g, int err)
{
    if (g->done)
        return;
    g->done = 1;
    sg_timer_stop(&g->srv->timers, &g->timer);
    if (g->prev)
        g->prev->next = g->next;
    else
        g->srv->groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    if (g->handle) {
        sg_adapter_cancel(g->adapter, g->handle);
        g->handle = NULL;
        g->refs--; /* the remote part's reference; ours is still held */
    }
    if (g->fwd)
        g->fwd->release(g->fwd);
    else
        g->cb(err ? err : g->err, g->responses, g->n, g->ud);
    group_release(g);
}

static void on_group_timeout(sg_timer_t *t)
{
    group_finish((ack_group_t *)((char *)t - offsetof(ack_group_t, timer)), SG_ETIMEOUT);
}

void sg_ackgroups__shutdown(sg_server_t *srv)
{
    while (srv->groups)
        group_finish(srv->groups, SG_ESTATE);
}

static void group_check(ack_group_t *g)
{
    if (g->done || g->n < g->expected)
        return;
    if (g->handle && (!g->servers_known || g->counts < g->servers))
        return;
    group_finish(g, 0);
}

static void group_add(ack_group_t *g, sg_data_t *d)
{
    g->responses = sg_realloc(g->responses, (g->n + 1) * sizeof(*g->responses));
    g->responses[g->n++] = d;
    group_check(g);
}

static void on_member_ack(sg_socket_t *s, int err, sg_data_t *args, void *ud)
{
    ack_group_t *g = ud;
    if (err == 0 && !g->done) {
        if (g->fwd) {
            sg_sio_packet_t p;
            sg_sio_packet_init(&p);
            sg_data__fill(&p, NULL, args);
            g->fwd->send(g->fwd, json_array_get(p.data, 0), p.bins, p.nbins);
            sg_data__unfill(&p);
            g->n++;
            group_check(g);
        } else {
            sg_data_t *copy = sg_data_new();
            sg_data_push_from(copy, args, 0);
            group_add(g, copy);
        }
    }
    group_release(g);
}

/* ---- the remote part, reported by the adapter ---- */

static void sink_servers(void *ud, size_t n)
{
    ack_group_t *g = ud;
    g->servers_known = 1;
    g->servers = n;
    group_check(g);
}

static void sink_count(void *ud, size_t n)
{
    ack_group_t *g = ud;
    g->counts++;
    g->expected += n;
    group_check(g);
}

static void sink_ack(void *ud, const json_t *arg, sg_buf_t *const *bins, size_t nbins)
{
    ack_group_t *g = ud;
    if (g->done)
        return;
    json_t *one = json_pack("[O]", arg);
    sg_data_t *d = sg_data__share(one, bins, nbins, 0);
    json_decref(one);
    group_add(g, d);
}

static void sink_gone(void *ud)
{
    ack_group_t *g = ud;
    g->handle = NULL;
    g->err = SG_ESTATE;
    group_check(g);
    group_release(g);
}

static const sg_adapter_ack_sink_t group_sink = {sink_servers, sink_count, sink_ack, sink_gone};

typedef struct {
    const sg_sio_encoded_t *enc;
    unsigned flags;
    int64_t id;
    ack_group_t *g;
} ack_deliver_t;

static void deliver_with_ack(sg_asock_t *a, void *ud)
{
    ack_deliver_t *c = ud;
    sg_socket_t *s = (sg_socket_t *)a;
    /* A socket already awaiting maxPendingAcks answers is left out. */
    if (!sg_acks__room(s) || sg_socket__deliver(s, c->enc, c->flags) != 0)
        return;
    c->g->expected++;
    c->g->refs++;
    /* Each member's ack has the group's timeout too, so an unanswered one
     * does not outlive the group by more than that. */
    sg_acks__expect(s, c->id, c->g->timeout, on_member_ack, c->g);
}

static ack_group_t *group_new(sg_nsp_t *nsp, unsigned timeout)
{
    ack_group_t *g = sg_calloc(1, sizeof(*g));
    g->refs = 1;
    g->adapter = nsp->adapter;
    g->srv = nsp->srv;
    g->timeout = sg_timeout_cap(timeout);
    sg_timer_init(&g->timer, on_group_timeout);
    g->next = g->srv->groups;
    if (g->next)
        g->next->prev = g;
    g->srv->groups = g;
    return g;
}

/* Deliver p (its id set here) to the local matches; returns the encoder's error. */
static int group_deliver(ack_group_t *g, sg_nsp_t *nsp, sg_sio_packet_t *p,
                         const sg_bcast_opts_t *o)
{
    p->id = nsp->next_ack_id++;
    sg_sio_encoded_t enc = {0};
    int rc = sg_sio_encode(p, &enc);
    if (rc == 0) {
        ack_deliver_t c = {&enc, o->flags, p->id, g};
        sg_adapter_select(nsp->adapter, o, deliver_with_ack, &c);
        sg_sio_encoded_clear(&enc);
    }
    return rc;
}

int sg_bcast_emit_ack(sg_bcast_t *b, const char *event, const sg_data_t *args,
                      sg_bcast_ack_cb cb, void *ud)
{
    sg_nsp_t *nsp = b->nsp;
    if (sg_sio_is_reserved_event(event) || nsp->srv->stopping) {
        sg_bcast_free(b);
        return nsp->srv->stopping ? SG_ESTATE : SG_EINVAL;
    }
    unsigned timeout = b->timeout ? b->timeout : 5000;
    ack_group_t *g = group_new(nsp, timeout);
    g->cb = cb;
    g->ud = ud;
    sg_sio_packet_t p;
    sg_nsp__fill_event(&p, nsp, event, args, -1);
    sg_bcast_opts_t o = sg_bcast__opts(b);
    int rc = group_deliver(g, nsp, &p, &o);
    if (rc == 0) {
        void *h = NULL;
        if (sg_adapter_broadcast_ack(nsp->adapter, &p, &o, g->timeout, &group_sink, g, &h) != 0) {
            g->err = SG_EIO; /* local clients still answer */
        } else if (h) {
            g->handle = h; /* the other nodes' part */
            g->refs++;
        }
    }
    sg_data__unfill(&p);
    sg_bcast_free(b);
    if (rc != 0) {
        group_finish(g, rc);
        return rc;
    }
    g->refs++;
    group_check(g);
    if (!g->done)
        sg_timer_in(&g->srv->timers, &g->timer, g->timeout);
    group_release(g);
    return 0;
}

size_t sg_ackgroup__remote(sg_nsp_t *nsp, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                           unsigned timeout_ms, sg_adapter_reply_t *fwd)
{
    ack_group_t *g = group_new(nsp, timeout_ms);
    g->fwd = fwd;
    sg_sio_packet_t p = *pkt;
    group_deliver(g, nsp, &p, o);
    size_t n = g->expected;
    g->refs++;
    group_check(g);
    if (!g->done)
        sg_timer_in(&g->srv->timers, &g->timer, g->timeout);
    group_release(g);
    return n;
}

