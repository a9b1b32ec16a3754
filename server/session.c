/* session.c - Engine.IO sessions: ids, heartbeat, upgrade, close, and the
 * one output queue both transports drain. */
#include <stddef.h>
#include <string.h>

#include "eio.h"
#include "internal.h"


static sg_outq_limits_t limits_of(const sg_server_t *srv)
{
    sg_outq_limits_t l = {srv->cfg.outq_hard_limit, srv->cfg.outq_soft_limit,
                          (uint64_t)srv->cfg.outq_soft_seconds * 1000};
    return l;
}

static void on_timer(sg_timer_t *t);

sg_session_t *sg_session_new(sg_server_t *srv, sg_transport_t tr, int echo)
{
    sg_session_t *s = sg_calloc(1, sizeof(*s));
    do {
        sg_random_id(s->sid, SG_ID_LEN);
    } while (sg_map_get(srv->sessions, s->sid, SG_ID_LEN));
    s->srv = srv;
    s->transport = tr;
    s->echo = echo;
    s->state = SG_SESS_OPEN;
    uint64_t now = sg_now_ms(srv);
    sg_map_put(srv->sessions, s->sid, SG_ID_LEN, s);
    sg_timer_init(&s->timer, on_timer);
    s->hb_due = now + srv->cfg.ping_interval;
    if (!echo)
        s->connect_deadline = now + srv->cfg.connect_timeout;
    sg_session_schedule(s);
    SG_DEBUG(srv, "session %s opened (%s)", s->sid, tr == SG_TR_POLLING ? "polling" : "websocket");
    return s;
}

int sg_session_full(sg_server_t *srv)
{
    size_t n = sg_map_count(srv->sessions);
    if (n < srv->cfg.max_sessions) {
        if (srv->full_refused) {
            SG_WARN(srv, "below maxSessions again (%llu handshakes refused meanwhile)",
                    srv->full_refused);
            srv->full_refused = 0;
        }
        return 0;
    }
    if (!srv->full_refused++)
        SG_WARN(srv, "maxSessions (%zu) reached: refusing new sessions", srv->cfg.max_sessions);
    return 1;
}

sg_session_t *sg_session_find(sg_server_t *srv, const char *sid, size_t len)
{
    return sg_map_get(srv->sessions, sid, len);
}

/* Can a packet go out right now without waiting? (Node's transport.writable) */
static int writable(const sg_session_t *s)
{
    if (!sg_outq_empty(&s->q))
        return 0;
    if (s->transport == SG_TR_WEBSOCKET)
        return s->ws && !s->ws_parked;
    return s->get != NULL && !s->upgrading;
}

static void request_close(sg_session_t *s, const char *reason)
{
    if (s->pending_close || s->state == SG_SESS_CLOSED)
        return;
    s->pending_close = reason;
    s->close_next = s->srv->close_list;
    s->srv->close_list = s;
    sg_server_want_reap(s->srv);
}

static int push(sg_session_t *s, sg_buf_t *pkt)
{
    sg_outq_limits_t lim = limits_of(s->srv);
    int rc = sg_outq_push(&s->q, pkt, &lim, sg_now_ms(s->srv));
    if (rc != 0) {
        SG_WARN(s->srv, "session %s: output queue over its limit (%zu bytes queued), closing",
                s->sid, s->q.bytes);
        /* We may be inside a loop over broadcast recipients: close later. */
        request_close(s, "transport error");
    }
    return rc;
}

int sg_session_send(sg_session_t *s, sg_buf_t *pkt, unsigned flags)
{
    if (s->state != SG_SESS_OPEN || s->pending_close)
        return SG_ESTATE;
    if ((flags & SG_BCAST_VOLATILE) && !writable(s))
        return SG_EAGAIN;
    int rc = push(s, pkt);
    if (rc == 0)
        sg_session_flush(s);
    return rc;
}

void sg_session_flush(sg_session_t *s)
{
    if (sg_outq_empty(&s->q) || s->state == SG_SESS_CLOSED)
        return;
    if (s->transport == SG_TR_WEBSOCKET) {
        /* Deferred to the end of this loop iteration: every frame queued
         * meanwhile goes out in one write, and no poll re-arm per message. */
        if (s->ws && !s->flush_queued) {
            s->flush_queued = 1;
            s->flush_next = s->srv->flush_list;
            s->srv->flush_list = s;
            sg_server_want_flush(s->srv);
        }
    } else if (s->get && !s->upgrading) {
        lws_callback_on_writable(s->get);
    }
}

static void kill_ws(struct lws *wsi)
{
    /* Closed from its own writeable callback (lws closes a wsi safely only
     * from inside its service). */
    sg_pss_t *pss = lws_wsi_user(wsi);
    if (pss) {
        pss->sess = NULL;
        pss->closing = 1;
    }
    lws_callback_on_writable(wsi);
}

