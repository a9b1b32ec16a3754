/* loadgen_poll.c - Engine.IO v4 HTTP long-polling for the receiver, idle and ack
 * clients (--transport polling; the fan-out publisher stays on WebSocket: it is
 * the sender, the transport under test is the receivers').
 *
 * One keep-alive HTTP/1.1 connection per client and one request at a time on it,
 * so a polling client costs one fd, as a WebSocket client does:
 *   GET  /socket.io/?EIO=4&transport=polling        handshake, answered 0{"sid":...}
 *   POST ...&sid=S, packets joined by 0x1e           answered "ok"
 *   GET  ...&sid=S                                   held until the server has packets
 * When a response is complete the client POSTs what it has queued ("40", the join,
 * a pong, echoes), else GETs if it polls. Receivers and idle clients always poll:
 * they only have something to POST once their GET has returned (the pong after a
 * ping, the join after the connect). An ack client polls while it waits for an
 * answer (the connect, an ack) and otherwise holds no request, so that its next
 * echo leaves at once; when it has been idle for a ping interval, the sweep makes
 * it fetch the ping its server has queued by then.
 *
 * Responses are parsed as they arrive (Content-Length or chunked bodies). Only
 * the first LG_CAP bytes of each packet of a payload are kept, in c->cap, and each
 * packet goes to lg_conn_packet as a WebSocket text frame would: one delivery per
 * Socket.IO packet. Every buffer is bounded; a malformed response closes that
 * client (a bad frame, and a drop once it was ready). A server that closes an
 * idle keep-alive connection (Node's http announces Keep-Alive: timeout=5) costs
 * a new connection, not the session (http_reconnects): a connection idle for
 * about that long is reopened before it is used again. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loadgen.h"

#define LG_POLL_LINE 128             /* header or chunk-size line kept (the rest is cut) */
#define LG_POLL_HEAD_MAX 16384       /* header (and trailer) bytes of one response */
#define LG_POLL_HEAD_OUT 512         /* a request's head */
#define LG_POLL_OUT_MAX 65536        /* bytes queued for one POST */
#define LG_POLL_BODY_MAX (64u << 20) /* Content-Length or chunk size believed */
#define LG_POLL_PING_MS 25000        /* pingInterval until the open packet names one */
#define LG_POLL_SLACK_MS 1000        /* after the ping is due, before an idle client GETs it */
#define LG_POLL_SWEEP_MS 1000

enum { RQ_NONE, RQ_GET, RQ_POST };
/* the TCP connection: up, being opened, being closed (then down until needed) */
enum { LK_UP, LK_DIAL, LK_CLOSING, LK_DOWN };
/* where the response parser is */
enum { PS_STATUS, PS_HEAD, PS_BODY, PS_CHUNK_SIZE, PS_CHUNK_DATA, PS_CHUNK_END, PS_TRAILER };

typedef struct lg_poll {
    char sid[64];
    uint8_t sid_len, req, link, ps;
    uint8_t chunked, has_len, conn_close;
    uint8_t fetch; /* GET for a due ping although the client does not poll */
    uint16_t status, line_len;
    uint32_t head_bytes;
    uint32_t expect; /* answers awaited: the connect's "40", acks (join, echo) */
    uint32_t ping_ms, ka_ms;
    uint64_t left;                 /* bytes left of the body, or of the current chunk */
    uint64_t pkt_len;              /* bytes of the current packet so far */
    uint64_t idle_since, ping_due; /* loop ms */
    char *out;                     /* packets for the next POST, joined by 0x1e */
    size_t out_len, out_cap;
    char line[LG_POLL_LINE];
} lg_poll_t;

static void next_request(lg_conn_t *c);

/* ---------------------------------------------------------------- failures */

static void malformed(lg_conn_t *c, const char *why)
{
    c->g->bad_frames++;
    lg_conn_fail(c, why, 0);
}

