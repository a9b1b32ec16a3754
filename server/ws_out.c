/* ws_out.c - writing WebSocket frames: when (once per loop iteration, after
 * the iteration's input) and how (straight from the shared buffers of the
 * output queue with sendmsg, several frames per call), plus the transport
 * operations the session uses. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base64.h"
#include "http.h"
#include "ws.h"

/* lws reads at most rx_buffer_size bytes per readable event, so a busy
 * publisher's input arrives over several loop iterations. Flushing after
 * each would send its recipients one small frame per syscall; instead the
 * flush waits while input is already waiting (bounded below), so the frames
 * of those messages share one sendmsg per recipient -- what redis does by
 * writing only once every readable event is processed. */
void sg_ws_out_input(sg_ws_out_t *w, struct lws *wsi, size_t len)
{
    w->rx_since_flush += len;
    /* Whether more is waiting is asked once, at flush time, of the socket
     * that sent the biggest message (a publisher, typically): asking after
     * every message cost a system call each, two for every new connection. */
    if (w->rx_fd < 0 || len >= w->rx_fd_len) {
        w->rx_fd = (int)lws_get_socket_fd(wsi);
        w->rx_fd_len = len;
    }
}

/* That socket still has input: its next readable event comes within the
 * iteration, so writing now would split the frames it causes. */
