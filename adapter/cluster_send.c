/* cluster_send.c - life of the ClusterAdapter part of an adapter, what this
 * node publishes and the requests it makes. The top of the cluster files:
 * it calls cluster.c (envelope, publish), cluster_hb.c (peers) and nothing
 * calls back up into it. The receiver is cluster_recv.c. Room semantics stay
 * in adapter.c: the local part of every operation has happened (adapter.c)
 * before these functions publish it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "bopts.h"
#include "cluster_internal.h"
#include "json.h"
#include "util.h"

/* A broadcast with acks is ended by its caller (cancel) when its own
 * timeout fires; this much later the cluster forgets it by itself. */
#define ACK_GRACE_MS 1000

/* fetchSockets / serverSideEmit with ack: what to publish once the server
 * count is known (without heartbeats), and whom to tell. */
typedef struct creq {
    sg_cluster_t *c;
    int type;
    json_t *data;
    sg_buf_t **bins;
    size_t nbins;
    sg_adapter_result_cb cb;
    void *ud;
} creq_t;

struct sg_cluster_pub {
    sg_cluster_t *c; /* NULL once the cluster is freed */
    sg_sio_packet_t pkt;
    sg_bopts_t opts;
    sg_cluster_pub_t *prev, *next;
};

static void request_id(sg_cluster_t *c, char out[SG_CLUSTER_ID_LEN + 1])
{
    do
        sg_cluster__random_id(out);
    while (sg_requests_find(c->reqs, out, SG_CLUSTER_ID_LEN));
}

/* ---- life ---- */

sg_cluster_t *sg_cluster_new(sg_adapter_t *a, const sg_cluster_transport_t *tp, void *tp_ud,
                             const sg_cluster_opts_t *opts)
{
    sg_cluster_t *c = sg_calloc(1, sizeof(*c));
    c->a = a;
    c->env = sg_adapter_env(a);
    c->tp = *tp;
    c->tp_ud = tp_ud;
    if (opts)
        c->o = *opts;
    if (!c->o.heartbeat_interval)
        c->o.heartbeat_interval = 5000;
    if (!c->o.heartbeat_timeout)
        c->o.heartbeat_timeout = 10000;
    if (!c->o.requests_timeout)
        c->o.requests_timeout = SG_CLUSTER__DEFAULT_TIMEOUT;
    if (!c->o.max_peers)
        c->o.max_peers = 1000;
    sg_cluster__random_id(c->uid);
    c->reqs = sg_requests_new(c->env->loop);
    uv_timer_init(c->env->loop, &c->soon);
    c->soon.data = c;
    c->open_handles = 1;
    sg_cluster__hb_init(c);
    sg_adapter_set_backend(a, c);
    sg_cluster__log(c, 3, "uid %s%s", c->uid, c->o.heartbeat ? ", with heartbeats" : "");
    return c;
}

int sg_cluster_start(sg_cluster_t *c)
{
    return c->o.heartbeat ? sg_cluster__hb_start(c) : 0;
}

void sg_cluster__handle_closed(uv_handle_t *h)
{
    sg_cluster_t *c = h->data;
    if (--c->open_handles)
        return;
    sg_cluster__hb_free(c);
    sg_free(c);
}

void sg_cluster_free(sg_cluster_t *c)
{
    if (!c || c->closing)
        return;
    if (c->o.heartbeat)
        sg_cluster__hb_stop(c); /* ADAPTER_CLOSE goes out first, as in Node */
    c->closing = 1;
    /* Every pending request hears SG_ESTATE; broadcasts with acks, gone(). */
    sg_requests_free(c->reqs);
    c->reqs = NULL;
    /* Their owners release them, or their publish reports, later. */
    sg_cluster__replies_detach(c);
    while (c->pubs) {
        sg_cluster_pub_t *p = c->pubs;
        SG_CLUSTER__LIST_DEL(c->pubs, p);
        p->c = NULL;
    }
    if (sg_adapter_backend(c->a) == c)
        sg_adapter_set_backend(c->a, NULL);
    uv_timer_stop(&c->soon);
    uv_close((uv_handle_t *)&c->soon, sg_cluster__handle_closed);
    uv_close((uv_handle_t *)&c->hb_timer, sg_cluster__handle_closed);
    uv_close((uv_handle_t *)&c->sweep, sg_cluster__handle_closed);
}

sg_cluster_t *sg_cluster_of(const sg_adapter_t *a)
{
    return sg_adapter_backend(a);
}

const char *sg_cluster_uid(const sg_cluster_t *c)
{
    return c->uid;
}

void *sg_cluster_transport_ud(const sg_cluster_t *c)
{
    return c->tp_ud;
}

size_t sg_cluster_server_count(const sg_cluster_t *c)
{
    return c->o.heartbeat ? 1 + sg_cluster__hb_peer_count(c) : 0;
}

