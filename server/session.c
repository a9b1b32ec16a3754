/* session.c - Engine.IO sessions: ids, heartbeat, upgrade, graceful close,
 * and the one output queue both transports drain (see engine.h). */
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "util.h"

static void on_timer(sg_timer_t *t);
static void reap(void *ud);

/* ---- the engine ---- */

static sg_buf_t *static_packet(const char *text)
{
    return sg_buf_new_copy(text, strlen(text));
}

void sg_engine_init(sg_engine_t *e)
{
    e->sessions = sg_map_new();
    e->handshakes = sg_map_new();
    e->ping_buf = static_packet("2");
    e->pong_buf = static_packet("3");
    e->noop_buf = static_packet("6");
    e->close_buf = static_packet("1");
    e->probe_buf = static_packet("3probe");
    e->reap_hook = sg_defer_add(e->defer, reap, e);
    e->live = 1;
    for (int i = 0; i < 2; i++)
        if (e->uppers[i] && e->uppers[i]->size > e->upper_size)
            e->upper_size = e->uppers[i]->size;
}

void sg_engine_stop(sg_engine_t *e, const char *reason)
{
    sg_map_iter_t it = {0};
    e->stopping = 1;
    while (sg_map_next(e->sessions, &it))
        sg_session_close(it.val, reason, 0);
    e->live = 0;
    reap(e);
}

void sg_engine_free(sg_engine_t *e)
{
    reap(e);
    sg_map_free(e->sessions);
    sg_map_free(e->handshakes);
    sg_buf_unref(e->ping_buf);
    sg_buf_unref(e->pong_buf);
    sg_buf_unref(e->noop_buf);
    sg_buf_unref(e->close_buf);
    sg_buf_unref(e->probe_buf);
}

/* ---- sessions ---- */

static const sg_transport_ops_t *tr_of(const sg_session_t *s)
{
    return s->eng->transports[s->transport];
}

uint64_t sg_session_now(const sg_session_t *s)
{
    return sg_timers_now(s->eng->timers);
}

sg_session_t *sg_session_new(sg_engine_t *e, sg_transport_t tr, unsigned upper, unsigned eio)
{
    size_t size = sizeof(sg_session_t) + e->upper_size;
    sg_session_t *s = e->session_alloc ? e->session_alloc(size) : sg_calloc(1, size);
    do {
        sg_random_id(s->sid, SG_ID_LEN);
    } while (sg_map_get(e->sessions, s->sid, SG_ID_LEN));
    s->eng = e;
    s->transport = (uint8_t)tr;
    s->upper = (uint8_t)upper;
    s->eio = (uint8_t)eio;
    s->state = SG_SESS_OPEN;
    s->fd = -1;
    sg_map_put(e->sessions, s->sid, SG_ID_LEN, s);
    sg_timer_init(&s->timer, on_timer);
    uint64_t now = sg_session_now(s);
    if (sg_session_version(s)->server_pings) {
        s->hb_due = now + e->cfg->ping_interval;
    } else {
        /* v3: the client pings; its ping is what is awaited, from the
         * start, and the v4 extension of the deadline does not apply. */
        s->awaiting_pong = 1;
        s->pong_extended = 1;
        s->hb_due = now + e->cfg->ping_interval + e->cfg->ping_timeout;
    }
    if (e->uppers[upper]->joined)
        s->connect_deadline = now + e->cfg->connect_timeout;
    sg_session_schedule(s);
    e->stats->sessions[tr]++;
    e->stats->sessions_opened++;
    SG_DEBUG(e->cfg, "session %s opened (%s)", s->sid,
             tr == SG_TR_POLLING ? "polling" : "websocket");
    return s;
}

const char *sg_session_refusal(sg_engine_t *e)
{
    if (e->draining)
        return "Server draining";
    size_t n = sg_map_count(e->sessions);
    if (n < e->cfg->max_sessions) {
        if (e->full_refused) {
            SG_WARN(e->cfg, "below maxSessions again (%llu handshakes refused meanwhile)",
                    e->full_refused);
            e->full_refused = 0;
        }
        return NULL;
    }
    e->stats->refused_full++;
    if (!e->full_refused++)
        SG_WARN(e->cfg, "maxSessions (%zu) reached: refusing new sessions", e->cfg->max_sessions);
    return "Server full";
}

