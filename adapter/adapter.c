/* adapter.c - room index and local delivery shared by every backend. */
#include <string.h>

#include <uv.h>

#include "backend.h"
#include "map.h"
#include "recovery.h"
#include "util.h"

typedef struct sg_aroom {
    char *name;
    size_t len;
    sg_amember_t *members;
    size_t count;
} sg_aroom_t;

struct sg_amember {
    sg_aroom_t *room; /* also the key in the socket's room_idx (its address) */
    sg_asock_t *sock;
    sg_amember_t *prev_in_sock, *next_in_sock;
    sg_amember_t *prev_in_room, *next_in_room;
};

/* A socket in more rooms than this gets a hash index of its memberships, so
 * that join and leave stay O(1) however many rooms it is in; below it a
 * short scan is as fast and costs no memory. */
#define SG_ROOM_IDX_MIN 8

struct sg_adapter {
    const sg_adapter_ops_t *ops;
    char *nsp;
    const sg_adapter_host_t *host;
    const sg_adapter_chost_t *chost;
    const sg_adapter_env_t *env;
    void *host_ud;
    void *backend;
    sg_map_t *rooms; /* name -> sg_aroom_t */
    size_t max_rooms; /* per socket; 0 = no limit */
    sg_map_t *socks; /* id -> sg_asock_t */
    uint32_t stamp;
    /* Reused match vector; a nested selection (a callback that broadcasts
     * again) gets a private one instead. */
    sg_asock_t **vec;
    size_t vec_cap;
    int selecting;
    sg_rstore_t *store; /* recovery without a backend store; made on first use */
};

sg_adapter_t *sg_adapter_new(const sg_adapter_ops_t *ops, const char *nsp,
                             const sg_adapter_host_t *host, void *host_ud)
{
    if (!ops || ops->abi != SG_ADAPTER_ABI)
        return NULL;
    sg_adapter_t *a = sg_calloc(1, sizeof(*a));
    a->ops = ops;
    a->nsp = sg_strdup(nsp);
    a->host = host;
    a->host_ud = host_ud;
    a->rooms = sg_map_new();
    a->socks = sg_map_new();
    return a;
}

void sg_adapter_free(sg_adapter_t *a)
{
    if (!a)
        return;
    sg_map_iter_t it = {0};
    while (sg_map_next(a->socks, &it))
        sg_adapter_remove_socket(a, it.val);
    sg_map_free(a->rooms);
    sg_map_free(a->socks);
    sg_rstore_free(a->store);
    sg_free(a->vec);
    sg_free(a->nsp);
    sg_free(a);
}

const char *sg_adapter_nsp(const sg_adapter_t *a)
{
    return a->nsp;
}

int sg_adapter_open(sg_adapter_t *a, const sg_adapter_env_t *env,
                    const sg_adapter_chost_t *chost)
{
    a->env = env;
    a->chost = chost;
    return a->ops->open ? a->ops->open(a) : 0;
}

void sg_adapter_close(sg_adapter_t *a)
{
    if (a->ops->close)
        a->ops->close(a);
    a->ops = &sg_adapter_memory_ops;
    a->backend = NULL;
}

int sg_adapter_clustered(const sg_adapter_t *a)
{
    return a->ops != &sg_adapter_memory_ops;
}

const sg_adapter_env_t *sg_adapter_env(const sg_adapter_t *a)
{
    return a->env;
}

const sg_adapter_chost_t *sg_adapter_chost(const sg_adapter_t *a)
{
    return a->chost;
}

void *sg_adapter_host_ud(const sg_adapter_t *a)
{
    return a->host_ud;
}

void *sg_adapter_backend(const sg_adapter_t *a)
{
    return a->backend;
}

void sg_adapter_set_backend(sg_adapter_t *a, void *state)
{
    a->backend = state;
}

void sg_adapter_set_max_rooms(sg_adapter_t *a, size_t max)
{
    a->max_rooms = max;
}

