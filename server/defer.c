/* defer.c - see defer.h. */
#include "defer.h"

#include <assert.h>

void sg_defer_init(sg_defer_t *d, uv_loop_t *loop)
{
    *d = (sg_defer_t){0};
    uv_idle_init(loop, &d->idle);
    d->idle.data = d;
}

int sg_defer_add(sg_defer_t *d, sg_defer_fn fn, void *ud)
{
    assert(d->n < SG_DEFER_MAX);
    d->fn[d->n] = fn;
    d->ud[d->n] = ud;
    return d->n++;
}

void sg_defer_run(sg_defer_t *d)
{
    /* A hook may ask for another (freeing a socket may close a session). */
    for (int again = 1; again;) {
        again = 0;
        for (int i = 0; i < d->n; i++) {
            if (!d->wanted[i])
                continue;
            d->wanted[i] = 0;
            d->fn[i](d->ud[i]);
            again = 1;
        }
    }
}

static void on_idle(uv_idle_t *h)
{
    sg_defer_t *d = h->data;
    sg_defer_run(d);
    uv_idle_stop(&d->idle);
    d->on = 0;
}

void sg_defer_want(sg_defer_t *d, int id)
{
    d->wanted[id] = 1;
    if (!d->on && !d->closed) {
        d->on = 1;
        uv_idle_start(&d->idle, on_idle);
    }
}

void sg_defer_close(sg_defer_t *d)
{
    if (d->closed)
        return;
    d->closed = 1;
    uv_close((uv_handle_t *)&d->idle, NULL);
}