sg_session_t *sg_session_find(sg_engine_t *e, const char *sid, size_t len)
{
    return sg_map_get(e->sessions, sid, len);
}

sg_buf_t *sg_session_open_packet(const sg_session_t *s, int upgrades)
{
    const sg_config_t *cfg = s->eng->cfg;
    return sg_session_version(s)->open_packet(s->sid, upgrades, cfg->ping_interval,
                                              cfg->ping_timeout, cfg->max_http_buffer_size);
}

void sg_session_opened(sg_session_t *s)
{
    const sg_eio_upper_t *up = s->eng->uppers[s->upper];
    if (up->opened && s->state == SG_SESS_OPEN)
        up->opened(s);
}

/* ---- output ---- */

void sg_session_close_later(sg_session_t *s, const char *reason)
{
    sg_engine_t *e = s->eng;
    if (s->pending_close || s->state == SG_SESS_CLOSED)
        return;
    s->pending_close = reason;
    s->later_next = e->close_list;
    e->close_list = s;
    sg_defer_want(e->defer, e->reap_hook);
}

static int push(sg_session_t *s, sg_buf_t *pkt)
{
    const sg_config_t *cfg = s->eng->cfg;
    sg_outq_limits_t lim = {cfg->outq_hard_limit, cfg->outq_soft_limit,
                            (uint64_t)cfg->outq_soft_seconds * 1000};
    size_t before = s->q.bytes;
    int rc = sg_outq_push(&s->q, pkt, &lim, sg_session_now(s));
    if (rc != 0) {
        SG_WARN(cfg, "session %s: output queue over its limit (%zu bytes queued), closing", s->sid,
                s->q.bytes);
        s->eng->stats->slow_closes++;
        /* We may be inside a loop over broadcast recipients: close later. */
        sg_session_close_later(s, "transport error");
        return rc;
    }
    s->eng->stats->packets_out++;
    s->eng->stats->bytes_out += pkt->len;
    s->eng->stats->queue_bytes += s->q.bytes - before;
    return 0;
}

int sg_session_send(sg_session_t *s, sg_buf_t *pkt, unsigned flags)
{
    if (s->state != SG_SESS_OPEN || s->pending_close)
        return SG_ESTATE;
    /* Node's transport.writable: nothing queued and the transport ready. */
    if ((flags & 1u) && !(sg_outq_empty(&s->q) && tr_of(s)->writable(s))) {
        s->eng->stats->drops_volatile++;
        return SG_EAGAIN;
    }
    int rc = push(s, pkt);
    if (rc == 0)
        sg_session_flush(s);
    return rc;
}

void sg_session_flush(sg_session_t *s)
{
    if (sg_outq_empty(&s->q) || s->state == SG_SESS_CLOSED)
        return;
    tr_of(s)->flush(s);
}

/* ---- close ---- */

static sg_close_reason_t reason_code(const char *reason)
{
    static const char *const names[] = {"transport close", "transport error", "ping timeout",
                                        "parse error", "forced close", "server shutting down"};
    for (int i = 0; i < SG_CLOSE_OTHER; i++)
        if (reason && !strcmp(reason, names[i]))
            return (sg_close_reason_t)i;
    return reason && !strcmp(reason, "forced server close") ? SG_CLOSE_FORCED : SG_CLOSE_OTHER;
}

/* Graceful close, as Node's engine closes once its write buffer drained:
 * what is queued (a DISCONNECT per namespace, say) still reaches the client,
 * then the transport closes. Returns 1 when the session now waits in
 * CLOSING, 0 when it can close at once. */
static int start_graceful(sg_session_t *s)
{
    if (!s->eng->live || !tr_of(s)->drain(s))
        return 0;
    /* Node gives up after 30 s. */
    s->state = SG_SESS_CLOSING;
    s->hb_due = sg_session_now(s) + 30000;
    sg_session_schedule(s);
    sg_session_flush(s);
    return 1;
}

