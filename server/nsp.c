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
                                 unsigned timeout_ms, sg_adapter_reply_t *fwd)
{
    return sg_ackgroup__remote(ud, pkt, o, timeout_ms, fwd);
}

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
    sg_nsp__fill_event(&p, nsp, event, args, -1);
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
    b->timeout = sg_timeout_cap(ms);
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

sg_bcast_opts_t sg_bcast__opts(const sg_bcast_t *b)
{
    sg_bcast_opts_t o = {b->rooms, b->nrooms, b->except, b->nexcept, b->flags};
    return o;
}

void sg_nsp__fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
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
        sg_nsp__fill_event(&p, b->nsp, event, args, -1);
        sg_bcast_opts_t o = sg_bcast__opts(b);
        rc = sg_adapter_broadcast(b->nsp->adapter, &p, &o);
        sg_data__unfill(&p);
    }
    sg_bcast_free(b);
    return rc;
}

void sg_bcast_sockets_join(sg_bcast_t *b, const char *room)
{
    sg_bcast_sockets_join_n(b, room, strlen(room));
}

void sg_bcast_sockets_join_n(sg_bcast_t *b, const char *room, size_t len)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
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
    sg_bcast_opts_t o = sg_bcast__opts(b);
    sg_name_t r = {room, len};
    sg_adapter_del_sockets(b->nsp->adapter, &o, &r, 1);
    sg_bcast_free(b);
}

void sg_bcast_disconnect_sockets(sg_bcast_t *b, int close)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
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
    sg_bcast_opts_t o = sg_bcast__opts(b);
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
    sg_bcast_opts_t o = sg_bcast__opts(b);
    json_t *local = json_array();
    sg_adapter_select(b->nsp->adapter, &o, describe_one, local);
    int rc = cluster_request(b->nsp, &o, local, 0, cb, ud);
    sg_bcast_free(b);
    return rc;
}
