/* client.c - the Socket.IO layer on an Engine.IO session (Node's Client):
 * packets from the client decoded and dispatched to its sockets, one per
 * namespace joined, CONNECT through the namespace's middleware, events to
 * their handlers. The engine reaches it only through sg_client_upper. */
#include <string.h>

#include "json.h"
#include "log.h"
#include "sio_internal.h"
#include "util.h"

/* Packets before CONNECT is accepted (CONNECT_ERROR, the CONNECT reply). */
static void send_raw(sg_session_t *sess, sg_sio_packet_t *p)
{
    sg_sio_encoded_t enc = {0};
    if (sg_sio_encode(p, &enc) == 0)
        sg_session_send(sess, enc.text, 0);
    sg_sio_encoded_clear(&enc);
}

/* mw: a middleware refused, which protocol 4 reports in its own shape
 * (an unknown namespace gets the object form in both, as in Node). */
static void send_connect_error(sg_session_t *sess, const char *nsp, const char *msg, json_t *data,
                               int mw)
{
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_CONNECT_ERROR;
    p.nsp = (char *)nsp;
    if (mw && sg_client_legacy(sess)) {
        p.data = sg_proto4__error_payload(msg, data);
    } else {
        p.data = json_object();
        json_object_set_new(p.data, "message", json_string(msg ? msg : "error"));
        if (data)
            json_object_set_new(p.data, "data", data);
    }
    send_raw(sess, &p);
    json_decref(p.data);
}

/* ---- connect ---- */

static void accept_socket(sg_socket_t *s)
{
    sg_session_t *sess = s->sess;
    if (sess->state != SG_SESS_OPEN) {
        sg_socket__onclose(s, "transport close");
        return;
    }
    sess->upper_mark = 1; /* joined a namespace */
    sg_socket__send_held(s);
    sg_socket__connected(s);
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_CONNECT;
    p.nsp = s->nsp->name;
    /* protocol 4: a bare CONNECT (the client derives its id) */
    if (!sg_client_legacy(sess))
        p.data = s->rec ? json_pack("{ssss}", "sid", s->id, "pid", s->rec->pid)
                           : json_pack("{ss}", "sid", s->id);
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
        sg_socket__refused(s);
        send_connect_error(s->sess, s->nsp->name, err_message, err_data, 1);
        sg_socket__onclose(s, "middleware error");
        return;
    }
    run_middleware(s);
}

static void on_restored(void *ud, const sg_adapter_session_t *found)
{
    sg_socket_t *s = ud;
    if (!s->gone) { /* the connection may have gone while we waited */
        sg_socket__restore(s, found);
        if (s->recovered && s->nsp->srv->cfg.skip_middlewares)
            accept_socket(s);
        else
            run_middleware(s);
    }
    sg_socket_unref(s);
}

/* auth.pid and auth.offset as a reconnecting client sends them: strings of
 * a sane length, or nothing to restore. */
static const char *auth_str(const json_t *auth, const char *key)
{
    const json_t *v = json_object_get(auth, key);
    size_t len = json_string_length(v);
    const char *str = json_string_value(v);
    return str && len > 0 && len <= 64 && strlen(str) == len ? str : NULL;
}

static void nsp_connect(sg_session_t *sess, sg_sio_packet_t *pkt)
{
    sg_nsp_t *nsp = sg_nsp__find(sess->eng->owner, pkt->nsp, strlen(pkt->nsp));
    if (!nsp) {
        send_connect_error(sess, pkt->nsp, "Invalid namespace", NULL, 0);
        return;
    }
    /* Most clients send no auth: keep NULL until someone looks (memory). */
    json_t *auth = pkt->data && json_is_object(pkt->data) ? pkt->data : NULL;
    sg_socket_t *s = sg_socket__new(nsp, sess, auth);
    sg_socket_ref(s);
    const char *pid = auth_str(auth, "pid"), *offset = auth_str(auth, "offset");
    if (s->rec && pid && offset)
        sg_adapter_restore_session(nsp->adapter, pid, offset, on_restored, sg_socket_ref(s));
    else
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
    s->nsp->srv->stats.events_in++;
    const sg_observer_t *o = s->nsp->srv->observer;
    if (o && o->event)
        o->event(o->ud, s, pkt);
    if (!h)
        return;
    sg_data_t *args = sg_data__from_packet(pkt, 1);
    sg_ack_t *ack = pkt->id >= 0 ? sg_reply__new(s, pkt->id) : NULL;
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
    for (sg_socket_t *s = sg_client_of(sess)->sockets; s; s = s->next_in_session)
        if (!strcmp(s->nsp->name, nsp))
            return s;
    return NULL;
}

static void dispatch(sg_session_t *sess, sg_sio_packet_t *pkt)
{
    if (sg_client_legacy(sess)) {
        /* protocol 4: "/nsp?query" on any packet; a CONNECT's auth is the
         * query (whatever payload it carries is ignored, as in Node) */
        json_t *auth = sg_proto4__split_nsp(pkt);
        if (pkt->type == SG_SIO_CONNECT) {
            json_decref(pkt->data);
            pkt->data = json_object_size(auth) ? auth : (json_decref(auth), NULL);
        }
    }
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
        sg_socket__onclose(s, "client namespace disconnect");
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

static void on_message(sg_session_t *sess, const unsigned char *data, size_t len, sg_buf_t *bin)
{
    const sg_config_t *cfg = sess->eng->cfg;
    sg_sio_packet_t pkt;
    if (bin) {
        int rc = sg_partial__add(sess, bin, &pkt);
        if (rc < 0) {
            /* Unannounced, over maxBinaryPacketSize, or placeholders that
             * name no attachment: socket.io (not engine.io) rejects it, and
             * Node closes with "forced close". */
            SG_DEBUG(cfg, "session %s: bad binary attachment (%s)", sess->sid,
                     sg_strerror(rc));
            sg_session_close(sess, "forced close", 0);
            return;
        }
        if (rc == 0)
            return;
    } else {
        sg_sio_limits_t lim = {cfg->max_attachments};
        if (sg_client_of(sess)->partial || sg_sio_decode(data, len, &lim, &pkt) != 0) {
            SG_DEBUG(cfg, "session %s: invalid Socket.IO packet", sess->sid);
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


/* ---- the upper layer, as the engine sees it ---- */

static void on_close(sg_session_t *sess, const char *reason)
{
    sg_client_t *c = sg_client_of(sess);
    while (c->sockets)
        sg_socket__onclose(c->sockets, reason);
    sg_partial__free(sess);
}

static void on_release(sg_session_t *sess)
{
    sg_partial__free(sess);
}

static int joined(sg_session_t *sess)
{
    return sess->upper_mark;
}

static void upgraded(sg_session_t *sess)
{
    sg_server_t *srv = sess->eng->owner;
    if (srv->observer && srv->observer->upgraded)
        srv->observer->upgraded(srv->observer->ud, sess);
}

/* Protocol 4 clients are in "/" from the handshake on, without asking. */
static void opened(sg_session_t *sess)
{
    if (!sg_client_legacy(sess))
        return;
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_CONNECT;
    p.nsp = sg_strdup("/");
    nsp_connect(sess, &p);
    sg_sio_packet_clear(&p);
}

const sg_eio_upper_t sg_client_upper = {on_message, on_close, on_release, joined,
                                        sizeof(sg_client_t), upgraded, opened};
