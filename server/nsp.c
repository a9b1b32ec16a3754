/* nsp.c - namespaces: the registry (by name) and their handler lists
 * (middleware, connection, disconnect, events, server-side events). A
 * namespace is created, with its adapter, by sg_server_of (server.c). */
#include <string.h>

#include "sio_internal.h"
#include "util.h"

sg_nsp_t *sg_nsp__find(sg_server_t *srv, const char *name, size_t len)
{
    return sg_map_get(srv->nsp_map, name, len);
}

sg_nsp_t *sg_nsp__new(sg_server_t *srv, const char *name)
{
    sg_nsp_t *nsp = sg_calloc(1, sizeof(*nsp));
    nsp->name = sg_strdup(name);
    nsp->srv = srv;
    nsp->event_map = sg_map_new();
    nsp->next = srv->nsps;
    srv->nsps = nsp;
    sg_map_put(srv->nsp_map, nsp->name, strlen(nsp->name), nsp);
    return nsp;
}

void sg_server_foreach_nsp(sg_server_t *srv, void (*cb)(sg_nsp_t *nsp, void *ud), void *ud)
{
    for (sg_nsp_t *nsp = srv->nsps; nsp; nsp = nsp->next)
        cb(nsp, ud);
}

static void free_handlers(sg_handler_t *h)
{
    while (h) {
        sg_handler_t *next = h->next;
        sg_free(h->event);
        sg_free(h);
        h = next;
    }
}

void sg_nsp__free_all(sg_server_t *srv)
{
    while (srv->nsps) {
        sg_nsp_t *nsp = srv->nsps;
        srv->nsps = nsp->next;
        sg_adapter_free(nsp->adapter);
        free_handlers(nsp->middleware);
        free_handlers(nsp->on_connection);
        free_handlers(nsp->on_disconnect);
        free_handlers(nsp->events);
        free_handlers(nsp->server_events);
        sg_map_free(nsp->event_map);
        sg_free(nsp->name);
        sg_free(nsp);
    }
}

const char *sg_nsp_name(const sg_nsp_t *nsp)
{
    return nsp->name;
}

sg_server_t *sg_nsp_server(const sg_nsp_t *nsp)
{
    return nsp->srv;
}

static sg_handler_t *append(sg_handler_t **list, void *ud)
{
    sg_handler_t *h = sg_calloc(1, sizeof(*h));
    h->ud = ud;
    while (*list)
        list = &(*list)->next;
    *list = h;
    return h;
}

void sg_nsp_use(sg_nsp_t *nsp, sg_middleware_cb cb, void *ud)
{
    append(&nsp->middleware, ud)->cb.mw = cb;
}

void sg_nsp_on_connection(sg_nsp_t *nsp, sg_connection_cb cb, void *ud)
{
    append(&nsp->on_connection, ud)->cb.conn = cb;
}

void sg_nsp_on_disconnect(sg_nsp_t *nsp, sg_disconnect_cb cb, void *ud)
{
    append(&nsp->on_disconnect, ud)->cb.disc = cb;
}

void sg_nsp_on(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud)
{
    sg_handler_t *h = append(&nsp->events, ud);
    h->cb.ev = cb;
    h->event = sg_strdup(event);
    if (!strcmp(event, "*"))
        nsp->any = h;
    else
        sg_map_put(nsp->event_map, h->event, strlen(h->event), h);
}

size_t sg_nsp_socket_count(const sg_nsp_t *nsp)
{
    return sg_adapter_socket_count(nsp->adapter);
}

static void add_room_name(const char *room, size_t len, void *ud)
{
    json_array_append_new(ud, json_stringn(room, len));
}

json_t *sg_nsp_all_rooms(const sg_nsp_t *nsp)
{
    json_t *a = json_array();
    sg_adapter_all_rooms(nsp->adapter, add_room_name, a);
    return a;
}

void sg_nsp_on_server_event(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud)
{
    sg_handler_t *h = append(&nsp->server_events, ud);
    h->cb.ev = cb;
    h->event = sg_strdup(event);
}

size_t sg_nsp_room_size(const sg_nsp_t *nsp, const char *room)
{
    return sg_adapter_room_size(nsp->adapter, room, strlen(room));
}

size_t sg_nsp_room_size_n(const sg_nsp_t *nsp, const char *room, size_t len)
{
    return sg_adapter_room_size(nsp->adapter, room, len);
}

