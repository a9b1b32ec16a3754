/* nsp.c - namespaces, their handlers, and the broadcast operator. */
#include <string.h>

#include "internal.h"

/* ---- namespaces ---- */

static json_t *host_describe(sg_asock_t *a, void *ud)
{
    sg_socket_t *s = (sg_socket_t *)a;
    return json_pack("{s:s,s:O,s:o,s:O}", "id", s->id, "handshake", sg_socket_handshake(s),
                     "rooms", sg_socket_rooms(s), "data", sg_socket_data_json(s));
}

static void host_server_event(void *ud, const json_t *data, sg_buf_t *const *bins, size_t nbins,
                              sg_adapter_reply_t *reply)
{
    sg_socket__server_event(ud, data, bins, nbins, reply);
}

static size_t host_broadcast_ack(void *ud, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                                 unsigned timeout_ms, sg_adapter_reply_t *fwd);
static void fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
                       const sg_data_t *args, int64_t id);

static const sg_adapter_chost_t nsp_cluster_host = {host_describe, host_server_event,
                                                    host_broadcast_ack};

sg_nsp_t *sg_nsp_find(sg_server_t *srv, const char *name)
{
    return sg_map_get(srv->nsp_map, name, strlen(name));
}

sg_nsp_t *sg_server_of(sg_server_t *srv, const char *name)
{
    sg_nsp_t *nsp = sg_nsp_find(srv, name);
    if (nsp)
        return nsp;
    nsp = sg_calloc(1, sizeof(*nsp));
    nsp->name = sg_strdup(name);
    nsp->srv = srv;
    nsp->event_map = sg_map_new();
    nsp->adapter = sg_adapter_new(srv->redis ? &sg_adapter_redis_ops : &sg_adapter_memory_ops,
                                  name, &sg_socket_adapter_host, nsp);
    sg_adapter_set_max_rooms(nsp->adapter, srv->cfg.max_rooms_per_socket);
    if (srv->redis && sg_adapter_open(nsp->adapter, &srv->adapter_env, &nsp_cluster_host) != 0) {
        SG_ERR(srv, "namespace %s: the redis adapter did not open; it stays single-node", name);
        sg_adapter_close(nsp->adapter);
    }
    nsp->next = srv->nsps;
    srv->nsps = nsp;
    sg_map_put(srv->nsp_map, nsp->name, strlen(nsp->name), nsp);
    return nsp;
}

void sg_server_foreach_nsp(sg_server_t *srv, void (*cb)(sg_nsp_t *nsp, void *ud), void *ud)
{
    for (sg_nsp_t *nsp = srv->nsps; nsp; nsp = nsp->next)
        cb(nsp, ud);
}

static void free_handlers(sg_handler_t *h)
{
    while (h) {
        sg_handler_t *next = h->next;
        sg_free(h->event);
        sg_free(h);
        h = next;
    }
}

void sg_nsp_free_all(sg_server_t *srv)
{
    while (srv->nsps) {
        sg_nsp_t *nsp = srv->nsps;
        srv->nsps = nsp->next;
        sg_adapter_free(nsp->adapter);
        free_handlers(nsp->middleware);
        free_handlers(nsp->on_connection);
        free_handlers(nsp->on_disconnect);
        free_handlers(nsp->events);
        free_handlers(nsp->server_events);
        sg_map_free(nsp->event_map);
        sg_free(nsp->name);
        sg_free(nsp);
    }
}

const char *sg_nsp_name(const sg_nsp_t *nsp)
{
    return nsp->name;
}

sg_server_t *sg_nsp_server(const sg_nsp_t *nsp)
{
    return nsp->srv;
}

static sg_handler_t *append(sg_handler_t **list, void *ud)
{
    sg_handler_t *h = sg_calloc(1, sizeof(*h));
    h->ud = ud;
    while (*list)
        list = &(*list)->next;
    *list = h;
    return h;
}

void sg_nsp_use(sg_nsp_t *nsp, sg_middleware_cb cb, void *ud)
{
    append(&nsp->middleware, ud)->cb.mw = cb;
}

