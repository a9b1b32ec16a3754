/* loadgen_report.c - the load generator's measurements and output: log-bucket
 * latency histograms, CPU time of the generator and of the servers, and the
 * one JSON object printed on stdout at the end of a run. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loadgen.h"

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

void lg_hist_add(lg_hist_t *h, uint64_t v)
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

double lg_gen_cpu_now(void)
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

/* The CPU of every server process (--server-pid takes a comma list), summed. */
double lg_servers_cpu(const lg_gen_t *g)
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

/* ---------------------------------------------------------------- output */

static void print_phase(FILE *f, const lg_phase_t *p, const lg_gen_t *g)
{
    const char *kind = p->kind == PH_MAX    ? "max"
                       : p->kind == PH_RATE ? "rate"
                       : p->kind == PH_ACK  ? "ack"
                                            : "emit";
    fprintf(f,
            "{\"kind\":\"%s\",\"size\":%zu,\"frac\":%.2f,\"rate_target\":%.2f,\"wall_s\":%.3f,"
            "\"sent\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"deliveries\":%" PRIu64
            ",\"acks\":%" PRIu64 ",\"ack_errors\":%" PRIu64
            ",\"server_cpu_s\":%.3f,\"gen_cpu_s\":%.3f,",
            kind, p->size, p->frac, p->rate, p->wall, p->sent, p->skipped, p->deliveries, p->acks,
            p->ack_errors, p->srv_cpu, p->gen_cpu);
    double count = p->kind == PH_ACK ? (double)p->acks : (double)p->deliveries;
    double w = p->wall > 0 ? p->wall : 1;
    fprintf(f, "\"msgs_per_s\":%.2f,\"per_s\":%.1f,\"per_server_cpu_s\":%.1f,", (double)p->sent / w,
            count / w, p->srv_cpu > 0 ? count / p->srv_cpu : -1.0);
    fprintf(f, "\"http_requests\":%" PRIu64 ",\"http_per_s\":%.1f,", p->http_requests,
            (double)p->http_requests / w);
    fprintf(f, "\"server_cpu_share\":%.3f,\"gen_cpu_share\":%.3f,\"lat_us\":", p->srv_cpu / w,
            p->gen_cpu / w);
    hist_json(f, &p->hist, 1);
    if (g->eio == EIO_MIXED && p->kind != PH_ACK) {
        /* the same deliveries split by the receiver's revision: "3" v3, "4" v4 */
        fprintf(f, ",\"by_eio\":{");
        for (int v3 = 1; v3 >= 0; v3--) {
            fprintf(f, "%s\"%d\":{\"deliveries\":%" PRIu64 ",\"per_s\":%.1f,\"lat_us\":",
                    v3 ? "" : ",", v3 ? 3 : 4, p->deliv_by[v3], (double)p->deliv_by[v3] / w);
            hist_json(f, &p->hist_by[v3], 0);
            fprintf(f, "}");
        }
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

static void gen_report(lg_gen_t *g)
{
    double conn_wall = g->t_ready ? (double)(g->t_ready - g->t0) / 1e9 : -1;
    const char *mode = g->mode == MODE_IDLE     ? "idle"
                       : g->mode == MODE_FANOUT ? "fanout"
                       : g->mode == MODE_ACK    ? "ack"
                                                : "emit";
    const char *eio = g->eio == EIO_3 ? "3" : g->eio == EIO_MIXED ? "mixed" : "4";
    printf("{\"mode\":\"%s\",\"eio\":\"%s\",\"transport\":\"%s\",\"n\":%d,\"connected\":%d,"
           "\"ready\":%d,\"failed\":%d,"
           "\"dropped\":%d,\"server_closed\":%d,\"bad_frames\":%" PRIu64 ",\"pings\":%" PRIu64
           ",\"connect\":{\"wall_s\":%.3f,\"per_s\":%.1f,\"server_cpu_s\":%.3f,"
           "\"gen_cpu_s\":%.3f,\"lat_us\":",
           mode, eio, g->transport == TR_POLLING ? "polling" : "websocket", g->n, g->connected,
           g->ready, g->failed, g->dropped, g->srv_closed, g->bad_frames,
           g->pings, conn_wall, conn_wall > 0 ? g->connected / conn_wall : -1.0, g->srv_cpu0,
           g->gen_cpu0);
    hist_json(stdout, &g->connect_hist, 0);
    /* Engine.IO v3 clients (publisher not counted): connected, still ready, pings sent, pongs */
    printf("},\"v3\":{\"connected\":%d,\"ready\":%d,\"pings\":%" PRIu64 ",\"pongs\":%" PRIu64
           ",\"ping_interval_ms\":%" PRIu64 "}",
           g->connected_v3, g->ready_v3, g->v3_pings, g->v3_pongs, g->v3_ping_ms);
    /* ack and emit: every event sent (warm-up included), acks answered (with an error among
     * them), events the server confirmed (emit) */
    printf(",\"events\":{\"sent\":%" PRIu64 ",\"acks\":%" PRIu64 ",\"ack_errors\":%" PRIu64
           ",\"confirmed\":%" PRIu64 "}",
           g->ev_sent, g->acks_total, g->ack_errors_total, g->emit_confirmed);
    /* polling clients: HTTP requests completed, connections reopened (the session kept) */
    printf(",\"http_requests\":%" PRIu64 ",\"http_reconnects\":%" PRIu64, g->http_requests,
           g->http_reconnects);
    printf(",\"gen_cpu_total_s\":%.3f,\"phases\":[", lg_gen_cpu_now());
    for (int i = 0; i < g->nph; i++) {
        if (i)
            printf(",");
        print_phase(stdout, &g->ph[i], g);
    }
    printf("]}\n");
    fflush(stdout);
}

void lg_gen_exit(lg_gen_t *g, int code)
{
    gen_report(g);
    fflush(stderr);
    /* the kernel closes every socket; a graceful close of 20k handles buys nothing here */
    _exit(code);
}
