/* ws.c - the WebSocket side of the lws protocol: sessions opened directly
 * over WebSocket, the polling -> WebSocket upgrade probe, frames in and out. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "eio.h"
#include "handshake.h"
#include "http.h"
#include "server_internal.h"
#include "ws.h"

static int reject(struct lws *wsi, const char *msg)
{
    /* Refuse before the 101, with Node's plain-text 400 (notes §2.10). */
    sg_http_respond(wsi, 400, "text/html", "Connection: close\r\n", msg, strlen(msg));
    return -1;
}

/* siogate speaks HTTP/1.1 and WebSocket only: lws would answer an
 * "Upgrade: h2c" with 101 and then talk HTTP/1.1 inside HTTP/2 frames. */
static int on_confirm_upgrade(struct lws *wsi, const char *protocol)
{
    if (protocol && !strcasecmp(protocol, "websocket"))
        return 0;
    return reject(wsi, "Bad request");
}

static int on_filter(sg_server_t *srv, struct lws *wsi)
{
    char path[512], transport[16], sid[64], eio[8], version[8];
    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
        return reject(wsi, "Bad request");
    /* RFC 6455 version 13 only (lws does not check), as the ws package. */
    if (lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_VERSION) <= 0 ||
        strcmp(version, "13") != 0)
        return reject(wsi, "Missing or invalid Sec-WebSocket-Version header");
    int main_path = !strncmp(path, srv->cfg.path, strlen(srv->cfg.path));
    int echo = !main_path && srv->eio_echo_path &&
               !strncmp(path, srv->eio_echo_path, strlen(srv->eio_echo_path));
    if (!main_path && !echo)
        return reject(wsi, "Not found");
    if (sg_http_query(wsi, "transport", transport, sizeof(transport)) < 0 ||
        strcmp(transport, "websocket") || !srv->cfg.transport_websocket)
        return reject(wsi, "Transport unknown");
    int elen = sg_http_query(wsi, "EIO", eio, sizeof(eio));
    const sg_eio_version_t *v =
        elen >= 0 ? sg_eio_version_find(eio, (size_t)elen, srv->cfg.allow_eio3) : NULL;
    if (!v)
        return reject(wsi, "Unsupported protocol version");
    if (sg_http_query(wsi, "sid", sid, sizeof(sid)) >= 0) {
        sg_session_t *s = sg_session_find(&srv->engine, sid, strlen(sid));
        if (!s || s->upper != (unsigned)echo || s->state != SG_SESS_OPEN || s->eio != v->version)
            return reject(wsi, "Session ID unknown");
        /* Already upgraded or upgrading: like Node, complete the handshake and
         * close at once (on_established), leaving the first WebSocket alone. */
    } else {
        const char *refusal = sg_session_refusal(&srv->engine);
        if (refusal)
            return reject(wsi, refusal);
    }
    return 0;
}

static void on_established(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss)
{
    char path[512] = "", sid[64], b64[64];
    memset(pss, 0, sizeof(*pss));
    pss->kind = SG_PSS_WS;
    /* v3: binary as base64 text frames when asked (Node: any non-empty b64) */
    pss->ws_b64 = sg_http_query(wsi, "b64", b64, sizeof(b64)) > 0;
    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    int echo = srv->eio_echo_path && strncmp(path, srv->cfg.path, strlen(srv->cfg.path)) &&
               !strncmp(path, srv->eio_echo_path, strlen(srv->eio_echo_path));
    if (sg_http_query(wsi, "sid", sid, sizeof(sid)) >= 0) {
        sg_session_t *s = sg_session_find(&srv->engine, sid, strlen(sid));
        if (!s || s->state != SG_SESS_OPEN || s->transport != SG_TR_POLLING || s->probe) {
            /* It changed between the filter and now: close this socket. */
            sg_ws_kill(wsi);
            return;
        }
        sg_session_probe_started(s, wsi);
        pss->sess = s;
        pss->probing = 1;
        return;
    }
    char eio[8];
    int elen = sg_http_query(wsi, "EIO", eio, sizeof(eio));
    const sg_eio_version_t *v =
        sg_eio_version_find(eio, elen > 0 ? (size_t)elen : 0, srv->cfg.allow_eio3);
    sg_session_t *s = sg_session_new(&srv->engine, SG_TR_WEBSOCKET, (unsigned)echo, v->version);
    if (pss->ws_b64)
        s->b64 |= SG_B64_WEBSOCKET;
    sg_handshake_capture(&s->hs, srv->engine.handshakes, &srv->cfg, wsi);
    s->ws = wsi;
    s->fd = (int)lws_get_socket_fd(wsi);
    pss->sess = s;
    sg_buf_t *open = sg_session_open_packet(s, 0);
    sg_session_send(s, open, 0);
    sg_buf_unref(open);
    sg_session_opened(s);
}