static sg_cluster_t *live(const sg_adapter_t *a)
{
    sg_cluster_t *c = sg_cluster_of(a);
    return c && !c->closing ? c : NULL;
}

static json_t *packet_json(const json_t *data)
{
    return json_pack("{s:i,s:O}", "type", 2, "data", data);
}

/* ---- sender: broadcasts and socket operations ---- */

static void names_dup(sg_name_t **out, size_t *nout, const sg_name_t *v, size_t n)
{
    *out = sg_calloc(n + 1, sizeof(**out));
    for (size_t i = 0; i < n; i++)
        (*out)[i] = (sg_name_t){sg_strndup(v[i].p, v[i].len), v[i].len};
    *nout = n;
}

static void pub_free(sg_cluster_pub_t *p)
{
    sg_sio_packet_clear(&p->pkt);
    sg_bopts_clear(&p->opts);
    sg_free(p);
}

static void on_broadcast_published(void *ud, int status, const char *offset)
{
    sg_cluster_pub_t *p = ud;
    sg_cluster_t *c = p->c;
    if (c) {
        SG_CLUSTER__LIST_DEL(c->pubs, p);
        /* A failed publish still delivers locally, without offset (Node
         * 2.5.7+ logs and delivers). */
        if (c->o.on_offset)
            c->o.on_offset(c->o.offset_ud, &p->pkt, &p->opts.o,
                           status == 0 ? (offset ? offset : "") : NULL, 0);
    }
    pub_free(p);
}

/* The offset hook wants the broadcast once the publish reports its offset:
 * keep a copy, since the caller's packet is gone by then. */
static sg_cluster_pub_t *pub_new(sg_cluster_t *c, const sg_sio_packet_t *pkt,
                                 const sg_bcast_opts_t *opts)
{
    sg_cluster_pub_t *p = sg_calloc(1, sizeof(*p));
    p->c = c;
    sg_sio_packet_init(&p->pkt);
    p->pkt.type = pkt->type;
    p->pkt.nsp = sg_strdup(sg_adapter_nsp(c->a));
    p->pkt.data = json_deep_copy(pkt->data);
    if (pkt->nbins) {
        p->pkt.bins = sg_malloc(pkt->nbins * sizeof(*p->pkt.bins));
        for (size_t i = 0; i < pkt->nbins; i++)
            p->pkt.bins[i] = sg_buf_ref(pkt->bins[i]);
        p->pkt.nbins = pkt->nbins;
    }
    names_dup(&p->opts.rooms, &p->opts.nrooms, opts->rooms, opts->nrooms);
    names_dup(&p->opts.except, &p->opts.nexcept, opts->except, opts->nexcept);
    p->opts.o = (sg_bcast_opts_t){p->opts.rooms, p->opts.nrooms, p->opts.except, p->opts.nexcept,
                                  opts->flags};
    SG_CLUSTER__LIST_ADD(c->pubs, p);
    return p;
}

static int broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                     int deferred)
{
    sg_cluster_t *c = live(a);
    if (!c)
        return SG_ESTATE;
    json_t *data =
        json_pack("{s:o,s:o}", "packet", packet_json(pkt->data), "opts", sg_bopts_json(opts, 1, 0));
    sg_cluster_pub_t *p = deferred ? pub_new(c, pkt, opts) : NULL;
    int rc = sg_cluster__publish(c, SG_CLUSTER_BROADCAST, data, pkt->bins, pkt->nbins,
                                 p ? on_broadcast_published : NULL, p);
    if (rc != 0 && p) {
        SG_CLUSTER__LIST_DEL(c->pubs, p);
        pub_free(p);
    }
    return rc;
}

int sg_cluster_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts)
{
    return broadcast(a, pkt, opts, 0);
}

int sg_cluster_broadcast_deferred(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                                  const sg_bcast_opts_t *opts)
{
    sg_cluster_t *c = live(a);
    if (!c || !c->o.on_offset)
        return SG_ESTATE;
    return broadcast(a, pkt, opts, 1);
}

static int sockets_op(sg_adapter_t *a, int type, const sg_bcast_opts_t *opts,
                      const sg_name_t *rooms, size_t n, int close)
{
    sg_cluster_t *c = live(a);
    if (!c)
        return SG_ESTATE;
    json_t *data = json_pack("{s:o}", "opts", sg_bopts_json(opts, 1, 0));
    if (type == SG_CLUSTER_DISCONNECT_SOCKETS)
        json_object_set_new(data, "close", json_boolean(close));
    else
        json_object_set_new(data, "rooms", sg_bopts_names_json(rooms, n));
    return sg_cluster__publish(c, type, data, NULL, 0, NULL, NULL);
}

