/* outq.h - a client's output queue of shared Engine.IO packet buffers.
 *
 * Both transports drain the same queue. Limits are enforced only in push,
 * modelled on redis' client-output-buffer-limit: over the hard limit, or over
 * the soft limit for longer than soft_seconds, the push fails and the caller
 * closes the client (asynchronously). */
#ifndef SG_OUTQ_H
#define SG_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

typedef struct sg_outq_node {
    struct sg_outq_node *next;
    sg_buf_t *buf;
} sg_outq_node_t;

typedef struct sg_outq {
    sg_outq_node_t *head, *tail;
    size_t bytes;
    uint32_t count;
    uint64_t soft_since; /* ms when the soft limit was first exceeded, 0 if not */
} sg_outq_t;

typedef struct sg_outq_limits {
    size_t hard;
    size_t soft;
    uint64_t soft_ms;
} sg_outq_limits_t;

/** Append a reference to buf. Returns 0, or SG_ETOOBIG when a limit is
 *  exceeded (nothing queued). */
int sg_outq_push(sg_outq_t *q, sg_buf_t *buf, const sg_outq_limits_t *lim, uint64_t now);
/** Remove the head; the caller owns the returned reference (NULL if empty). */
sg_buf_t *sg_outq_pop(sg_outq_t *q);
static inline int sg_outq_empty(const sg_outq_t *q)
{
    return q->head == NULL;
}
/** Drop everything. */
void sg_outq_clear(sg_outq_t *q);

#endif