void sg_session_drained(sg_session_t *s)
{
    if (s->state == SG_SESS_CLOSING && sg_outq_empty(&s->q) && !s->ws_parked)
        sg_session_close(s, "forced close", 0);
}

void sg_session_close(sg_session_t *s, const char *reason, int graceful)
{
    sg_engine_t *e = s->eng;
    if (s->state == SG_SESS_CLOSED)
        return;
    if (s->state == SG_SESS_OPEN) {
        SG_DEBUG(e->cfg, "session %s closing: %s", s->sid, reason);
        e->stats->sessions_closed[reason_code(reason)]++;
        e->uppers[s->upper]->close(s, reason);
        if (graceful && start_graceful(s))
            return;
    }
    s->state = SG_SESS_CLOSED;
    e->stats->sessions[s->transport]--;
    sg_map_del(e->sessions, s->sid, SG_ID_LEN);
    sg_timer_stop(e->timers, &s->timer);
    /* The transports let go of their connections (a held GET is answered,
     * WebSockets are closed from their own callbacks). */
    if (e->live) {
        e->transports[SG_TR_POLLING]->release(s);
        e->transports[SG_TR_WEBSOCKET]->release(s);
    }
    s->get = s->ws = s->probe = s->post = NULL;
    e->stats->queue_bytes -= s->q.bytes;
    sg_outq_clear(&s->q);
    if (s->pending_close)
        return; /* on the close list: reap() moves it to the reap list */
    s->later_next = e->reap_list;
    e->reap_list = s;
    sg_defer_want(e->defer, e->reap_hook);
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

/* Closes asked for from inside delivery loops, then frees of closed
 * sessions: both at a safe point. */
static void reap(void *ud)
{
    sg_engine_t *e = ud;
    while (e->close_list) {
        sg_session_t *s = e->close_list;
        e->close_list = s->later_next;
        const char *reason = s->pending_close;
        s->pending_close = NULL;
        if (s->state != SG_SESS_CLOSED) {
            sg_session_close(s, reason, 0);
        } else {
            /* closed meanwhile, and kept off the reap list until now */
            s->later_next = e->reap_list;
            e->reap_list = s;
        }
    }
    while (e->reap_list) {
        sg_session_t *s = e->reap_list;
        e->reap_list = s->later_next;
        e->uppers[s->upper]->release(s);
        if (e->session_free)
            e->session_free(s);
        else
            sg_free(s);
    }
}

/* ---- heartbeat and deadlines ---- */

static void send_ping(sg_session_t *s)
{
    sg_engine_t *e = s->eng;
    if (push(s, e->ping_buf) != 0)
        return;
    sg_session_flush(s);
    s->awaiting_pong = 1;
    s->pong_extended = 0;
    s->hb_due = sg_session_now(s) + e->cfg->ping_timeout;
}

int sg_session_check_deadline(sg_session_t *s)
{
    if (s->state != SG_SESS_OPEN || !s->awaiting_pong)
        return 0;
    uv_update_time(s->eng->loop);
    if (sg_session_now(s) >= s->hb_due) {
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
    /* Joining and upgrading matter only to an open session. */
    uint64_t d[2] = {s->connect_deadline, s->upgrade_deadline};
    for (int i = 0; i < 2 && s->state == SG_SESS_OPEN; i++)
        if (d[i] && (!next || d[i] < next))
            next = d[i];
    sg_timer_at(s->eng->timers, &s->timer, next);
}

/* Every deadline of s that has passed, then the next one is scheduled. */
static void on_due(sg_session_t *s, uint64_t now)
{
    if (s->state == SG_SESS_CLOSING) {
        if (now >= s->hb_due)
            sg_session_close(s, "forced close", 0);
        else
            sg_session_schedule(s);
        return;
    }
    if (s->state != SG_SESS_OPEN)
        return;
    if (s->connect_deadline && now >= s->connect_deadline) {
        s->connect_deadline = 0;
        if (!s->eng->uppers[s->upper]->joined(s)) {
            SG_DEBUG(s->eng->cfg, "session %s joined no namespace in time", s->sid);
            sg_session_close(s, "forced close", 0);
            return;
        }
    }
    if (s->upgrade_deadline && now >= s->upgrade_deadline) {
        s->upgrade_deadline = 0;
        if (s->probe) {
            struct lws *probe = s->probe;
            SG_DEBUG(s->eng->cfg, "session %s: upgrade timed out", s->sid);
            sg_session_forget_wsi(s, probe, NULL);
            s->eng->transports[SG_TR_WEBSOCKET]->drop(s, probe);
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
    on_due(s, sg_session_now(s));
}

/* ---- upgrade ---- */

void sg_session_probe_started(sg_session_t *s, struct lws *probe)
{
    s->probe = probe;
    s->upgrade_deadline = sg_session_now(s) + s->eng->cfg->upgrade_timeout;
    sg_session_schedule(s);
}

void sg_session_probe_answered(sg_session_t *s)
{
    s->upgrading = 1;
    s->eng->transports[s->transport]->pause(s);
}

void sg_session_upgraded(sg_session_t *s, struct lws *ws, int fd)
{
    sg_engine_t *e = s->eng;
    e->transports[s->transport]->pause(s); /* a GET that came meanwhile gets noop */
    e->stats->sessions[s->transport]--;
    e->stats->sessions[SG_TR_WEBSOCKET]++;
    e->stats->upgrades++;
    s->transport = SG_TR_WEBSOCKET;
    s->ws = ws;
    s->fd = fd;
    s->probe = NULL;
    s->upgrading = 0;
    s->upgrade_deadline = 0;
    sg_session_schedule(s);
    SG_DEBUG(e->cfg, "session %s upgraded to websocket", s->sid);
    if (e->uppers[s->upper]->upgraded)
        e->uppers[s->upper]->upgraded(s);
    /* When a close was waiting for the next poll, the queue (DISCONNECT
     * packets, the close packet a WebSocket client ignores) goes out here
     * and the WebSocket closes once it drained: a WebSocket client learns of
     * the close only from the socket closing. */
    sg_session_flush(s);
    sg_session_drained(s);
}

/* ---- input ---- */

void sg_session_on_packet(sg_session_t *s, const sg_eio_packet_t *p)
{
    sg_engine_t *e = s->eng;
    if (s->state != SG_SESS_OPEN)
        return;
    e->stats->packets_in++;
    e->stats->bytes_in += p->len;
    if (s->awaiting_pong && p->type != SG_EIO_PONG && !s->pong_extended) {
        /* Incoming data shows the peer is alive: extend the deadline once. */
        s->pong_extended = 1;
        s->hb_due = sg_session_now(s) + e->cfg->ping_timeout;
        sg_session_schedule(s);
    }
    switch (p->type) {
    case SG_EIO_PONG:
        if (!sg_session_version(s)->server_pings) {
            SG_DEBUG(e->cfg, "session %s: invalid heartbeat direction", s->sid);
            sg_session_close(s, "transport error", 0);
            break;
        }
        s->awaiting_pong = 0;
        s->hb_due = sg_session_now(s) + e->cfg->ping_interval;
        sg_session_schedule(s);
        break;
    case SG_EIO_PING:
        if (!sg_session_version(s)->server_pings) {
            /* v3: answer at once; the next ping is due within
             * pingInterval + pingTimeout. */
            s->hb_due = sg_session_now(s) + e->cfg->ping_interval + e->cfg->ping_timeout;
            sg_session_schedule(s);
            if (push(s, e->pong_buf) == 0)
                sg_session_flush(s);
            break;
        }
        SG_DEBUG(e->cfg, "session %s: invalid heartbeat direction", s->sid);
        sg_session_close(s, "transport error", 0);
        break;
    case SG_EIO_CLOSE:
        s->client_close = 1;
        sg_session_close(s, "transport close", 0);
        break;
    case SG_EIO_MESSAGE:
        e->uppers[s->upper]->message(s, p->data, p->len, p->binary ? p->bin : NULL);
        break;
    default:
        /* open/upgrade/noop from a client carry no meaning here (Node ignores them). */
        break;
    }
}