/* Anything but 200: 400 means the server no longer knows the session. */
static void http_error(lg_conn_t *c)
{
    char why[LG_CAP + 32];
    snprintf(why, sizeof why, "HTTP %u %.*s", c->pl->status, (int)c->cap_len, (const char *)c->cap);
    if (c->pl->status == 400)
        c->g->srv_closed++;
    else
        c->g->bad_frames++;
    lg_conn_fail(c, why, 0);
}

/* ---------------------------------------------------------------- the connection */

static void on_link_closed(uv_handle_t *h)
{
    lg_conn_t *c = (lg_conn_t *)h;
    if (c->state == ST_DEAD)
        return;
    c->pl->link = LK_DOWN;
    next_request(c); /* reopens it if a request is wanted now */
}

/* Close the connection but keep the session: the next request opens a new one. */
static void link_close(lg_conn_t *c)
{
    c->pl->link = LK_CLOSING;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_link_closed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void lg_poll_connected(lg_conn_t *c)
{
    lg_poll_t *pl = c->pl;
    pl->link = LK_UP;
    pl->idle_since = uv_now(c->g->loop);
    if (c->state == ST_TCP)
        c->state = ST_EIO; /* the handshake GET goes now */
    uv_read_start((uv_stream_t *)&c->tcp, lg_alloc_cb, on_read);
    next_request(c);
}

/* ---------------------------------------------------------------- requests */

static void send_request(lg_conn_t *c, int post)
{
    lg_poll_t *pl = c->pl;
    lg_gen_t *g = c->g;
    char clen[96] = "", stackbuf[2048];
    size_t body = post ? pl->out_len : 0;
    if (post)
        snprintf(clen, sizeof clen,
                 "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n", body);
    /* head and body in one write, so that they leave in one segment when they fit */
    char *buf =
        LG_POLL_HEAD_OUT + body <= sizeof stackbuf ? stackbuf : malloc(LG_POLL_HEAD_OUT + body);
    if (!buf)
        abort();
    int hn = snprintf(buf, LG_POLL_HEAD_OUT,
                      "%s /socket.io/?EIO=4&transport=polling%s%.*s HTTP/1.1\r\n"
                      "Host: %s:%d\r\nConnection: keep-alive\r\nAccept: */*\r\n%s\r\n",
                      post ? "POST" : "GET", pl->sid_len ? "&sid=" : "", (int)pl->sid_len, pl->sid,
                      g->host, g->port, clen);
    if (hn < 0 || hn >= LG_POLL_HEAD_OUT) {
        if (buf != stackbuf)
            free(buf);
        lg_conn_fail(c, "request head too long", 0);
        return;
    }
    size_t len = (size_t)hn + body;
    if (body)
        memcpy(buf + hn, pl->out, body);
    pl->out_len = 0;
    pl->req = post ? RQ_POST : RQ_GET;
    pl->ps = PS_STATUS;
    pl->line_len = pl->status = 0;
    pl->head_bytes = 0;
    pl->chunked = pl->has_len = pl->conn_close = 0;
    pl->left = pl->pkt_len = 0;
    c->cap_len = 0;
    lg_conn_write(c, buf, len);
    if (buf != stackbuf)
        free(buf);
}

/* After a response, or when something is queued: the client's next request, if any. */
static void next_request(lg_conn_t *c)
{
    lg_poll_t *pl = c->pl;
    if (c->state == ST_DEAD || pl->req != RQ_NONE)
        return;
    int post = pl->out_len > 0;
    int get = !pl->sid_len || c->role != ROLE_ACK || pl->expect || pl->fetch;
    if (!post && !get)
        return;
    if (pl->link == LK_UP && pl->ka_ms &&
        uv_now(c->g->loop) - pl->idle_since + LG_POLL_SLACK_MS >= pl->ka_ms)
        link_close(c); /* the server is about to close it: do not race it */
    if (pl->link == LK_DOWN) {
        pl->link = LK_DIAL;
        c->g->http_reconnects++;
        lg_conn_dial(c);
        return;
    }
    if (pl->link == LK_UP)
        send_request(c, post);
}

void lg_poll_send(lg_conn_t *c, const char *s, size_t len)
{
    lg_poll_t *pl = c->pl;
    if (c->state == ST_DEAD)
        return;
    size_t need = pl->out_len + (pl->out_len ? 1 : 0) + len;
    if (need > LG_POLL_OUT_MAX) {
        lg_conn_fail(c, "POST queue full", 0);
        return;
    }
    if (need > pl->out_cap) {
        size_t cap = pl->out_cap ? pl->out_cap : 256;
        while (cap < need)
            cap *= 2;
        if (!(pl->out = realloc(pl->out, cap)))
            abort();
        pl->out_cap = cap;
    }
    if (pl->out_len)
        pl->out[pl->out_len++] = 0x1e;
    memcpy(pl->out + pl->out_len, s, len);
    pl->out_len += len;
    /* "40" and an event with an ack id ("42<id>[...]") are answered: poll until they are */
    if (len >= 2 && s[0] == '4' &&
        (s[1] == '0' || (s[1] == '2' && len > 2 && s[2] >= '0' && s[2] <= '9')))
        pl->expect++;
    if (len == 1 && s[0] == '3') {
        /* the server's next ping is one interval after this pong */
        pl->ping_due = uv_now(c->g->loop) + pl->ping_ms + LG_POLL_SLACK_MS;
        pl->fetch = 0;
    }
    next_request(c);
}

/* ---------------------------------------------------------------- packets */

/* The open packet 0{"sid":"...",...,"pingInterval":N,...}: the session id, unescaped
 * (both servers use URL-safe ids; anything else is refused rather than encoded). */
static int open_packet(lg_conn_t *c)
{
    lg_poll_t *pl = c->pl;
    static const char skey[] = "\"sid\":\"", pkey[] = "\"pingInterval\":";
    const uint8_t *p = c->cap, *end = c->cap + c->cap_len;
    const uint8_t *q = memmem(p, c->cap_len, skey, sizeof skey - 1);
    if (!q)
        return -1;
    q += sizeof skey - 1;
    size_t n = 0;
    while (q + n < end && q[n] != '"') {
        uint8_t ch = q[n];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_' || ch == '.' || ch == '~'))
            return -1;
        n++;
    }
    if (q + n >= end || n == 0 || n >= sizeof pl->sid)
        return -1;
    memcpy(pl->sid, q, n);
    pl->sid_len = (uint8_t)n;
    pl->ping_ms = LG_POLL_PING_MS;
    if ((q = memmem(p, c->cap_len, pkey, sizeof pkey - 1))) {
        uint32_t ms = 0;
        for (q += sizeof pkey - 1; q < end && *q >= '0' && *q <= '9' && ms < 10000000; q++)
            ms = ms * 10 + (uint32_t)(*q - '0');
        if (ms)
            pl->ping_ms = ms;
    }
    pl->ping_due = uv_now(c->g->loop) + pl->ping_ms + LG_POLL_SLACK_MS;
    return 0;
}

/* One packet of a GET's payload is complete. */
static void pkt_end(lg_conn_t *c, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    const uint8_t *p = c->cap;
    if (!pl->pkt_len) {
        c->g->bad_frames++; /* two separators in a row, or one at an end */
    } else if (p[0] == '6') {
        /* noop: only released GETs get it (an upgrade, a close); nothing to do */
    } else {
        if (p[0] == '0' && !pl->sid_len && open_packet(c) < 0) {
            malformed(c, "open packet");
            return;
        }
        if (c->cap_len >= 2 && p[0] == '4' && (p[1] == '0' || p[1] == '3' || p[1] == '4') &&
            pl->expect)
            pl->expect--;
        lg_conn_packet(c, now);
    }
    c->cap_len = 0;
    pl->pkt_len = 0;
}

/* Body bytes: a 200 GET's are packets split at 0x1e; of anything else (a POST's "ok", an
 * error) only the first LG_CAP bytes are kept. */
static void body_bytes(lg_conn_t *c, const uint8_t *p, size_t n, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    int split = pl->req == RQ_GET && pl->status == 200;
    while (n && c->state != ST_DEAD) {
        const uint8_t *sep = split ? memchr(p, 0x1e, n) : NULL;
        size_t m = sep ? (size_t)(sep - p) : n;
        if (c->cap_len < LG_CAP) {
            size_t room = (size_t)(LG_CAP - c->cap_len);
            size_t k = room < m ? room : m;
            memcpy(c->cap + c->cap_len, p, k);
            c->cap_len += (uint8_t)k;
        }
        pl->pkt_len += m;
        if (!sep)
            return;
        pkt_end(c, now);
        p += m + 1;
        n -= m + 1;
    }
}

/* ---------------------------------------------------------------- responses */

static void response_done(lg_conn_t *c, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    c->g->http_requests++;
    if (pl->status != 200) {
        http_error(c);
        return;
    }
    if (pl->req == RQ_POST) {
        if (c->cap_len != 2 || memcmp(c->cap, "ok", 2))
            c->g->bad_frames++;
    } else if (pl->pkt_len) {
        pkt_end(c, now); /* the last packet (what it queues waits for the request's end) */
    }
    if (c->state == ST_DEAD)
        return;
    pl->req = RQ_NONE;
    pl->idle_since = uv_now(c->g->loop);
    if (pl->conn_close)
        link_close(c);
    next_request(c);
}

/* Case-insensitive: does line start with the header name (with its colon)? Its value. */
static const char *header(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n))
        return NULL;
    line += n;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

