/* legacy.c - the socket.io-redis 5.x names of the cluster API (remoteJoin,
 * remoteLeave, remoteDisconnect, clientRooms, customRequest / customHook) as
 * thin calls onto the 8.x requests (see siogate.h). */
#include <string.h>

#include "sio_internal.h"

enum { OP_JOIN, OP_LEAVE, OP_DISCONNECT };

/* Targeting the room named by the id reaches exactly that socket on every
 * node, so the request needs no owner lookup (and no answer). */
static int remote_op(sg_nsp_t *nsp, const char *id, int op, const char *room, int close,
                     sg_legacy_cb cb, void *ud)
{
    int rc = 0;
    if (!id || (op != OP_DISCONNECT && !room)) {
        rc = SG_EINVAL;
        goto done;
    }
    sg_name_t target = {id, strlen(id)}, r = {room, room ? strlen(room) : 0};
    sg_bcast_opts_t o = {&target, 1, NULL, 0, 0};
    if (sg_adapter_find(nsp->adapter, id, strlen(id))) {
        /* Local: apply here only, as socket.io-redis 5.x did; publishing
         * would reach no other socket. */
        o.flags = SG_BCAST_LOCAL;
        if (op == OP_JOIN)
            sg_adapter_add_sockets(nsp->adapter, &o, &r, 1);
        else if (op == OP_LEAVE)
            sg_adapter_del_sockets(nsp->adapter, &o, &r, 1);
        else
            sg_adapter_disconnect_sockets(nsp->adapter, &o, close);
        goto done;
    }
    /* Not here: only another node can hold it (the local part of these
     * calls finds nothing). */
    if (!sg_adapter_clustered(nsp->adapter))
        rc = SG_ENOTFOUND;
    else if (op == OP_JOIN)
        rc = sg_adapter_add_sockets(nsp->adapter, &o, &r, 1);
    else if (op == OP_LEAVE)
        rc = sg_adapter_del_sockets(nsp->adapter, &o, &r, 1);
    else
        rc = sg_adapter_disconnect_sockets(nsp->adapter, &o, close);
done:
    if (cb)
        cb(rc, ud);
    return rc;
}

int sg_nsp_remote_join(sg_nsp_t *nsp, const char *socket_id, const char *room, sg_legacy_cb cb,
                       void *ud)
{
    return remote_op(nsp, socket_id, OP_JOIN, room, 0, cb, ud);
}

int sg_nsp_remote_leave(sg_nsp_t *nsp, const char *socket_id, const char *room,
                        sg_legacy_cb cb, void *ud)
{
    return remote_op(nsp, socket_id, OP_LEAVE, room, 0, cb, ud);
}

int sg_nsp_remote_disconnect(sg_nsp_t *nsp, const char *socket_id, int close, sg_legacy_cb cb,
                             void *ud)
{
    return remote_op(nsp, socket_id, OP_DISCONNECT, NULL, close, cb, ud);
}

/* ---- clientRooms ---- */

typedef struct {
    sg_cluster_cb cb;
    void *ud;
} rooms_ctx_t;

static void on_client_fetched(int err, const char *msg, json_t *result, void *ud)
{
    rooms_ctx_t *c = ud;
    /* Ids are unique: the first RemoteSocket, if any, is the one. */
    json_t *rooms = json_object_get(json_array_get(result, 0), "rooms");
    if (json_is_array(rooms))
        c->cb(0, NULL, rooms, c->ud);
    else
        c->cb(err ? err : SG_ENOTFOUND, err ? msg : NULL, NULL, c->ud);
    sg_free(c);
}

int sg_nsp_client_rooms(sg_nsp_t *nsp, const char *socket_id, sg_cluster_cb cb, void *ud)
{
    if (!socket_id)
        return SG_EINVAL;
    sg_asock_t *a = sg_adapter_find(nsp->adapter, socket_id, strlen(socket_id));
    if (a) {
        json_t *rooms = sg_socket_rooms((sg_socket_t *)a);
        cb(0, NULL, rooms, ud);
        json_decref(rooms);
        return 0;
    }
    rooms_ctx_t *c = sg_calloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    int rc = sg_bcast_fetch_sockets_cluster(sg_bcast_to(sg_bcast_new(nsp), socket_id),
                                            on_client_fetched, c);
    if (rc != 0)
        sg_free(c);
    return rc;
}

/* ---- customRequest / customHook ---- */

void sg_nsp_custom_hook(sg_nsp_t *nsp, sg_event_cb cb, void *ud)
{
    for (sg_handler_t *h = nsp->server_events; h; h = h->next) {
        if (!strcmp(h->event, SG_CUSTOM_EVENT)) {
            h->cb.ev = cb;
            h->ud = ud;
            return;
        }
    }
    sg_nsp_on_server_event(nsp, SG_CUSTOM_EVENT, cb, ud);
}

int sg_nsp_custom_request(sg_nsp_t *nsp, const sg_data_t *data, sg_bcast_ack_cb cb, void *ud)
{
    return sg_nsp_server_side_emit(nsp, SG_CUSTOM_EVENT, data, cb, ud);
}
