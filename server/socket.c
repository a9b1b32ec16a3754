/* socket.c - Socket.IO sockets: lifetime, delivery of packets, rooms,
 * emits, disconnect, and what the adapter needs of them. */
#include <stddef.h>
#include <string.h>

#include "handshake.h"
#include "json.h"
#include "sio_internal.h"
#include "slab.h"
#include "util.h"

static void drop_held(sg_socket_t *s);

/* ---- delivery ---- */

int sg_socket__deliver(sg_socket_t *s, const sg_sio_encoded_t *enc, unsigned flags)
{
    if (!s->connected || s->gone)
        return SG_ESTATE;
    int rc = sg_session_send(s->sess, enc->text, flags);
    if (rc != 0)
        return rc;
    /* Attachments follow their packet unconditionally once it is queued. */
    for (size_t i = 0; i < enc->nbins; i++)
        if (sg_session_send(s->sess, enc->bins[i], 0) != 0)
            return SG_ESTATE;
    return 0;
}

static void host_deliver(sg_asock_t *a, const sg_sio_encoded_t *pkt, unsigned flags, void *ud)
{
    sg_socket_t *s = (sg_socket_t *)a;
    if (sg_socket__deliver(s, pkt, flags) == 0)
        s->nsp->srv->stats.deliveries++;
}

static void host_disconnect(sg_asock_t *a, int close, void *ud)
{
    sg_socket_disconnect((sg_socket_t *)a, close);
}

static void host_membership(sg_asock_t *a, const char *room, size_t len, int joined, void *ud)
{
    sg_socket_t *s = (sg_socket_t *)a;
    const sg_observer_t *o = s->nsp->srv->observer;
    if (o && o->membership)
        o->membership(o->ud, s, room, len, joined);
}

const sg_adapter_host_t sg_socket_adapter_host = {host_deliver, host_disconnect, host_membership};

int sg_socket__send(sg_socket_t *s, sg_sio_packet_t *p, unsigned flags)
{
    sg_sio_encoded_t enc = {0};
    int rc = sg_sio_encode(p, &enc);
    if (rc == 0)
        rc = sg_socket__deliver(s, &enc, flags);
    sg_sio_encoded_clear(&enc);
    return rc;
}

/* ---- lifetime ---- */

sg_socket_t *sg_socket_ref(sg_socket_t *s)
{
    s->refs++;
    return s;
}

static void socket_destroy(sg_socket_t *s)
{
    if (s->data_free)
        s->data_free(s->data);
    if (s->rec) {
        json_decref(s->rec->restore_rooms);
        drop_held(s);
        sg_free(s->rec);
    }
    json_decref(s->auth);
    json_decref(s->handshake);
    json_decref(s->jdata);
    sg_slab_free(s);
}

void sg_socket_unref(sg_socket_t *s)
{
    if (s && --s->refs == 0)
        socket_destroy(s);
}

/* The session's reference is dropped at a safe point, never inside the loop
 * that disconnected the socket. */
static void retire(sg_socket_t *s)
{
    sg_server_t *srv = s->nsp->srv;
    if (srv->ndead == srv->capdead) {
        srv->capdead = srv->capdead ? srv->capdead * 2 : 64;
        srv->dead_sockets = sg_realloc(srv->dead_sockets, srv->capdead * sizeof(*srv->dead_sockets));
    }
    srv->dead_sockets[srv->ndead++] = s;
    sg_defer_want(&srv->defer, srv->dead_hook);
}

void sg_socket__free_dead(sg_server_t *srv)
{
    /* Unref may run user free hooks that disconnect more sockets. */
    while (srv->ndead) {
        sg_socket_t *s = srv->dead_sockets[--srv->ndead];
        sg_socket_unref(s);
    }
}

static void free_dead(void *ud)
{
    sg_socket__free_dead(ud);
}

void sg_socket__init(sg_server_t *srv)
{
    srv->dead_hook = sg_defer_add(&srv->defer, free_dead, srv);
}