static void head_line(lg_conn_t *c, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    const char *l = pl->line, *v;
    if (pl->ps == PS_STATUS) {
        if (strncmp(l, "HTTP/1.", 7) || pl->line_len < 12 || l[8] != ' ') {
            malformed(c, "HTTP status line");
            return;
        }
        pl->conn_close = l[7] == '0'; /* HTTP/1.0: no keep-alive unless said */
        pl->status = (uint16_t)atoi(l + 9);
        pl->ps = PS_HEAD;
        return;
    }
    if (pl->line_len) {
        if ((v = header(l, "content-length:"))) {
            char *e;
            unsigned long long len = strtoull(v, &e, 10);
            if (e == v || len > LG_POLL_BODY_MAX) {
                malformed(c, "Content-Length");
                return;
            }
            pl->left = len;
            pl->has_len = 1;
        } else if ((v = header(l, "transfer-encoding:"))) {
            pl->chunked = strcasestr(v, "chunked") != NULL;
        } else if ((v = header(l, "connection:"))) {
            pl->conn_close = strcasestr(v, "close") != NULL;
        } else if ((v = header(l, "keep-alive:")) && (v = strcasestr(v, "timeout="))) {
            pl->ka_ms = (uint32_t)atoi(v + 8) * 1000u;
        }
        return;
    }
    /* the blank line: the body follows */
    if (pl->chunked) {
        pl->ps = PS_CHUNK_SIZE;
    } else if (!pl->has_len) {
        malformed(c, "response without length");
    } else if (pl->left) {
        pl->ps = PS_BODY;
    } else {
        response_done(c, now);
    }
}