void sg_nsp_on_connection(sg_nsp_t *nsp, sg_connection_cb cb, void *ud)
{
    append(&nsp->on_connection, ud)->cb.conn = cb;
}

void sg_nsp_on_disconnect(sg_nsp_t *nsp, sg_disconnect_cb cb, void *ud)
{
    append(&nsp->on_disconnect, ud)->cb.disc = cb;
}

void sg_nsp_on(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud)
{
    sg_handler_t *h = append(&nsp->events, ud);
    h->cb.ev = cb;
    h->event = sg_strdup(event);
    if (!strcmp(event, "*"))
        nsp->any = h;
    else
        sg_map_put(nsp->event_map, h->event, strlen(h->event), h);
}

size_t sg_nsp_socket_count(const sg_nsp_t *nsp)
{
    return sg_adapter_socket_count(nsp->adapter);
}

static void add_room_name(const char *room, size_t len, void *ud)
{
    json_array_append_new(ud, json_stringn(room, len));
}

json_t *sg_nsp_all_rooms(const sg_nsp_t *nsp)
{
    json_t *a = json_array();
    sg_adapter_all_rooms(nsp->adapter, add_room_name, a);
    return a;
}

void sg_nsp_on_server_event(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud)
{
    sg_handler_t *h = append(&nsp->server_events, ud);
    h->cb.ev = cb;
    h->event = sg_strdup(event);
}

/* Results of cluster requests, turned into the embedding API's shapes. */
typedef struct {
    sg_bcast_ack_cb ack_cb;
    sg_cluster_cb cb;
    void *ud;
    json_t *local; /* fetch / allRooms: this node's part, answers appended */
    int rooms;     /* allRooms: drop duplicates */
} cl_ctx_t;

static void on_sse_result(void *ud, int err, const char *msg, const json_t *results)
{
    cl_ctx_t *c = ud;
    size_t n = json_array_size(results);
    sg_data_t **v = sg_calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = sg_data_new();
        sg_data_push(v[i], json_incref(json_array_get(results, i)));
    }
    c->ack_cb(err, v, n, c->ud);
    for (size_t i = 0; i < n; i++)
        sg_data_free(v[i]);
    sg_free(v);
    sg_free(c);
}

int sg_nsp_server_side_emit(sg_nsp_t *nsp, const char *event, const sg_data_t *args,
                            sg_bcast_ack_cb cb, void *ud)
{
    if (sg_sio_is_reserved_event(event))
        return SG_EINVAL;
    const sg_adapter_ops_t *ops = sg_adapter_ops(nsp->adapter);
    if (!ops->server_side_emit) {
        /* Single node: no other server can receive it. */
        if (cb)
            cb(0, NULL, 0, ud);
        return 0;
    }
    sg_sio_packet_t p;
    fill_event(&p, nsp, event, args, -1);
    cl_ctx_t *c = NULL;
    if (cb) {
        c = sg_calloc(1, sizeof(*c));
        c->ack_cb = cb;
        c->ud = ud;
    }
    int rc = ops->server_side_emit(nsp->adapter, p.data, p.bins, p.nbins,
                                   cb ? on_sse_result : NULL, c);
    sg_data__unfill(&p);
    if (rc != 0)
        sg_free(c);
    return rc;
}

static void on_cluster_result(void *ud, int err, const char *msg, const json_t *results)
{
    cl_ctx_t *c = ud;
    size_t i;
    json_t *v;
    json_array_foreach(results, i, v)
    {
        int dup = 0;
        for (size_t k = 0; c->rooms && k < json_array_size(c->local) && !dup; k++)
            dup = json_equal(json_array_get(c->local, k), v);
        if (!dup)
            json_array_append(c->local, v);
    }
    c->cb(err, msg, c->local, c->ud);
    json_decref(c->local);
    sg_free(c);
}

