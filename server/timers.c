/* timers.c - see timers.h. */
#include "timers.h"

void sg_timers_init(sg_timers_t *ts, uv_loop_t *loop)
{
    ts->heap = (sg_theap_t){0};
    ts->loop = loop;
    ts->armed = 0;
    ts->closed = 0;
    uv_timer_init(loop, &ts->uv);
    ts->uv.data = ts;
}

uint64_t sg_timers_now(const sg_timers_t *ts)
{
    return uv_now(ts->loop);
}

size_t sg_timers_count(const sg_timers_t *ts)
{
    return ts->heap.n;
}

static void on_uv_timer(uv_timer_t *h);

/* Point the uv timer at the earliest deadline (only when that changed:
 * restarting a uv timer is not free and heartbeats move constantly). */
static void rearm(sg_timers_t *ts)
{
    if (ts->closed)
        return;
    sg_tnode_t *top = sg_theap_top(&ts->heap);
    if (!top) {
        if (ts->armed)
            uv_timer_stop(&ts->uv);
        ts->armed = 0;
        return;
    }
    if (top->due == ts->armed)
        return;
    uint64_t now = uv_now(ts->loop);
    ts->armed = top->due;
    uv_timer_start(&ts->uv, on_uv_timer, top->due > now ? top->due - now : 0, 0);
}

static void on_uv_timer(uv_timer_t *h)
{
    sg_timers_t *ts = h->data;
    uint64_t now = uv_now(ts->loop);
    ts->armed = 0;
    sg_tnode_t *top;
    while (!ts->closed && (top = sg_theap_top(&ts->heap)) && top->due <= now) {
        sg_timer_t *t = (sg_timer_t *)top; /* node is the first member */
        /* Unqueued before the call: the callback may queue it again, or
         * free its owner. */
        sg_theap_remove(&ts->heap, top);
        t->cb(t);
    }
    rearm(ts);
}

void sg_timers_close(sg_timers_t *ts)
{
    if (ts->closed)
        return;
    ts->closed = 1;
    uv_close((uv_handle_t *)&ts->uv, NULL);
}

void sg_timers_free(sg_timers_t *ts)
{
    sg_theap_free(&ts->heap);
}

void sg_timer_init(sg_timer_t *t, sg_timer_cb cb)
{
    t->node.due = 0;
    t->node.idx = 0;
    t->cb = cb;
}

void sg_timer_at(sg_timers_t *ts, sg_timer_t *t, uint64_t due)
{
    if (ts->closed)
        return;
    sg_theap_set(&ts->heap, &t->node, due);
    rearm(ts);
}

void sg_timer_in(sg_timers_t *ts, sg_timer_t *t, uint64_t ms)
{
    sg_timer_at(ts, t, uv_now(ts->loop) + ms);
}

void sg_timer_stop(sg_timers_t *ts, sg_timer_t *t)
{
    if (!t->node.idx)
        return;
    sg_theap_remove(&ts->heap, &t->node);
    rearm(ts);
}