/* The close of a session that waited for its queue to drain is due now. */
static void finish_graceful(sg_session_t *s)
{
    sg_session_close(s, "forced close", 0);
}

/* Graceful close, as Node's engine closes once its write buffer drained:
 * what is queued (a DISCONNECT per namespace, say) still reaches the client
 * and then the transport closes. Returns 1 when the session now waits in
 * CLOSING, 0 when it can close at once. */
static int start_graceful(sg_session_t *s)
{
    sg_server_t *srv = s->srv;
    if (!srv->ctx || srv->stopping)
        return 0;
    if (s->transport == SG_TR_POLLING && !s->client_close) {
        /* The close packet travels alone, in the response after the one
         * that carries the queue: the official client handles the packets
         * of a payload on the next tick but a close packet at once, so in
         * one payload the close would overtake the DISCONNECTs before it. */
        if (s->get && !s->upgrading) {
            if (sg_outq_empty(&s->q))
                return 0; /* the held GET gets the close packet now */
            sg_polling_answer(s, s->get, NULL);
        }
    } else if (s->transport == SG_TR_WEBSOCKET) {
        if (!s->ws || (sg_outq_empty(&s->q) && !s->ws_parked))
            return 0;
    } else {
        return 0;
    }
    /* Wait for the next poll, or for the WebSocket to drain; Node gives up
     * after 30 s. */
    s->state = SG_SESS_CLOSING;
    s->close_deadline = sg_now_ms(srv) + 30000;
    sg_session_schedule(s);
    sg_session_flush(s);
    return 1;
}

void sg_session_drained(sg_session_t *s)
{
    if (s->state == SG_SESS_CLOSING && s->transport == SG_TR_WEBSOCKET && sg_outq_empty(&s->q) &&
        !s->ws_parked)
        finish_graceful(s);
}

void sg_session_close(sg_session_t *s, const char *reason, int graceful)
{
    sg_server_t *srv = s->srv;
    if (s->state == SG_SESS_CLOSED)
        return;
    if (s->state == SG_SESS_OPEN) {
        SG_DEBUG(srv, "session %s closing: %s", s->sid, reason);
        sg_sio_on_close(s, reason);
        if (graceful && start_graceful(s))
            return;
    }
    s->state = SG_SESS_CLOSED;
    sg_map_del(srv->sessions, s->sid, SG_ID_LEN);
    if (s->flush_queued) {
        for (sg_session_t **pp = &srv->flush_list; *pp; pp = &(*pp)->flush_next) {
            if (*pp == s) {
                *pp = s->flush_next;
                break;
            }
        }
        s->flush_queued = 0;
    }
    sg_timer_stop(&srv->timers, &s->timer);
    if (srv->ctx) {
        if (s->get) {
            sg_outq_clear(&s->q);
            sg_polling_answer(s, s->get, s->client_close ? srv->noop_buf : srv->close_buf);
        }
        if (s->ws)
            kill_ws(s->ws);
        if (s->probe)
            kill_ws(s->probe);
        if (s->post) {
            sg_pss_t *pss = lws_wsi_user(s->post);
            if (pss)
                pss->sess = NULL;
        }
    }
    s->get = s->ws = s->probe = s->post = NULL;
    sg_outq_clear(&s->q);
    s->reap_next = srv->reap_list;
    srv->reap_list = s;
    sg_server_want_reap(srv);
}

void sg_session_forget_wsi(sg_session_t *s, struct lws *wsi, const char *reason)
{
    if (s->post == wsi)
        s->post = NULL;
    if (s->probe == wsi) {
        /* The upgrade failed: the session goes on over polling. */
        s->probe = NULL;
        s->upgrading = 0;
        s->upgrade_deadline = 0;
        sg_session_schedule(s);
        sg_session_flush(s);
    }
    if (s->ws == wsi) {
        s->ws = NULL;
        sg_session_close(s, reason, 0);
    }
    if (s->get == wsi) {
        s->get = NULL;
        sg_session_close(s, reason, 0);
    }
}

void sg_session_reap(sg_server_t *srv)
{
    while (srv->close_list) {
        sg_session_t *s = srv->close_list;
        srv->close_list = s->close_next;
        const char *reason = s->pending_close;
        s->pending_close = NULL;
        sg_session_close(s, reason, 0);
    }
    while (srv->reap_list) {
        sg_session_t *s = srv->reap_list;
        srv->reap_list = s->reap_next;
        sg_partial__free(s);
        sg_free(s->handshake);
        sg_free(s);
    }
}

static void send_ping(sg_session_t *s)
{
    sg_server_t *srv = s->srv;
    if (push(s, srv->ping_buf) != 0)
        return;
    sg_session_flush(s);
    s->awaiting_pong = 1;
    s->pong_extended = 0;
    s->hb_due = sg_now_ms(srv) + srv->cfg.ping_timeout;
}

