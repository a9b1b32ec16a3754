/* outq.c - see outq.h. */
#include "outq.h"
#include "util.h"

int sg_outq_push(sg_outq_t *q, sg_buf_t *buf, const sg_outq_limits_t *lim, uint64_t now)
{
    size_t after = q->bytes + buf->len;
    if (lim->hard && after > lim->hard)
        return SG_ETOOBIG;
    if (lim->soft && after > lim->soft) {
        if (!q->soft_since)
            q->soft_since = now;
        else if (now - q->soft_since > lim->soft_ms)
            return SG_ETOOBIG;
    } else {
        q->soft_since = 0;
    }
    sg_outq_node_t *n = sg_malloc(sizeof(*n));
    n->next = NULL;
    n->buf = sg_buf_ref(buf);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->bytes = after;
    q->count++;
    return 0;
}

sg_buf_t *sg_outq_pop(sg_outq_t *q)
{
    sg_outq_node_t *n = q->head;
    if (!n)
        return NULL;
    q->head = n->next;
    if (!q->head)
        q->tail = NULL;
    sg_buf_t *b = n->buf;
    q->bytes -= b->len;
    q->count--;
    if (q->soft_since && q->bytes <= 0)
        q->soft_since = 0;
    sg_free(n);
    return b;
}

void sg_outq_clear(sg_outq_t *q)
{
    sg_buf_t *b;
    while ((b = sg_outq_pop(q)))
        sg_buf_unref(b);
    q->soft_since = 0;
}
