/* outq.c - see outq.h. */
#include <string.h>

#include "outq.h"
#include "util.h"

static inline uint32_t cap_of(const sg_outq_t *q)
{
    return q->cap ? q->cap : SG_OUTQ_INLINE;
}

static inline sg_buf_t **slots(sg_outq_t *q)
{
    return q->cap ? q->heap : q->inl;
}

static void grow(sg_outq_t *q)
{
    uint32_t old = cap_of(q), ncap = old * 4;
    sg_buf_t **nv = sg_malloc(ncap * sizeof(*nv));
    sg_buf_t **ov = slots(q);
    for (uint32_t i = 0; i < q->count; i++)
        nv[i] = ov[(q->head + i) & (old - 1)];
    if (q->cap)
        sg_free(q->heap);
    q->heap = nv;
    q->cap = ncap;
    q->head = 0;
}

int sg_outq_push(sg_outq_t *q, sg_buf_t *buf, const sg_outq_limits_t *lim, uint64_t now)
{
    size_t after = q->bytes + buf->len;
    if (lim->hard && after > lim->hard)
        return SG_ETOOBIG;
    if (lim->soft && after > lim->soft) {
        uint32_t t = (uint32_t)now ? (uint32_t)now : 1;
        if (!q->soft_since)
            q->soft_since = t;
        else if ((uint32_t)(t - q->soft_since) > lim->soft_ms)
            return SG_ETOOBIG;
    } else {
        q->soft_since = 0;
    }
    if (q->count == cap_of(q))
        grow(q);
    slots(q)[(q->head + q->count) & (cap_of(q) - 1)] = sg_buf_ref(buf);
    q->count++;
    q->bytes = after;
    return 0;
}

sg_buf_t *sg_outq_peek(const sg_outq_t *q, uint32_t i)
{
    if (i >= q->count)
        return NULL;
    const sg_buf_t *const *v = q->cap ? (const sg_buf_t *const *)q->heap
                                      : (const sg_buf_t *const *)q->inl;
    return (sg_buf_t *)v[(q->head + i) & (cap_of(q) - 1)];
}

sg_buf_t *sg_outq_pop(sg_outq_t *q)
{
    if (!q->count)
        return NULL;
    sg_buf_t *b = slots(q)[q->head];
    q->head = (q->head + 1) & (cap_of(q) - 1);
    q->count--;
    q->bytes -= b->len;
    if (!q->count) {
        q->head = 0;
        q->soft_since = 0;
        /* A burst is over: give the ring back (idle clients hold no heap). */
        if (q->cap) {
            sg_free(q->heap);
            q->heap = NULL;
            q->cap = 0;
        }
    }
    return b;
}

void sg_outq_clear(sg_outq_t *q)
{
    sg_buf_t *b;
    while ((b = sg_outq_pop(q)))
        sg_buf_unref(b);
    q->soft_since = 0;
}
