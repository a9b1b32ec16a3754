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
#include "internal.h"

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
    if (sg_http_query(wsi, "EIO", eio, sizeof(eio)) < 0 || strcmp(eio, "4"))
        return reject(wsi, "Unsupported protocol version");
    if (sg_http_query(wsi, "sid", sid, sizeof(sid)) >= 0) {
        sg_session_t *s = sg_session_find(srv, sid, strlen(sid));
        if (!s || !!s->echo != echo || s->state != SG_SESS_OPEN)
            return reject(wsi, "Session ID unknown");
        /* Already upgraded or upgrading: like Node, complete the handshake and
         * close at once (on_established), leaving the first WebSocket alone. */
    } else if (sg_session_full(srv)) {
        return reject(wsi, "Server full");
    }
    return 0;
}

static void on_established(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss)
{
    char path[512] = "", sid[64];
    memset(pss, 0, sizeof(*pss));
    pss->kind = SG_PSS_WS;
    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    int echo = srv->eio_echo_path && strncmp(path, srv->cfg.path, strlen(srv->cfg.path)) &&
               !strncmp(path, srv->eio_echo_path, strlen(srv->eio_echo_path));
    if (sg_http_query(wsi, "sid", sid, sizeof(sid)) >= 0) {
        sg_session_t *s = sg_session_find(srv, sid, strlen(sid));
        if (!s || s->state != SG_SESS_OPEN || s->transport != SG_TR_POLLING || s->probe) {
            /* It changed between the filter and now: close this socket. */
            pss->closing = 1;
            lws_callback_on_writable(wsi);
            return;
        }
        s->probe = wsi;
        s->upgrade_deadline = sg_now_ms(srv) + srv->cfg.upgrade_timeout;
        sg_session_schedule(s);
        pss->sess = s;
        pss->probing = 1;
        return;
    }
    sg_session_t *s = sg_session_new(srv, SG_TR_WEBSOCKET, echo);
    s->handshake = sg_handshake_capture(srv, wsi);
    s->ws = wsi;
    s->fd = (int)lws_get_socket_fd(wsi);
    pss->sess = s;
    sg_buf_t *open = sg_eio_encode_open(s->sid, 0, srv->cfg.ping_interval, srv->cfg.ping_timeout,
                                        srv->cfg.max_http_buffer_size);
    sg_session_send(s, open, 0);
    sg_buf_unref(open);
}

static void abort_probe(sg_session_t *s, struct lws *wsi, sg_pss_t *pss)
{
    SG_DEBUG(s->srv, "session %s: upgrade aborted", s->sid);
    pss->sess = NULL;
    sg_session_forget_wsi(s, wsi, NULL);
    pss->closing = 1;
    lws_callback_on_writable(wsi);
}

