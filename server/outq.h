/* outq.h - a client's output queue of shared Engine.IO packet buffers.
 *
 * Both transports drain the same queue. It is a ring of buffer references:
 * the first SG_OUTQ_INLINE entries live inside the struct, so the common case
 * of one or two packets per loop iteration costs no allocation. Limits are
 * enforced only in push, modelled on redis' client-output-buffer-limit: over
 * the hard limit, or over the soft limit for longer than soft_ms, the push
 * fails and the caller closes the client (asynchronously). */
#ifndef SG_OUTQ_H
#define SG_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define SG_OUTQ_INLINE 2

typedef struct sg_outq {
    sg_buf_t **heap;               /* ring storage once it outgrows inl */
    sg_buf_t *inl[SG_OUTQ_INLINE];
    uint32_t head, count, cap;     /* 0: the inline storage; always a power of two */
    /* ms (low 32 bits of the clock; 0 is taken as 1) when the soft limit was
     * first exceeded, 0 if not: the wrap is harmless, the time over the limit
     * that matters is at most a day (outqSoftSeconds) */
    uint32_t soft_since;
    size_t bytes;
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
/** The i-th queued buffer (0 = head), borrowed; NULL past the end. */
sg_buf_t *sg_outq_peek(const sg_outq_t *q, uint32_t i);
static inline int sg_outq_empty(const sg_outq_t *q)
{
    return q->count == 0;
}
/** Drop everything (and the ring's heap storage). */
void sg_outq_clear(sg_outq_t *q);

#endif