static int cluster_request(sg_nsp_t *nsp, const sg_bcast_opts_t *o, json_t *local, int rooms,
                           sg_cluster_cb cb, void *ud)
{
    const sg_adapter_ops_t *ops = sg_adapter_ops(nsp->adapter);
    int (*fn)(sg_adapter_t *, const sg_bcast_opts_t *, sg_adapter_result_cb, void *) =
        ops->fetch_sockets;
    if ((o && (o->flags & SG_BCAST_LOCAL)) || (rooms ? !ops->all_rooms : !fn)) {
        cb(0, NULL, local, ud);
        json_decref(local);
        return 0;
    }
    cl_ctx_t *c = sg_calloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    c->local = local;
    c->rooms = rooms;
    int rc = rooms ? ops->all_rooms(nsp->adapter, on_cluster_result, c)
                   : fn(nsp->adapter, o, on_cluster_result, c);
    if (rc != 0) {
        json_decref(local);
        sg_free(c);
    }
    return rc;
}

int sg_nsp_all_rooms_cluster(sg_nsp_t *nsp, sg_cluster_cb cb, void *ud)
{
    return cluster_request(nsp, NULL, sg_nsp_all_rooms(nsp), 1, cb, ud);
}

size_t sg_nsp_room_size(const sg_nsp_t *nsp, const char *room)
{
    return sg_adapter_room_size(nsp->adapter, room, strlen(room));
}

size_t sg_nsp_room_size_n(const sg_nsp_t *nsp, const char *room, size_t len)
{
    return sg_adapter_room_size(nsp->adapter, room, len);
}

/* ---- broadcast operator ---- */

struct sg_bcast {
    sg_nsp_t *nsp;
    sg_name_t *rooms; /* owned copies */
    size_t nrooms;
    sg_name_t *except;
    size_t nexcept;
    unsigned flags;
    unsigned timeout;
};

sg_bcast_t *sg_bcast_new(sg_nsp_t *nsp)
{
    sg_bcast_t *b = sg_calloc(1, sizeof(*b));
    b->nsp = nsp;
    return b;
}

static void push_room(sg_name_t **v, size_t *n, const char *room, size_t len)
{
    *v = sg_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].p = sg_strndup(room, len);
    (*v)[(*n)++].len = len;
}

sg_bcast_t *sg_bcast_from(sg_socket_t *s)
{
    sg_bcast_t *b = sg_bcast_new(sg_socket_nsp(s));
    push_room(&b->except, &b->nexcept, sg_socket_id(s), SG_ID_LEN);
    return b;
}

sg_bcast_t *sg_bcast_to(sg_bcast_t *b, const char *room)
{
    return sg_bcast_to_n(b, room, strlen(room));
}

sg_bcast_t *sg_bcast_to_n(sg_bcast_t *b, const char *room, size_t len)
{
    push_room(&b->rooms, &b->nrooms, room, len);
    return b;
}

sg_bcast_t *sg_bcast_except(sg_bcast_t *b, const char *room)
{
    return sg_bcast_except_n(b, room, strlen(room));
}

sg_bcast_t *sg_bcast_except_n(sg_bcast_t *b, const char *room, size_t len)
{
    push_room(&b->except, &b->nexcept, room, len);
    return b;
}

sg_bcast_t *sg_bcast_volatile(sg_bcast_t *b)
{
    b->flags |= SG_BCAST_VOLATILE;
    return b;
}

sg_bcast_t *sg_bcast_local(sg_bcast_t *b)
{
    b->flags |= SG_BCAST_LOCAL;
    return b;
}

sg_bcast_t *sg_bcast_compress(sg_bcast_t *b, int on)
{
    if (on)
        b->flags |= SG_BCAST_COMPRESS;
    else
        b->flags &= ~SG_BCAST_COMPRESS;
    return b;
}

sg_bcast_t *sg_bcast_timeout(sg_bcast_t *b, unsigned ms)
{
    b->timeout = ms;
    return b;
}