sg_socket_t *sg_socket__new(sg_nsp_t *nsp, sg_session_t *sess, json_t *auth)
{
    sg_client_t *c = sg_client_of(sess);
    /* A protocol 4 client (Engine.IO v3) is never told its socket id: it
     * is the Engine.IO sid on "/" and "<nsp>#<sid>" elsewhere, as in Node.
     * Protocol 5 ids are random: the sid is a secret of the connection. */
    int legacy = sg_client_legacy(sess);
    size_t prefix = legacy && strcmp(nsp->name, "/") ? strlen(nsp->name) + 1 : 0;
    size_t id_len = prefix + SG_ID_LEN;
    sg_socket_t *s = sg_slab_calloc(offsetof(sg_socket_t, id) + id_len + 1);
    if (legacy) {
        if (prefix) {
            memcpy(s->id, nsp->name, prefix - 1);
            s->id[prefix - 1] = '#';
        }
        memcpy(s->id + prefix, sess->sid, SG_ID_LEN);
    } else {
        sg_random_id(s->id, SG_ID_LEN);
    }
    if (sg_adapter_recovery(nsp->adapter)) {
        s->rec = sg_calloc(1, sizeof(*s->rec));
        sg_random_id(s->rec->pid, SG_ID_LEN);
    }
    s->a.id = s->id;
    s->a.id_len = id_len;
    s->refs = 1;
    s->nsp = nsp;
    s->sess = sess;
    s->auth = auth ? json_incref(auth) : NULL;
    s->next_in_session = c->sockets;
    c->sockets = s;
    s->mw_next = nsp->middleware;
    return s;
}

void sg_socket__connected(sg_socket_t *s)
{
    s->connected = 1;
    sg_adapter_add_socket(s->nsp->adapter, &s->a);
    s->nsp->srv->stats.sockets++;
    s->nsp->srv->stats.connects++;
    if (s->rec && s->rec->restore_rooms) {
        size_t i;
        json_t *room;
        json_array_foreach(s->rec->restore_rooms, i, room)
        {
            if (json_is_string(room))
                (void)sg_adapter_join(s->nsp->adapter, &s->a, json_string_value(room),
                                      json_string_length(room));
        }
        json_decref(s->rec->restore_rooms);
        s->rec->restore_rooms = NULL;
    }
}

void sg_socket__restore(sg_socket_t *s, const sg_adapter_session_t *sess)
{
    size_t sidlen = sess && sess->sid ? strlen(sess->sid) : 0;
    size_t pidlen = sess && sess->pid ? strlen(sess->pid) : 0;
    /* A sid in use here already (the old socket not yet noticed gone) or of
     * a shape this server never hands out: a fresh session instead. */
    if (!s->rec || !sess || sidlen == 0 || sidlen > SG_ID_LEN || pidlen == 0 || pidlen > SG_ID_LEN ||
        sg_adapter_find(s->nsp->adapter, sess->sid, sidlen))
        return;
    memcpy(s->id, sess->sid, sidlen + 1);
    s->a.id_len = sidlen;
    sg_socket_rec_t *r = s->rec;
    memcpy(r->pid, sess->pid, pidlen + 1);
    s->recovered = 1;
    json_decref(s->jdata);
    s->jdata = json_is_object(sess->data) ? json_deep_copy(sess->data) : NULL;
    r->restore_rooms = json_is_array(sess->rooms) ? json_deep_copy(sess->rooms) : NULL;
    for (size_t i = 0; i < sess->nmissed; i++) {
        sg_sio_packet_t p;
        sg_sio_packet_init(&p);
        p.type = SG_SIO_EVENT;
        p.nsp = s->nsp->name;
        p.data = sess->missed[i].data;
        p.bins = sess->missed[i].bins;
        p.nbins = sess->missed[i].nbins;
        sg_sio_encoded_t enc = {0};
        if (sg_sio_encode(&p, &enc) == 0) {
            r->held = sg_realloc(r->held, (r->nheld + 1 + enc.nbins) * sizeof(*r->held));
            r->held[r->nheld++] = sg_buf_ref(enc.text);
            for (size_t k = 0; k < enc.nbins; k++)
                r->held[r->nheld++] = sg_buf_ref(enc.bins[k]);
        }
        sg_sio_encoded_clear(&enc);
    }
}

static void drop_held(sg_socket_t *s)
{
    sg_socket_rec_t *r = s->rec;
    if (!r)
        return;
    for (size_t i = 0; i < r->nheld; i++)
        sg_buf_unref(r->held[i]);
    sg_free(r->held);
    r->held = NULL;
    r->nheld = 0;
}

