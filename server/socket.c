/* socket.c - Socket.IO sockets: packets from a session, namespace CONNECT
 * with middleware, events, acknowledgements in both directions, rooms,
 * disconnect. */
#include <string.h>

#include "handshake.h"
#include "internal.h"
#include "json.h"

struct sg_ack {
    sg_socket_t *s;               /* NULL for an ack owed to another node */
    sg_adapter_reply_t *remote;   /* that node's answer path */
    int64_t id;
    uint8_t kept, sent;
    uint8_t in_cb; /* the event callback is running: on_event frees it */
};

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
    sg_socket__deliver((sg_socket_t *)a, pkt, flags);
}

static void host_disconnect(sg_asock_t *a, int close, void *ud)
{
    sg_socket_disconnect((sg_socket_t *)a, close);
}

const sg_adapter_host_t sg_socket_adapter_host = {host_deliver, host_disconnect};

static int send_packet(sg_socket_t *s, sg_sio_packet_t *p, unsigned flags)
{
    sg_sio_encoded_t enc = {0};
    int rc = sg_sio_encode(p, &enc);
    if (rc == 0)
        rc = sg_socket__deliver(s, &enc, flags);
    sg_sio_encoded_clear(&enc);
    return rc;
}

/* Packets before CONNECT is accepted (CONNECT_ERROR, the CONNECT reply). */
static void send_raw(sg_session_t *sess, sg_sio_packet_t *p)
{
    sg_sio_encoded_t enc = {0};
    if (sg_sio_encode(p, &enc) == 0)
        sg_session_send(sess, enc.text, 0);
    sg_sio_encoded_clear(&enc);
}

static void send_connect_error(sg_session_t *sess, const char *nsp, const char *msg, json_t *data)
{
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_CONNECT_ERROR;
    p.nsp = (char *)nsp;
    p.data = json_object();
    json_object_set_new(p.data, "message", json_string(msg ? msg : "error"));
    if (data)
        json_object_set_new(p.data, "data", data);
    send_raw(sess, &p);
    json_decref(p.data);
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
    json_decref(s->auth);
    json_decref(s->handshake);
    json_decref(s->jdata);
    sg_free(s);
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
    sg_server_want_reap(srv);
}

void sg_socket_free_dead(sg_server_t *srv)
{
    /* Unref may run user free hooks that disconnect more sockets. */
    while (srv->ndead) {
        sg_socket_t *s = srv->dead_sockets[--srv->ndead];
        sg_socket_unref(s);
    }
}

static void unlink_from_session(sg_socket_t *s)
{
    for (sg_socket_t **pp = &s->sess->sockets; *pp; pp = &(*pp)->next_in_session) {
        if (*pp == s) {
            *pp = s->next_in_session;
            break;
        }
    }
}

