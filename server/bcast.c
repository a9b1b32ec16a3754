/* bcast.c - the broadcast operator (io.to(room).except(id).emit(...)):
 * target rooms as length-counted copies, flags, and what it does with them
 * (emit, socketsJoin/Leave, disconnectSockets, local fetchSockets). The
 * variant with acknowledgements is in ackgroup.c. */
#include <string.h>

#include "sio_internal.h"
#include "util.h"



sg_bcast_t *sg_bcast_new(sg_nsp_t *nsp)
{
    sg_bcast_t *b = sg_calloc(1, sizeof(*b));
    b->nsp = nsp;
    return b;
}

static void push_room(sg_name_t **v, size_t *n, const char *room, size_t len)
{
    *v = sg_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].p = sg_strndup(room, len);
    (*v)[(*n)++].len = len;
}

sg_bcast_t *sg_bcast_from(sg_socket_t *s)
{
    sg_bcast_t *b = sg_bcast_new(sg_socket_nsp(s));
    push_room(&b->except, &b->nexcept, sg_socket_id(s), s->a.id_len);
    return b;
}

sg_bcast_t *sg_bcast_to(sg_bcast_t *b, const char *room)
{
    return sg_bcast_to_n(b, room, strlen(room));
}

sg_bcast_t *sg_bcast_to_n(sg_bcast_t *b, const char *room, size_t len)
{
    push_room(&b->rooms, &b->nrooms, room, len);
    return b;
}

sg_bcast_t *sg_bcast_except(sg_bcast_t *b, const char *room)
{
    return sg_bcast_except_n(b, room, strlen(room));
}

sg_bcast_t *sg_bcast_except_n(sg_bcast_t *b, const char *room, size_t len)
{
    push_room(&b->except, &b->nexcept, room, len);
    return b;
}

sg_bcast_t *sg_bcast_volatile(sg_bcast_t *b)
{
    b->flags |= SG_BCAST_VOLATILE;
    return b;
}

sg_bcast_t *sg_bcast_local(sg_bcast_t *b)
{
    b->flags |= SG_BCAST_LOCAL;
    return b;
}

sg_bcast_t *sg_bcast_compress(sg_bcast_t *b, int on)
{
    if (on)
        b->flags |= SG_BCAST_COMPRESS;
    else
        b->flags &= ~SG_BCAST_COMPRESS;
    return b;
}

sg_bcast_t *sg_bcast_timeout(sg_bcast_t *b, unsigned ms)
{
    b->timeout = sg_timeout_cap(ms);
    return b;
}

void sg_bcast_free(sg_bcast_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nrooms; i++)
        sg_free((char *)b->rooms[i].p);
    for (size_t i = 0; i < b->nexcept; i++)
        sg_free((char *)b->except[i].p);
    sg_free(b->rooms);
    sg_free(b->except);
    sg_free(b);
}

sg_bcast_opts_t sg_bcast__opts(const sg_bcast_t *b)
{
    sg_bcast_opts_t o = {b->rooms, b->nrooms, b->except, b->nexcept, b->flags};
    return o;
}

void sg_nsp__fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
                        const sg_data_t *args, int64_t id)
{
    sg_sio_packet_init(p);
    p->type = SG_SIO_EVENT;
    p->nsp = nsp->name;
    p->id = id;
    sg_data__fill(p, event, args);
}

int sg_bcast_emit(sg_bcast_t *b, const char *event, const sg_data_t *args)
{
    int rc = SG_EINVAL;
    if (!sg_sio_is_reserved_event(event)) {
        sg_sio_packet_t p;
        sg_nsp__fill_event(&p, b->nsp, event, args, -1);
        sg_bcast_opts_t o = sg_bcast__opts(b);
        rc = sg_adapter_broadcast(b->nsp->adapter, &p, &o);
        b->nsp->srv->stats.broadcasts++;
        sg_data__unfill(&p);
    }
    sg_bcast_free(b);
    return rc;
}

void sg_bcast_sockets_join(sg_bcast_t *b, const char *room)
{
    sg_bcast_sockets_join_n(b, room, strlen(room));
}

/* socketsJoin (join) or socketsLeave, then b is consumed. */
static void sockets_op(sg_bcast_t *b, const char *room, size_t len, int join)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
    sg_name_t r = {room, len};
    if (join)
        sg_adapter_add_sockets(b->nsp->adapter, &o, &r, 1);
    else
        sg_adapter_del_sockets(b->nsp->adapter, &o, &r, 1);
    sg_bcast_free(b);
}

void sg_bcast_sockets_join_n(sg_bcast_t *b, const char *room, size_t len)
{
    sockets_op(b, room, len, 1);
}

void sg_bcast_sockets_leave(sg_bcast_t *b, const char *room)
{
    sg_bcast_sockets_leave_n(b, room, strlen(room));
}

void sg_bcast_sockets_leave_n(sg_bcast_t *b, const char *room, size_t len)
{
    sockets_op(b, room, len, 0);
}

void sg_bcast_disconnect_sockets(sg_bcast_t *b, int close)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
    sg_adapter_disconnect_sockets(b->nsp->adapter, &o, close);
    sg_bcast_free(b);
}

typedef struct {
    void (*cb)(sg_socket_t *, void *);
    void *ud;
} fetch_ctx_t;

static void fetch_one(sg_asock_t *a, void *ud)
{
    fetch_ctx_t *c = ud;
    c->cb((sg_socket_t *)a, c->ud);
}

size_t sg_bcast_fetch_sockets(sg_bcast_t *b, void (*cb)(sg_socket_t *s, void *ud), void *ud)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
    fetch_ctx_t c = {cb, ud};
    size_t n = sg_adapter_select(b->nsp->adapter, &o, fetch_one, &c);
    sg_bcast_free(b);
    return n;
}

