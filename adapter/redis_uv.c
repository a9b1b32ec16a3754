/* redis_uv.c - hiredis async context <-> uv_poll_t (see redis_uv.h for why
 * this replaces hiredis' adapters/libuv.h). */
#include "redis_uv.h"

#include "util.h"

typedef struct glue {
    uv_poll_t poll;
    redisAsyncContext *ac; /* NULL once hiredis ran the cleanup hook */
    int events;            /* UV_READABLE | UV_WRITABLE that hiredis asked for */
} glue_t;

static void on_poll(uv_poll_t *h, int status, int events);

static void glue_arm(glue_t *g)
{
    /* uv_poll_start only fails for a descriptor libuv cannot watch, which
     * uv_poll_init already ruled out; the connection layer's attempt
     * deadline covers whatever else could leave a connect waiting. */
    if (g->events)
        (void)uv_poll_start(&g->poll, g->events, on_poll);
    else
        (void)uv_poll_stop(&g->poll);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    glue_t *g = h->data;
    redisAsyncContext *ac = g->ac;
    if (!ac)
        return;
    if (status < 0) {
        /* libuv reports POLLERR as UV_EBADF with no events and has already
         * stopped the poll. Let hiredis look at the socket: before the
         * connection is up, the write handler runs its connect check
         * (SO_ERROR, then the connect callback with REDIS_ERR); afterwards the
         * read handler gets the error from read(2) and disconnects. Either
         * way the context may be freed inside the call. */
        if (!(ac->c.flags & REDIS_CONNECTED))
            redisAsyncHandleWrite(ac);
        else
            redisAsyncHandleRead(ac);
        /* Still alive and nobody re-armed it (hiredis saw no error yet):
         * keep watching, or this context would never be heard of again. */
        if (g->ac && !uv_is_active((uv_handle_t *)h))
            glue_arm(g);
        return;
    }
    if (events & UV_READABLE)
        redisAsyncHandleRead(ac);
    if (g->ac && (events & UV_WRITABLE)) /* the read may have freed the context */
        redisAsyncHandleWrite(ac);
}

static void add_read(void *p)
{
    glue_t *g = p;
    g->events |= UV_READABLE;
    glue_arm(g);
}

static void del_read(void *p)
{
    glue_t *g = p;
    g->events &= ~UV_READABLE;
    glue_arm(g);
}

static void add_write(void *p)
{
    glue_t *g = p;
    g->events |= UV_WRITABLE;
    glue_arm(g);
}

static void del_write(void *p)
{
    glue_t *g = p;
    g->events &= ~UV_WRITABLE;
    glue_arm(g);
}

static void on_glue_closed(uv_handle_t *h)
{
    sg_free(h->data);
}

/* hiredis calls this just before it closes the descriptor and frees the
 * context: the poll must stop watching the fd now, not after the close. */
static void cleanup(void *p)
{
    glue_t *g = p;
    g->ac = NULL;
    uv_close((uv_handle_t *)&g->poll, on_glue_closed);
}

int sg_redis__uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return SG_ESTATE;
    glue_t *g = sg_calloc(1, sizeof(*g));
    if (uv_poll_init(loop, &g->poll, ac->c.fd) != 0) {
        sg_free(g); /* a handle whose init failed is not registered with the loop */
        return SG_ESTATE;
    }
    g->poll.data = g;
    g->ac = ac;
    ac->ev.data = g;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
