/* redis_conn.h - the Redis connection layer shared by every Redis backend.
 *
 * One sg_redis_t holds two connections (redis_link.h) on the server's libuv
 * loop: a command connection (PUBLISH, PUBSUB NUMSUB, ...) and a subscriber
 * connection. Both reconnect on their own with capped exponential back-off;
 * after every reconnect the subscriber re-issues each registered
 * subscription. Subscriptions are keyed by (kind, name): registering the
 * same one twice keeps a single SUBSCRIBE on the wire, which the
 * NUMSUB-based server count of the Node adapter depends on. Channel, pattern
 * and shard-channel (SSUBSCRIBE, Redis 7) subscriptions share one subscriber
 * and one code path; each is issued as its own command.
 *
 * Each connection attempt (TCP connect, AUTH/SELECT, then the PING whose
 * answer marks it ready) has connect_timeout_ms to get there; one that does
 * not (packets dropped, a peer that accepts and never answers) is abandoned
 * and retried with the same back-off, for as long as it takes. A refused
 * connect fails the attempt at once.
 *
 * Output limit: the bytes of commands sent on the command connection and not
 * yet answered (the command as written on the wire, counted when it is
 * queued, released when its reply arrives or the connection is lost) are
 * bounded by output_limit, so a Redis that stops reading (paused, swapping,
 * a full network path) costs at most that much memory here instead of
 * hiredis' unbounded output buffer. Past the limit sg_redis_publish and
 * sg_redis_command refuse with SG_EAGAIN (requests like PUBSUB NUMSUB grow the
 * same buffer, so they are refused too). Refusals are counted; one warning
 * is logged when an episode starts and one when it ends, which is when half
 * of the limit has been answered. With nothing in flight one command is
 * always accepted, whatever its size. The subscriber connection carries only
 * (UN)SUBSCRIBE commands, a few per namespace, and is not counted.
 *
 * Every function must be called on the loop's thread. */
#ifndef SG_REDIS_CONN_H
#define SG_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct sg_redis sg_redis_t;

/** Log sink: level 0 error, 1 warn, 2 info, 3 debug. */
typedef void (*sg_redis_log_cb)(void *ud, int level, const char *msg);

typedef struct sg_redis_opts {
    const char *url;          /* redis://[user:password@]host[:port][/db], unix:/path or
                                 unix://[[user]:password@]/path[?db=N] */
    unsigned backoff_min_ms;  /* first retry delay (>= 1) */
    unsigned backoff_max_ms;  /* cap */
    unsigned connect_timeout_ms; /* an attempt (connect + AUTH/SELECT/PING) not ready
                                    by then is abandoned and retried; 0 = 5000 */
    size_t output_limit;      /* bytes of commands sent and not yet answered past
                                 which publishes and commands are refused; 0 = 32 MB */
    size_t reply_limit;       /* bytes of one reply; 0 = 512 MB (redis_link.h) */
    sg_redis_log_cb log;      /* may be NULL */
    void *log_ud;
    /** 1: the command connection only (a stream reader blocked in XREAD
     *  needs one of its own and no subscriber); the state is that
     *  connection's. Subscriptions are then never issued. */
    int command_only;
    /** What the connection is for, in log lines ("cluster" when NULL). */
    const char *role;
    /** Called each time the state becomes SG_REDIS_READY (the first time and
     *  after every reconnect), after the subscriptions are re-issued. */
    void (*on_ready)(void *ud);
    void *on_ready_ud;
} sg_redis_opts_t;

typedef enum {
    SG_REDIS_CONNECTING = 0, /* never been ready yet */
    SG_REDIS_READY,          /* both connections up, subscriptions issued */
    SG_REDIS_DOWN,           /* was ready, lost; reconnecting */
} sg_redis_state_t;

/** Parse url and start connecting (nothing blocks except the host name
 *  lookup that hiredis does). Returns 0 with *out, or SG_EINVAL with err
 *  filled when the URL is invalid. */
int sg_redis_new(uv_loop_t *loop, const sg_redis_opts_t *o, sg_redis_t **out, char *err,
                 size_t errlen);
/** Close both connections. Pending command callbacks run now with a NULL
 *  reply; memory is released once the loop has run the close callbacks.
 *  NULL is a no-op. */
void sg_redis_free(sg_redis_t *r);

sg_redis_state_t sg_redis_state(const sg_redis_t *r);
/** "connecting", "ready" or "down". */
const char *sg_redis_state_name(const sg_redis_t *r);
/** 1 when commands can be sent now (command connection ready). */
int sg_redis_can_send(const sg_redis_t *r);

/** Called for every message on a subscription: the channel it was published
 *  on and the payload (both borrowed for the call). */
typedef void (*sg_redis_msg_cb)(void *ud, const char *channel, size_t chlen, const char *data,
                                size_t len);

/** Subscription kinds. */
enum {
    SG_REDIS_CHANNEL = 0, /* SUBSCRIBE */
    SG_REDIS_PATTERN = 1, /* PSUBSCRIBE */
    SG_REDIS_SHARD = 2,   /* SSUBSCRIBE (sharded Pub/Sub) */
};

/** Register a subscription of kind SG_REDIS_*. Issued now if the subscriber
 *  is up, and again after every reconnect, until sg_redis_unsubscribe.
 *  Registering an existing (kind, name) replaces its callback without a
 *  second SUBSCRIBE. */
void sg_redis_subscribe(sg_redis_t *r, const char *name, int kind, sg_redis_msg_cb cb, void *ud);
void sg_redis_unsubscribe(sg_redis_t *r, const char *name, int kind);

/** Fire-and-forget PUBLISH. Returns 0 once queued, SG_ESTATE when the
 *  command connection is not ready (nothing is queued while it is down),
 *  SG_EAGAIN when it was dropped for the output limit (counted, see above). */
int sg_redis_publish(sg_redis_t *r, const char *channel, size_t chlen, const void *data,
                     size_t len);

/** reply is NULL when the connection was lost or closed before answering. */
typedef void (*sg_redis_reply_cb)(void *ud, const redisReply *reply);
/** Send a command; cb (may be NULL) runs exactly once, unless the call
 *  returns non-zero: SG_ESTATE (command connection not ready) or SG_EAGAIN
 *  (refused for the output limit); cb is then not called. */
int sg_redis_command(sg_redis_t *r, sg_redis_reply_cb cb, void *ud, int argc, const char **argv,
                     const size_t *lens);

typedef struct sg_redis_stats {
    size_t pending_bytes; /* command connection: sent, not yet answered (wire bytes) */
    size_t pending_cmds;
    uint64_t dropped;     /* publishes and commands refused for output_limit, since start */
    uint64_t reconnects;  /* a connection ready again after a loss (each connection counts) */
    uint64_t timeouts;    /* attempts abandoned after connect_timeout_ms */
    int over_limit;       /* 1 while an output-limit episode lasts */
} sg_redis_stats_t;

/** Counters for metrics; cheap, no side effects. */
void sg_redis_stats(const sg_redis_t *r, sg_redis_stats_t *out);

#endif
