/* streams_reader.h - one stream read in order, without loss across Redis
 * disconnections: a Redis connection of its own (an XREAD that blocks must
 * not hold up other commands), `XREAD COUNT n BLOCK ms STREAMS <stream>
 * <last id>` in a loop.
 *
 * Where it starts: the stream's last entry id at the time the reader first
 * connects (or 0-0 when the stream is empty), asked with XREVRANGE before
 * the first XREAD. Node starts from `$`, which misses what is written while
 * that first XREAD is on its way. After that, the id of the last entry
 * handed over, kept across reconnects: entries written while Redis was
 * unreachable from here are read when it is back (unless MAXLEN trimmed
 * them meanwhile). A Redis error reply (a key of another type, a busy
 * server) is logged at most once per episode and retried every 200 ms; the
 * loop never spins. */
#ifndef SG_STREAMS_READER_H
#define SG_STREAMS_READER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "redis_conn.h"

typedef struct sg_sreader sg_sreader_t;

/** One entry: its id and the flat field/value array of the reply (strings
 *  only, even count, checked). Borrowed for the call. */
typedef void (*sg_sreader_entry_cb)(void *ud, const char *stream, const char *id,
                                    const redisReply *fields);

typedef struct sg_sreader_opts {
    const sg_redis_opts_t *redis; /* url, back-off, timeouts, log; copied */
    const char *stream;
    unsigned count;    /* COUNT per XREAD (readCount) */
    unsigned block_ms; /* BLOCK (blockTimeInMs) */
    sg_sreader_entry_cb on_entry;
    void *ud;
} sg_sreader_opts_t;

/** Start reading. NULL with err filled when the URL is invalid. */
sg_sreader_t *sg_sreader_new(uv_loop_t *loop, const sg_sreader_opts_t *o, char *err, size_t errlen);
/** Stop (no entry callback after this) and close its connection. NULL is a
 *  no-op. */
void sg_sreader_free(sg_sreader_t *r);
const char *sg_sreader_stream(const sg_sreader_t *r);
/** The last id handed over ("" before the anchor is known). */
const char *sg_sreader_offset(const sg_sreader_t *r);
/** 1 once the anchor is known and the reader's connection is up. */
int sg_sreader_ready(const sg_sreader_t *r);

#endif
