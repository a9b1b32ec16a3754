/* polling.c - Engine.IO HTTP long-polling: handshake, held GETs, POSTed
 * payloads, and the order of checks Node's engine.io applies. */
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "eio.h"
#include "handshake.h"
#include "log.h"
#include "polling.h"
#include "util.h"
#include "ws.h"

/* The framing of a response: v3's binary payload when it carries binary
 * and the client takes it (no b64, no JSONP), else text. */
static sg_eio_form_t response_form(const sg_session_t *s, const sg_eio_version_t *v,
                                   const sg_buf_t *only)
{
    if (!v->binary_posts || (s->b64 & SG_B64_POLLING) || s->jsonp)
        return SG_EIO_FORM_TEXT;
    if (only)
        return (only->flags & SG_BUF_BINARY) ? SG_EIO_FORM_BINARY : SG_EIO_FORM_TEXT;
    for (uint32_t i = 0; i < s->q.count; i++)
        if (sg_outq_peek(&s->q, i)->flags & SG_BUF_BINARY)
            return SG_EIO_FORM_BINARY;
    return SG_EIO_FORM_TEXT;
}

/* The response body becomes the request's: JSONP-wrapped when the session
 * polls by script tags. */
static void set_resp(sg_pss_t *pss, const sg_session_t *s, sg_sbuf_t *body, sg_eio_form_t form)
{
    sg_buf_unref(pss->resp);
    if (s->jsonp) {
        sg_sbuf_t js;
        sg_sbuf_init(&js);
        sg_eio_jsonp_wrap(&js, s->jsonp - 1u, sg_sbuf_data(body), body->len);
        sg_sbuf_reset(body);
        *body = js;
    }
    pss->resp = sg_sbuf_finish(body);
    pss->resp_binary = form == SG_EIO_FORM_BINARY;
}

/* The Content-Type and extra header line of every polling answer. */
#define ANSWER_TYPE(binary) ((binary) ? "application/octet-stream" : "text/plain; charset=UTF-8")
#define ANSWER_EXTRA "Cache-Control: no-store\r\n"

static int write_resp(struct lws *wsi, sg_pss_t *pss)
{
    sg_buf_t *b = pss->resp;
    pss->resp = NULL;
    pss->kind = SG_PSS_NONE;
    int rc = sg_http_respond(wsi, 200, ANSWER_TYPE(pss->resp_binary), ANSWER_EXTRA, b->data, b->len);
    sg_buf_unref(b);
    return rc;
}

/* Every queued packet into body, in the answer's form; the queue is left
 * empty. */
static void take_queue(sg_session_t *s, const sg_eio_version_t *v, sg_sbuf_t *body,
                       sg_eio_form_t form)
{
    sg_buf_t *b;
    size_t before = s->q.bytes;
    while ((b = sg_outq_pop(&s->q))) {
        v->payload_add(body, b, form);
        sg_buf_unref(b);
    }
    s->eng->stats->queue_bytes -= before;
}

/* The held GET had no timeout (on_get); its answer must leave in the time
 * lws gives any request, or a client that stops reading would keep the
 * connection and the unsent bytes for ever. */
static void answer_deadline(const sg_session_t *s, struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, sg_config_http_timeout(s->eng->cfg));
}

/* Build the response to a held or fresh GET and detach the request from the
 * session: the bytes live in the request's own state from here on, so the
 * session may close or be freed before lws gets to write them. */
static void answer(sg_session_t *s, struct lws *wsi, sg_buf_t *only)
{
    sg_pss_t *pss = lws_wsi_user(wsi);
    const sg_eio_version_t *v = sg_session_version(s);
    sg_eio_form_t form = response_form(s, v, only);
    sg_sbuf_t body;
    sg_sbuf_init(&body);
    if (only)
        v->payload_add(&body, only, form);
    else
        take_queue(s, v, &body, form);
    if (s->get == wsi)
        s->get = NULL;
    if (pss) {
        set_resp(pss, s, &body, form);
        pss->sess = NULL;
        pss->kind = SG_PSS_RESP;
    } else {
        sg_sbuf_reset(&body);
    }
    answer_deadline(s, wsi);
    if (pss && s->eng->stopping) {
        /* The server stops: the connections go with the lws context right
         * after this, before any writeable callback. A held GET answered
         * now lets the client see the close packet ("transport close", as
         * from Node's io.close()) rather than a reset. */
        write_resp(wsi, pss);
        return;
    }
    lws_callback_on_writable(wsi);
}