void sg_adapter_add_socket(sg_adapter_t *a, sg_asock_t *s)
{
    s->rooms = s->rooms_tail = NULL;
    s->room_idx = NULL;
    s->nrooms = 0;
    s->mark = 0;
    s->except_mark = 0;
    sg_map_put(a->socks, s->id, s->id_len, s);
    if (a->ops->room_changed)
        a->ops->room_changed(a, s->id, s->id_len, 1, 1);
}

static const char *idx_key(const sg_amember_t *m)
{
    return (const char *)&m->room;
}

/* Take m out of its room's list and its socket's list and index, and free it. */
static void member_free(sg_adapter_t *a, sg_amember_t *m)
{
    sg_aroom_t *r = m->room;
    sg_asock_t *s = m->sock;
    if (m->prev_in_room)
        m->prev_in_room->next_in_room = m->next_in_room;
    else
        r->members = m->next_in_room;
    if (m->next_in_room)
        m->next_in_room->prev_in_room = m->prev_in_room;
    if (m->prev_in_sock)
        m->prev_in_sock->next_in_sock = m->next_in_sock;
    else
        s->rooms = m->next_in_sock;
    if (m->next_in_sock)
        m->next_in_sock->prev_in_sock = m->prev_in_sock;
    else
        s->rooms_tail = m->prev_in_sock;
    s->nrooms--;
    if (s->room_idx)
        sg_map_del(s->room_idx, idx_key(m), sizeof(m->room));
    if (a->host && a->host->membership)
        a->host->membership(s, r->name, r->len, 0, a->host_ud);
    if (--r->count == 0) {
        sg_map_del(a->rooms, r->name, r->len);
        if (a->ops->room_changed)
            a->ops->room_changed(a, r->name, r->len, 0, sg_map_get(a->socks, r->name, r->len) != NULL);
        sg_free(r->name);
        sg_free(r);
    }
    sg_free(m);
}

void sg_adapter_remove_socket(sg_adapter_t *a, sg_asock_t *s)
{
    sg_map_free(s->room_idx); /* first: no point in unindexing one by one */
    s->room_idx = NULL;
    while (s->rooms)
        member_free(a, s->rooms);
    if (sg_map_get(a->socks, s->id, s->id_len) == s) {
        sg_map_del(a->socks, s->id, s->id_len);
        if (a->ops->room_changed)
            a->ops->room_changed(a, s->id, s->id_len, 0, 1);
    }
}

sg_asock_t *sg_adapter_find(const sg_adapter_t *a, const char *id, size_t len)
{
    return sg_map_get(a->socks, id, len);
}

size_t sg_adapter_socket_count(const sg_adapter_t *a)
{
    return sg_map_count(a->socks);
}

size_t sg_adapter_room_count(const sg_adapter_t *a)
{
    return sg_map_count(a->rooms);
}

static int is_own_room(const sg_asock_t *s, const char *room, size_t len)
{
    return len == s->id_len && memcmp(room, s->id, len) == 0;
}

/* s's membership of r, or NULL: O(1) through the index or a short scan. */
static sg_amember_t *membership(const sg_asock_t *s, const sg_aroom_t *r)
{
    if (!r)
        return NULL;
    if (s->room_idx)
        return sg_map_get(s->room_idx, (const char *)&r, sizeof(r));
    for (sg_amember_t *m = s->rooms; m; m = m->next_in_sock)
        if (m->room == r)
            return m;
    return NULL;
}

int sg_adapter_in_room(const sg_adapter_t *a, const sg_asock_t *s, const char *room, size_t len)
{
    return is_own_room(s, room, len) || membership(s, sg_map_get(a->rooms, room, len)) != NULL;
}