void sg_socket__send_held(sg_socket_t *s)
{
    /* Not connected yet: straight to the session, as Node does. */
    for (size_t i = 0; s->rec && i < s->rec->nheld; i++)
        sg_session_send(s->sess, s->rec->held[i], 0);
    drop_held(s);
}

void sg_socket__refused(sg_socket_t *s)
{
    drop_held(s);
    if (s->recovered && s->rec->restore_rooms)
        sg_adapter_persist_session(s->nsp->adapter, s->id, s->rec->pid, s->rec->restore_rooms,
                                   s->jdata);
}

/* Node's RECOVERABLE_DISCONNECT_REASONS. */
static int recoverable_reason(const char *r)
{
    static const char *const reasons[] = {"transport error", "transport close",
                                          "forced close",    "ping timeout",
                                          "server shutting down", "forced server close"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strcmp(r, reasons[i]))
            return 1;
    return 0;
}

static void add_room(const char *room, size_t len, void *ud);

static void persist(sg_socket_t *s)
{
    json_t *rooms = json_array();
    sg_adapter_socket_rooms(&s->a, add_room, rooms);
    sg_adapter_persist_session(s->nsp->adapter, s->id, s->rec->pid, rooms, s->jdata);
    json_decref(rooms);
}

static void unlink_from_session(sg_socket_t *s)
{
    for (sg_socket_t **pp = &sg_client_of(s->sess)->sockets; *pp; pp = &(*pp)->next_in_session) {
        if (*pp == s) {
            *pp = s->next_in_session;
            break;
        }
    }
}

void sg_socket__onclose(sg_socket_t *s, const char *reason)
{
    if (s->gone)
        return;
    s->gone = 1;
    int was_connected = s->connected;
    s->connected = 0;
    sg_socket_ref(s);
    if (was_connected && s->rec && recoverable_reason(reason))
        persist(s);
    else if (!was_connected && s->recovered && recoverable_reason(reason))
        sg_socket__refused(s); /* gone before its CONNECT: keep the session */
    if (was_connected) {
        sg_adapter_remove_socket(s->nsp->adapter, &s->a);
        s->nsp->srv->stats.sockets--;
        s->nsp->srv->stats.disconnects++;
    }
    unlink_from_session(s);
    if (was_connected) {
        for (sg_handler_t *h = s->nsp->on_disconnect; h; h = h->next)
            h->cb.disc(s, reason, h->ud);
    }
    /* Pending acknowledgements will never come. */
    sg_acks__fail_all(s, SG_ESTATE);
    retire(s);
    sg_socket_unref(s);
}

/* ---- public socket API ---- */

const char *sg_socket_id(const sg_socket_t *s)
{
    return s->id;
}

sg_nsp_t *sg_socket_nsp(const sg_socket_t *s)
{
    return s->nsp;
}

int sg_socket_recovered(const sg_socket_t *s)
{
    return s->recovered;
}

int sg_socket_connected(const sg_socket_t *s)
{
    return s->connected && !s->gone;
}

json_t *sg_socket_handshake(sg_socket_t *s)
{
    if (!s->handshake) {
        s->handshake = sg_handshake_json(s->sess && !s->gone ? &s->sess->hs : NULL);
        json_object_set_new(s->handshake, "auth", s->auth ? json_incref(s->auth) : json_object());
    }
    return s->handshake;
}

int sg_socket_join(sg_socket_t *s, const char *room)
{
    return sg_socket_join_n(s, room, strlen(room));
}

int sg_socket_join_n(sg_socket_t *s, const char *room, size_t len)
{
    if (!sg_socket_connected(s))
        return SG_ESTATE;
    return sg_adapter_join(s->nsp->adapter, &s->a, room, len);
}

int sg_socket_leave(sg_socket_t *s, const char *room)
{
    return sg_socket_leave_n(s, room, strlen(room));
}

int sg_socket_leave_n(sg_socket_t *s, const char *room, size_t len)
{
    if (!sg_socket_connected(s))
        return SG_ESTATE;
    sg_adapter_leave(s->nsp->adapter, &s->a, room, len);
    return 0;
}

int sg_socket_in_room(const sg_socket_t *s, const char *room)
{
    return sg_socket_connected(s) &&
           sg_adapter_in_room(s->nsp->adapter, &s->a, room, strlen(room));
}