static int input_waiting(sg_ws_out_t *w)
{
    int avail = 0;
    int fd = w->rx_fd;
    w->rx_fd = -1;
    w->rx_fd_len = 0;
    return fd >= 0 && ioctl(fd, FIONREAD, &avail) == 0 && avail > 0;
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

/* The bytes before b's payload on s: the frame header, then for an Engine.IO
 * v3 binary frame its type byte -- so the shared payload goes out as it is
 * for every version. At most SG_WS_HEAD bytes. */
#define SG_WS_HEAD 11
static size_t frame_head(const sg_session_t *s, unsigned char *h, const sg_buf_t *b)
{
    int bin = (b->flags & SG_BUF_BINARY) != 0;
    size_t tb = bin && sg_session_version(s)->ws_type_byte ? 1 : 0;
    size_t n = frame_header(h, b->len + tb, bin);
    if (tb)
        h[n++] = SG_EIO_MESSAGE;
    return n;
}

/* Frames per sendmsg: two iovecs each (header, payload). */
#define SG_WS_IOV_FRAMES 64

/* Hand the unsent tail of a frame to lws, which buffers it and drains it
 * before anything else it writes on this connection. */
static int park_tail(sg_session_t *s, struct lws *wsi, const unsigned char *h, size_t hl,
                     const sg_buf_t *b, size_t done)
{
    sg_sbuf_t *wb = &((sg_ws_out_t *)s->eng->tr_state[SG_TR_WEBSOCKET])->wbuf;
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

/* One frame into wb; a binary one as a "b4<base64>" text frame when the
 * v3 client asked for base64 (b64=1 on its WebSocket). */
static void put_frame(sg_sbuf_t *wb, const sg_session_t *s, const sg_buf_t *b)
{
    unsigned char h[SG_WS_HEAD];
    if ((b->flags & SG_BUF_BINARY) && (s->b64 & SG_B64_WEBSOCKET)) {
        sg_sbuf_append(wb, h, frame_header(h, 2 + sg_b64_encoded_len(b->len), 0));
        sg_sbuf_puts(wb, "b4");
        sg_b64_encode(wb, b->data, b->len);
        return;
    }
    sg_sbuf_append(wb, h, frame_head(s, h, b));
    sg_sbuf_append(wb, b->data, b->len);
}

/* Over TLS (tlsCert/tlsKey) the bytes must go through OpenSSL, not
 * sendmsg: the frames (up to the flush budget) are copied into one buffer
 * and handed to lws, which encrypts them and keeps what the socket does not
 * take until POLLOUT -- as park_tail does. Encryption copies the bytes
 * anyway, so the copy here adds little. The rare v3 client that wants
 * binary as base64 takes this path too (its frames are rewritten). */
static int flush_copy(sg_session_t *s, struct lws *wsi)
{
    sg_sbuf_t *wb = &((sg_ws_out_t *)s->eng->tr_state[SG_TR_WEBSOCKET])->wbuf;
    wb->len = 0;
    /* lws may use LWS_PRE bytes in front of what it is given */
    unsigned char pre[LWS_PRE] = {0};
    sg_sbuf_append(wb, pre, LWS_PRE);
    sg_buf_t *b;
    while (wb->len < LWS_PRE + SG_WS_FLUSH_MAX && (b = sg_outq_pop(&s->q))) {
        put_frame(wb, s, b);
        s->eng->stats->queue_bytes -= b->len;
        sg_buf_unref(b);
    }
    if (wb->len > LWS_PRE &&
        lws_write(wsi, (unsigned char *)sg_sbuf_data(wb) + LWS_PRE, wb->len - LWS_PRE,
                  LWS_WRITE_RAW) < 0)
        return -1;
    s->ws_parked = (uint8_t)lws_partial_buffered(wsi);
    if (s->ws_parked || !sg_outq_empty(&s->q))
        lws_callback_on_writable(wsi);
    else
        sg_session_drained(s);
    return 0;
}

/* Write queued frames straight from the shared buffers with sendmsg: the
 * payload bytes of a broadcast are never copied per recipient. Only the
 * 2-10 byte header is built per frame. */
static int flush(sg_session_t *s, struct lws *wsi)
{
    if (s->ws_parked) {
        /* lws still holds bytes of an earlier write: wait for POLLOUT. */
        lws_callback_on_writable(wsi);
        return 0;
    }
    /* the engine's flag, not lws_is_ssl(): that reads the wsi, a cache
     * miss per recipient of a broadcast (2% of a 10k fan-out) */
    if (s->eng->tls || (s->b64 & SG_B64_WEBSOCKET))
        return flush_copy(s, wsi);
    int fd = s->fd;
    size_t budget = SG_WS_FLUSH_MAX;
    while (!sg_outq_empty(&s->q) && budget) {
        unsigned char hdr[SG_WS_IOV_FRAMES][SG_WS_HEAD];
        size_t hl[SG_WS_IOV_FRAMES];
        struct iovec iov[2 * SG_WS_IOV_FRAMES];
        uint32_t n = 0;
        size_t total = 0;
        sg_buf_t *b;
        while (n < SG_WS_IOV_FRAMES && total < budget && (b = sg_outq_peek(&s->q, n))) {
            hl[n] = frame_head(s, hdr[n], b);
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
            s->eng->stats->queue_bytes -= b->len;
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

static void flush_all(sg_ws_out_t *w)
{
    sg_session_t *list = w->flush_list;
    w->flush_list = NULL;
    while (list) {
        sg_session_t *s = list;
        list = s->flush_next;
        s->flush_queued = 0;
        if (s->state != SG_SESS_CLOSED)
            s->eng->transports[s->transport]->write(s);
    }
}


/* Bounds on waiting for more input before writing: a few loop iterations
 * and a little input at most, so latency stays in microseconds. */
#define SG_FLUSH_DEFER_ITER 128
#define SG_FLUSH_DEFER_BYTES (64u * 1024)

static void on_flush(uv_idle_t *h)
{
    sg_ws_out_t *w = h->data;
    if (w->flush_deferred < SG_FLUSH_DEFER_ITER && w->rx_since_flush < SG_FLUSH_DEFER_BYTES &&
        input_waiting(w)) {
        w->flush_deferred++;
        return;
    }
    w->rx_fd = -1;
    w->rx_fd_len = 0;
    w->flush_deferred = 0;
    w->rx_since_flush = 0;
    flush_all(w);
    if (!w->flush_list) {
        uv_idle_stop(&w->flusher);
        w->flusher_on = 0;
    }
}

void sg_ws_out_init(sg_ws_out_t *w, uv_loop_t *loop)
{
    *w = (sg_ws_out_t){0};
    w->rx_fd = -1;
    uv_idle_init(loop, &w->flusher);
    w->flusher.data = w;
    sg_sbuf_init(&w->wbuf);
    sg_sbuf_init(&w->pbody);
}

void sg_ws_out_close(sg_ws_out_t *w)
{
    uv_close((uv_handle_t *)&w->flusher, NULL);
}

void sg_ws_out_free(sg_ws_out_t *w)
{
    sg_sbuf_reset(&w->wbuf);
    sg_sbuf_reset(&w->pbody);
}

int sg_ws_out_writeable(sg_session_t *s, struct lws *wsi)
{
    s->ws_parked = (uint8_t)lws_partial_buffered(wsi);
    return flush(s, wsi);
}

void sg_ws_kill(struct lws *wsi)
{
    sg_pss_t *pss = lws_wsi_user(wsi);
    if (pss) {
        pss->sess = NULL;
        pss->closing = 1;
    }
    lws_callback_on_writable(wsi);
}

/* ---- the transport, as the session sees it ---- */

/* Deferred to the end of this loop iteration (longer while a big sender's
 * input is still arriving): every frame queued meanwhile goes out in one
 * write, and no poll re-arm per message. The polling transport queues its
 * sessions here too, so a held GET answers with a batch, not one packet. */
void sg_ws_out_enqueue(sg_ws_out_t *w, sg_session_t *s)
{
    if (s->flush_queued)
        return;
    s->flush_queued = 1;
    s->flush_next = w->flush_list;
    w->flush_list = s;
    if (!w->flusher_on && !uv_is_closing((uv_handle_t *)&w->flusher)) {
        w->flusher_on = 1;
        uv_idle_start(&w->flusher, on_flush);
    }
}

void sg_ws_out_dequeue(sg_ws_out_t *w, sg_session_t *s)
{
    if (!s->flush_queued)
        return;
    for (sg_session_t **pp = &w->flush_list; *pp; pp = &(*pp)->flush_next) {
        if (*pp == s) {
            *pp = s->flush_next;
            break;
        }
    }
    s->flush_queued = 0;
}

static void tr_flush(sg_session_t *s)
{
    if (s->ws)
        sg_ws_out_enqueue(s->eng->tr_state[SG_TR_WEBSOCKET], s);
}

static int tr_writable(const sg_session_t *s)
{
    return s->ws && !s->ws_parked;
}

static void tr_write(sg_session_t *s)
{
    if (s->ws && flush(s, s->ws) < 0)
        sg_session_close(s, "transport error", 0);
}

static int tr_drain(sg_session_t *s)
{
    return s->ws && (!sg_outq_empty(&s->q) || s->ws_parked);
}

static void tr_release(sg_session_t *s)
{
    sg_ws_out_dequeue(s->eng->tr_state[SG_TR_WEBSOCKET], s);
    if (s->ws)
        sg_ws_kill(s->ws);
    if (s->probe)
        sg_ws_kill(s->probe);
}

static void tr_pause(sg_session_t *s)
{
    (void)s; /* nothing to release: the WebSocket is what the session moves to */
}

static void tr_drop(sg_session_t *s, struct lws *wsi)
{
    (void)s;
    sg_ws_kill(wsi);
}

const sg_transport_ops_t sg_ws_ops = {tr_flush, tr_writable, tr_drain, tr_release, tr_pause,
                                      tr_drop,  tr_write};