int sg_adapter_join(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len)
{
    if (is_own_room(s, room, len))
        return 0;
    sg_aroom_t *r = sg_map_get(a->rooms, room, len);
    int created = 0;
    if (membership(s, r))
        return 0;
    if (a->max_rooms && s->nrooms >= a->max_rooms)
        return SG_ETOOBIG;
    if (!r) {
        r = sg_calloc(1, sizeof(*r));
        r->name = sg_strndup(room, len);
        r->len = len;
        sg_map_put(a->rooms, r->name, r->len, r);
        created = 1;
    }
    sg_amember_t *m = sg_calloc(1, sizeof(*m));
    m->room = r;
    m->sock = s;
    m->next_in_room = r->members;
    if (r->members)
        r->members->prev_in_room = m;
    r->members = m;
    r->count++;
    /* Appended so that rooms are reported in join order, as Node's Set does. */
    m->prev_in_sock = s->rooms_tail;
    if (s->rooms_tail)
        s->rooms_tail->next_in_sock = m;
    else
        s->rooms = m;
    s->rooms_tail = m;
    s->nrooms++;
    if (s->room_idx) {
        sg_map_put(s->room_idx, idx_key(m), sizeof(m->room), m);
    } else if (s->nrooms > SG_ROOM_IDX_MIN) {
        s->room_idx = sg_map_new();
        for (sg_amember_t *x = s->rooms; x; x = x->next_in_sock)
            sg_map_put(s->room_idx, idx_key(x), sizeof(x->room), x);
    }
    if (created && a->ops->room_changed) /* last: the room has its member */
        a->ops->room_changed(a, room, len, 1, sg_map_get(a->socks, room, len) != NULL);
    if (a->host && a->host->membership)
        a->host->membership(s, room, len, 1, a->host_ud);
    return 0;
}

void sg_adapter_leave(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len)
{
    sg_amember_t *m = membership(s, sg_map_get(a->rooms, room, len));
    if (m)
        member_free(a, m);
}

void sg_adapter_socket_rooms(const sg_asock_t *s,
                             void (*cb)(const char *room, size_t len, void *ud), void *ud)
{
    cb(s->id, s->id_len, ud);
    for (const sg_amember_t *m = s->rooms; m; m = m->next_in_sock)
        cb(m->room->name, m->room->len, ud);
}

void sg_adapter_all_rooms(const sg_adapter_t *a,
                          void (*cb)(const char *room, size_t len, void *ud), void *ud)
{
    sg_map_iter_t it = {0};
    while (sg_map_next(a->socks, &it))
        cb(it.key, it.klen, ud);
    it = (sg_map_iter_t){0};
    while (sg_map_next(a->rooms, &it)) {
        /* A room named like a socket id was already reported. */
        if (!sg_map_get(a->socks, it.key, it.klen))
            cb(it.key, it.klen, ud);
    }
}

size_t sg_adapter_room_size(const sg_adapter_t *a, const char *room, size_t len)
{
    sg_aroom_t *r = sg_map_get(a->rooms, room, len);
    size_t n = r ? r->count : 0;
    /* A socket cannot join its own id room explicitly, so no double count. */
    if (sg_map_get(a->socks, room, len))
        n++;
    return n;
}

static uint32_t next_stamp(sg_adapter_t *a)
{
    if (++a->stamp == 0) {
        /* Wrapped: clear every mark so an old stamp cannot match. */
        sg_map_iter_t it = {0};
        while (sg_map_next(a->socks, &it)) {
            sg_asock_t *s = it.val;
            s->mark = s->except_mark = 0;
        }
        a->stamp = 1;
    }
    return a->stamp;
}

typedef struct {
    sg_asock_t **v;
    size_t n, cap;
    int owned;
} svec_t;

static void svec_push(svec_t *v, sg_asock_t *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->v = sg_realloc(v->v, v->cap * sizeof(*v->v));
    }
    v->v[v->n++] = s;
}

static void mark_room(sg_adapter_t *a, const sg_name_t *room, uint32_t stamp, int except,
                      svec_t *out)
{
    sg_aroom_t *r = sg_map_get(a->rooms, room->p, room->len);
    for (sg_amember_t *m = r ? r->members : NULL; m; m = m->next_in_room) {
        sg_asock_t *s = m->sock;
        if (except)
            s->except_mark = stamp;
        else if (s->mark != stamp && s->except_mark != stamp) {
            s->mark = stamp;
            svec_push(out, s);
        }
    }
    sg_asock_t *s = sg_map_get(a->socks, room->p, room->len);
    if (s) {
        if (except)
            s->except_mark = stamp;
        else if (s->mark != stamp && s->except_mark != stamp) {
            s->mark = stamp;
            svec_push(out, s);
        }
    }
}

