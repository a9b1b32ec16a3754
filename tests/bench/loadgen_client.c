/* loadgen_client.c - the load generator's client: a minimal WebSocket client
 * (upgrade request, unmasked server frames, masked client frames) that speaks
 * just enough Engine.IO v4 / Socket.IO v5 to connect, join, answer pings and
 * classify what it receives. A frame is only classified by its first LG_CAP
 * bytes; the one number parsed is the timestamp of a "message" event.
 *
 * With --eio 3 (or for the odd-numbered clients of --eio mixed) a client speaks
 * Engine.IO v3 / Socket.IO protocol 4, the protocol of socket.io-client 2.x:
 * EIO=3 in the URL, the same open packet, then the server sends "40" by itself
 * (the client is in "/" implicitly and never sends 40); the CLIENT pings ("2")
 * every pingInterval and the server answers "3" (a v3 client that stops pinging
 * is closed after pingInterval + pingTimeout). Events and acks are as in v5.
 * Binary frames (v3 prefixes them with a 0x04 byte) are never sent and are not
 * looked into.
 *
 * What does not depend on the transport (the TCP connection, the Engine.IO and
 * Socket.IO packets once unframed, deliveries and acks) is shared with the
 * long-polling client of loadgen_poll.c: lg_conn_packet takes a packet from
 * either, lg_conn_send hands one to either. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "loadgen.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* A write libuv could not take at once, with its own copy of the bytes. */
typedef struct {
    uv_write_t req;
    char data[];
} lg_wreq_t;

static char lg_rbuf[256 * 1024];

/* ---------------------------------------------------------------- writing */

static void on_written(uv_write_t *req, int status)
{
    lg_wreq_t *w = (lg_wreq_t *)req;
    if (status < 0 && status != UV_ECANCELED)
        lg_conn_fail((lg_conn_t *)req->handle, "write", status);
    free(w);
}