int sg_cluster_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n)
{
    return sockets_op(a, SG_CLUSTER_SOCKETS_JOIN, opts, rooms, n, 0);
}

int sg_cluster_del_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n)
{
    return sockets_op(a, SG_CLUSTER_SOCKETS_LEAVE, opts, rooms, n, 0);
}

int sg_cluster_disconnect_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close)
{
    return sockets_op(a, SG_CLUSTER_DISCONNECT_SOCKETS, opts, NULL, 0, close);
}

/* ---- sender: requests ---- */

static void creq_free(creq_t *r)
{
    json_decref(r->data);
    for (size_t i = 0; i < r->nbins; i++)
        sg_buf_unref(r->bins[i]);
    sg_free(r->bins);
    sg_free(r);
}

static void creq_done(void *ud, int err, const char *msg, const json_t *results)
{
    creq_t *r = ud;
    r->cb(r->ud, err, msg, results);
    creq_free(r);
}

static void on_request_published(void *ud, int status, const char *offset)
{
    sg_request_t *q = ud;
    if (status != 0 && sg_request_pending(q))
        sg_request_finish(q, SG_EIO, "the cluster transport could not publish the request");
    sg_request_unref(q);
}

static int publish_request(sg_cluster_t *c, sg_request_t *q)
{
    creq_t *r = sg_request_ud(q);
    sg_request_ref(q);
    int rc = sg_cluster__publish(c, r->type, json_incref(r->data), r->bins, r->nbins,
                                 on_request_published, q);
    if (rc != 0)
        sg_request_unref(q);
    return rc;
}

static void on_request_count(void *ud, int status, size_t count)
{
    sg_request_t *q = ud;
    if (sg_request_pending(q)) {
        creq_t *r = sg_request_ud(q);
        if (status != 0) {
            sg_request_finish(q, SG_EIO, "the cluster transport could not count the servers");
        } else if (count <= 1) {
            sg_request_finish(q, 0, NULL); /* nobody else: local results only */
        } else {
            sg_request_set_expected(q, count - 1);
            if (publish_request(r->c, q) != 0)
                sg_request_finish(q, SG_EIO, "the cluster transport could not publish the request");
        }
    }
    sg_request_unref(q);
}

/* Start a fetchSockets or serverSideEmit-with-ack request whose data (stolen)
 * already holds requestId id. With heartbeats it waits for the peers known
 * now and goes out at once (not at all without peers: it completes empty on
 * the next tick); otherwise the transport counts the servers first. */
static int start_request(sg_cluster_t *c, const char *id, int kind, int type, json_t *data,
                         sg_buf_t *const *bins, size_t nbins, sg_adapter_result_cb cb, void *ud)
{
    creq_t *r = sg_calloc(1, sizeof(*r));
    r->c = c;
    r->type = type;
    r->data = data;
    r->cb = cb;
    r->ud = ud;
    if (nbins) {
        r->bins = sg_malloc(nbins * sizeof(*r->bins));
        for (size_t i = 0; i < nbins; i++)
            r->bins[i] = sg_buf_ref(bins[i]);
        r->nbins = nbins;
    }
    size_t npeers = 0;
    sg_name_t *peers = c->o.heartbeat ? sg_cluster__hb_peers(c, &npeers) : NULL;
    sg_request_params_t p = {
        .id = id,
        .id_len = SG_CLUSTER_ID_LEN,
        .kind = kind,
        .mode = c->o.heartbeat ? SG_REQUEST_PEERS : SG_REQUEST_COUNT,
        .timeout_ms = c->o.requests_timeout,
        .keep_partial = kind == SG_CLUSTER__KIND_SSE, /* as Node's serverSideEmit callback */
        .peers = peers,
        .npeers = npeers,
        .cb = creq_done,
        .ud = r,
    };
    sg_request_t *q = NULL;
    int rc = sg_requests_start(c->reqs, &p, &q);
    sg_free(peers);
    if (rc != 0) {
        creq_free(r);
        return rc;
    }
    if (c->o.heartbeat) {
        rc = npeers ? publish_request(c, q) : 0;
    } else {
        sg_request_ref(q);
        rc = c->tp.server_count(c->tp_ud, on_request_count, q) == 0 ? 0 : SG_EIO;
        if (rc != 0)
            sg_request_unref(q);
    }
    if (rc != 0) {
        sg_request_cancel(q);
        creq_free(r);
    }
    return rc;
}

int sg_cluster_fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                             void *ud)
{
    sg_cluster_t *c = live(a);
    if (!c)
        return SG_ESTATE;
    char id[SG_CLUSTER_ID_LEN + 1];
    request_id(c, id);
    json_t *data = json_pack("{s:o,s:s}", "opts", sg_bopts_json(opts, 1, 0), "requestId", id);
    return start_request(c, id, SG_CLUSTER__KIND_FETCH, SG_CLUSTER_FETCH_SOCKETS, data, NULL, 0, cb,
                         ud);
}

