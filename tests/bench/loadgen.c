/* loadgen.c - Socket.IO v5 (and v4) load generator for tests/bench.
 *
 * Many Engine.IO v4 / Socket.IO v5 clients over WebSocket on one libuv loop (--eio 3:
 * Engine.IO v3 / Socket.IO protocol 4, socket.io-client 2.x's; --eio mixed: every other
 * client v3, the rest and the publisher v4), with a
 * hand-written minimal WebSocket client (upgrade request, unmasked server frames, masked
 * client frames; --transport polling: the receiver, idle and ack clients speak Engine.IO
 * v4 HTTP long-polling instead, one keep-alive connection each, the publisher WebSocket).
 * It must stay cheaper per message than the server it measures, so a received frame is
 * only classified by its first bytes; the one number it parses is the timestamp of a
 * "message" event. Results are one JSON object on stdout; progress lines
 * ("READY ...", "PHASE ...") go to stderr for tests/bench/run.
 *
 * Modes:
 *   idle    connect N clients and hold them (until SIGTERM, or --duration seconds).
 *   fanout  N receivers join room "bench", then one publisher emits
 *           42["broadcast","bench",{"t":<ns>,"p":"<pad>"}]; per message size: a "max" phase
 *           (window-limited: at most W messages outstanding per receiver on average), then
 *           fixed-rate phases at fractions of the measured peak.
 *   ack     N clients each run 42<id>["echo",{"t":<ns>}] -> 43<id>[...] in a closed loop;
 *           with --rate R, open loop: R acks/s in all, round robin over the clients (an
 *           answer {"error":...} is counted apart: ack_errors).
 *   emit    N clients emit 42["echo",{"t":<ns>}] without ack (siogate's gateway mode: one
 *           stream entry each), --rate R events/s in all, or with R = 0 as fast as the
 *           server parses them: each client sends a WebSocket ping after every 64 events,
 *           the server's pong confirms them, at most --window unconfirmed per client.
 *
 *
 * The parts: loadgen.h lists them.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

/* ---------------------------------------------------------------- connect phase */

static void on_pace(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    uint64_t now = uv_hrtime();
    double target = g->conn_rate > 0 ? (double)(now - g->t0) / 1e9 * g->conn_rate + 1 : g->n;
    while (g->started < g->n && g->started < target && g->inflight < g->max_inflight) {
        int i = g->started++;
        lg_conn_start(g, &g->conns[i], (uint32_t)i, g->mode == MODE_FANOUT ? ROLE_RECV
                                                  : g->mode == MODE_ACK  ? ROLE_ACK
                                                  : g->mode == MODE_EMIT ? ROLE_EMIT
                                                                         : ROLE_IDLE);
    }
    if (g->started >= g->n)
        uv_timer_stop(t);
}

/* ---------------------------------------------------------------- control */

/* Idle hold over, or the publisher never came up: report and leave. */
static void on_hold_over(uv_timer_t *t)
{
    lg_gen_t *g = t->data;
    if (g->mode == MODE_FANOUT && g->nph == 0)
        fprintf(stderr, "loadgen: publisher did not connect in time\n");
    lg_gen_exit(g, g->mode == MODE_FANOUT && g->nph == 0 ? 1 : 0);
}

static void connect_phase_over(lg_gen_t *g)
{
    if (g->phase_ready)
        return;
    g->phase_ready = 1;
    g->t_ready = uv_hrtime();
    double sc = lg_servers_cpu(g);
    g->srv_cpu0 = sc >= 0 && g->srv_cpu0 >= 0 ? sc - g->srv_cpu0 : -1;
    g->gen_cpu0 = lg_gen_cpu_now() - g->gen_cpu0;
    uv_timer_stop(&g->pace);
    uv_timer_stop(&g->deadline);
    fprintf(stderr, "READY connected=%d failed=%d\n", g->connected, g->n - g->connected);
    if (g->mode == MODE_IDLE) {
        if (g->duration == 0)
            lg_gen_exit(g, 0);
        double hold = g->duration > 0 ? g->duration : g->max_hold;
        uv_timer_start(&g->deadline, on_hold_over, (uint64_t)(hold * 1000), 0);
        return;
    }
    if (g->mode == MODE_FANOUT) {
        uv_timer_start(&g->deadline, on_hold_over, (uint64_t)(g->connect_timeout * 1000), 0);
        lg_conn_start(g, &g->conns[g->n], (uint32_t)g->n, ROLE_PUB);
        return;
    }
    lg_pub_start_phases(g);
}