void lg_conn_write(lg_conn_t *c, const char *buf, size_t len)
{
    if (c->state == ST_DEAD)
        return;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        lg_conn_fail(c, "write", r);
        return;
    }
    size_t off = r > 0 ? (size_t)r : 0;
    lg_wreq_t *w = malloc(sizeof(*w) + len - off);
    if (!w)
        abort();
    memcpy(w->data, buf + off, len - off);
    b = uv_buf_init(w->data, (unsigned)(len - off));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w);
        lg_conn_fail(c, "write", -1);
    }
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* One masked text frame (client frames must be masked, RFC 6455 5.3). */
static void ws_send(lg_conn_t *c, int opcode, const char *data, size_t len)
{
    char stackbuf[1024];
    char *buf = len + 14 <= sizeof stackbuf ? stackbuf : malloc(len + 14);
    if (!buf)
        abort();
    size_t h = 0;
    buf[h++] = (char)(0x80 | opcode);
    if (len < 126) {
        buf[h++] = (char)(0x80 | len);
    } else if (len < 65536) {
        buf[h++] = (char)(0x80 | 126);
        buf[h++] = (char)(len >> 8);
        buf[h++] = (char)len;
    } else {
        buf[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--)
            buf[h++] = (char)((uint64_t)len >> (8 * i));
    }
    uint32_t key = xorshift(&c->g->rng);
    uint8_t mk[4];
    memcpy(mk, &key, 4);
    memcpy(buf + h, mk, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        buf[h + i] = (char)(data[i] ^ mk[i & 3]);
    lg_conn_write(c, buf, h + len);
    if (buf != stackbuf)
        free(buf);
}

void lg_ws_text(lg_conn_t *c, const char *s, size_t len) { ws_send(c, 1, s, len); }

void lg_conn_send(lg_conn_t *c, const char *s, size_t len)
{
    if (c->pl)
        lg_poll_send(c, s, len);
    else
        ws_send(c, 1, s, len);
}

/* ---------------------------------------------------------------- connection life */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---------------------------------------------------------------- Engine.IO v3 pings */

/* The server's pingInterval, as the first v3 open packet gave it. */
static uint64_t v3_period(const lg_gen_t *g) { return g->v3_ping_ms ? g->v3_ping_ms : LG_V3_PING_MS; }

/* Every open v3 client is in the ring g->pq once, in the order of its ping_due: all share
 * one period, so appending keeps it sorted. One timer, armed for the head. */
static void v3_ping_arm(lg_gen_t *g)
{
    if (!g->pq_len)
        return;
    uint64_t due = g->conns[g->pq[g->pq_head]].ping_due, now = uv_now(g->loop);
    uv_timer_start(&g->v3ping, lg_v3_ping_due, due > now ? due - now : 0, 0);
}

static void v3_ping_push(lg_gen_t *g, lg_conn_t *c, uint64_t due)
{
    uint32_t cap = (uint32_t)g->n + 1;
    if (!g->pq) {
        g->pq = malloc(sizeof(*g->pq) * cap);
        if (!g->pq)
            abort();
    }
    if (g->pq_len >= cap)
        abort(); /* a client is never queued twice */
    c->ping_due = due;
    g->pq[(g->pq_head + g->pq_len++) % cap] = c->idx;
    if (!uv_is_active((uv_handle_t *)&g->v3ping))
        v3_ping_arm(g);
}

void lg_v3_ping_due(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    uint32_t cap = (uint32_t)g->n + 1;
    uint64_t now = uv_now(g->loop);
    while (g->pq_len) {
        lg_conn_t *c = &g->conns[g->pq[g->pq_head]];
        if (c->state != ST_DEAD && c->ping_due > now)
            break;
        g->pq_head = (g->pq_head + 1) % cap;
        g->pq_len--;
        if (c->state == ST_DEAD)
            continue; /* dropped: leaves the ring */
        lg_ws_text(c, "2", 1);
        g->v3_pings++;
        if (c->state != ST_DEAD)
            v3_ping_push(g, c, now + v3_period(g));
    }
    v3_ping_arm(g);
}

/* c is lost: count it; close_tcp 0 when its handle was never initialised. */
static void conn_lost(lg_conn_t *c, const char *why, int err, int close_tcp)
{
    lg_gen_t *g = c->g;
    if (c->state == ST_DEAD)
        return;
    if (g->conn_errors++ < 5)
        fprintf(stderr, "loadgen: client %u: %s failed in state %d: %s\n", c->idx, why, c->state,
                err ? uv_strerror(err) : "protocol");
    if (c->state == ST_READY) {
        g->dropped++;
        if (c->role != ROLE_PUB) {
            g->ready--;
            g->ready_v3 -= c->v3;
        }
    } else {
        g->failed++;
        g->inflight--;
    }
    c->state = ST_DEAD;
    if (close_tcp && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
    lg_gen_check(g);
}

void lg_conn_fail(lg_conn_t *c, const char *why, int err)
{
    conn_lost(c, why, err, 1);
}

void lg_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    /* one shared buffer: libuv calls on_read right after each read, before the next alloc */
    *buf = uv_buf_init(lg_rbuf, sizeof lg_rbuf);
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_conn_t *c = req->data;
    if (status < 0) {
        lg_conn_fail(c, "connect", status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->pl) {
        lg_poll_connected(c);
        return;
    }
    char rq[256];
    int n = snprintf(rq, sizeof rq,
                     "GET /socket.io/?EIO=%d&transport=websocket HTTP/1.1\r\n"
                     "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     c->v3 ? 3 : 4, c->g->host, c->role == ROLE_PUB ? c->g->pub_port : c->g->port);
    c->state = ST_HTTP;
    uv_read_start((uv_stream_t *)&c->tcp, lg_alloc_cb, on_read);
    lg_conn_write(c, rq, (size_t)n);
}

void lg_conn_start(lg_gen_t *g, lg_conn_t *c, uint32_t idx, int role)
{
    memset(c, 0, sizeof(*c));
    c->g = g;
    c->idx = idx;
    c->role = (uint8_t)role;
    /* mixed: odd indexes v3; the publisher (index n) is v4 unless every client is v3 */
    c->v3 = g->eio == EIO_3 || (g->eio == EIO_MIXED && role != ROLE_PUB && (idx & 1u));
    c->hneed = 2;
    c->state = ST_TCP;
    c->t_start = uv_hrtime();
    if (g->transport == TR_POLLING && role != ROLE_PUB)
        lg_poll_new(c);
    g->inflight++;
    lg_conn_dial(c);
}

void lg_conn_dial(lg_conn_t *c)
{
    lg_gen_t *g = c->g;
    int r = uv_tcp_init_ex(g->loop, &c->tcp, AF_INET);
    if (r < 0) {
        conn_lost(c, "socket", r, 0); /* nothing to close */
        return;
    }
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src, dst;
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.0.%d", 2 + (int)((c->idx + (uint32_t)g->addr_offset) % 253u));
    uv_ip4_addr(ip, 0, &src);
    uv_ip4_addr(g->host, c->role == ROLE_PUB ? g->pub_port : g->port, &dst);
    c->creq.data = c;
    if ((r = uv_tcp_bind(&c->tcp, (struct sockaddr *)&src, 0)) < 0 ||
        (r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&dst, on_connect)) < 0)
        lg_conn_fail(c, "connect", r);
}

/* ---------------------------------------------------------------- frames */

static uint64_t parse_u64(const uint8_t *p, const uint8_t *end, const uint8_t **out)
{
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (out)
        *out = p;
    return v;
}

void lg_ack_send(lg_conn_t *c)
{
    char msg[96];
    c->ack_id = c->ack_id < 2 ? 2 : c->ack_id + 1;
    c->t_start = uv_hrtime();
    int n = snprintf(msg, sizeof msg, "42%u[\"echo\",{\"t\":%" PRIu64 "}]", c->ack_id, c->t_start);
    c->g->ev_sent++;
    lg_conn_send(c, msg, (size_t)n);
}

int lg_ack_send_open(lg_conn_t *c)
{
    if (c->ack_out >= LG_ACK_RING)
        return -1;
    if (!c->ack_ring && !(c->ack_ring = calloc(LG_ACK_RING, sizeof(*c->ack_ring))))
        abort();
    c->ack_id = c->ack_id < 2 ? 2 : c->ack_id + 1;
    uint64_t t = uv_hrtime();
    c->ack_ring[c->ack_id % LG_ACK_RING] = t;
    c->ack_out++;
    char msg[96];
    int n = snprintf(msg, sizeof msg, "42%u[\"echo\",{\"t\":%" PRIu64 "}]", c->ack_id, t);
    c->g->ev_sent++;
    lg_conn_send(c, msg, (size_t)n);
    return 0;
}

int lg_emit_send(lg_conn_t *c)
{
    lg_gen_t *g = c->g;
    if ((c->emit_pings + 1u) * LG_EMIT_BATCH > (uint32_t)g->emit_window)
        return -1;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "42[\"echo\",{\"t\":%" PRIu64 "}]", uv_hrtime());
    g->ev_sent++;
    lg_ws_text(c, msg, (size_t)n);
    if (++c->emit_unconf == LG_EMIT_BATCH && c->state == ST_READY) {
        c->emit_unconf = 0;
        c->emit_pings++;
        ws_send(c, 9, "", 0);
    }
    return 0;
}

void lg_emit_flush(lg_conn_t *c)
{
    if (c->state != ST_READY || !c->emit_unconf)
        return;
    c->emit_tail = c->emit_unconf;
    c->emit_unconf = 0;
    c->emit_pings++;
    ws_send(c, 9, "", 0);
}

static void on_sio_connected(lg_conn_t *c, uint64_t now)
{
    lg_gen_t *g = c->g;
    if (c->role == ROLE_RECV) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "42%d[\"join\",\"%s\"]", LG_JOIN_ACK_ID, g->room);
        c->state = ST_JOIN;
        lg_conn_send(c, msg, (size_t)n);
        return;
    }
    c->state = ST_READY;
    g->inflight--;
    if (c->role != ROLE_PUB) {
        g->connected++;
        g->ready++;
        g->connected_v3 += c->v3;
        g->ready_v3 += c->v3;
        lg_hist_add(&g->connect_hist, now - c->t_start);
    }
    lg_gen_check(g);
}