static void add_room(const char *room, size_t len, void *ud)
{
    json_array_append_new(ud, json_stringn(room, len));
}

json_t *sg_socket_rooms(const sg_socket_t *s)
{
    json_t *a = json_array();
    if (sg_socket_connected(s))
        sg_adapter_socket_rooms(&s->a, add_room, a);
    return a;
}

static int emit(sg_socket_t *s, const char *event, const sg_data_t *args, int64_t id,
                unsigned flags)
{
    if (!sg_socket_connected(s))
        return SG_ESTATE;
    if (sg_sio_is_reserved_event(event))
        return SG_EINVAL;
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_EVENT;
    p.nsp = s->nsp->name;
    p.id = id;
    sg_data__fill(&p, event, args);
    int rc;
    if (s->rec && id < 0 && !(flags & SG_BCAST_VOLATILE)) {
        /* With recovery, Node sends socket.emit through the adapter, so the
         * packet gets an offset and is kept for a later restore. A backend
         * without a store of its own keeps it here: nothing to forward. */
        sg_name_t self = {s->id, s->a.id_len};
        sg_bcast_opts_t o = {&self, 1, NULL, 0,
                             sg_adapter_recovery_shared(s->nsp->adapter) ? 0 : SG_BCAST_LOCAL};
        rc = sg_adapter_broadcast(s->nsp->adapter, &p, &o);
    } else {
        rc = sg_socket__send(s, &p, flags);
    }
    sg_data__unfill(&p);
    return rc;
}

int sg_socket_emit(sg_socket_t *s, const char *event, const sg_data_t *args)
{
    return emit(s, event, args, -1, 0);
}

int sg_socket_emit_volatile(sg_socket_t *s, const char *event, const sg_data_t *args)
{
    int rc = emit(s, event, args, -1, SG_BCAST_VOLATILE);
    return rc == SG_EAGAIN ? 0 : rc;
}

int sg_socket_emit_ack(sg_socket_t *s, const char *event, const sg_data_t *args,
                       unsigned timeout_ms, sg_ack_cb cb, void *ud)
{
    if (!sg_socket_connected(s))
        return SG_ESTATE;
    if (!sg_acks__room(s))
        return SG_ETOOBIG; /* maxPendingAcks: nothing is sent */
    int64_t id = s->nsp->next_ack_id++;
    int rc = emit(s, event, args, id, 0);
    if (rc == 0)
        rc = sg_acks__expect(s, id, sg_timeout_cap(timeout_ms), cb, ud);
    return rc;
}

static void send_disconnect(sg_socket_t *s)
{
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_DISCONNECT;
    p.nsp = s->nsp->name;
    sg_socket__send(s, &p, 0);
}

void sg_socket_disconnect(sg_socket_t *s, int close)
{
    if (!sg_socket_connected(s))
        return;
    if (close) {
        /* Node's client._disconnect(): every namespace socket of this client
         * gets its DISCONNECT (so the client sees "io server disconnect" and
         * does not reconnect), then the connection closes once that is
         * written, as Node's conn.close() waits for its buffer to drain. */
        sg_session_t *sess = s->sess;
        sg_client_t *c = sg_client_of(sess);
        while (c->sockets) {
            sg_socket_t *x = c->sockets;
            if (x->connected && !x->gone)
                send_disconnect(x);
            sg_socket__onclose(x, "server namespace disconnect");
        }
        sg_session_close(sess, "forced server close", 1);
        return;
    }
    send_disconnect(s);
    sg_socket__onclose(s, "server namespace disconnect");
}

void sg_socket_set_data(sg_socket_t *s, void *data, void (*free_fn)(void *))
{
    if (s->data_free && s->data != data)
        s->data_free(s->data);
    s->data = data;
    s->data_free = free_fn;
}

void *sg_socket_get_data(const sg_socket_t *s)
{
    return s->data;
}

/* ---- the cluster (adapter host callbacks) ---- */

json_t *sg_socket_data_json(sg_socket_t *s)
{
    if (!s->jdata)
        s->jdata = json_object();
    return s->jdata;
}

json_t *sg_socket__describe(sg_socket_t *s)
{
    return json_pack("{s:s,s:O,s:o,s:O}", "id", s->id, "handshake", sg_socket_handshake(s),
                     "rooms", sg_socket_rooms(s), "data", sg_socket_data_json(s));
}