/* A held GET answered in its own writeable callback: the batch is built in
 * the writer's scratch buffers and written at once (straight from them
 * without TLS). Building each answer in a buffer of its own, freed once
 * written, made glibc grow and trim its heap every loop turn: 40k page
 * faults a second, a third of the server's CPU, in a 4 KB fan-out to
 * 1,000 polling clients. */
#define SG_POLL_SCRATCH_KEEP (1u << 20)
static int answer_now(sg_session_t *s, struct lws *wsi, sg_pss_t *pss)
{
    const sg_eio_version_t *v = sg_session_version(s);
    sg_ws_out_t *w = s->eng->tr_state[SG_TR_WEBSOCKET];
    sg_eio_form_t form = response_form(s, v, NULL);
    sg_sbuf_t *body = &w->pbody, *head = &w->wbuf;
    body->len = 0;
    head->len = 0;
    take_queue(s, v, body, form);
    s->get = NULL;
    pss->sess = NULL;
    pss->kind = SG_PSS_NONE;
    sg_http_put_head(head, wsi, 200, ANSWER_TYPE(form == SG_EIO_FORM_BINARY), ANSWER_EXTRA,
                     body->len);
    int rc = sg_http_send(wsi, head, sg_sbuf_data(body), body->len, !s->eng->tls);
    /* one slow reader's batch can be megabytes (up to its outq limit): the
     * scratch does not keep that much for the rest of the process */
    if (body->cap > SG_POLL_SCRATCH_KEEP)
        sg_sbuf_reset(body);
    /* what the socket did not take, lws holds: it must leave in time too */
    if (rc == 0 && lws_partial_buffered(wsi))
        answer_deadline(s, wsi);
    return rc;
}

int sg_polling_writeable(struct lws *wsi, sg_pss_t *pss)
{
    if (pss->kind == SG_PSS_GET && pss->sess && !pss->resp) {
        sg_session_t *s = pss->sess;
        if (sg_outq_empty(&s->q))
            return 0; /* spurious wakeup: keep holding */
        if (!s->jsonp)
            return answer_now(s, wsi, pss);
        answer(s, wsi, NULL);
    }
    if (pss->resp)
        return write_resp(wsi, pss);
    return 0;
}

/* The v3 and JSONP choices of a new polling session, from its handshake
 * request: 0, or -1 when the j index is not 1-4 digits. */
static int transport_options(sg_session_t *s, struct lws *wsi)
{
    char b64[64], j[16];
    /* Node: any non-empty b64 value asks for base64 */
    if (sg_http_query(wsi, "b64", b64, sizeof(b64)) > 0)
        s->b64 |= SG_B64_POLLING;
    int jl = sg_http_query(wsi, "j", j, sizeof(j));
    if (jl < 0)
        return 0;
    /* Node keeps the digits of j whatever surrounds them; siogate wants
     * the index itself, as every JSONP client sends it. */
    if (jl < 1 || jl > 4)
        return -1;
    unsigned idx = 0;
    for (int i = 0; i < jl; i++) {
        if (j[i] < '0' || j[i] > '9')
            return -1;
        idx = idx * 10 + (unsigned)(j[i] - '0');
    }
    s->jsonp = (uint16_t)(idx + 1);
    return 0;
}

