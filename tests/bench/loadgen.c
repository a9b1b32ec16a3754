/* loadgen.c - Socket.IO v5 load generator for tests/bench.
 *
 * Many Engine.IO v4 / Socket.IO v5 clients over WebSocket on one libuv loop, with a
 * hand-written minimal WebSocket client (upgrade request, unmasked server frames, masked
 * client frames). It must stay cheaper per message than the server it measures, so a
 * received frame is only classified by its first bytes; the one number it parses is the
 * timestamp of a "message" event. Results are one JSON object on stdout; progress lines
 * ("READY ...", "PHASE ...") go to stderr for tests/bench/run.
 *
 * Modes:
 *   idle    connect N clients and hold them (until SIGTERM, or --duration seconds).
 *   fanout  N receivers join room "bench", then one publisher emits
 *           42["broadcast","bench",{"t":<ns>,"p":"<pad>"}]; per message size: a "max" phase
 *           (window-limited: at most W messages outstanding per receiver on average), then
 *           fixed-rate phases at fractions of the measured peak.
 *   ack     N clients each run 42<id>["echo",{"t":<ns>}] -> 43<id>[...] in a closed loop.
 *
 * Every wait is bounded in time (connect timeout, drain timeout, --max-hold).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define LG_CAP 64           /* first payload bytes kept per frame: enough to classify it */
#define LG_HIST_BUCKETS 1024
#define LG_MAX_PHASES 32
#define LG_JOIN_ACK_ID 1

enum { ST_TCP, ST_HTTP, ST_EIO, ST_SIO, ST_JOIN, ST_READY, ST_DEAD };
enum { ROLE_IDLE, ROLE_RECV, ROLE_PUB, ROLE_ACK };
enum { MODE_IDLE, MODE_FANOUT, MODE_ACK };
enum { PH_MAX, PH_RATE, PH_ACK };

/* Log-bucket histogram of nanoseconds: 16 linear sub-buckets per power of two (~6%). */
typedef struct {
    uint64_t b[LG_HIST_BUCKETS];
    uint64_t n, max, min;
    double sum;
} lg_hist_t;

struct lg_gen;

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct lg_gen *g;
    uint64_t plen, pgot;
    uint64_t t_start;   /* connect start; in ack mode, send time of the pending echo */
    uint32_t ack_id, idx;
    uint8_t state, role, opcode, hlen, hneed, crlf, cap_len, pad;
    uint8_t hdr[14];
    uint8_t cap[LG_CAP];
} lg_conn_t;

typedef struct {
    uv_write_t req;
    char data[];
} lg_wreq_t;

typedef struct {
    int kind;
    size_t size;
    double frac;        /* PH_RATE: fraction of the previous max phase's rate */
    double rate;        /* messages per second actually targeted */
    double warm, secs;
    /* results */
    uint64_t sent, skipped, deliveries, acks;
    double wall, srv_cpu, gen_cpu;
    lg_hist_t hist;
} lg_phase_t;

typedef struct lg_gen {
    uv_loop_t *loop;
    /* options */
    int mode;
    const char *host;
    int port;
    int n;
    double conn_rate;
    int max_inflight;
    double connect_timeout, duration, max_hold, warm, secs, lat_warm, lat_secs, drain_timeout;
    int addr_offset;
    int server_pids[8], n_server_pids;
    int pub_port; /* the publisher's server; receivers use port (cross-node runs) */
    char sizes[128], fracs[128];
    const char *room;
    /* state */
    lg_conn_t *conns; /* n clients, then the publisher */
    int started, inflight, connected, ready, failed, dropped, srv_closed, conn_errors;
    uint64_t t0, t_ready;
    double srv_cpu0, gen_cpu0;
    uint64_t pings, deliveries_total, sent_total, bad_frames;
    lg_hist_t connect_hist;
    uint32_t rng;
    uv_timer_t pace, deadline, phase_timer, tick;
    uv_check_t check;
    uv_signal_t sigterm, sigint;
    int phase_ready; /* connect phase over */
    /* phases */
    lg_phase_t ph[LG_MAX_PHASES];
    int nph, cur, measuring, draining;
    uint64_t ph_t0, ph_sent, ph_skipped, ph_deliv0, drain_t0;
    size_t window;
    char *pad_buf;
    size_t pad_cap;
} lg_gen_t;