static void on_event(lg_conn_t *c, const uint8_t *p, size_t caplen, uint64_t now)
{
    lg_gen_t *g = c->g;
    static const char pre[] = "42[\"message\",";
    if (caplen < sizeof pre - 1 || memcmp(p, pre, sizeof pre - 1)) {
        g->bad_frames++;
        return;
    }
    g->deliveries_total++;
    g->deliv_by[c->v3]++;
    if (!g->measuring)
        return;
    const uint8_t *end = p + caplen;
    const uint8_t *q = memmem(p, caplen, "\"t\"", 3);
    if (!q)
        return;
    q += 3;
    while (q < end && (*q == ':' || *q == ' '))
        q++;
    uint64_t t = parse_u64(q, end, NULL);
    if (t && t <= now) {
        lg_hist_add(&g->ph[g->cur].hist, now - t);
        if (g->eio == EIO_MIXED)
            lg_hist_add(&g->ph[g->cur].hist_by[c->v3], now - t);
    }
}

static void on_ack(lg_conn_t *c, const uint8_t *p, size_t caplen, uint64_t now)
{
    lg_gen_t *g = c->g;
    uint32_t id = (uint32_t)parse_u64(p + 2, p + caplen, NULL);
    if (c->state == ST_JOIN && id == LG_JOIN_ACK_ID) {
        c->state = ST_READY;
        g->inflight--;
        g->connected++;
        g->ready++;
        g->connected_v3 += c->v3;
        g->ready_v3 += c->v3;
        lg_hist_add(&g->connect_hist, now - c->t_start);
        lg_gen_check(g);
        return;
    }
    if (c->role != ROLE_ACK) {
        g->bad_frames++;
        return;
    }
    uint64_t t0;
    if (g->rate > 0) {
        /* open loop: any outstanding id, in any order */
        uint64_t *slot = c->ack_ring ? &c->ack_ring[id % LG_ACK_RING] : NULL;
        if (!slot || !*slot || id > c->ack_id || c->ack_id - id >= LG_ACK_RING) {
            g->bad_frames++;
            return;
        }
        t0 = *slot;
        *slot = 0;
        c->ack_out--;
    } else {
        if (id != c->ack_id) {
            g->bad_frames++;
            return;
        }
        t0 = c->t_start;
    }
    /* 43<id>[{"error":"bridge timeout"}] and the like: counted apart */
    static const char err[] = "[{\"error\":";
    const uint8_t *q = memchr(p + 2, '[', caplen - 2);
    int error = q && (size_t)(p + caplen - q) >= sizeof err - 1 && !memcmp(q, err, sizeof err - 1);
    g->acks_total++;
    g->ack_errors_total += (uint64_t)error;
    if (g->measuring) {
        if (error)
            g->ph[g->cur].ack_errors++;
        else {
            g->ph[g->cur].acks++;
            lg_hist_add(&g->ph[g->cur].hist, now - t0);
        }
    }
    if (g->rate <= 0 && g->cur < g->nph && g->ph[g->cur].kind == PH_ACK)
        lg_ack_send(c);
}