int sg_session_check_deadline(sg_session_t *s)
{
    if (s->state != SG_SESS_OPEN || !s->awaiting_pong)
        return 0;
    uv_update_time(s->srv->loop);
    if (sg_now_ms(s->srv) >= s->hb_due) {
        sg_session_close(s, "ping timeout", 0);
        return 1;
    }
    return 0;
}

void sg_session_schedule(sg_session_t *s)
{
    if (s->state == SG_SESS_CLOSED)
        return;
    uint64_t next = s->hb_due;
    uint64_t d[3] = {s->connect_deadline, s->upgrade_deadline, s->close_deadline};
    for (int i = 0; i < 3; i++)
        if (d[i] && (!next || d[i] < next))
            next = d[i];
    sg_timer_at(&s->srv->timers, &s->timer, next);
}

/* Every deadline of s that has passed, then the next one is scheduled. */
static void on_due(sg_session_t *s, uint64_t now)
{
    if (s->close_deadline && now >= s->close_deadline) {
        finish_graceful(s);
        return;
    }
    if (s->state != SG_SESS_OPEN)
        return;
    if (s->connect_deadline && now >= s->connect_deadline) {
        s->connect_deadline = 0;
        if (!s->sockets) {
            SG_DEBUG(s->srv, "session %s joined no namespace in time", s->sid);
            sg_session_close(s, "forced close", 0);
            return;
        }
    }
    if (s->upgrade_deadline && now >= s->upgrade_deadline) {
        s->upgrade_deadline = 0;
        if (s->probe) {
            SG_DEBUG(s->srv, "session %s: upgrade timed out", s->sid);
            kill_ws(s->probe);
            s->probe = NULL;
            s->upgrading = 0;
            sg_session_flush(s);
        }
    }
    if (now >= s->hb_due) {
        if (s->awaiting_pong) {
            sg_session_close(s, "ping timeout", 0);
            return;
        }
        send_ping(s);
    }
    sg_session_schedule(s);
}

static void on_timer(sg_timer_t *t)
{
    sg_session_t *s = (sg_session_t *)((char *)t - offsetof(sg_session_t, timer));
    on_due(s, sg_now_ms(s->srv));
}

void sg_session_on_upgrade_probe(sg_session_t *s)
{
    s->upgrading = 1;
    /* The polling side must go idle: release a held GET with a noop. */
    if (s->get)
        sg_polling_answer(s, s->get, s->srv->noop_buf);
}

void sg_session_on_upgrade_done(sg_session_t *s, struct lws *wsi)
{
    s->transport = SG_TR_WEBSOCKET;
    s->ws = wsi;
    s->fd = (int)lws_get_socket_fd(wsi);
    s->probe = NULL;
    s->upgrading = 0;
    s->upgrade_deadline = 0;
    if (s->get)
        sg_polling_answer(s, s->get, s->srv->noop_buf);
    sg_session_schedule(s);
    SG_DEBUG(s->srv, "session %s upgraded to websocket", s->sid);
    /* When a close was waiting for the next poll, the queue (DISCONNECT
     * packets, the close packet a WebSocket client ignores) goes out here
     * and the WebSocket closes once it drained: a WebSocket client learns of
     * the close only from the socket closing. */
    sg_session_flush(s);
    sg_session_drained(s);
}

void sg_session_on_packet(sg_session_t *s, const sg_eio_packet_t *p)
{
    sg_server_t *srv = s->srv;
    if (s->state != SG_SESS_OPEN)
        return;
    if (s->awaiting_pong && p->type != SG_EIO_PONG && !s->pong_extended) {
        /* Incoming data shows the peer is alive: extend the deadline once. */
        s->pong_extended = 1;
        s->hb_due = sg_now_ms(srv) + srv->cfg.ping_timeout;
        sg_session_schedule(s);
    }
    switch (p->type) {
    case SG_EIO_PONG:
        s->awaiting_pong = 0;
        s->hb_due = sg_now_ms(srv) + srv->cfg.ping_interval;
        sg_session_schedule(s);
        break;
    case SG_EIO_PING:
        SG_DEBUG(srv, "session %s: invalid heartbeat direction", s->sid);
        sg_session_close(s, "transport error", 0);
        break;
    case SG_EIO_CLOSE:
        s->client_close = 1;
        sg_session_close(s, "transport close", 0);
        break;
    case SG_EIO_MESSAGE:
        if (s->echo) {
            sg_buf_t *b = p->binary ? (p->bin ? sg_buf_ref(p->bin)
                                              : sg_buf_new_copy(p->data, p->len))
                                    : sg_eio_encode_text(SG_EIO_MESSAGE, p->data, p->len);
            if (p->binary)
                b->flags |= SG_BUF_BINARY;
            sg_session_send(s, b, 0);
            sg_buf_unref(b);
        } else {
            sg_sio_on_message(s, p->data, p->len, p->binary ? p->bin : NULL);
        }
        break;
    default:
        /* open/upgrade/noop from a client carry no meaning here (Node ignores them). */
        break;
    }
}
