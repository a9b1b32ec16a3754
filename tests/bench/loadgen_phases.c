/* loadgen_phases.c - the scenarios. fanout: per message size a window-limited
 * "max" phase, then fixed-rate phases at fractions of its peak, the publisher
 * paced from a check handle after every loop iteration; ack: one closed-loop
 * phase. Each phase drains the previous one's backlog, warms up, then
 * measures for a fixed time. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

/* ---------------------------------------------------------------- phases */

static void phase_begin(lg_gen_t *g);
static void on_flush(uv_timer_t *t);

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
    lg_ws_text(pub, g->pad_buf, len);
    g->sent_total++;
    g->ph_sent++;
}

static double outstanding(lg_gen_t *g)
{
    return g->ready ? (double)g->sent_total - (double)g->deliveries_total / g->ready : 0;
}

/* The next ready client of the round robin, or NULL if none is. */
static lg_conn_t *next_client(lg_gen_t *g)
{
    for (int k = 0; k < g->n; k++) {
        lg_conn_t *c = &g->conns[g->rr];
        g->rr = g->rr + 1 >= (uint32_t)g->n ? 0 : g->rr + 1;
        if (c->state == ST_READY)
            return c;
    }
    return NULL;
}

/* ack --rate and emit: paced sends over the clients, round robin. A client that cannot
 * take one more (its ack ring or emit window full, 64 KB queued) is a skip. */
static void clients_pace(lg_gen_t *g, lg_phase_t *p)
{
    if (p->kind == PH_ACK && g->rate <= 0)
        return; /* closed loop: each answer sends the next */
    if (p->kind == PH_EMIT && g->rate <= 0) {
        /* as fast as the server confirms: fill every client's window */
        int burst = 0;
        for (int k = 0; k < g->n && burst < 4096; k++) {
            lg_conn_t *c = next_client(g);
            if (!c)
                return;
            while (burst < 4096 && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < 65536 &&
                   c->state == ST_READY && lg_emit_send(c) == 0) {
                g->ph_sent++;
                burst++;
            }
        }
        return;
    }
    uint64_t due = (uint64_t)((double)(uv_hrtime() - g->ph_t0) / 1e9 * p->rate);
    int burst = 0;
    while (g->ph_sent + g->ph_skipped < due && burst++ < 1000) {
        lg_conn_t *c = next_client(g);
        if (!c)
            return;
        int rc = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) >= 65536 ? -1
                 : p->kind == PH_ACK                                             ? lg_ack_send_open(c)
                                                                                 : lg_emit_send(c);
        if (rc == 0)
            g->ph_sent++;
        else
            g->ph_skipped++;
    }
}

/* Runs after every loop iteration's I/O: keeps the publisher's window full. */
static void on_check(uv_check_t *h)
{
    lg_gen_t *g = h->data;
    if (g->cur >= g->nph || g->draining)
        return;
    if (g->mode != MODE_FANOUT) {
        clients_pace(g, &g->ph[g->cur]);
        return;
    }
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
        if (p->kind == PH_ACK && g->rate <= 0)
            for (int i = 0; i < g->n; i++)
                if (g->conns[i].state == ST_READY)
                    lg_ack_send(&g->conns[i]);
        uv_timer_start(t, on_phase_timer, (uint64_t)(p->warm * 1000), 0);
        return;
    }
    if (!g->measuring) {
        /* warm-up over: measure from here */
        g->measuring = 1;
        g->ph_deliv0 = p->kind == PH_EMIT ? g->emit_confirmed : g->deliveries_total;
        g->ph_deliv0_by[0] = g->deliv_by[0];
        g->ph_deliv0_by[1] = g->deliv_by[1];
        g->ph_http0 = g->http_requests;
        p->sent = g->ph_sent;
        p->skipped = g->ph_skipped;
        p->srv_cpu = lg_servers_cpu(g);
        p->gen_cpu = lg_gen_cpu_now();
        p->wall = (double)uv_hrtime();
        fprintf(stderr, "PHASE %d %s size=%zu rate=%.1f measure\n", g->cur,
                p->kind == PH_MAX    ? "max"
                : p->kind == PH_RATE ? "rate"
                : p->kind == PH_ACK  ? "ack"
                                     : "emit",
                p->size, p->rate);
        uv_timer_start(t, on_phase_timer, (uint64_t)(p->secs * 1000), 0);
        return;
    }
    lg_phase_end(g);
}