void lg_conn_packet(lg_conn_t *c, uint64_t now)
{
    const uint8_t *p = c->cap;
    size_t n = c->cap_len;
    if (n >= 2 && p[0] == '4' && p[1] == '2') {
        on_event(c, p, n, now);
    } else if (n >= 2 && p[0] == '4' && p[1] == '3') {
        on_ack(c, p, n, now);
    } else if (n == 1 && p[0] == '2' && !c->v3) {
        c->g->pings++;
        lg_conn_send(c, "3", 1);
    } else if (n == 1 && p[0] == '3' && c->v3) {
        c->g->v3_pongs++;
    } else if (n >= 1 && p[0] == '0' && c->state == ST_EIO) {
        c->state = ST_SIO;
        if (!c->v3) {
            lg_conn_send(c, "40", 2);
            return;
        }
        /* v3: the server sends 40 next; this client pings from now on */
        lg_gen_t *g = c->g;
        static const char key[] = "\"pingInterval\":";
        const uint8_t *q = memmem(p, n, key, sizeof key - 1);
        if (q && !g->v3_ping_ms) {
            uint64_t ms = parse_u64(q + sizeof key - 1, p + n, NULL);
            if (ms)
                g->v3_ping_ms = ms;
        }
        v3_ping_push(g, c, uv_now(g->loop) + v3_period(g));
    } else if (n >= 2 && p[0] == '4' && p[1] == '0' && c->state == ST_SIO) {
        on_sio_connected(c, now);
    } else if (n >= 1 && (p[0] == '1' || (p[0] == '4' && n >= 2 && (p[1] == '1' || p[1] == '4')))) {
        c->g->srv_closed++;
        lg_conn_fail(c, "server closed session", 0);
    } else {
        c->g->bad_frames++;
    }
}

