/* theap.h - a binary min-heap of deadlines.
 *
 * One libuv timer per server instead of two per session: a uv_timer_t costs
 * ~150 bytes, and per-connection memory is a budget. Nodes are embedded in
 * their owners; the heap stores pointers and keeps each node's index so a
 * deadline can move or be removed in O(log n). */
#ifndef SG_THEAP_H
#define SG_THEAP_H

#include <stdint.h>

typedef struct sg_tnode {
    uint64_t due; /* ms on the loop clock */
    uint32_t idx; /* position + 1 in the heap; 0 when not queued */
} sg_tnode_t;

typedef struct sg_theap {
    sg_tnode_t **v;
    uint32_t n, cap;
} sg_theap_t;

/** Queue t at due, or move it there if already queued. */
void sg_theap_set(sg_theap_t *h, sg_tnode_t *t, uint64_t due);
/** Unqueue t (no-op when not queued). */
void sg_theap_remove(sg_theap_t *h, sg_tnode_t *t);
/** Earliest node, or NULL. */
static inline sg_tnode_t *sg_theap_top(const sg_theap_t *h)
{
    return h->n ? h->v[0] : 0;
}
void sg_theap_free(sg_theap_t *h);

#endif
