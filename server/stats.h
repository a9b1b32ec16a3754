/* stats.h - the counters and gauges of one server, updated where things
 * happen (the seams: session open/close/upgrade, transport input/output,
 * queue limits, broadcasts, acks, the adapter). Nothing reads them yet: the
 * operations work (/metrics) will, so the names follow what it will expose.
 *
 * Plain integers on the loop's thread; a gauge goes up and down, a counter
 * only up. */
#ifndef SG_STATS_H
#define SG_STATS_H

#include <stdint.h>

/* Why a session closed (Engine.IO reasons, as Node names them). */
typedef enum {
    SG_CLOSE_TRANSPORT_CLOSE = 0, /* "transport close" (client went away) */
    SG_CLOSE_TRANSPORT_ERROR,     /* "transport error" (queue limits, I/O) */
    SG_CLOSE_PING_TIMEOUT,        /* "ping timeout" */
    SG_CLOSE_PARSE_ERROR,         /* "parse error" */
    SG_CLOSE_FORCED,              /* "forced close" / "forced server close" */
    SG_CLOSE_SHUTDOWN,            /* "server shutting down" */
    SG_CLOSE_OTHER,
    SG_CLOSE_REASONS
} sg_close_reason_t;

typedef struct sg_stats {
    /* Engine.IO */
    uint64_t sessions[2];         /* gauge, by transport: [0] polling, [1] websocket */
    uint64_t sessions_opened;     /* counter */
    uint64_t sessions_closed[SG_CLOSE_REASONS];
    uint64_t upgrades;            /* polling -> websocket completed */
    uint64_t refused_full;        /* handshakes refused at maxSessions */
    uint64_t packets_in, bytes_in;   /* Engine.IO packets received (payload bytes) */
    uint64_t packets_out, bytes_out; /* queued to clients */
    uint64_t queue_bytes;         /* gauge: bytes waiting in every output queue */
    uint64_t drops_volatile;      /* volatile packets dropped (transport not writable) */
    uint64_t slow_closes;         /* clients closed past outqHardLimit / outqSoftLimit */
    /* Socket.IO */
    uint64_t sockets;             /* gauge, every namespace (each namespace counts its own) */
    uint64_t connects, disconnects;
    uint64_t events_in;           /* EVENT packets from clients */
    uint64_t broadcasts;          /* broadcasts issued here */
    uint64_t deliveries;          /* packets queued by broadcasts, one per recipient */
    uint64_t acks_pending;        /* gauge: acks awaited from clients */
    uint64_t acks_timeouts;
    /* adapter (the cluster) */
    uint64_t cluster_publishes, cluster_publish_errors;
    uint64_t cluster_requests, cluster_request_timeouts;
} sg_stats_t;

#endif