static void frame_done(lg_conn_t *c, uint64_t now)
{
    switch (c->opcode) {
    case 1:
        lg_conn_packet(c, now);
        break;
    case 8:
        c->g->srv_closed++;
        lg_conn_fail(c, "websocket close", 0);
        break;
    case 9:
        ws_send(c, 10, (const char *)c->cap, c->cap_len);
        break;
    case 10:
        /* emit: the server has parsed every event before our ping */
        if (c->role == ROLE_EMIT && c->emit_pings) {
            /* pongs come in order: the last one answers the flush's partial batch */
            c->g->emit_confirmed += c->emit_pings == 1 && c->emit_tail ? c->emit_tail : LG_EMIT_BATCH;
            if (--c->emit_pings == 0)
                c->emit_tail = 0;
        }
        break;
    default:
        break; /* continuation, binary, pong: nothing to learn */
    }
}

static void ws_feed(lg_conn_t *c, const uint8_t *p, size_t n, uint64_t now)
{
    while (n && c->state != ST_DEAD) {
        if (c->hlen < c->hneed) {
            size_t want = (size_t)(c->hneed - c->hlen);
            size_t k = want < n ? want : n;
            memcpy(c->hdr + c->hlen, p, k);
            c->hlen += (uint8_t)k;
            p += k;
            n -= k;
            if (c->hlen >= 2) {
                uint8_t l7 = c->hdr[1] & 0x7f;
                c->hneed = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) +
                                     ((c->hdr[1] & 0x80) ? 4 : 0));
            }
            if (c->hlen < c->hneed)
                continue;
            uint8_t l7 = c->hdr[1] & 0x7f;
            uint64_t len = l7;
            if (l7 == 126)
                len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (l7 == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | c->hdr[2 + i];
            }
            c->opcode = c->hdr[0] & 0x0f;
            c->plen = len;
            c->pgot = 0;
            c->cap_len = 0;
            if (len == 0) {
                frame_done(c, now);
                c->hlen = 0;
                c->hneed = 2;
            }
            continue;
        }
        uint64_t left = c->plen - c->pgot;
        size_t k = left < n ? (size_t)left : n;
        if (c->cap_len < LG_CAP) {
            size_t room = LG_CAP - c->cap_len;
            size_t m = k < room ? k : room;
            memcpy(c->cap + c->cap_len, p, m);
            c->cap_len += (uint8_t)m;
        }
        c->pgot += k;
        p += k;
        n -= k;
        if (c->pgot == c->plen) {
            frame_done(c, now);
            c->hlen = 0;
            c->hneed = 2;
        }
    }
}

/* Reads the 101 response up to its blank line; what follows is WebSocket data. */
static void http_feed(lg_conn_t *c, const uint8_t *p, size_t n, uint64_t now)
{
    static const char want[] = "HTTP/1.1 101";
    for (size_t i = 0; i < n; i++) {
        if (c->cap_len < sizeof want - 1)
            c->cap[c->cap_len++] = p[i];
        uint8_t ch = p[i];
        uint8_t expect = (c->crlf & 1) ? '\n' : '\r';
        c->crlf = ch == expect ? (uint8_t)(c->crlf + 1) : (ch == '\r' ? 1 : 0);
        if (c->crlf == 4) {
            if (c->cap_len < sizeof want - 1 || memcmp(c->cap, want, sizeof want - 1)) {
                lg_conn_fail(c, "upgrade", 0);
                return;
            }
            c->cap_len = 0;
            c->state = ST_EIO;
            ws_feed(c, p + i + 1, n - i - 1, now);
            return;
        }
    }
    if (c->cap_len >= sizeof want - 1 && memcmp(c->cap, want, sizeof want - 1))
        lg_conn_fail(c, "upgrade", 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_conn_t *c = (lg_conn_t *)s;
    if (nread < 0) {
        if (c->state == ST_READY)
            c->g->srv_closed++;
        lg_conn_fail(c, "read", nread == UV_EOF ? 0 : (int)nread);
        return;
    }
    if (nread == 0)
        return;
    uint64_t now = uv_hrtime();
    if (c->state == ST_HTTP)
        http_feed(c, (const uint8_t *)buf->base, (size_t)nread, now);
    else
        ws_feed(c, (const uint8_t *)buf->base, (size_t)nread, now);
}
