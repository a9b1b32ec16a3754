/* timers.h - every deadline of a server (heartbeats, upgrade and connect
 * deadlines, attachment deadlines, acknowledgement timeouts) in one binary
 * heap driven by a single uv timer.
 *
 * A uv_timer_t costs ~150 bytes and a malloc; a deadline here is 24 bytes
 * embedded in its owner and moves in O(log n). There is one place to stop
 * them all: sg_timers_close. After it no callback runs again, so an owner
 * that must answer someone when it is cancelled (an ack group, a pending
 * ack) does that itself on shutdown; nothing here keeps the loop alive
 * once closed. */
#ifndef SG_TIMERS_H
#define SG_TIMERS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "theap.h"

typedef struct sg_timer sg_timer_t;
typedef void (*sg_timer_cb)(sg_timer_t *t);

/** A deadline embedded in its owner (find the owner with offsetof). */
struct sg_timer {
    sg_tnode_t node;
    sg_timer_cb cb;
};

typedef struct sg_timers {
    sg_theap_t heap;
    uv_timer_t uv;
    uv_loop_t *loop;
    uint64_t armed; /* due time the uv timer is set for, 0 when stopped */
    int closed;
} sg_timers_t;

void sg_timers_init(sg_timers_t *ts, uv_loop_t *loop);
/** Stop for good (closes the uv timer; ts must outlive the close callback,
 *  i.e. the next loop iteration). Pending deadlines never fire. */
void sg_timers_close(sg_timers_t *ts);
/** Release the heap's storage (after close). */
void sg_timers_free(sg_timers_t *ts);
/** Now on the loop's clock, in ms. */
uint64_t sg_timers_now(const sg_timers_t *ts);
/** Deadlines still queued. */
size_t sg_timers_count(const sg_timers_t *ts);

/** Prepare t (not queued) to call cb. */
void sg_timer_init(sg_timer_t *t, sg_timer_cb cb);
/** Queue t for the absolute loop time due (ms), or move it there. Ignored
 *  once ts is closed. */
void sg_timer_at(sg_timers_t *ts, sg_timer_t *t, uint64_t due);
/** Queue t to fire ms from now. */
void sg_timer_in(sg_timers_t *ts, sg_timer_t *t, uint64_t ms);
/** Unqueue t (no-op when not queued). */
void sg_timer_stop(sg_timers_t *ts, sg_timer_t *t);
static inline int sg_timer_active(const sg_timer_t *t)
{
    return t->node.idx != 0;
}

#endif