static int handshake(sg_engine_t *e, struct lws *wsi, sg_pss_t *pss, unsigned upper,
                     const sg_eio_version_t *v)
{
    const char *refusal = sg_session_refusal(e);
    if (refusal)
        return sg_http_respond(wsi, 503, "text/plain; charset=utf-8", NULL, refusal,
                               strlen(refusal));
    sg_session_t *s = sg_session_new(e, SG_TR_POLLING, upper, v->version);
    if (transport_options(s, wsi) != 0) {
        sg_session_close(s, "transport error", 0);
        return sg_http_eio_error(wsi, 400, 3, NULL);
    }
    sg_handshake_capture(&s->hs, e->handshakes, e->cfg, wsi);
    sg_buf_t *open = sg_session_open_packet(s, e->cfg->transport_websocket);
    sg_sbuf_t body;
    sg_sbuf_init(&body);
    v->payload_add(&body, open, SG_EIO_FORM_TEXT);
    sg_buf_unref(open);
    set_resp(pss, s, &body, SG_EIO_FORM_TEXT);
    sg_session_opened(s);
    return write_resp(wsi, pss);
}

static void tr_flush(sg_session_t *s);

static int on_get(sg_session_t *s, struct lws *wsi, sg_pss_t *pss)
{
    if (s->get) {
        /* Two GETs at once: Node answers 400 and closes the session, which
         * releases the first GET with the close packet. */
        SG_DEBUG(s->eng->cfg, "session %s: overlapping GET", s->sid);
        sg_session_close(s, "transport error", 0);
        return sg_http_respond(wsi, 400, NULL, NULL, NULL, 0);
    }
    pss->kind = SG_PSS_GET;
    pss->sess = s;
    if (s->upgrading) {
        answer(s, wsi, s->eng->noop_buf);
        return 0;
    }
    s->get = wsi;
    /* A held GET needs no lws timeout: the session answers it by the next
     * ping at the latest and closes it with the session. And lws keeps its
     * timeouts in one sorted list, so with every held GET in it each new
     * request's insertion walked past all of them: O(clients) per request
     * (5,000 polling clients connected with 3.5 s of CPU, now 1.0 s). */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    if (!sg_outq_empty(&s->q))
        tr_flush(s); /* answered at the end of the iteration, with what else arrives */
    else if (s->state == SG_SESS_CLOSING)
        sg_session_close(s, "forced close", 0); /* answers this GET with the close packet */
    if (s->get == wsi) {
        /* Held: everything the answer needs was read from the request (CORS
         * lines, Connection: close), so its header table goes back now
         * rather than when the GET is answered -- 8 KB of header space and
         * the table, ~5 KB resident, per idle polling client. */
        lws_http_headers_detach(wsi);
    }
    return 0;
}

static int on_post(sg_session_t *s, struct lws *wsi, sg_pss_t *pss)
{
    char ctype[128];
    int binary = lws_hdr_copy(wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE) > 0 &&
                 !strcmp(ctype, "application/octet-stream");
    if (binary && !sg_session_version(s)->binary_posts) {
        /* Engine.IO v4 carries binary as base64 text over polling. */
        sg_session_close(s, "transport error", 0);
        return sg_http_respond(wsi, 400, NULL, NULL, NULL, 0);
    }
    if (s->post) {
        sg_session_close(s, "transport error", 0);
        return sg_http_respond(wsi, 400, NULL, NULL, NULL, 0);
    }
    char cl[32], te[64];
    if (lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* lws 4.1 cannot read chunked request bodies; every Engine.IO client
         * sends Content-Length, so refuse clearly instead of hanging. */
        sg_http_respond(wsi, 411, "text/plain; charset=utf-8", "Connection: close\r\n",
                        "Content-Length required", 23);
        return -1;
    }
    unsigned long long clen = 0;
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        clen = strtoull(cl, NULL, 10);
    if (clen > s->eng->cfg->max_http_buffer_size) {
        sg_http_respond(wsi, 413, NULL, "Connection: close\r\n", NULL, 0);
        return -1; /* do not read the oversized body */
    }
    pss->kind = SG_PSS_POST;
    pss->sess = s;
    pss->post_binary = (uint8_t)binary;
    s->post = wsi;
    if (clen == 0)
        return sg_polling_body_done(wsi, pss); /* lws reports no body events */
    return 0;
}