/* Node's _onclose: leave every room, forget the socket, then tell the app. */
static void socket_onclose(sg_socket_t *s, const char *reason)
{
    if (s->gone)
        return;
    s->gone = 1;
    int was_connected = s->connected;
    s->connected = 0;
    sg_socket_ref(s);
    if (was_connected)
        sg_adapter_remove_socket(s->nsp->adapter, &s->a);
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

void sg_sio_on_close(sg_session_t *sess, const char *reason)
{
    while (sess->sockets)
        socket_onclose(sess->sockets, reason);
    sg_partial__free(sess);
}

/* ---- connect ---- */

static void accept_socket(sg_socket_t *s)
{
    sg_session_t *sess = s->sess;
    if (sess->state != SG_SESS_OPEN) {
        socket_onclose(s, "transport close");
        return;
    }
    s->connected = 1;
    sess->connect_deadline = 0;
    sg_adapter_add_socket(s->nsp->adapter, &s->a);
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_CONNECT;
    p.nsp = s->nsp->name;
    p.data = json_pack("{ss}", "sid", s->id);
    send_raw(sess, &p);
    json_decref(p.data);
    sg_socket_ref(s);
    for (sg_handler_t *h = s->nsp->on_connection; h && s->connected; h = h->next)
        h->cb.conn(s, h->ud);
    sg_socket_unref(s);
}

static void run_middleware(sg_socket_t *s)
{
    if (s->gone || s->connected)
        return;
    sg_handler_t *h = s->mw_next;
    if (!h) {
        accept_socket(s);
        return;
    }
    s->mw_next = h->next;
    if (!s->auth)
        s->auth = json_object();
    h->cb.mw(s, s->auth, h->ud);
}

void sg_socket_next(sg_socket_t *s, const char *err_message, json_t *err_data)
{
    if (s->gone || s->connected) {
        json_decref(err_data);
        return;
    }
    if (err_message || err_data) {
        send_connect_error(s->sess, s->nsp->name, err_message, err_data);
        socket_onclose(s, "middleware error");
        return;
    }
    run_middleware(s);
}

static void nsp_connect(sg_session_t *sess, sg_sio_packet_t *pkt)
{
    sg_nsp_t *nsp = sg_nsp_find(sess->srv, pkt->nsp);
    if (!nsp) {
        send_connect_error(sess, pkt->nsp, "Invalid namespace", NULL);
        return;
    }
    sg_socket_t *s = sg_calloc(1, sizeof(*s));
    sg_random_id(s->id, SG_ID_LEN);
    s->a.id = s->id;
    s->a.id_len = SG_ID_LEN;
    s->refs = 1;
    s->nsp = nsp;
    s->sess = sess;
    /* Most clients send no auth: keep NULL until someone looks (memory). */
    s->auth = pkt->data && json_is_object(pkt->data) ? json_incref(pkt->data) : NULL;
    s->next_in_session = sess->sockets;
    sess->sockets = s;
    s->mw_next = nsp->middleware;
    sg_socket_ref(s);
    run_middleware(s);
    sg_socket_unref(s);
}

/* ---- events and acks ---- */

static void on_event(sg_socket_t *s, sg_sio_packet_t *pkt)
{
    json_t *name = json_array_get(pkt->data, 0);
    char numbuf[64];
    const char *event;
    size_t len;
    if (json_is_string(name)) {
        /* The whole name: "echo\u0000x" is not "echo" (a handler name has
         * no NUL, so such an event only reaches the catch-all, which sees
         * the name up to the NUL). */
        event = json_string_value(name);
        len = json_string_length(name);
    } else {
        sg_sbuf_t sb;
        sg_sbuf_init(&sb);
        sg_json_dump(&sb, name, NULL, NULL);
        size_t l = sb.len < sizeof(numbuf) - 1 ? sb.len : sizeof(numbuf) - 1;
        memcpy(numbuf, sg_sbuf_data(&sb), l);
        numbuf[l] = '\0';
        sg_sbuf_reset(&sb);
        event = numbuf;
        len = l;
    }
    sg_handler_t *h = sg_map_get(s->nsp->event_map, event, len);
    if (!h)
        h = s->nsp->any;
    if (!h)
        return;
    sg_data_t *args = sg_data__from_packet(pkt, 1);
    sg_ack_t *ack = NULL;
    if (pkt->id >= 0) {
        ack = sg_calloc(1, sizeof(*ack));
        ack->s = sg_socket_ref(s);
        ack->id = pkt->id;
    }
    sg_socket_ref(s);
    if (ack)
        ack->in_cb = 1;
    h->cb.ev(s, event, args, ack, h->ud);
    if (ack) {
        ack->in_cb = 0;
        if (!ack->kept || ack->sent)
            sg_ack_free(ack);
    }
    sg_data_free(args);
    sg_socket_unref(s);
}

static sg_socket_t *session_socket(sg_session_t *sess, const char *nsp)
{
    for (sg_socket_t *s = sess->sockets; s; s = s->next_in_session)
        if (!strcmp(s->nsp->name, nsp))
            return s;
    return NULL;
}

static void dispatch(sg_session_t *sess, sg_sio_packet_t *pkt)
{
    sg_socket_t *s = session_socket(sess, pkt->nsp);
    if (pkt->type == SG_SIO_CONNECT) {
        if (s)
            sg_session_close(sess, "forced close", 0); /* duplicate CONNECT */
        else
            nsp_connect(sess, pkt);
        return;
    }
    if (!s || !s->connected) {
        sg_session_close(sess, "forced close", 0);
        return;
    }
    switch (pkt->type) {
    case SG_SIO_DISCONNECT:
        socket_onclose(s, "client namespace disconnect");
        break;
    case SG_SIO_EVENT:
    case SG_SIO_BINARY_EVENT:
        on_event(s, pkt);
        break;
    case SG_SIO_ACK:
    case SG_SIO_BINARY_ACK:
        sg_acks__answer(s, pkt);
        break;
    default:
        break;
    }
}

void sg_sio_on_message(sg_session_t *sess, const unsigned char *data, size_t len, sg_buf_t *bin)
{
    sg_sio_packet_t pkt;
    if (bin) {
        int rc = sg_partial__add(sess, bin, &pkt);
        if (rc < 0) {
            /* Unannounced, over maxBinaryPacketSize, or placeholders that
             * name no attachment: socket.io (not engine.io) rejects it, and
             * Node closes with "forced close". */
            SG_DEBUG(sess->srv, "session %s: bad binary attachment (%s)", sess->sid,
                     sg_strerror(rc));
            sg_session_close(sess, "forced close", 0);
            return;
        }
        if (rc == 0)
            return;
    } else {
        sg_sio_limits_t lim = {sess->srv->cfg.max_attachments};
        if (sess->partial || sg_sio_decode(data, len, &lim, &pkt) != 0) {
            SG_DEBUG(sess->srv, "session %s: invalid Socket.IO packet", sess->sid);
            sg_session_close(sess, "forced close", 0);
            return;
        }
        if (pkt.attachments > 0) {
            /* Only the text is kept while the attachments come (partial.c). */
            size_t n = pkt.attachments;
            sg_sio_packet_clear(&pkt);
            if (sg_partial__start(sess, data, len, n) != 0) {
                sg_session_close(sess, "forced close", 0);
            }
            return;
        }
    }
    dispatch(sess, &pkt);
    sg_sio_packet_clear(&pkt);
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

int sg_socket_connected(const sg_socket_t *s)
{
    return s->connected && !s->gone;
}

json_t *sg_socket_handshake(sg_socket_t *s)
{
    if (!s->handshake) {
        s->handshake = sg_handshake_json(s->sess && !s->gone ? s->sess->handshake : NULL);
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
    int rc = send_packet(s, &p, flags);
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
    send_packet(s, &p, 0);
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
        while (sess->sockets) {
            sg_socket_t *x = sess->sockets;
            if (x->connected && !x->gone)
                send_disconnect(x);
            socket_onclose(x, "server namespace disconnect");
        }
        sg_session_close(sess, "forced server close", 1);
        return;
    }
    send_disconnect(s);
    socket_onclose(s, "server namespace disconnect");
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

/* ---- acks the server sends ---- */

sg_ack_t *sg_ack_keep(sg_ack_t *ack)
{
    ack->kept = 1;
    return ack;
}

int sg_ack_send(sg_ack_t *ack, const sg_data_t *args)
{
    int rc = SG_ESTATE;
    if (ack->remote) {
        if (!ack->sent) {
            /* Node forwards only the first argument of a server-side ack. */
            sg_sio_packet_t p;
            sg_sio_packet_init(&p);
            sg_data__fill(&p, NULL, args);
            ack->remote->send(ack->remote, json_array_get(p.data, 0), p.bins, p.nbins);
            sg_data__unfill(&p);
            rc = 0;
        }
    } else if (!ack->sent && sg_socket_connected(ack->s)) {
        sg_sio_packet_t p;
        sg_sio_packet_init(&p);
        p.type = SG_SIO_ACK;
        p.nsp = ack->s->nsp->name;
        p.id = ack->id;
        sg_data__fill(&p, NULL, args);
        rc = send_packet(ack->s, &p, 0);
        sg_data__unfill(&p);
    }
    ack->sent = 1;
    if (ack->kept && !ack->in_cb)
        sg_ack_free(ack);
    return rc;
}

void sg_ack_free(sg_ack_t *ack)
{
    if (!ack)
        return;
    if (ack->in_cb) {
        ack->kept = 0; /* on_event releases it when the callback returns */
        return;
    }
    if (ack->remote)
        ack->remote->release(ack->remote);
    else
        sg_socket_unref(ack->s);
    sg_free(ack);
}

/* ---- the cluster (adapter host callbacks) ---- */

json_t *sg_socket_data_json(sg_socket_t *s)
{
    if (!s->jdata)
        s->jdata = json_object();
    return s->jdata;
}

/* serverSideEmit received from another node: the handlers registered with
 * sg_nsp_on_server_event run with s == NULL; the first one gets the ack. */
void sg_socket__server_event(sg_nsp_t *nsp, const json_t *data, sg_buf_t *const *bins,
                             size_t nbins, sg_adapter_reply_t *reply)
{
    const json_t *jname = json_array_get(data, 0);
    const char *event = json_string_value(jname);
    size_t elen = json_string_length(jname);
    sg_ack_t *ack = NULL;
    if (reply) {
        ack = sg_calloc(1, sizeof(*ack));
        ack->remote = reply;
    }
    if (!event) {
        sg_ack_free(ack);
        return;
    }
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.data = (json_t *)data;
    if (nbins) {
        p.bins = sg_malloc(nbins * sizeof(*p.bins));
        for (size_t i = 0; i < nbins; i++)
            p.bins[i] = sg_buf_ref(bins[i]);
        p.nbins = nbins;
    }
    sg_data_t *args = sg_data__from_packet(&p, 1);
    if (ack)
        ack->in_cb = 1;
    sg_ack_t *give = ack;
    for (sg_handler_t *h = nsp->server_events; h; h = h->next) {
        if (strlen(h->event) != elen || memcmp(h->event, event, elen) != 0)
            continue;
        h->cb.ev(NULL, event, args, give, h->ud);
        give = NULL;
    }
    if (ack) {
        ack->in_cb = 0;
        if (!ack->kept || ack->sent)
            sg_ack_free(ack);
    }
    sg_data_free(args);
}