int sg_cluster_server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                                size_t nbins, sg_adapter_result_cb cb, void *ud)
{
    sg_cluster_t *c = live(a);
    if (!c)
        return SG_ESTATE;
    if (!cb)
        return sg_cluster__publish(c, SG_CLUSTER_SERVER_SIDE_EMIT,
                                   json_pack("{s:O}", "packet", data), bins, nbins, NULL, NULL);
    char id[SG_CLUSTER_ID_LEN + 1];
    request_id(c, id);
    /* The presence of requestId is what asks for acks; Node puts it first. */
    json_t *d = json_pack("{s:s,s:O}", "requestId", id, "packet", data);
    return start_request(c, id, SG_CLUSTER__KIND_SSE, SG_CLUSTER_SERVER_SIDE_EMIT, d, bins, nbins,
                         cb, ud);
}

/* ---- sender: broadcasts with acks ---- */

static void back_free(sg_cluster_back_t *b)
{
    if (b->c)
        SG_CLUSTER__LIST_DEL(b->c->backs, b);
    sg_free(b);
}

/* The request ended without its caller: the cluster closed, or the caller
 * never cancelled. */
static void back_done(void *ud, int err, const char *msg, const json_t *results)
{
    sg_cluster_back_t *b = ud;
    const sg_adapter_ack_sink_t *sink = b->sink;
    void *sink_ud = b->sink_ud;
    back_free(b);
    sink->gone(sink_ud);
}

static void on_soon(uv_timer_t *t)
{
    sg_cluster_t *c = t->data;
    /* Restart from the head after each report: it may cancel any of them. */
    for (;;) {
        sg_cluster_back_t *b = c->backs;
        while (b && !b->servers_due)
            b = b->next;
        if (!b || c->closing)
            return;
        b->servers_due = 0;
        b->sink->servers(b->sink_ud, b->servers);
    }
}

static void servers_soon(sg_cluster_back_t *b, size_t n)
{
    b->servers = n;
    b->servers_due = 1;
    uv_timer_start(&b->c->soon, on_soon, 0, 0);
}

static void on_back_count(void *ud, int status, size_t count)
{
    sg_request_t *q = ud;
    if (sg_request_pending(q)) {
        sg_cluster_back_t *b = sg_request_ud(q);
        /* No count: report no other server, so the local acks still complete. */
        b->sink->servers(b->sink_ud, status == 0 && count > 1 ? count - 1 : 0);
    }
    sg_request_unref(q);
}

int sg_cluster_broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                             const sg_bcast_opts_t *opts, unsigned timeout_ms,
                             const sg_adapter_ack_sink_t *sink, void *ud, void **handle)
{
    sg_cluster_t *c = live(a);
    if (!c)
        return SG_ESTATE;
    sg_cluster_back_t *b = sg_calloc(1, sizeof(*b));
    b->c = c;
    b->sink = sink;
    b->sink_ud = ud;
    char id[SG_CLUSTER_ID_LEN + 1];
    request_id(c, id);
    sg_request_params_t p = {
        .id = id,
        .id_len = SG_CLUSTER_ID_LEN,
        .kind = SG_CLUSTER__KIND_BACK,
        .mode = SG_REQUEST_COUNT,
        .timeout_ms = timeout_ms + ACK_GRACE_MS,
        .cb = back_done,
        .ud = b,
    };
    int rc = sg_requests_start(c->reqs, &p, &b->q);
    if (rc != 0) {
        sg_free(b);
        return rc;
    }
    json_t *data = json_pack("{s:o,s:s,s:o}", "packet", packet_json(pkt->data), "requestId", id,
                             "opts", sg_bopts_json(opts, 1, timeout_ms));
    rc = sg_cluster__publish(c, SG_CLUSTER_BROADCAST, data, pkt->bins, pkt->nbins, NULL, NULL);
    if (rc != 0) {
        sg_request_cancel(b->q);
        sg_free(b);
        return rc;
    }
    SG_CLUSTER__LIST_ADD(c->backs, b);
    /* The caller learns the number of servers later, never inside this call. */
    if (c->o.heartbeat) {
        servers_soon(b, sg_cluster__hb_peer_count(c));
    } else {
        sg_request_ref(b->q);
        if (c->tp.server_count(c->tp_ud, on_back_count, b->q) != 0) {
            sg_request_unref(b->q);
            servers_soon(b, 0);
        }
    }
    *handle = b;
    return 0;
}

void sg_cluster_cancel(sg_adapter_t *a, void *handle)
{
    sg_cluster_back_t *b = handle;
    if (!b)
        return;
    sg_request_cancel(b->q);
    back_free(b);
}