void sg_bcast_free(sg_bcast_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nrooms; i++)
        sg_free((char *)b->rooms[i].p);
    for (size_t i = 0; i < b->nexcept; i++)
        sg_free((char *)b->except[i].p);
    sg_free(b->rooms);
    sg_free(b->except);
    sg_free(b);
}

static sg_bcast_opts_t opts_of(const sg_bcast_t *b)
{
    sg_bcast_opts_t o = {b->rooms, b->nrooms, b->except, b->nexcept, b->flags};
    return o;
}

static void fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
                       const sg_data_t *args, int64_t id)
{
    sg_sio_packet_init(p);
    p->type = SG_SIO_EVENT;
    p->nsp = nsp->name;
    p->id = id;
    sg_data__fill(p, event, args);
}

int sg_bcast_emit(sg_bcast_t *b, const char *event, const sg_data_t *args)
{
    int rc = SG_EINVAL;
    if (!sg_sio_is_reserved_event(event)) {
        sg_sio_packet_t p;
        fill_event(&p, b->nsp, event, args, -1);
        sg_bcast_opts_t o = opts_of(b);
        rc = sg_adapter_broadcast(b->nsp->adapter, &p, &o);
        sg_data__unfill(&p);
    }
    sg_bcast_free(b);
    return rc;
}

/* Broadcast with acknowledgements: one packet id for every recipient, as
 * Node does, and a group that completes when every client answered (here
 * and, through the adapter, on every other node) or the timeout fires. The
 * same group, in forwarding mode, answers another node's broadcast. */
typedef struct {
    unsigned refs;
    size_t expected; /* clients reached: local plus the counts other nodes report */
    sg_data_t **responses;
    size_t n;
    sg_bcast_ack_cb cb;
    void *ud;
    sg_adapter_reply_t *fwd; /* answering another node: each ack goes there */
    uv_timer_t *timer;
    int done;
    int err;          /* reported at the end: SG_EIO when the cluster part failed */
    sg_adapter_t *adapter;
    void *handle;     /* the adapter's pending remote part, or NULL */
    int servers_known;
    size_t servers, counts;
} ack_group_t;

static void on_group_timer_closed(uv_handle_t *h)
{
    sg_free(h);
}

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
    uv_timer_stop(g->timer);
    uv_close((uv_handle_t *)g->timer, on_group_timer_closed);
    g->timer = NULL;
    if (g->handle) {
        const sg_adapter_ops_t *ops = sg_adapter_ops(g->adapter);
        if (ops->cancel)
            ops->cancel(g->adapter, g->handle);
        g->handle = NULL;
        g->refs--; /* the remote part's reference; ours is still held */
    }
    if (g->fwd)
        g->fwd->release(g->fwd);
    else
        g->cb(err ? err : g->err, g->responses, g->n, g->ud);
    group_release(g);
}

static void on_group_timeout(uv_timer_t *t)
{
    group_finish(t->data, SG_ETIMEOUT);
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
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.data = json_pack("[O]", arg);
    if (nbins) {
        p.bins = sg_malloc(nbins * sizeof(*p.bins));
        for (size_t i = 0; i < nbins; i++)
            p.bins[i] = sg_buf_ref(bins[i]);
        p.nbins = nbins;
    }
    sg_data_t *d = sg_data__from_packet(&p, 0);
    json_decref(p.data);
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
    if (sg_socket__deliver(s, c->enc, c->flags) != 0)
        return;
    c->g->expected++;
    c->g->refs++;
    sg_socket__expect_ack(s, c->id, 0, on_member_ack, c->g);
}