static void on_probe_frame(sg_session_t *s, struct lws *wsi, sg_pss_t *pss, const char *d,
                           size_t len, int binary)
{
    if (!binary && len == 6 && !memcmp(d, "2probe", 6) && !s->upgrading) {
        pss->probe_out = sg_buf_ref(s->srv->probe_buf);
        lws_callback_on_writable(wsi);
        sg_session_on_upgrade_probe(s);
        return;
    }
    if (!binary && len == 1 && d[0] == '5' && s->upgrading) {
        pss->probing = 0;
        sg_session_on_upgrade_done(s, wsi);
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
    if (binary) {
        memset(&p, 0, sizeof(p));
        p.type = SG_EIO_MESSAGE;
        p.binary = 1;
        p.bin = sg_buf_new_copy(d, len);
        p.bin->flags |= SG_BUF_BINARY;
        p.data = p.bin->data;
        p.len = len;
        sg_session_on_packet(s, &p);
        sg_buf_unref(p.bin);
        return;
    }
    if (sg_eio_decode_text(d, len, &p) != 0) {
        SG_DEBUG(srv, "session %s: invalid packet on websocket", s->sid);
        sg_session_close(s, "parse error", 0);
        return;
    }
    sg_session_on_packet(s, &p);
}

/* lws reads at most rx_buffer_size bytes per readable event, so a busy
 * publisher's input arrives over several loop iterations. Flushing after
 * each would send its recipients one small frame per syscall; instead the
 * flush waits while input is already waiting (bounded in loop.c), so the
 * frames of those messages share one sendmsg per recipient -- what redis
 * does by writing only once every readable event is processed. */
static void note_pending_input(sg_server_t *srv, struct lws *wsi, size_t len)
{
    int avail = 0;
    srv->rx_since_flush += len;
    if (srv->flush_list && ioctl((int)lws_get_socket_fd(wsi), FIONREAD, &avail) == 0 && avail > 0)
        srv->rx_more = 1;
}

static int on_receive(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, const void *in,
                      size_t len)
{
    note_pending_input(srv, wsi, len);
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

/* Bytes of coalesced frames written per flush: enough to amortise the
 * syscall, bounded so one client cannot hog a loop iteration. */
#define SG_WS_FLUSH_MAX (256u * 1024)

static size_t frame_header(unsigned char *h, size_t len, int binary)
{
    /* Server frames are final, unmasked, uncompressed. */
    h[0] = (unsigned char)(0x80 | (binary ? 0x2 : 0x1));
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Frames per sendmsg: two iovecs each (header, payload). */
#define SG_WS_IOV_FRAMES 64

/* Hand the unsent tail of a frame to lws, which buffers it and drains it
 * before anything else it writes on this connection. */
static int park_tail(sg_session_t *s, struct lws *wsi, const unsigned char *h, size_t hl,
                     const sg_buf_t *b, size_t done)
{
    sg_sbuf_t *wb = &s->srv->wbuf;
    wb->len = 0;
    if (done < hl)
        sg_sbuf_append(wb, h + done, hl - done);
    size_t off = done > hl ? done - hl : 0;
    sg_sbuf_append(wb, b->data + off, b->len - off);
    if (lws_write(wsi, sg_sbuf_data(wb), wb->len, LWS_WRITE_RAW) < 0)
        return -1;
    s->ws_parked = (uint8_t)lws_partial_buffered(wsi);
    return 0;
}

/* Write queued frames straight from the shared buffers with sendmsg: the
 * payload bytes of a broadcast are never copied per recipient. Only the
 * 2-10 byte header is built per frame. */
int sg_ws_flush(sg_session_t *s, struct lws *wsi)
{
    if (s->ws_parked) {
        /* lws still holds bytes of an earlier write: wait for POLLOUT. */
        lws_callback_on_writable(wsi);
        return 0;
    }
    int fd = s->fd;
    size_t budget = SG_WS_FLUSH_MAX;
    while (!sg_outq_empty(&s->q) && budget) {
        unsigned char hdr[SG_WS_IOV_FRAMES][10];
        size_t hl[SG_WS_IOV_FRAMES];
        struct iovec iov[2 * SG_WS_IOV_FRAMES];
        uint32_t n = 0;
        size_t total = 0;
        sg_buf_t *b;
        while (n < SG_WS_IOV_FRAMES && total < budget && (b = sg_outq_peek(&s->q, n))) {
            hl[n] = frame_header(hdr[n], b->len, (b->flags & SG_BUF_BINARY) != 0);
            iov[2 * n] = (struct iovec){hdr[n], hl[n]};
            iov[2 * n + 1] = (struct iovec){b->data, b->len};
            total += hl[n] + b->len;
            n++;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2 * n};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
            w = 0;
        }
        size_t left = (size_t)w;
        for (uint32_t i = 0; i < n; i++) {
            size_t fl = hl[i] + sg_outq_peek(&s->q, 0)->len;
            if (left < fl && left == 0)
                break; /* nothing of this frame went out */
            b = sg_outq_pop(&s->q);
            int rc = left < fl ? park_tail(s, wsi, hdr[i], hl[i], b, left) : 0;
            sg_buf_unref(b);
            if (left < fl) {
                left = 0;
                if (rc < 0)
                    return -1;
                break;
            }
            left -= fl;
        }
        budget = total < budget ? budget - total : 0;
        if ((size_t)w < total) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (!sg_outq_empty(&s->q))
        lws_callback_on_writable(wsi);
    else if (!s->ws_parked)
        sg_session_drained(s);
    return 0;
}

void sg_ws_flush_all(sg_server_t *srv)
{
    sg_session_t *list = srv->flush_list;
    srv->flush_list = NULL;
    while (list) {
        sg_session_t *s = list;
        list = s->flush_next;
        s->flush_queued = 0;
        if (s->state == SG_SESS_CLOSED || !s->ws || s->transport != SG_TR_WEBSOCKET)
            continue;
        if (sg_ws_flush(s, s->ws) < 0)
            sg_session_close(s, "transport error", 0);
    }
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
    s->ws_parked = (uint8_t)lws_partial_buffered(wsi);
    return sg_ws_flush(s, wsi);
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
