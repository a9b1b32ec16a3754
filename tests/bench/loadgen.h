/* loadgen.h - what the parts of the load generator share: the state of the
 * generator, of each client connection and of each measured phase, and the
 * functions one part calls in another.
 *
 *   loadgen.c         options, the connect phase and what ends a run
 *   loadgen_client.c  the minimal WebSocket / Engine.IO / Socket.IO client
 *   loadgen_poll.c    its Engine.IO v4 HTTP long-polling transport (--transport polling)
 *   loadgen_phases.c  the scenarios: the publisher's pacing and the phases
 *   loadgen_report.c  histograms, CPU accounting and the JSON on stdout
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#define LG_CAP 128          /* first payload bytes kept per frame: enough to classify it and
                             * to find pingInterval in the open packet */
#define LG_HIST_BUCKETS 1024
#define LG_MAX_PHASES 32
#define LG_JOIN_ACK_ID 1

enum { ST_TCP, ST_HTTP, ST_EIO, ST_SIO, ST_JOIN, ST_READY, ST_DEAD };
enum { ROLE_IDLE, ROLE_RECV, ROLE_PUB, ROLE_ACK, ROLE_EMIT };
enum { MODE_IDLE, MODE_FANOUT, MODE_ACK, MODE_EMIT };
enum { PH_MAX, PH_RATE, PH_ACK, PH_EMIT };
/* --eio: the clients' Engine.IO revision. MIXED: odd client indexes v3, even ones (and the
 * publisher) v4. */
enum { EIO_4, EIO_3, EIO_MIXED };
/* --transport: what the receiver / idle / ack clients speak (the publisher: WebSocket) */
enum { TR_WEBSOCKET, TR_POLLING };
#define LG_V3_PING_MS 25000 /* a v3 client's ping period until an open packet names one */
/* ack --rate: acks one client may have outstanding (send times kept in a ring by id) */
#define LG_ACK_RING 64
/* emit: a WebSocket ping after every LG_EMIT_BATCH events; its pong (the server parses
 * frames in order) confirms them. At most --window events unconfirmed per client. */
#define LG_EMIT_BATCH 64

/* Log-bucket histogram of nanoseconds: 16 linear sub-buckets per power of two (~6%). */
typedef struct {
    uint64_t b[LG_HIST_BUCKETS];
    uint64_t n, max, min;
    double sum;
} lg_hist_t;

struct lg_gen;
struct lg_poll;

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct lg_gen *g;
    uint64_t plen, pgot;
    uint64_t t_start;   /* connect start; in ack mode, send time of the pending echo */
    uint64_t ping_due;  /* Engine.IO v3: loop time (ms) of this client's next ping */
    uint64_t *ack_ring; /* ack --rate: send time by ack id % LG_ACK_RING (0 = none) */
    uint32_t ack_id, idx;
    uint32_t ack_out;   /* ack --rate: acks outstanding */
    uint32_t emit_unconf, emit_pings; /* emit: events since the last ping, pings unanswered */
    uint32_t emit_tail; /* emit: events the last ping confirms when it closes a partial batch */
    uint8_t state, role, opcode, hlen, hneed, crlf, cap_len;
    uint8_t v3;         /* 1: Engine.IO v3 / Socket.IO protocol 4 (the client pings; no 40) */
    struct lg_poll *pl; /* --transport polling: its HTTP state (NULL: WebSocket) */
    uint8_t hdr[14];
    uint8_t cap[LG_CAP];
} lg_conn_t;

typedef struct {
    int kind;
    size_t size;
    double frac;        /* PH_RATE: fraction of the previous max phase's rate (0: fixed rate) */
    double rate;        /* messages per second actually targeted */
    double warm, secs;
    /* results */
    uint64_t sent, skipped, deliveries, acks;
    uint64_t ack_errors; /* acks whose first argument is {"error":...} (not in acks or hist) */
    uint64_t http_requests; /* polling: HTTP requests completed in the measured window */
    double wall, srv_cpu, gen_cpu;
    lg_hist_t hist;
    /* --eio mixed: the same split by the receiver's revision ([0] v4, [1] v3) */
    uint64_t deliv_by[2];
    lg_hist_t hist_by[2];
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
    char rates[256]; /* fanout --rates: SIZE=R/R/...,...: fixed msg/s phases after the fractions */
    const char *room;
    int eio; /* EIO_* */
    double rate;     /* ack: acks/s offered, open loop (0 = closed loop); emit: events/s (0 = max) */
    int emit_window; /* emit: events one client may have unconfirmed */
    int transport;   /* TR_* */
    /* state */
    lg_conn_t *conns; /* n clients, then the publisher */
    int started, inflight, connected, ready, failed, dropped, srv_closed, conn_errors;
    uint64_t t0, t_ready;
    double srv_cpu0, gen_cpu0;
    uint64_t pings, deliveries_total, sent_total, bad_frames;
    /* ack and emit modes: events sent (warm-up included), acks answered, answered with an
     * error, events confirmed by a pong */
    uint64_t ev_sent, acks_total, ack_errors_total, emit_confirmed;
    uint32_t rr; /* next client of the round robin (ack --rate, emit) */
    uv_timer_t flush;
    /* Engine.IO v3: clients ready, pings sent and pongs received; every open v3 client sits
     * once in the ring pq (conn indexes, ping_due ascending: one period for all) */
    int connected_v3, ready_v3;
    uint64_t v3_pings, v3_pongs, v3_ping_ms, deliv_by[2];
    uint32_t *pq, pq_head, pq_len;
    uv_timer_t v3ping;
    /* polling: HTTP requests completed (responses read), connections reopened after the
     * server closed an idle one; poll_sweep fetches the pings of clients that hold no GET */
    uint64_t http_requests, http_reconnects;
    uv_timer_t poll_sweep;
    lg_hist_t connect_hist;
    uint32_t rng;
    uv_timer_t pace, deadline, phase_timer, tick;
    uv_check_t check;
    uv_signal_t sigterm, sigint;
    int phase_ready; /* connect phase over */
    /* phases */
    lg_phase_t ph[LG_MAX_PHASES];
    int nph, cur, measuring, draining;
    uint64_t ph_t0, ph_sent, ph_skipped, ph_deliv0, ph_deliv0_by[2], ph_http0, drain_t0;
    size_t window;
    char *pad_buf;
    size_t pad_cap;
} lg_gen_t;