static char lg_rbuf[256 * 1024];

/* ---------------------------------------------------------------- histogram */

static unsigned hist_index(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    return (msb - 3u) * 16u + (unsigned)((v >> (msb - 4u)) & 15u);
}

static double hist_value(unsigned idx)
{
    if (idx < 16)
        return idx;
    unsigned msb = idx / 16u + 3u;
    double lo = (double)((uint64_t)(16u + idx % 16u) << (msb - 4u));
    return lo + (double)(1ull << (msb - 4u)) / 2.0;
}

static void hist_add(lg_hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
    h->sum += (double)v;
}

static double hist_pct(const lg_hist_t *h, double p)
{
    if (!h->n)
        return -1;
    uint64_t want = (uint64_t)(p * (double)h->n);
    if (want >= h->n)
        return (double)h->max;
    uint64_t acc = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        acc += h->b[i];
        if (acc > want) {
            double v = hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* Latencies in microseconds; with cdf, every non-empty bucket as [us, cumulative share]. */
static void hist_json(FILE *f, const lg_hist_t *h, int cdf)
{
    if (!h->n) {
        fprintf(f, "{\"n\":0}");
        return;
    }
    fprintf(f,
            "{\"n\":%" PRIu64 ",\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
            "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f",
            h->n, h->min / 1e3, h->sum / (double)h->n / 1e3, hist_pct(h, 0.5) / 1e3,
            hist_pct(h, 0.9) / 1e3, hist_pct(h, 0.99) / 1e3, hist_pct(h, 0.999) / 1e3,
            h->max / 1e3);
    if (cdf) {
        fprintf(f, ",\"cdf\":[");
        uint64_t acc = 0;
        int first = 1;
        for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
            if (!h->b[i])
                continue;
            acc += h->b[i];
            fprintf(f, "%s[%.1f,%.6f]", first ? "" : ",", hist_value(i) / 1e3,
                    (double)acc / (double)h->n);
            first = 0;
        }
        fprintf(f, "]");
    }
    fprintf(f, "}");
}

/* ---------------------------------------------------------------- cpu */

static double gen_cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of another process from /proc/PID/stat, in seconds; -1 if unknown. */
static double proc_cpu1(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------- writing */

static void conn_fail(lg_conn_t *c, const char *why, int err);

static void on_written(uv_write_t *req, int status)
{
    lg_wreq_t *w = (lg_wreq_t *)req;
    if (status < 0 && status != UV_ECANCELED)
        conn_fail((lg_conn_t *)req->handle, "write", status);
    free(w);
}

static void conn_write(lg_conn_t *c, const char *buf, size_t len)
{
    if (c->state == ST_DEAD)
        return;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        conn_fail(c, "write", r);
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
        conn_fail(c, "write", -1);
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
    conn_write(c, buf, h + len);
    if (buf != stackbuf)
        free(buf);
}

static void ws_text(lg_conn_t *c, const char *s, size_t len) { ws_send(c, 1, s, len); }

/* ---------------------------------------------------------------- connection life */

/* The CPU of every server process (--server-pid takes a comma list), summed. */
static double servers_cpu(const lg_gen_t *g)
{
    if (!g->n_server_pids)
        return -1;
    double sum = 0;
    for (int i = 0; i < g->n_server_pids; i++) {
        double c = proc_cpu1(g->server_pids[i]);
        if (c < 0)
            return -1;
        sum += c;
    }
    return sum;
}

static void gen_check(lg_gen_t *g);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void pub_start_phases(lg_gen_t *g);

static void conn_fail(lg_conn_t *c, const char *why, int err)
{
    lg_gen_t *g = c->g;
    if (c->state == ST_DEAD)
        return;
    if (g->conn_errors++ < 5)
        fprintf(stderr, "loadgen: client %u: %s failed in state %d: %s\n", c->idx, why, c->state,
                err ? uv_strerror(err) : "protocol");
    if (c->state == ST_READY) {
        g->dropped++;
        if (c->role != ROLE_PUB)
            g->ready--;
    } else {
        g->failed++;
        g->inflight--;
    }
    c->state = ST_DEAD;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
    gen_check(g);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    /* one shared buffer: libuv calls on_read right after each read, before the next alloc */
    *buf = uv_buf_init(lg_rbuf, sizeof lg_rbuf);
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_conn_t *c = req->data;
    if (status < 0) {
        conn_fail(c, "connect", status);
        return;
    }
    char rq[256];
    int n = snprintf(rq, sizeof rq,
                     "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                     "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     c->g->host, c->role == ROLE_PUB ? c->g->pub_port : c->g->port);
    c->state = ST_HTTP;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    conn_write(c, rq, (size_t)n);
}

static void conn_start(lg_gen_t *g, lg_conn_t *c, uint32_t idx, int role)
{
    memset(c, 0, sizeof(*c));
    c->g = g;
    c->idx = idx;
    c->role = (uint8_t)role;
    c->hneed = 2;
    c->state = ST_TCP;
    c->t_start = uv_hrtime();
    g->inflight++;
    int r = uv_tcp_init_ex(g->loop, &c->tcp, AF_INET);
    if (r < 0) {
        /* nothing to close: count it and move on */
        c->state = ST_DEAD;
        g->failed++;
        g->inflight--;
        if (g->conn_errors++ < 5)
            fprintf(stderr, "loadgen: socket: %s\n", uv_strerror(r));
        return;
    }
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src, dst;
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.0.%d", 2 + (int)((idx + (uint32_t)g->addr_offset) % 253u));
    uv_ip4_addr(ip, 0, &src);
    uv_ip4_addr(g->host, role == ROLE_PUB ? g->pub_port : g->port, &dst);
    c->creq.data = c;
    if ((r = uv_tcp_bind(&c->tcp, (struct sockaddr *)&src, 0)) < 0 ||
        (r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&dst, on_connect)) < 0)
        conn_fail(c, "connect", r);
}

static void on_pace(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    uint64_t now = uv_hrtime();
    double target = g->conn_rate > 0 ? (double)(now - g->t0) / 1e9 * g->conn_rate + 1 : g->n;
    while (g->started < g->n && g->started < target && g->inflight < g->max_inflight) {
        int i = g->started++;
        conn_start(g, &g->conns[i], (uint32_t)i, g->mode == MODE_FANOUT ? ROLE_RECV
                                                  : g->mode == MODE_ACK  ? ROLE_ACK
                                                                         : ROLE_IDLE);
    }
    if (g->started >= g->n)
        uv_timer_stop(t);
}

/* ---------------------------------------------------------------- output */

static void print_phase(FILE *f, const lg_phase_t *p, int nrecv)
{
    const char *kind = p->kind == PH_MAX ? "max" : p->kind == PH_RATE ? "rate" : "ack";
    fprintf(f,
            "{\"kind\":\"%s\",\"size\":%zu,\"frac\":%.2f,\"rate_target\":%.2f,\"wall_s\":%.3f,"
            "\"sent\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"deliveries\":%" PRIu64
            ",\"acks\":%" PRIu64 ",\"server_cpu_s\":%.3f,\"gen_cpu_s\":%.3f,",
            kind, p->size, p->frac, p->rate, p->wall, p->sent, p->skipped, p->deliveries, p->acks,
            p->srv_cpu, p->gen_cpu);
    double count = p->kind == PH_ACK ? (double)p->acks : (double)p->deliveries;
    double w = p->wall > 0 ? p->wall : 1;
    fprintf(f, "\"msgs_per_s\":%.2f,\"per_s\":%.1f,\"per_server_cpu_s\":%.1f,", (double)p->sent / w,
            count / w, p->srv_cpu > 0 ? count / p->srv_cpu : -1.0);
    fprintf(f, "\"server_cpu_share\":%.3f,\"gen_cpu_share\":%.3f,\"lat_us\":", p->srv_cpu / w,
            p->gen_cpu / w);
    hist_json(f, &p->hist, 1);
    fprintf(f, "}");
    (void)nrecv;
}

static void gen_report(lg_gen_t *g)
{
    double conn_wall = g->t_ready ? (double)(g->t_ready - g->t0) / 1e9 : -1;
    const char *mode = g->mode == MODE_IDLE ? "idle" : g->mode == MODE_FANOUT ? "fanout" : "ack";
    printf("{\"mode\":\"%s\",\"n\":%d,\"connected\":%d,\"ready\":%d,\"failed\":%d,"
           "\"dropped\":%d,\"server_closed\":%d,\"bad_frames\":%" PRIu64 ",\"pings\":%" PRIu64
           ",\"connect\":{\"wall_s\":%.3f,\"per_s\":%.1f,\"server_cpu_s\":%.3f,"
           "\"gen_cpu_s\":%.3f,\"lat_us\":",
           mode, g->n, g->connected, g->ready, g->failed, g->dropped, g->srv_closed, g->bad_frames,
           g->pings, conn_wall, conn_wall > 0 ? g->connected / conn_wall : -1.0, g->srv_cpu0,
           g->gen_cpu0);
    hist_json(stdout, &g->connect_hist, 0);
    printf("},\"gen_cpu_total_s\":%.3f,\"phases\":[", gen_cpu_now());
    for (int i = 0; i < g->nph; i++) {
        if (i)
            printf(",");
        print_phase(stdout, &g->ph[i], g->ready);
    }
    printf("]}\n");
    fflush(stdout);
}

static void gen_exit(lg_gen_t *g, int code)
{
    gen_report(g);
    fflush(stderr);
    /* the kernel closes every socket; a graceful close of 20k handles buys nothing here */
    _exit(code);
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

static void ack_send(lg_conn_t *c)
{
    char msg[96];
    c->ack_id = c->ack_id < 2 ? 2 : c->ack_id + 1;
    c->t_start = uv_hrtime();
    int n = snprintf(msg, sizeof msg, "42%u[\"echo\",{\"t\":%" PRIu64 "}]", c->ack_id, c->t_start);
    ws_text(c, msg, (size_t)n);
}

static void on_sio_connected(lg_conn_t *c, uint64_t now)
{
    lg_gen_t *g = c->g;
    if (c->role == ROLE_RECV) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "42%d[\"join\",\"%s\"]", LG_JOIN_ACK_ID, g->room);
        c->state = ST_JOIN;
        ws_text(c, msg, (size_t)n);
        return;
    }
    c->state = ST_READY;
    g->inflight--;
    if (c->role != ROLE_PUB) {
        g->connected++;
        g->ready++;
        hist_add(&g->connect_hist, now - c->t_start);
    }
    gen_check(g);
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
    if (t && t <= now)
        hist_add(&g->ph[g->cur].hist, now - t);
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
        hist_add(&g->connect_hist, now - c->t_start);
        gen_check(g);
        return;
    }
    if (c->role != ROLE_ACK || id != c->ack_id) {
        g->bad_frames++;
        return;
    }
    if (g->measuring) {
        g->ph[g->cur].acks++;
        hist_add(&g->ph[g->cur].hist, now - c->t_start);
    }
    if (g->cur < g->nph && g->ph[g->cur].kind == PH_ACK)
        ack_send(c);
}