static ack_group_t *group_new(sg_nsp_t *nsp)
{
    ack_group_t *g = sg_calloc(1, sizeof(*g));
    g->refs = 1;
    g->adapter = nsp->adapter;
    g->timer = sg_malloc(sizeof(*g->timer));
    uv_timer_init(nsp->srv->loop, g->timer);
    g->timer->data = g;
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
    if (sg_sio_is_reserved_event(event)) {
        sg_bcast_free(b);
        return SG_EINVAL;
    }
    unsigned timeout = b->timeout ? b->timeout : 5000;
    ack_group_t *g = group_new(nsp);
    g->cb = cb;
    g->ud = ud;
    sg_sio_packet_t p;
    fill_event(&p, nsp, event, args, -1);
    sg_bcast_opts_t o = opts_of(b);
    int rc = group_deliver(g, nsp, &p, &o);
    const sg_adapter_ops_t *ops = sg_adapter_ops(nsp->adapter);
    if (rc == 0 && !(o.flags & SG_BCAST_LOCAL) && ops->broadcast_ack) {
        void *h = NULL;
        if (ops->broadcast_ack(nsp->adapter, &p, &o, timeout, &group_sink, g, &h) == 0) {
            g->handle = h;
            g->refs++;
        } else {
            g->err = SG_EIO; /* local clients still answer */
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
        uv_timer_start(g->timer, on_group_timeout, timeout, 0);
    group_release(g);
    return 0;
}

/* Another node's broadcast with acks (adapter host callback). */
static size_t host_broadcast_ack(void *ud, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                                 unsigned timeout_ms, sg_adapter_reply_t *fwd)
{
    sg_nsp_t *nsp = ud;
    ack_group_t *g = group_new(nsp);
    g->fwd = fwd;
    sg_sio_packet_t p = *pkt;
    group_deliver(g, nsp, &p, o);
    size_t n = g->expected;
    g->refs++;
    group_check(g);
    if (!g->done)
        uv_timer_start(g->timer, on_group_timeout, timeout_ms, 0);
    group_release(g);
    return n;
}

void sg_bcast_sockets_join(sg_bcast_t *b, const char *room)
{
    sg_bcast_sockets_join_n(b, room, strlen(room));
}

void sg_bcast_sockets_join_n(sg_bcast_t *b, const char *room, size_t len)
{
    sg_bcast_opts_t o = opts_of(b);
    sg_name_t r = {room, len};
    sg_adapter_add_sockets(b->nsp->adapter, &o, &r, 1);
    sg_bcast_free(b);
}

void sg_bcast_sockets_leave(sg_bcast_t *b, const char *room)
{
    sg_bcast_sockets_leave_n(b, room, strlen(room));
}

void sg_bcast_sockets_leave_n(sg_bcast_t *b, const char *room, size_t len)
{
    sg_bcast_opts_t o = opts_of(b);
    sg_name_t r = {room, len};
    sg_adapter_del_sockets(b->nsp->adapter, &o, &r, 1);
    sg_bcast_free(b);
}

void sg_bcast_disconnect_sockets(sg_bcast_t *b, int close)
{
    sg_bcast_opts_t o = opts_of(b);
    sg_adapter_disconnect_sockets(b->nsp->adapter, &o, close);
    sg_bcast_free(b);
}

typedef struct {
    void (*cb)(sg_socket_t *, void *);
    void *ud;
} fetch_ctx_t;

static void fetch_one(sg_asock_t *a, void *ud)
{
    fetch_ctx_t *c = ud;
    c->cb((sg_socket_t *)a, c->ud);
}

size_t sg_bcast_fetch_sockets(sg_bcast_t *b, void (*cb)(sg_socket_t *s, void *ud), void *ud)
{
    sg_bcast_opts_t o = opts_of(b);
    fetch_ctx_t c = {cb, ud};
    size_t n = sg_adapter_select(b->nsp->adapter, &o, fetch_one, &c);
    sg_bcast_free(b);
    return n;
}

static void describe_one(sg_asock_t *a, void *ud)
{
    json_array_append_new(ud, host_describe(a, NULL));
}

int sg_bcast_fetch_sockets_cluster(sg_bcast_t *b, sg_cluster_cb cb, void *ud)
{
    sg_bcast_opts_t o = opts_of(b);
    json_t *local = json_array();
    sg_adapter_select(b->nsp->adapter, &o, describe_one, local);
    int rc = cluster_request(b->nsp, &o, local, 0, cb, ud);
    sg_bcast_free(b);
    return rc;
}
