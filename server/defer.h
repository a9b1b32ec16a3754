/* defer.h - work put off to a safe point: the next turn of the loop.
 *
 * A session or socket must never be freed inside a callback or a loop over
 * recipients (redis' freeClientAsync): it is flagged and queued, and its
 * owner frees it from a hook here. Each module registers its hook once and
 * asks for it to run; one idle handle serves them all. */
#ifndef SG_DEFER_H
#define SG_DEFER_H

#include <uv.h>

#define SG_DEFER_MAX 4

typedef void (*sg_defer_fn)(void *ud);

typedef struct sg_defer {
    uv_idle_t idle;
    unsigned char on, closed, n;
    unsigned char wanted[SG_DEFER_MAX];
    sg_defer_fn fn[SG_DEFER_MAX];
    void *ud[SG_DEFER_MAX];
} sg_defer_t;

void sg_defer_init(sg_defer_t *d, uv_loop_t *loop);
/** Register a hook; returns its id (at most SG_DEFER_MAX hooks). */
int sg_defer_add(sg_defer_t *d, sg_defer_fn fn, void *ud);
/** Run hook id at the next safe point (once, however often asked). */
void sg_defer_want(sg_defer_t *d, int id);
/** Run every wanted hook now (shutdown), until none is wanted. */
void sg_defer_run(sg_defer_t *d);
/** Close the idle handle (d must outlive the next loop turn). */
void sg_defer_close(sg_defer_t *d);

#endif