static void chunk_line(lg_conn_t *c, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    if (pl->ps == PS_CHUNK_END) {
        if (pl->line_len)
            malformed(c, "chunk end");
        else
            pl->ps = PS_CHUNK_SIZE;
        return;
    }
    if (pl->ps == PS_TRAILER) {
        if (!pl->line_len)
            response_done(c, now);
        return;
    }
    char *e;
    unsigned long long size = strtoull(pl->line, &e, 16);
    if (e == pl->line || (*e && *e != ';' && *e != ' ') || size > LG_POLL_BODY_MAX) {
        malformed(c, "chunk size");
        return;
    }
    pl->left = size;
    pl->ps = size ? PS_CHUNK_DATA : PS_TRAILER;
}

/* Up to and including the next '\n' into pl->line (cut at LG_POLL_LINE - 1, '\r' dropped);
 * the bytes taken, *done once the line is complete. */
static size_t take_line(lg_poll_t *pl, const uint8_t *p, size_t n, int *done)
{
    const uint8_t *nl = memchr(p, '\n', n);
    size_t k = nl ? (size_t)(nl - p) + 1 : n;
    for (size_t i = 0; i < k - (nl ? 1 : 0); i++)
        if (pl->line_len < LG_POLL_LINE - 1)
            pl->line[pl->line_len++] = (char)p[i];
    *done = nl != NULL;
    if (nl) {
        if (pl->line_len && pl->line[pl->line_len - 1] == '\r')
            pl->line_len--;
        pl->line[pl->line_len] = 0;
    }
    return k;
}