void lg_phase_end(lg_gen_t *g)
{
    lg_phase_t *p = &g->ph[g->cur];
    g->measuring = 0;
    p->wall = ((double)uv_hrtime() - p->wall) / 1e9;
    double sc = lg_servers_cpu(g);
    p->srv_cpu = sc >= 0 && p->srv_cpu >= 0 ? sc - p->srv_cpu : -1;
    p->gen_cpu = lg_gen_cpu_now() - p->gen_cpu;
    p->sent = g->ph_sent - p->sent;
    p->skipped = g->ph_skipped - p->skipped;
    p->deliveries = (p->kind == PH_EMIT ? g->emit_confirmed : g->deliveries_total) - g->ph_deliv0;
    p->deliv_by[0] = g->deliv_by[0] - g->ph_deliv0_by[0];
    p->deliv_by[1] = g->deliv_by[1] - g->ph_deliv0_by[1];
    p->http_requests = g->http_requests - g->ph_http0;
    fprintf(stderr, "PHASE %d done per_s=%.1f\n", g->cur,
            (p->kind == PH_ACK ? (double)p->acks : (double)p->deliveries) / p->wall);
    g->cur++;
    if (g->cur < g->nph) {
        phase_begin(g);
        return;
    }
    if (g->mode != MODE_EMIT)
        lg_gen_exit(g, 0);
    /* emit: nothing more is sent; leave once the server has parsed every event sent (each
     * client's last pings answered, a last partial batch pinged), so ev_sent counts what it got */
    for (int i = 0; i < g->n; i++)
        lg_emit_flush(&g->conns[i]);
    g->drain_t0 = uv_hrtime();
    uv_timer_start(&g->flush, on_flush, 0, 0);
}

/* emit, after the last phase: wait for the last pongs (bounded by --drain-timeout). */
static void on_flush(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    int left = 0;
    for (int i = 0; i < g->n; i++)
        left += g->conns[i].state == ST_READY && g->conns[i].emit_pings;
    if (!left || (double)(uv_hrtime() - g->drain_t0) / 1e9 >= g->drain_timeout) {
        if (left)
            fprintf(stderr, "loadgen: %d clients still have events unconfirmed\n", left);
        lg_gen_exit(g, 0);
    }
    uv_timer_start(t, on_flush, 5, 0);
}

static void phase_begin(lg_gen_t *g)
{
    lg_phase_t *p = &g->ph[g->cur];
    if (p->kind == PH_RATE && p->frac > 0) {
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

/* --rates 100=3.8/6.9,4096=3.7/6.6: fixed-rate phases (msg/s) for one size, e.g. another
 * server's 50% and 90% of peak, so that both servers are measured at the same offered load */
static void add_fixed_rates(lg_gen_t *g, size_t size)
{
    char rs[256];
    snprintf(rs, sizeof rs, "%s", g->rates);
    for (char *sv, *item = strtok_r(rs, ",", &sv); item; item = strtok_r(NULL, ",", &sv)) {
        char *eq = strchr(item, '=');
        if (!eq || (size_t)strtoul(item, NULL, 10) != size)
            continue;
        for (char *rv, *r = strtok_r(eq + 1, "/", &rv); r; r = strtok_r(NULL, "/", &rv)) {
            if (g->nph >= LG_MAX_PHASES || strtod(r, NULL) <= 0)
                break;
            lg_phase_t *q = &g->ph[g->nph++];
            q->kind = PH_RATE;
            q->size = size;
            q->frac = 0;
            q->rate = strtod(r, NULL);
            q->warm = g->lat_warm;
            q->secs = g->lat_secs;
        }
    }
}

static void build_phases(lg_gen_t *g)
{
    if (g->mode == MODE_ACK || g->mode == MODE_EMIT) {
        lg_phase_t *p = &g->ph[g->nph++];
        p->kind = g->mode == MODE_ACK ? PH_ACK : PH_EMIT;
        p->rate = g->rate;
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
        add_fixed_rates(g, size);
    }
}

void lg_pub_start_phases(lg_gen_t *g)
{
    build_phases(g);
    if (!g->nph)
        lg_gen_exit(g, 0);
    uv_check_start(&g->check, on_check);
    uv_timer_start(&g->tick, on_tick, 1, 1);
    phase_begin(g);
}