/* Collect the matches first: callbacks may change the very rooms being
 * walked (socketsLeave) or trigger another selection. */
static void collect(sg_adapter_t *a, const sg_bcast_opts_t *opts, svec_t *out)
{
    uint32_t stamp = next_stamp(a);
    if (!a->selecting) {
        out->v = a->vec;
        out->cap = a->vec_cap;
        out->owned = 0;
    } else {
        out->owned = 1;
    }
    out->n = 0;
    for (size_t i = 0; i < opts->nexcept; i++)
        mark_room(a, &opts->except[i], stamp, 1, out);
    if (opts->nrooms == 0) {
        sg_map_iter_t it = {0};
        while (sg_map_next(a->socks, &it)) {
            sg_asock_t *s = it.val;
            if (s->except_mark != stamp)
                svec_push(out, s);
        }
    } else {
        for (size_t i = 0; i < opts->nrooms; i++)
            mark_room(a, &opts->rooms[i], stamp, 0, out);
    }
    if (!out->owned) {
        a->vec = out->v;
        a->vec_cap = out->cap;
    }
}

size_t sg_adapter_select(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                         void (*cb)(sg_asock_t *s, void *ud), void *ud)
{
    svec_t v = {0};
    collect(a, opts, &v);
    a->selecting++;
    for (size_t i = 0; i < v.n; i++)
        cb(v.v[i], ud);
    a->selecting--;
    size_t n = v.n;
    if (v.owned)
        sg_free(v.v);
    return n;
}

typedef struct {
    sg_adapter_t *a;
    const sg_sio_encoded_t *enc;
    unsigned flags;
} deliver_ctx_t;

static void deliver_one(sg_asock_t *s, void *ud)
{
    deliver_ctx_t *c = ud;
    c->a->host->deliver(s, c->enc, c->flags, c->a->host_ud);
}

/* The common broadcasts (one room or everyone, minus a few sockets such as
 * the sender) need no dedup stamps and no match list: delivery never changes
 * membership, so the room can be walked directly. Returns 0 when opts need
 * the general path. */
static int broadcast_direct(sg_adapter_t *a, const sg_bcast_opts_t *opts, deliver_ctx_t *c)
{
    sg_asock_t *skip[4] = {0};
    if (opts->nrooms > 1 || opts->nexcept > 4)
        return 0;
    for (size_t i = 0; i < opts->nexcept; i++) {
        const sg_name_t *x = &opts->except[i];
        if (sg_map_get(a->rooms, x->p, x->len))
            return 0;
        skip[i] = sg_map_get(a->socks, x->p, x->len);
    }
#define SG_SKIPPED(s) ((s) == skip[0] || (s) == skip[1] || (s) == skip[2] || (s) == skip[3])
    if (opts->nrooms == 0) {
        sg_map_iter_t it = {0};
        while (sg_map_next(a->socks, &it))
            if (!SG_SKIPPED((sg_asock_t *)it.val))
                deliver_one(it.val, c);
        return 1;
    }
    const sg_name_t *room = &opts->rooms[0];
    sg_aroom_t *r = sg_map_get(a->rooms, room->p, room->len);
    sg_asock_t *own = sg_map_get(a->socks, room->p, room->len);
    if (r && own)
        return 0; /* a room named like a socket id: needs dedup */
    for (sg_amember_t *m = r ? r->members : NULL; m; m = m->next_in_room)
        if (!SG_SKIPPED(m->sock))
            deliver_one(m->sock, c);
    if (own && !SG_SKIPPED(own))
        deliver_one(own, c);
#undef SG_SKIPPED
    return 1;
}