int sg_polling_request(sg_engine_t *e, struct lws *wsi, sg_pss_t *pss, int method, unsigned upper)
{
    const sg_config_t *cfg = e->cfg;
    char transport[16], sid[64], eio[8];
    if (sg_http_query(wsi, "transport", transport, sizeof(transport)) < 0 ||
        (strcmp(transport, "polling") && strcmp(transport, "websocket")) ||
        (!strcmp(transport, "polling") && !cfg->transport_polling) ||
        (!strcmp(transport, "websocket") && !cfg->transport_websocket))
        return sg_http_eio_error(wsi, 400, 0, NULL);
    int has_sid = sg_http_query(wsi, "sid", sid, sizeof(sid)) >= 0;
    int elen = sg_http_query(wsi, "EIO", eio, sizeof(eio));
    const sg_eio_version_t *v =
        elen >= 0 ? sg_eio_version_find(eio, (size_t)elen, cfg->allow_eio3) : NULL;
    if (has_sid) {
        sg_session_t *s = sg_session_find(e, sid, strlen(sid));
        if (s && s->upper != upper)
            s = NULL;
        if (s && sg_session_check_deadline(s))
            s = NULL;
        if (!s)
            return sg_http_eio_error(wsi, 400, 1, NULL);
        if (strcmp(transport, "polling") || s->transport != SG_TR_POLLING || !v ||
            v->version != s->eio)
            return sg_http_eio_error(wsi, 400, 3, NULL);
        if (method == LWSHUMETH_GET)
            return on_get(s, wsi, pss);
        if (method == LWSHUMETH_POST)
            return on_post(s, wsi, pss);
        return sg_http_respond(wsi, 500, NULL, NULL, NULL, 0);
    }
    if (method != LWSHUMETH_GET)
        return sg_http_eio_error(wsi, 400, 2, NULL);
    if (strcmp(transport, "polling"))
        return sg_http_eio_error(wsi, 400, 3, NULL); /* websocket without upgrade */
    if (!v)
        return sg_http_eio_error(wsi, 400, 5, NULL);
    return handshake(e, wsi, pss, upper, v);
}

int sg_polling_body(struct lws *wsi, sg_pss_t *pss, const void *in, size_t len)
{
    if (pss->kind != SG_PSS_POST)
        return 0; /* body of a request already answered: discard */
    if (!pss->sess)
        return 0; /* the session went away: nothing of the body is kept */
    if (pss->in.len + len > pss->sess->eng->cfg->max_http_buffer_size) {
        pss->too_big = 1;
        return 0;
    }
    if (!pss->too_big)
        sg_sbuf_append(&pss->in, in, len);
    return 0;
}

static int deliver_packet(const sg_eio_packet_t *p, void *ud)
{
    sg_session_t *s = ud;
    if (s->state != SG_SESS_OPEN)
        return 1;
    sg_session_on_packet(s, p);
    return 0;
}

/* Deliver the packets of a POST body; < 0 when it is malformed. */
static int decode_body(sg_session_t *s, sg_pss_t *pss)
{
    const sg_eio_version_t *v = sg_session_version(s);
    size_t max = s->eng->cfg->max_payload_packets;
    if (!s->jsonp)
        return v->decode_payload(sg_sbuf_data(&pss->in), pss->in.len, pss->post_binary, max,
                                 deliver_packet, s);
    sg_sbuf_t pl;
    sg_sbuf_init(&pl);
    int rc = sg_eio_jsonp_body(sg_sbuf_data(&pss->in), pss->in.len, &pl);
    if (rc == 0)
        rc = v->decode_payload(sg_sbuf_data(&pl), pl.len, 0, max, deliver_packet, s);
    else
        rc = 0; /* no single d field: Node delivers nothing and answers ok */
    sg_sbuf_reset(&pl);
    return rc;
}