static void abort_probe(sg_session_t *s, struct lws *wsi, sg_pss_t *pss)
{
    SG_DEBUG(s->eng->cfg, "session %s: upgrade aborted", s->sid);
    pss->sess = NULL;
    sg_session_forget_wsi(s, wsi, NULL);
    sg_ws_kill(wsi);
}

static void on_probe_frame(sg_session_t *s, struct lws *wsi, sg_pss_t *pss, const char *d,
                           size_t len, int binary)
{
    if (!binary && len == 6 && !memcmp(d, "2probe", 6) && !s->upgrading) {
        pss->probe_out = sg_buf_ref(s->eng->probe_buf);
        lws_callback_on_writable(wsi);
        sg_session_probe_answered(s);
        return;
    }
    if (!binary && len == 1 && d[0] == '5' && s->upgrading) {
        pss->probing = 0;
        if (pss->ws_b64)
            s->b64 |= SG_B64_WEBSOCKET;
        sg_session_upgraded(s, wsi, (int)lws_get_socket_fd(wsi));
        return;
    }
    abort_probe(s, wsi, pss);
}

static void on_frame(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, const unsigned char *d,
                     size_t len, int binary)
{
    sg_session_t *s = pss->sess;
    if (!s)
        return;
    if (pss->probing) {
        on_probe_frame(s, wsi, pss, (const char *)d, len, binary);
        return;
    }
    if (s->ws != wsi)
        return;
    sg_eio_packet_t p;
    if (sg_session_version(s)->decode_frame(d, len, binary, &p) != 0) {
        SG_DEBUG(&srv->cfg, "session %s: invalid packet on websocket", s->sid);
        sg_session_close(s, "parse error", 0);
        return;
    }
    sg_session_on_packet(s, &p);
    sg_buf_unref(p.bin);
}

static int on_receive(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, const void *in,
                      size_t len)
{
    sg_ws_out_input(&srv->ws_out, wsi, len);
    int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    int binary = lws_frame_is_binary(wsi);
    if (pss->in.len + len > srv->cfg.max_http_buffer_size) {
        /* Like the ws package under Node: refuse with 1009. Whatever the
         * session held of this connection (its transport, or an upgrade
         * probe) goes first: lws frees the wsi once we return -1. */
        sg_session_t *s = pss->sess;
        pss->sess = NULL;
        if (s)
            sg_session_forget_wsi(s, wsi, "transport error");
        sg_sbuf_reset(&pss->in);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (final && pss->in.len == 0) {
        on_frame(srv, wsi, pss, in, len, binary);
        return 0;
    }
    sg_sbuf_append(&pss->in, in, len);
    if (final) {
        on_frame(srv, wsi, pss, sg_sbuf_data(&pss->in), pss->in.len, binary);
        sg_sbuf_reset(&pss->in);
    }
    return 0;
}

static int on_writeable(struct lws *wsi, sg_pss_t *pss)
{
    if (pss->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (pss->probe_out) {
        sg_buf_t *b = pss->probe_out;
        pss->probe_out = NULL;
        int n = lws_write(wsi, b->data, b->len, LWS_WRITE_TEXT);
        sg_buf_unref(b);
        return n < 0 ? -1 : 0;
    }
    sg_session_t *s = pss->sess;
    if (!s || s->ws != wsi)
        return 0;
    return sg_ws_out_writeable(s, wsi);
}

static void on_closed(struct lws *wsi, sg_pss_t *pss)
{
    sg_session_t *s = pss->sess;
    pss->sess = NULL;
    sg_sbuf_reset(&pss->in);
    sg_buf_unref(pss->probe_out);
    pss->probe_out = NULL;
    if (s)
        sg_session_forget_wsi(s, wsi, "transport close");
}

/* lws echoes the peer's close code after replacing the reserved ones below
 * 3000 with 1002; codes of 5000 and up are invalid too (RFC 6455 7.4.2). */
static void check_close_code(void *in, size_t len)
{
    unsigned char *p = in;
    if (len < 2)
        return;
    unsigned code = (unsigned)p[0] << 8 | p[1];
    if (code >= 5000) {
        p[0] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR >> 8);
        p[1] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR & 0xff);
    }
}

int sg_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    sg_server_t *srv = lws_context_user(lws_get_context(wsi));
    sg_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return on_confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(srv, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        check_close_code(in, len);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        on_established(srv, wsi, pss);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(srv, wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, pss);
        return 0;
    default:
        return 0;
    }
}