static void feed(lg_conn_t *c, const uint8_t *p, size_t n, uint64_t now)
{
    lg_poll_t *pl = c->pl;
    while (n && c->state != ST_DEAD) {
        if (pl->req == RQ_NONE) {
            malformed(c, "response to no request");
            return;
        }
        if (pl->ps == PS_BODY || pl->ps == PS_CHUNK_DATA) {
            size_t k = pl->left < n ? (size_t)pl->left : n;
            body_bytes(c, p, k, now);
            p += k;
            n -= k;
            if ((pl->left -= k) || c->state == ST_DEAD)
                continue;
            if (pl->ps == PS_BODY)
                response_done(c, now);
            else
                pl->ps = PS_CHUNK_END;
            continue;
        }
        int done;
        size_t k = take_line(pl, p, n, &done);
        p += k;
        n -= k;
        int head = pl->ps == PS_STATUS || pl->ps == PS_HEAD || pl->ps == PS_TRAILER;
        if (head && (pl->head_bytes += (uint32_t)k) > LG_POLL_HEAD_MAX) {
            malformed(c, "response header too long");
            return;
        }
        if (!done)
            continue;
        if (pl->ps == PS_STATUS || pl->ps == PS_HEAD)
            head_line(c, now);
        else
            chunk_line(c, now);
        pl->line_len = 0;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_conn_t *c = (lg_conn_t *)s;
    lg_poll_t *pl = c->pl;
    if (nread < 0) {
        if (pl->req == RQ_NONE && c->state != ST_DEAD) {
            link_close(c); /* an idle keep-alive connection closed: the session lives on */
            return;
        }
        if (c->state == ST_READY)
            c->g->srv_closed++;
        lg_conn_fail(c, "read", nread == UV_EOF ? 0 : (int)nread);
        return;
    }
    if (nread > 0)
        feed(c, (const uint8_t *)buf->base, (size_t)nread, uv_hrtime());
}

/* ---------------------------------------------------------------- setup, pings */

/* Clients holding no request (idle ack clients) fetch the ping their server has queued. */
static void on_sweep(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    uint64_t now = uv_now(g->loop);
    for (int i = 0; i < g->n; i++) {
        lg_conn_t *c = &g->conns[i];
        lg_poll_t *pl = c->pl;
        if (!pl || c->state == ST_DEAD || pl->req != RQ_NONE || !pl->sid_len || pl->fetch ||
            now < pl->ping_due)
            continue;
        pl->fetch = 1;
        next_request(c);
    }
}

void lg_poll_setup(lg_gen_t *g)
{
    uv_timer_init(g->loop, &g->poll_sweep);
    g->poll_sweep.data = g;
    uv_timer_start(&g->poll_sweep, on_sweep, LG_POLL_SWEEP_MS, LG_POLL_SWEEP_MS);
    uv_unref((uv_handle_t *)&g->poll_sweep); /* it never keeps a run alive by itself */
}

void lg_poll_new(lg_conn_t *c)
{
    if (!(c->pl = calloc(1, sizeof(*c->pl))))
        abort();
    c->pl->link = LK_DIAL;
    c->pl->ping_ms = LG_POLL_PING_MS;
}