void lg_gen_check(lg_gen_t *g)
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
            lg_pub_start_phases(g);
        }
        else if (pub->state == ST_DEAD) {
            fprintf(stderr, "loadgen: publisher failed\n");
            lg_gen_exit(g, 1);
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
        lg_phase_end(g); /* keeps what was measured so far; exits if it was the last */
    lg_gen_exit(g, 0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host 127.0.0.1] [--mode idle|fanout|ack] [--clients N]\n"
            "  [--conn-rate R/s (0 = unlimited)] [--inflight 256] [--connect-timeout 60]\n"
            "  [--addr-offset K] [--server-pid PID[,PID...] (CPU summed)] [--room bench]\n"
            "  [--eio 4|3|mixed (Engine.IO revision; mixed: odd clients v3, the rest and the\n"
            "                    publisher v4; v3 clients ping every pingInterval)]\n"
            "  [--transport websocket|polling (the receiver / idle / ack clients' transport;\n"
            "               polling: Engine.IO v4 long-polling, one keep-alive HTTP/1.1\n"
            "               connection each, --eio 4 only, not in emit mode; the fan-out\n"
            "               publisher stays on WebSocket)]\n"
            "  idle:   [--duration S (0 = exit when ready; default: hold until SIGTERM)]\n"
            "          [--max-hold 600]\n"
            "  fanout: [--pub-port P (publisher's server, default --port)] [--sizes 100,4096] [--fracs 0.5,0.9] [--warm 2] [--secs 8]\n"
            "          [--rates SIZE=R/R,... (fixed-rate phases at R msg/s for that size, after the --fracs ones)]\n"
            "          [--lat-warm 1] [--lat-secs 5] [--drain-timeout 10]\n"
            "  ack:    [--warm 2] [--secs 8] [--rate R acks/s, open loop (0 = closed loop)]\n"
            "  emit:   [--warm 2] [--secs 8] [--rate R events/s (0 = as fast as the server takes\n"
            "           them)] [--window 256 (events unconfirmed per client)] [--drain-timeout 10]\n");
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
    g->emit_window = 256;
    snprintf(g->sizes, sizeof g->sizes, "100,4096");
    snprintf(g->fracs, sizeof g->fracs, "0.5,0.9");
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},         {"port", 1, 0, 'p'},          {"mode", 1, 0, 'm'},
        {"clients", 1, 0, 'n'},      {"conn-rate", 1, 0, 'r'},     {"inflight", 1, 0, 'i'},
        {"connect-timeout", 1, 0, 'T'}, {"addr-offset", 1, 0, 'o'}, {"server-pid", 1, 0, 'P'},
        {"room", 1, 0, 'R'},         {"duration", 1, 0, 'd'},      {"max-hold", 1, 0, 'H'},
        {"sizes", 1, 0, 's'},        {"fracs", 1, 0, 'f'},         {"warm", 1, 0, 'w'},
        {"secs", 1, 0, 'S'},         {"lat-warm", 1, 0, 'W'},      {"lat-secs", 1, 0, 'L'},
        {"drain-timeout", 1, 0, 'D'}, {"pub-port", 1, 0, 'Q'},   {"eio", 1, 0, 'E'},
        {"rate", 1, 0, 'e'},         {"window", 1, 0, 'x'},       {"rates", 1, 0, 'F'},
        {"transport", 1, 0, 't'},    {"help", 0, 0, '?'},         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': g->host = optarg; break;
        case 'p': g->port = atoi(optarg); break;
        case 'm':
            g->mode = !strcmp(optarg, "fanout") ? MODE_FANOUT
                      : !strcmp(optarg, "ack")  ? MODE_ACK
                      : !strcmp(optarg, "emit") ? MODE_EMIT
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
        case 'E':
            g->eio = !strcmp(optarg, "4")       ? EIO_4
                     : !strcmp(optarg, "3")     ? EIO_3
                     : !strcmp(optarg, "mixed") ? EIO_MIXED
                                                : -1;
            break;
        case 't':
            g->transport = !strcmp(optarg, "websocket") ? TR_WEBSOCKET
                           : !strcmp(optarg, "polling") ? TR_POLLING
                                                        : -1;
            break;
        case 'e': g->rate = strtod(optarg, NULL); break;
        case 'x': g->emit_window = atoi(optarg); break;
        case 'R': g->room = optarg; break;
        case 'd': g->duration = strtod(optarg, NULL); break;
        case 'H': g->max_hold = strtod(optarg, NULL); break;
        case 's': snprintf(g->sizes, sizeof g->sizes, "%s", optarg); break;
        case 'f': snprintf(g->fracs, sizeof g->fracs, "%s", optarg); break;
        case 'F': snprintf(g->rates, sizeof g->rates, "%s", optarg); break;
        case 'w': g->warm = strtod(optarg, NULL); break;
        case 'S': g->secs = strtod(optarg, NULL); break;
        case 'W': g->lat_warm = strtod(optarg, NULL); break;
        case 'L': g->lat_secs = strtod(optarg, NULL); break;
        case 'D': g->drain_timeout = strtod(optarg, NULL); break;
        default: usage(); return 2;
        }
    }
    if (g->transport == TR_POLLING && g->eio != EIO_4) {
        fprintf(stderr, "loadgen: --transport polling speaks Engine.IO v4 only: not with --eio 3 "
                        "or mixed\n");
        return 2;
    }
    if (g->transport == TR_POLLING && g->mode == MODE_EMIT) {
        fprintf(stderr, "loadgen: --transport polling: not in emit mode (its pacing rides on "
                        "WebSocket pings)\n");
        return 2;
    }
    if (g->mode < 0 || g->eio < 0 || g->transport < 0 || g->n < 1 || g->rate < 0 ||
        g->emit_window < LG_EMIT_BATCH || g->n > 19500 || g->port <= 0 || strlen(g->room) > 64) {
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
    g->srv_cpu0 = lg_servers_cpu(g);
    g->gen_cpu0 = lg_gen_cpu_now();
    uv_timer_init(g->loop, &g->pace);
    uv_timer_init(g->loop, &g->deadline);
    uv_timer_init(g->loop, &g->phase_timer);
    uv_timer_init(g->loop, &g->tick);
    uv_timer_init(g->loop, &g->v3ping);
    uv_timer_init(g->loop, &g->flush);
    uv_check_init(g->loop, &g->check);
    if (g->transport == TR_POLLING)
        lg_poll_setup(g);
    g->pace.data = g->deadline.data = g->phase_timer.data = g->tick.data = g->check.data = g;
    g->v3ping.data = g->flush.data = g;
    uv_signal_init(g->loop, &g->sigterm);
    uv_signal_init(g->loop, &g->sigint);
    g->sigterm.data = g->sigint.data = g;
    uv_signal_start(&g->sigterm, on_signal, SIGTERM);
    uv_signal_start(&g->sigint, on_signal, SIGINT);
    uv_timer_start(&g->pace, on_pace, 0, 1);
    uv_timer_start(&g->deadline, on_deadline, (uint64_t)(g->connect_timeout * 1000), 0);
    uv_run(g->loop, UV_RUN_DEFAULT);
    lg_gen_exit(g, 0);
    return 0;
}