int sg_polling_body_done(struct lws *wsi, sg_pss_t *pss)
{
    if (pss->kind != SG_PSS_POST)
        return 0;
    sg_session_t *s = pss->sess;
    int too_big = pss->too_big;
    pss->kind = SG_PSS_NONE;
    pss->sess = NULL;
    if (s && s->post == wsi)
        s->post = NULL;
    if (too_big) {
        sg_sbuf_reset(&pss->in);
        sg_http_respond(wsi, 413, NULL, "Connection: close\r\n", NULL, 0);
        return -1;
    }
    if (s && s->state == SG_SESS_OPEN) {
        int rc = decode_body(s, pss);
        if (rc < 0) {
            SG_DEBUG(s->eng->cfg, "session %s: malformed polling payload", s->sid);
            int ok = sg_session_version(s)->bad_post_ok;
            sg_session_close(s, "parse error", 0);
            sg_sbuf_reset(&pss->in);
            /* the session is gone all the same; the next request learns it */
            if (ok)
                return sg_http_respond(wsi, 200, "text/html", NULL, "ok", 2);
            return sg_http_eio_error(wsi, 400, 3, NULL);
        }
    }
    sg_sbuf_reset(&pss->in);
    return sg_http_respond(wsi, 200, "text/html", NULL, "ok", 2);
}

void sg_polling_closed(struct lws *wsi, sg_pss_t *pss)
{
    sg_session_t *s = pss->sess;
    pss->sess = NULL;
    /* A client that drops a held poll closes its session, as in Node. */
    if (s)
        sg_session_forget_wsi(s, wsi, "transport close");
    sg_sbuf_reset(&pss->in);
    sg_buf_unref(pss->resp);
    pss->resp = NULL;
    sg_free(pss->cors);
    pss->cors = NULL;
}

/* ---- the transport, as the session sees it ---- */

static void tr_flush(sg_session_t *s)
{
    /* At the end of the iteration, with the WebSocket writes: a big
     * sender's message arrives over several reads (wsRxBuffer bytes each),
     * and answering at once sent each waiting GET one packet per request. */
    if (s->get && !s->upgrading)
        sg_ws_out_enqueue(s->eng->tr_state[SG_TR_WEBSOCKET], s);
}

static int tr_writable(const sg_session_t *s)
{
    return s->get != NULL && !s->upgrading;
}

/* The close packet travels alone, in the response after the one that
 * carries the queue: the official client handles the packets of a payload
 * on the next tick but a close packet at once, so in one payload the close
 * would overtake the DISCONNECTs before it. */
static int tr_drain(sg_session_t *s)
{
    if (s->client_close)
        return 0;
    if (s->get && !s->upgrading) {
        if (sg_outq_empty(&s->q))
            return 0; /* the held GET gets the close packet now */
        answer(s, s->get, NULL);
    }
    return 1; /* the next GET, or the upgrade, finishes it */
}

static void tr_release(sg_session_t *s)
{
    if (s->get) {
        sg_outq_clear(&s->q);
        answer(s, s->get, s->client_close ? s->eng->noop_buf : s->eng->close_buf);
    }
    if (s->post) {
        sg_pss_t *pss = lws_wsi_user(s->post);
        if (pss)
            pss->sess = NULL;
    }
}

static void tr_pause(sg_session_t *s)
{
    if (s->get)
        answer(s, s->get, s->eng->noop_buf);
}

static void tr_drop(sg_session_t *s, struct lws *wsi)
{
    (void)s;
    (void)wsi; /* polling has no connection of its own to drop */
}

/* The held GET is answered here and now, not in a writeable callback: lws
 * turns POLLOUT on and off around one, and libuv makes each change an
 * epoll DEL and ADD -- a third of the CPU of a polling fan-out. Outside a
 * callback a failed write cannot return -1, so lws closes the connection
 * on its next turn. Over TLS, for JSONP, and behind bytes lws still holds,
 * the writeable callback does it. */
static void tr_write(sg_session_t *s)
{
    struct lws *wsi = s->get;
    if (!wsi || s->upgrading || sg_outq_empty(&s->q))
        return;
    sg_pss_t *pss = lws_wsi_user(wsi);
    if (!pss || s->eng->tls || s->jsonp || lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi);
        return;
    }
    if (answer_now(s, wsi, pss) != 0)
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}

const sg_transport_ops_t sg_polling_ops = {tr_flush, tr_writable, tr_drain, tr_release, tr_pause,
                                           tr_drop,  tr_write};
