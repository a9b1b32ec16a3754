/* streams.h - the Redis Streams backend (adapter = streams), wire-compatible
 * with @socket.io/redis-streams-adapter 0.3.1 (protocol 3, the default) and
 * 0.2.x (protocol 2), on the cluster protocol module (cluster.h).
 *
 * What is shared by the namespaces of one process lives here: the Redis
 * connections (commands and Pub/Sub, redis_conn.h), one reader per stream
 * (streams_reader.h) dispatching entries by namespace, and the outbox.
 *
 * Outbox: an entry that cannot be written because Redis is unreachable (not
 * yet connected, or lost) waits here, in order, and is written when Redis
 * is back; so do entries that were on the wire when the connection went
 * (no reply came). Those may have been applied: after the reconnect, each
 * stream is read after the last entry Redis acknowledged to us, and those
 * of our entries found there count as written (Redis applies one
 * connection's commands in order, so they are a prefix of what came back,
 * compared field by field). New entries queue behind waiting ones, so order
 * holds. Past max_entries or max_bytes the oldest are
 * dropped, counted, with one warning per episode. Local clients never wait
 * for any of this: adapter.c delivers before it forwards. Requests and
 * their answers (0.3 Pub/Sub) are not kept: like the classic adapter's,
 * they fail at once while Redis is down. */
#ifndef SG_STREAMS_H
#define SG_STREAMS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backend.h"
#include "redis_conn.h"

typedef struct sg_streams sg_streams_t;

typedef struct sg_streams_opts {
    sg_redis_opts_t redis;       /* url, back-off, timeouts, output limit, log */
    int protocol;                /* 3: 0.3.x (default), 2: 0.2.x */
    const char *stream_name;     /* streamName, "socket.io" */
    unsigned stream_count;       /* streamCount (protocol 3), 1 */
    unsigned max_len;            /* maxLen, 10000 (MAXLEN ~) */
    unsigned read_count;         /* readCount, 100 */
    unsigned block_ms;           /* blockTimeInMs, 5000 */
    const char *channel_prefix;  /* channelPrefix, "socket.io" */
    const char *session_prefix;  /* sessionKeyPrefix, "sio:session:" */
    int only_plaintext;          /* onlyPlaintext */
    unsigned heartbeat_interval; /* protocol 2, ms */
    unsigned heartbeat_timeout;  /* protocol 2, ms */
    unsigned requests_timeout;   /* ms */
    size_t outbox_entries;       /* most entries waiting for Redis */
    size_t outbox_bytes;         /* most bytes of them */
} sg_streams_opts_t;

/** Connect (nothing blocks). 0 with *out, or SG_EINVAL with err filled. */
int sg_streams_new(uv_loop_t *loop, const sg_streams_opts_t *o, sg_streams_t **out, char *err,
                   size_t errlen);
/** After every namespace adapter was closed: stop the readers and the
 *  connections; waiting entries are dropped. NULL is a no-op. */
void sg_streams_free(sg_streams_t *s);
/** "ready" when the command and Pub/Sub connections are up and every
 *  reader is connected and anchored; otherwise "connecting" (never been
 *  ready) or "down". */
const char *sg_streams_state(const sg_streams_t *s);

typedef struct sg_streams_stats {
    size_t outbox_entries, outbox_bytes;
    uint64_t outbox_dropped; /* since start */
    uint64_t written;        /* entries Redis acknowledged */
    uint64_t read;           /* entries handed to a namespace */
    uint64_t skipped;        /* entries read and dropped as malformed */
} sg_streams_stats_t;

void sg_streams_stats(const sg_streams_t *s, sg_streams_stats_t *out);

/** The backend's ops; its namespaces need env->shared = the sg_streams_t. */
extern const sg_adapter_ops_t sg_adapter_streams_ops;

#endif