static int deliver_local(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts)
{
    sg_sio_encoded_t enc = {0};
    int rc = sg_sio_encode(pkt, &enc);
    if (rc != 0)
        return rc;
    deliver_ctx_t c = {a, &enc, opts->flags};
    if (!broadcast_direct(a, opts, &c))
        sg_adapter_select(a, opts, deliver_one, &c);
    sg_sio_encoded_clear(&enc);
    return 0;
}

static uint64_t now_ms(const sg_adapter_t *a)
{
    return a->env && a->env->loop ? uv_now(a->env->loop) : uv_hrtime() / 1000000;
}

static sg_rstore_t *store_of(sg_adapter_t *a)
{
    if (!a->store)
        a->store = sg_rstore_new(a->env->recovery_ms, a->env->recovery_max_packets,
                                 a->env->recovery_max_sessions);
    return a->store;
}

/* Node's rule for what gets an offset (addOffsetIfNecessary). */
static int recoverable(const sg_adapter_t *a, const sg_sio_packet_t *pkt,
                       const sg_bcast_opts_t *opts)
{
    return sg_adapter_recovery(a) && pkt->type == SG_SIO_EVENT && pkt->id < 0 &&
           !(opts->flags & (SG_BCAST_VOLATILE | SG_BCAST_HAS_OFFSET)) && json_is_array(pkt->data);
}

/* In-process store: this node numbers the packet, keeps it, delivers it
 * with its offset, and forwards the original (each node numbers its own). */
static int broadcast_logged(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                            const sg_bcast_opts_t *opts)
{
    char off[SG_RSTORE_OFFSET_MAX];
    uint64_t now = now_ms(a);
    sg_rstore_t *st = store_of(a);
    sg_rstore_next_offset(st, now, off);
    sg_sio_packet_t p = *pkt;
    p.data = json_copy(pkt->data);
    json_array_append_new(p.data, json_string(off));
    sg_rstore_add_packet(st, now, off, p.data, pkt->bins, pkt->nbins, opts);
    int rc = deliver_local(a, &p, opts);
    json_decref(p.data);
    if (rc == 0 && !(opts->flags & SG_BCAST_LOCAL) && a->ops->broadcast)
        rc = a->ops->broadcast(a, pkt, opts);
    return rc;
}

int sg_adapter_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts)
{
    if (recoverable(a, pkt, opts)) {
        if (!a->ops->restore_session)
            return broadcast_logged(a, pkt, opts);
        /* The backend's offset: it delivers once the publish reports it. */
        if (!(opts->flags & SG_BCAST_LOCAL) && a->ops->broadcast_offset &&
            a->ops->broadcast_offset(a, pkt, opts) == 0)
            return 0;
    }
    int rc = deliver_local(a, pkt, opts);
    if (rc == 0 && !(opts->flags & SG_BCAST_LOCAL) && a->ops->broadcast)
        rc = a->ops->broadcast(a, pkt, opts);
    return rc;
}

int sg_adapter_recovery(const sg_adapter_t *a)
{
    return a->env && a->env->recovery_ms > 0;
}

int sg_adapter_recovery_shared(const sg_adapter_t *a)
{
    return a->ops->restore_session != NULL;
}

void sg_adapter_persist_session(sg_adapter_t *a, const char *sid, const char *pid,
                                const json_t *rooms, const json_t *data)
{
    if (!sg_adapter_recovery(a))
        return;
    if (a->ops->persist_session)
        a->ops->persist_session(a, sid, pid, rooms, data);
    else
        sg_rstore_add_session(store_of(a), now_ms(a), sid, pid, rooms, data);
}

void sg_adapter_restore_session(sg_adapter_t *a, const char *pid, const char *offset,
                                sg_adapter_restore_cb cb, void *ud)
{
    if (!sg_adapter_recovery(a))
        cb(ud, NULL);
    else if (a->ops->restore_session)
        a->ops->restore_session(a, pid, offset, cb, ud);
    else
        sg_rstore_restore(store_of(a), now_ms(a), pid, offset, cb, ud);
}