static void on_text(lg_conn_t *c, uint64_t now)
{
    const uint8_t *p = c->cap;
    size_t n = c->cap_len;
    if (n >= 2 && p[0] == '4' && p[1] == '2') {
        on_event(c, p, n, now);
    } else if (n >= 2 && p[0] == '4' && p[1] == '3') {
        on_ack(c, p, n, now);
    } else if (n == 1 && p[0] == '2') {
        c->g->pings++;
        ws_text(c, "3", 1);
    } else if (n >= 1 && p[0] == '0' && c->state == ST_EIO) {
        c->state = ST_SIO;
        ws_text(c, "40", 2);
    } else if (n >= 2 && p[0] == '4' && p[1] == '0' && c->state == ST_SIO) {
        on_sio_connected(c, now);
    } else if (n >= 1 && (p[0] == '1' || (p[0] == '4' && n >= 2 && (p[1] == '1' || p[1] == '4')))) {
        c->g->srv_closed++;
        conn_fail(c, "server closed session", 0);
    } else {
        c->g->bad_frames++;
    }
}

static void frame_done(lg_conn_t *c, uint64_t now)
{
    switch (c->opcode) {
    case 1:
        on_text(c, now);
        break;
    case 8:
        c->g->srv_closed++;
        conn_fail(c, "websocket close", 0);
        break;
    case 9:
        ws_send(c, 10, (const char *)c->cap, c->cap_len);
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
                conn_fail(c, "upgrade", 0);
                return;
            }
            c->cap_len = 0;
            c->state = ST_EIO;
            ws_feed(c, p + i + 1, n - i - 1, now);
            return;
        }
    }
    if (c->cap_len >= sizeof want - 1 && memcmp(c->cap, want, sizeof want - 1))
        conn_fail(c, "upgrade", 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_conn_t *c = (lg_conn_t *)s;
    if (nread < 0) {
        if (c->state == ST_READY)
            c->g->srv_closed++;
        conn_fail(c, "read", nread == UV_EOF ? 0 : (int)nread);
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

/* ---------------------------------------------------------------- phases */

static void phase_begin(lg_gen_t *g);

static void pub_send(lg_gen_t *g, size_t size)
{
    lg_conn_t *pub = &g->conns[g->n];
    char head[128];
    uint64_t t = uv_hrtime();
    int hn = snprintf(head, sizeof head, "42[\"broadcast\",\"%s\",{\"t\":%" PRIu64 ",\"p\":\"",
                      g->room, t);
    /* size is what a receiver gets: 42["message",{"t":<digits>,"p":"<pad>"}] */
    size_t fixed = strlen("42[\"message\",{\"t\":,\"p\":\"\"}]") + (size_t)snprintf(NULL, 0, "%" PRIu64, t);
    size_t pad = size > fixed ? size - fixed : 0;
    size_t len = (size_t)hn + pad + 3;
    if (g->pad_cap < len) {
        free(g->pad_buf);
        g->pad_buf = malloc(len);
        if (!g->pad_buf)
            abort();
        g->pad_cap = len;
    }
    memcpy(g->pad_buf, head, (size_t)hn);
    memset(g->pad_buf + hn, 'x', pad);
    memcpy(g->pad_buf + hn + pad, "\"}]", 3);
    ws_text(pub, g->pad_buf, len);
    g->sent_total++;
    g->ph_sent++;
}

static double outstanding(lg_gen_t *g)
{
    return g->ready ? (double)g->sent_total - (double)g->deliveries_total / g->ready : 0;
}

/* Runs after every loop iteration's I/O: keeps the publisher's window full. */
static void on_check(uv_check_t *h)
{
    lg_gen_t *g = h->data;
    if (g->cur >= g->nph || g->draining || g->mode != MODE_FANOUT)
        return;
    lg_phase_t *p = &g->ph[g->cur];
    lg_conn_t *pub = &g->conns[g->n];
    if (pub->state != ST_READY)
        return;
    size_t wq = uv_stream_get_write_queue_size((uv_stream_t *)&pub->tcp);
    if (p->kind == PH_MAX) {
        int burst = 0;
        while (outstanding(g) < (double)g->window && wq < (1u << 20) && burst++ < 64) {
            pub_send(g, p->size);
            wq = uv_stream_get_write_queue_size((uv_stream_t *)&pub->tcp);
        }
        return;
    }
    uint64_t due = (uint64_t)((double)(uv_hrtime() - g->ph_t0) / 1e9 * p->rate);
    int burst = 0;
    while (g->ph_sent + g->ph_skipped < due && burst++ < 1000) {
        /* past this backlog the server is not keeping up: skip rather than queue forever */
        if (outstanding(g) > 8.0 * (double)g->window + 64 || wq > (4u << 20)) {
            g->ph_skipped++;
            continue;
        }
        pub_send(g, p->size);
        wq = uv_stream_get_write_queue_size((uv_stream_t *)&pub->tcp);
    }
}

static void on_tick(uv_timer_t *t) { (void)t; /* wakes the loop so on_check paces sends */ }

static void phase_end(lg_gen_t *g);

static void on_phase_timer(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    lg_phase_t *p = &g->ph[g->cur];
    if (g->draining) {
        /* wait until the previous phase's backlog is delivered (bounded) */
        double waited = (double)(uv_hrtime() - g->drain_t0) / 1e9;
        if (outstanding(g) > 0.5 && waited < g->drain_timeout) {
            uv_timer_start(t, on_phase_timer, 20, 0);
            return;
        }
        g->draining = 0;
        g->ph_t0 = uv_hrtime();
        g->ph_sent = g->ph_skipped = 0;
        if (p->kind == PH_ACK)
            for (int i = 0; i < g->n; i++)
                if (g->conns[i].state == ST_READY)
                    ack_send(&g->conns[i]);
        uv_timer_start(t, on_phase_timer, (uint64_t)(p->warm * 1000), 0);
        return;
    }
    if (!g->measuring) {
        /* warm-up over: measure from here */
        g->measuring = 1;
        g->ph_deliv0 = g->deliveries_total;
        p->sent = g->ph_sent;
        p->skipped = g->ph_skipped;
        p->srv_cpu = servers_cpu(g);
        p->gen_cpu = gen_cpu_now();
        p->wall = (double)uv_hrtime();
        fprintf(stderr, "PHASE %d %s size=%zu rate=%.1f measure\n", g->cur,
                p->kind == PH_MAX ? "max" : p->kind == PH_RATE ? "rate" : "ack", p->size, p->rate);
        uv_timer_start(t, on_phase_timer, (uint64_t)(p->secs * 1000), 0);
        return;
    }
    phase_end(g);
}

static void phase_end(lg_gen_t *g)
{
    lg_phase_t *p = &g->ph[g->cur];
    g->measuring = 0;
    p->wall = ((double)uv_hrtime() - p->wall) / 1e9;
    double sc = servers_cpu(g);
    p->srv_cpu = sc >= 0 && p->srv_cpu >= 0 ? sc - p->srv_cpu : -1;
    p->gen_cpu = gen_cpu_now() - p->gen_cpu;
    p->sent = g->ph_sent - p->sent;
    p->skipped = g->ph_skipped - p->skipped;
    p->deliveries = g->deliveries_total - g->ph_deliv0;
    fprintf(stderr, "PHASE %d done per_s=%.1f\n", g->cur,
            (p->kind == PH_ACK ? (double)p->acks : (double)p->deliveries) / p->wall);
    g->cur++;
    if (g->cur >= g->nph)
        gen_exit(g, 0);
    phase_begin(g);
}

static void phase_begin(lg_gen_t *g)
{
    lg_phase_t *p = &g->ph[g->cur];
    if (p->kind == PH_RATE) {
        /* the preceding max phase of the same size sets the peak */
        double peak = 0;
        for (int i = g->cur - 1; i >= 0; i--)
            if (g->ph[i].kind == PH_MAX && g->ph[i].size == p->size) {
                peak = g->ph[i].wall > 0 && g->ready
                           ? (double)g->ph[i].deliveries / g->ph[i].wall / g->ready
                           : 0;
                break;
            }
        p->rate = peak * p->frac;
        if (p->rate < 0.5)
            p->rate = 0.5;
    }
    if (p->kind == PH_MAX) {
        /* enough in flight to keep the server busy, little enough to drain in about a second:
         * at most 32 KB and 50k deliveries outstanding, at least 2 messages per receiver */
        size_t by_size = 32768 / (p->size ? p->size : 1);
        size_t by_fanout = 50000 / (size_t)(g->ready ? g->ready : 1);
        size_t w = by_size < by_fanout ? by_size : by_fanout;
        g->window = w < 2 ? 2 : w > 32 ? 32 : w;
    }
    g->draining = 1;
    g->drain_t0 = uv_hrtime();
    uv_timer_start(&g->phase_timer, on_phase_timer, 0, 0);
}

static void build_phases(lg_gen_t *g)
{
    if (g->mode == MODE_ACK) {
        lg_phase_t *p = &g->ph[g->nph++];
        p->kind = PH_ACK;
        p->warm = g->warm;
        p->secs = g->secs;
        return;
    }
    char sizes[128];
    snprintf(sizes, sizeof sizes, "%s", g->sizes);
    for (char *sv, *s = strtok_r(sizes, ",", &sv); s; s = strtok_r(NULL, ",", &sv)) {
        size_t size = (size_t)strtoul(s, NULL, 10);
        if (g->nph >= LG_MAX_PHASES)
            break;
        lg_phase_t *p = &g->ph[g->nph++];
        p->kind = PH_MAX;
        p->size = size;
        p->warm = g->warm;
        p->secs = g->secs;
        char fr[128];
        snprintf(fr, sizeof fr, "%s", g->fracs);
        for (char *fv, *f = strtok_r(fr, ",", &fv); f; f = strtok_r(NULL, ",", &fv)) {
            if (g->nph >= LG_MAX_PHASES)
                break;
            lg_phase_t *q = &g->ph[g->nph++];
            q->kind = PH_RATE;
            q->size = size;
            q->frac = strtod(f, NULL);
            q->warm = g->lat_warm;
            q->secs = g->lat_secs;
        }
    }
}

static void pub_start_phases(lg_gen_t *g)
{
    build_phases(g);
    if (!g->nph)
        gen_exit(g, 0);
    uv_check_start(&g->check, on_check);
    uv_timer_start(&g->tick, on_tick, 1, 1);
    phase_begin(g);
}

/* ---------------------------------------------------------------- control */

/* Idle hold over, or the publisher never came up: report and leave. */
static void on_hold_over(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    if (g->mode == MODE_FANOUT && g->nph == 0)
        fprintf(stderr, "loadgen: publisher did not connect in time\n");
    gen_exit(g, g->mode == MODE_FANOUT && g->nph == 0 ? 1 : 0);
}

static void connect_phase_over(lg_gen_t *g)
{
    if (g->phase_ready)
        return;
    g->phase_ready = 1;
    g->t_ready = uv_hrtime();
    double sc = servers_cpu(g);
    g->srv_cpu0 = sc >= 0 && g->srv_cpu0 >= 0 ? sc - g->srv_cpu0 : -1;
    g->gen_cpu0 = gen_cpu_now() - g->gen_cpu0;
    uv_timer_stop(&g->pace);
    uv_timer_stop(&g->deadline);
    fprintf(stderr, "READY connected=%d failed=%d\n", g->connected, g->n - g->connected);
    if (g->mode == MODE_IDLE) {
        if (g->duration == 0)
            gen_exit(g, 0);
        double hold = g->duration > 0 ? g->duration : g->max_hold;
        uv_timer_start(&g->deadline, on_hold_over, (uint64_t)(hold * 1000), 0);
        return;
    }
    if (g->mode == MODE_FANOUT) {
        uv_timer_start(&g->deadline, on_hold_over, (uint64_t)(g->connect_timeout * 1000), 0);
        conn_start(g, &g->conns[g->n], (uint32_t)g->n, ROLE_PUB);
        return;
    }
    pub_start_phases(g);
}

static void gen_check(lg_gen_t *g)
{
    if (!g->phase_ready) {
        if (g->started >= g->n && g->connected + g->failed >= g->n)
            connect_phase_over(g);
        return;
    }
    if (g->mode == MODE_FANOUT && g->nph == 0) {
        lg_conn_t *pub = &g->conns[g->n];
        if (pub->state == ST_READY) {
            uv_timer_stop(&g->deadline);
            pub_start_phases(g);
        }
        else if (pub->state == ST_DEAD) {
            fprintf(stderr, "loadgen: publisher failed\n");
            gen_exit(g, 1);
        }
    }
}

static void on_deadline(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    fprintf(stderr, "loadgen: connect timeout: %d of %d ready\n", g->connected, g->n);
    g->failed = g->n - g->connected;
    connect_phase_over(g);
}

static void on_signal(uv_signal_t *s, int sig)
{
    lg_gen_t *g = s->data;
    if (g->measuring)
        phase_end(g); /* keeps what was measured so far; exits if it was the last */
    gen_exit(g, 0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host 127.0.0.1] [--mode idle|fanout|ack] [--clients N]\n"
            "  [--conn-rate R/s (0 = unlimited)] [--inflight 256] [--connect-timeout 60]\n"
            "  [--addr-offset K] [--server-pid PID[,PID...] (CPU summed)] [--room bench]\n"
            "  idle:   [--duration S (0 = exit when ready; default: hold until SIGTERM)]\n"
            "          [--max-hold 600]\n"
            "  fanout: [--pub-port P (publisher's server, default --port)] [--sizes 100,4096] [--fracs 0.5,0.9] [--warm 2] [--secs 8]\n"
            "          [--lat-warm 1] [--lat-secs 5] [--drain-timeout 10]\n"
            "  ack:    [--warm 2] [--secs 8]\n");
}

int main(int argc, char **argv)
{
    static lg_gen_t gen;
    lg_gen_t *g = &gen;
    g->host = "127.0.0.1";
    g->port = 3000;
    g->n = 100;
    g->max_inflight = 256;
    g->connect_timeout = 60;
    g->duration = -1;
    g->max_hold = 600;
    g->warm = 2;
    g->secs = 8;
    g->lat_warm = 1;
    g->lat_secs = 5;
    g->drain_timeout = 10;
    g->room = "bench";
    snprintf(g->sizes, sizeof g->sizes, "100,4096");
    snprintf(g->fracs, sizeof g->fracs, "0.5,0.9");
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},         {"port", 1, 0, 'p'},          {"mode", 1, 0, 'm'},
        {"clients", 1, 0, 'n'},      {"conn-rate", 1, 0, 'r'},     {"inflight", 1, 0, 'i'},
        {"connect-timeout", 1, 0, 'T'}, {"addr-offset", 1, 0, 'o'}, {"server-pid", 1, 0, 'P'},
        {"room", 1, 0, 'R'},         {"duration", 1, 0, 'd'},      {"max-hold", 1, 0, 'H'},
        {"sizes", 1, 0, 's'},        {"fracs", 1, 0, 'f'},         {"warm", 1, 0, 'w'},
        {"secs", 1, 0, 'S'},         {"lat-warm", 1, 0, 'W'},      {"lat-secs", 1, 0, 'L'},
        {"drain-timeout", 1, 0, 'D'}, {"pub-port", 1, 0, 'Q'},   {"help", 0, 0, '?'},         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': g->host = optarg; break;
        case 'p': g->port = atoi(optarg); break;
        case 'm':
            g->mode = !strcmp(optarg, "fanout") ? MODE_FANOUT
                      : !strcmp(optarg, "ack")  ? MODE_ACK
                      : !strcmp(optarg, "idle") ? MODE_IDLE
                                                : -1;
            break;
        case 'n': g->n = atoi(optarg); break;
        case 'r': g->conn_rate = strtod(optarg, NULL); break;
        case 'i': g->max_inflight = atoi(optarg); break;
        case 'T': g->connect_timeout = strtod(optarg, NULL); break;
        case 'o': g->addr_offset = atoi(optarg); break;
        case 'P':
            for (char *sv, *t = strtok_r(optarg, ",", &sv); t && g->n_server_pids < 8;
                 t = strtok_r(NULL, ",", &sv))
                g->server_pids[g->n_server_pids++] = atoi(t);
            break;
        case 'Q': g->pub_port = atoi(optarg); break;
        case 'R': g->room = optarg; break;
        case 'd': g->duration = strtod(optarg, NULL); break;
        case 'H': g->max_hold = strtod(optarg, NULL); break;
        case 's': snprintf(g->sizes, sizeof g->sizes, "%s", optarg); break;
        case 'f': snprintf(g->fracs, sizeof g->fracs, "%s", optarg); break;
        case 'w': g->warm = strtod(optarg, NULL); break;
        case 'S': g->secs = strtod(optarg, NULL); break;
        case 'W': g->lat_warm = strtod(optarg, NULL); break;
        case 'L': g->lat_secs = strtod(optarg, NULL); break;
        case 'D': g->drain_timeout = strtod(optarg, NULL); break;
        default: usage(); return 2;
        }
    }
    if (g->mode < 0 || g->n < 1 || g->n > 19500 || g->port <= 0 || strlen(g->room) > 64) {
        usage();
        return 2;
    }
    if (!g->pub_port)
        g->pub_port = g->port;
    signal(SIGPIPE, SIG_IGN);
    g->loop = uv_default_loop();
    g->conns = calloc((size_t)g->n + 1, sizeof(*g->conns));
    if (!g->conns)
        abort();
    g->rng = (uint32_t)uv_hrtime() | 1u;
    g->t0 = uv_hrtime();
    g->srv_cpu0 = servers_cpu(g);
    g->gen_cpu0 = gen_cpu_now();
    uv_timer_init(g->loop, &g->pace);
    uv_timer_init(g->loop, &g->deadline);
    uv_timer_init(g->loop, &g->phase_timer);
    uv_timer_init(g->loop, &g->tick);
    uv_check_init(g->loop, &g->check);
    g->pace.data = g->deadline.data = g->phase_timer.data = g->tick.data = g->check.data = g;
    uv_signal_init(g->loop, &g->sigterm);
    uv_signal_init(g->loop, &g->sigint);
    g->sigterm.data = g->sigint.data = g;
    uv_signal_start(&g->sigterm, on_signal, SIGTERM);
    uv_signal_start(&g->sigint, on_signal, SIGINT);
    uv_timer_start(&g->pace, on_pace, 0, 1);
    uv_timer_start(&g->deadline, on_deadline, (uint64_t)(g->connect_timeout * 1000), 0);
    uv_run(g->loop, UV_RUN_DEFAULT);
    gen_exit(g, 0);
    return 0;
}