/* ---- loadgen_report.c */

void lg_hist_add(lg_hist_t *h, uint64_t v);
/** CPU seconds (user + system) this process has used. */
double lg_gen_cpu_now(void);
/** CPU seconds of the server processes (--server-pid), summed; -1 if unknown. */
double lg_servers_cpu(const lg_gen_t *g);
/** Print the JSON report on stdout and leave with code. */
void lg_gen_exit(lg_gen_t *g, int code) __attribute__((noreturn));

/* ---- loadgen_client.c */

/** Open connection c (index idx, ROLE_*; v3 or v4 as --eio says, WebSocket or polling as
 *  --transport says) and walk it up to ST_READY. */
void lg_conn_start(lg_gen_t *g, lg_conn_t *c, uint32_t idx, int role);
/** Open c's TCP connection (again, for a polling client whose connection the server closed);
 *  once connected, the transport sends its first request. A failure is counted on c. */
void lg_conn_dial(lg_conn_t *c);
/** c is lost: count it (failed or dropped), close its socket. No-op if c is already dead. */
void lg_conn_fail(lg_conn_t *c, const char *why, int err);
/** Write bytes on c's socket (copied if libuv cannot take them at once). */
void lg_conn_write(lg_conn_t *c, const char *buf, size_t len);
/** libuv's alloc callback for every client: one shared read buffer. */
void lg_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf);
/** One Engine.IO packet received (its first bytes in c->cap / c->cap_len), either transport:
 *  the connect handshake, join, pings, deliveries and acks. */
void lg_conn_packet(lg_conn_t *c, uint64_t now);
/** Send one Engine.IO packet on c: a WebSocket text frame, or queued for c's next POST. */
void lg_conn_send(lg_conn_t *c, const char *s, size_t len);
/** One masked WebSocket text frame. */
void lg_ws_text(lg_conn_t *c, const char *s, size_t len);
/** The next echo with ack of an ack-mode client (stamps t_start). */
void lg_ack_send(lg_conn_t *c);
/** ack --rate: one more echo with ack on c (send time in its ring); -1 if c has
 *  LG_ACK_RING outstanding. */
int lg_ack_send_open(lg_conn_t *c);
/** emit: one echo without ack on c, and a ping after every LG_EMIT_BATCH; -1 if c has
 *  --window events unconfirmed. */
int lg_emit_send(lg_conn_t *c);
/** emit, at the end: a ping after c's last partial batch, so its pong confirms it. */
void lg_emit_flush(lg_conn_t *c);
/** g->v3ping's callback: the Engine.IO v3 clients whose ping is due send it ("2"). */
void lg_v3_ping_due(uv_timer_t *t);

/* ---- loadgen_poll.c */

/** --transport polling: arm the timer that fetches the pings of clients holding no GET. */
void lg_poll_setup(lg_gen_t *g);
/** Give c (a receiver, idle or ack client) its polling state; aborts on allocation failure. */
void lg_poll_new(lg_conn_t *c);
/** c's TCP connection is up: start reading and send the next request (first: the handshake). */
void lg_poll_connected(lg_conn_t *c);
/** Queue one Engine.IO packet for c's next POST (sent once no request is in flight). */
void lg_poll_send(lg_conn_t *c, const char *s, size_t len);

/* ---- loadgen_phases.c */

/** Build the phases from the options and start the first one. */
void lg_pub_start_phases(lg_gen_t *g);
/** Close the phase being measured and start the next (or exit after the last). */
void lg_phase_end(lg_gen_t *g);

/* ---- loadgen.c */

/** A client changed state: move the run on when a stage is complete. */
void lg_gen_check(lg_gen_t *g);

#endif