typedef struct {
    sg_adapter_t *a;
    const sg_name_t *rooms;
    size_t n;
    int join;
} rooms_ctx_t;

static void rooms_one(sg_asock_t *s, void *ud)
{
    rooms_ctx_t *c = ud;
    for (size_t i = 0; i < c->n; i++) {
        /* A socket at its room limit simply stays out of the extra room. */
        if (c->join)
            (void)sg_adapter_join(c->a, s, c->rooms[i].p, c->rooms[i].len);
        else
            sg_adapter_leave(c->a, s, c->rooms[i].p, c->rooms[i].len);
    }
}

/* Is there a remote part for an operation with these options? */
static int remote(const sg_adapter_t *a, const sg_bcast_opts_t *opts, const void *op)
{
    return op && !(opts && (opts->flags & SG_BCAST_LOCAL));
}

int sg_adapter_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n)
{
    rooms_ctx_t c = {a, rooms, n, 1};
    sg_adapter_select(a, opts, rooms_one, &c);
    return remote(a, opts, a->ops->add_sockets) ? a->ops->add_sockets(a, opts, rooms, n) : 0;
}

int sg_adapter_del_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n)
{
    rooms_ctx_t c = {a, rooms, n, 0};
    sg_adapter_select(a, opts, rooms_one, &c);
    return remote(a, opts, a->ops->del_sockets) ? a->ops->del_sockets(a, opts, rooms, n) : 0;
}

typedef struct {
    sg_adapter_t *a;
    int close;
} disc_ctx_t;

static void disc_one(sg_asock_t *s, void *ud)
{
    disc_ctx_t *c = ud;
    c->a->host->disconnect(s, c->close, c->a->host_ud);
}

int sg_adapter_disconnect_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close)
{
    disc_ctx_t c = {a, close};
    sg_adapter_select(a, opts, disc_one, &c);
    return remote(a, opts, a->ops->disconnect_sockets)
               ? a->ops->disconnect_sockets(a, opts, close)
               : 0;
}

/* ---- requests to the other nodes ---- */

/* Single node: the answer is "no other node", at once. */
static int none(sg_adapter_result_cb cb, void *ud)
{
    if (cb) {
        json_t *empty = json_array();
        cb(ud, 0, NULL, empty);
        json_decref(empty);
    }
    return 0;
}

int sg_adapter_fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                             sg_adapter_result_cb cb, void *ud)
{
    if (!remote(a, opts, a->ops->fetch_sockets))
        return none(cb, ud);
    return a->ops->fetch_sockets(a, opts, cb, ud);
}

int sg_adapter_all_rooms_remote(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud)
{
    if (!a->ops->all_rooms)
        return none(cb, ud);
    return a->ops->all_rooms(a, cb, ud);
}

int sg_adapter_server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                                size_t nbins, sg_adapter_result_cb cb, void *ud)
{
    if (!a->ops->server_side_emit)
        return none(cb, ud);
    return a->ops->server_side_emit(a, data, bins, nbins, cb, ud);
}

int sg_adapter_broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                             const sg_bcast_opts_t *opts, unsigned timeout_ms,
                             const sg_adapter_ack_sink_t *sink, void *ud, void **handle)
{
    *handle = NULL;
    if (!remote(a, opts, a->ops->broadcast_ack))
        return 0;
    return a->ops->broadcast_ack(a, pkt, opts, timeout_ms, sink, ud, handle) == 0 ? 0 : SG_EIO;
}

void sg_adapter_cancel(sg_adapter_t *a, void *handle)
{
    if (handle && a->ops->cancel)
        a->ops->cancel(a, handle);
}

void sg_adapter_event_packet(const sg_adapter_t *a, sg_sio_packet_t *p, const json_t *data,
                             sg_buf_t *const *bins, size_t nbins)
{
    sg_sio_packet_init(p);
    p->type = SG_SIO_EVENT;
    p->nsp = a->nsp;
    p->data = (json_t *)data;
    p->bins = (sg_buf_t **)bins;
    p->nbins = nbins;
}
