/* app_testkit_cluster.c - testkit's handlers for cluster-wide operations
 * (fetchSockets, allRooms, socketsJoin/Leave, disconnectSockets, broadcasts
 * with acks, serverSideEmit) and the legacy socket.io-redis 5.x names. Each
 * takes its targets from the client: for tests only (see app_testkit.c). */
#include <string.h>

#include "apps_internal.h"

/* ---- cluster: server-side events and cluster-wide operations ---- */

/* Server-side event "ping" from another node: answer "pong" when the sender
 * wants an ack, otherwise serverSideEmit("pong", ...args) to the cluster. */
static void on_server_ping(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                           void *ud)
{
    if (ack)
        sg_app__ack1(ack, json_string("pong"));
    else
        sg_nsp_server_side_emit(ud, "pong", args, NULL, NULL);
}

/* {rooms:[..], except:[..]} from a client into a broadcast operator. */
static sg_bcast_t *bcast_of(sg_nsp_t *nsp, const json_t *o)
{
    sg_bcast_t *b = sg_bcast_new(nsp);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "rooms"), i, v) if (json_is_string(v))
        sg_bcast_to_n(b, json_string_value(v), json_string_length(v));
    json_array_foreach(json_object_get(o, "except"), i, v) if (json_is_string(v))
        sg_bcast_except_n(b, json_string_value(v), json_string_length(v));
    return b;
}

static void on_cluster_result(int err, const char *msg, json_t *result, void *ud)
{
    sg_ack_t *ack = ud;
    sg_app__ack1(ack, json_pack("{s:s?,s:O?}", "err", err ? (msg ? msg : sg_strerror(err)) : NULL,
                       "result", result));
}

static void on_cluster_fetch(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    if (!ack)
        return;
    sg_bcast_t *b = bcast_of(sg_socket_nsp(s), sg_data_get(args, 0));
    sg_ack_keep(ack);
    if (sg_bcast_fetch_sockets_cluster(b, on_cluster_result, ack) != 0)
        sg_app__ack1(ack, json_pack("{s:s}", "err", "cluster unreachable"));
}

static void on_cluster_rooms(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    if (!ack)
        return;
    sg_ack_keep(ack);
    if (sg_nsp_all_rooms_cluster(sg_socket_nsp(s), on_cluster_result, ack) != 0)
        sg_app__ack1(ack, json_pack("{s:s}", "err", "cluster unreachable"));
}

/* {rooms, except, join | leave | disconnect(close)} */
static void on_cluster_op(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                          void *ud)
{
    const json_t *o = sg_data_get(args, 0);
    sg_bcast_t *b = bcast_of(sg_socket_nsp(s), o);
    const json_t *join = json_object_get(o, "join"), *leave = json_object_get(o, "leave");
    if (json_is_string(join))
        sg_bcast_sockets_join_n(b, json_string_value(join), json_string_length(join));
    else if (json_is_string(leave))
        sg_bcast_sockets_leave_n(b, json_string_value(leave), json_string_length(leave));
    else
        sg_bcast_disconnect_sockets(b, json_is_true(json_object_get(o, "close")));
    sg_app__ack1(ack, json_true());
}

/* {err, responses} with binary answers kept binary */
static void on_bcast_emit_acked(int err, sg_data_t **responses, size_t n, void *ud)
{
    sg_data_t *d = sg_data_new();
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, sg_data_import(d, responses[i], sg_data_get(responses[i], 0)));
    sg_data_push(d, json_pack("{s:s?,s:o}", "err", err ? sg_strerror(err) : NULL, "responses",
                              list));
    sg_ack_send(ud, d);
    sg_data_free(d);
}

/* io.to(rooms).except(except).emit(event, ...rest) */
static void on_cluster_emit(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                            void *ud)
{
    const json_t *o = sg_data_get(args, 0);
    const char *event = json_string_value(json_object_get(o, "event"));
    if (!event)
        return;
    sg_bcast_t *b = bcast_of(sg_socket_nsp(s), o);
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 1);
    json_t *t = json_object_get(o, "ackTimeout");
    if (t && ack) {
        /* io.to(..).timeout(t).emit(event, ...rest, cb): ack {err, responses} */
        json_int_t ms = json_is_integer(t) ? json_integer_value(t) : 0;
        if (ms < 1 || ms > 60000) {
            sg_bcast_free(b);
            sg_app__ack1(ack, json_pack("{s:s,s:[]}", "err", "invalid timeout", "responses"));
        } else {
            sg_bcast_timeout(b, (unsigned)ms);
            sg_bcast_emit_ack(b, event, d, on_bcast_emit_acked, sg_ack_keep(ack));
        }
    } else {
        sg_app__ack1(ack, json_integer(sg_bcast_emit(b, event, d)));
    }
    sg_data_free(d);
}

static void on_sse_acked(int err, sg_data_t **responses, size_t n, void *ud)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(list, sg_data_get(responses[i], 0));
    sg_app__ack1(ud, json_pack("{s:s?,s:o}", "err", err ? sg_strerror(err) : NULL, "responses", list));
}

/* serverSideEmit({event, ack}, ...args) */
static void on_cluster_server_emit(sg_socket_t *s, const char *ev, sg_data_t *args,
                                   sg_ack_t *ack, void *ud)
{
    const json_t *o = sg_data_get(args, 0);
    const char *event = json_string_value(json_object_get(o, "event"));
    if (!event || !ack)
        return;
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 1);
    int want = json_is_true(json_object_get(o, "ack"));
    if (want)
        sg_ack_keep(ack);
    int rc = sg_nsp_server_side_emit(sg_socket_nsp(s), event, d, want ? on_sse_acked : NULL,
                                     ack);
    sg_data_free(d);
    if (rc != 0)
        sg_app__ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
    else if (!want)
        sg_app__ack1(ack, json_pack("{s:n}", "err"));
}

static void on_cluster_set_data(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                void *ud)
{
    json_t *v = sg_data_get(args, 0);
    if (json_is_object(v))
        json_object_update(sg_socket_data_json(s), v);
    sg_app__ack1(ack, json_true());
}

static void on_cluster_state(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    sg_app__ack1(ack, json_string(sg_server_cluster_state(sg_nsp_server(sg_socket_nsp(s)))));
}

/* ---- cluster: the legacy (socket.io-redis 5.x) names ---- */

static void on_legacy_done(int err, void *ud)
{
    sg_app__ack1(ud, json_pack("{s:s?}", "err", err ? sg_strerror(err) : NULL));
}

/* {op: "join" | "leave" | "disconnect", id, room, close} */
static void on_legacy_remote(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    const json_t *o = sg_data_get(args, 0);
    const char *op = json_string_value(json_object_get(o, "op"));
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *room = json_string_value(json_object_get(o, "room"));
    sg_nsp_t *nsp = sg_socket_nsp(s);
    if (!op || !ack)
        return;
    sg_ack_keep(ack);
    if (!strcmp(op, "join"))
        sg_nsp_remote_join(nsp, id, room, on_legacy_done, ack);
    else if (!strcmp(op, "leave"))
        sg_nsp_remote_leave(nsp, id, room, on_legacy_done, ack);
    else
        sg_nsp_remote_disconnect(nsp, id, json_is_true(json_object_get(o, "close")),
                                 on_legacy_done, ack);
}

static void on_legacy_client_rooms(sg_socket_t *s, const char *ev, sg_data_t *args,
                                   sg_ack_t *ack, void *ud)
{
    if (!ack)
        return;
    sg_ack_keep(ack);
    int rc = sg_nsp_client_rooms(sg_socket_nsp(s), json_string_value(sg_data_get(args, 0)),
                                 on_cluster_result, ack);
    if (rc != 0)
        sg_app__ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
}

static void on_legacy_custom_request(sg_socket_t *s, const char *ev, sg_data_t *args,
                                     sg_ack_t *ack, void *ud)
{
    if (!ack)
        return;
    sg_ack_keep(ack);
    int rc = sg_nsp_custom_request(sg_socket_nsp(s), args, on_bcast_emit_acked, ack);
    if (rc != 0)
        sg_app__ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
}

/* customHook: {port, sockets, data}. */
static void on_custom_hook(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                           void *ud)
{
    sg_nsp_t *nsp = ud;
    if (!ack)
        return;
    sg_data_t *d = sg_data_new();
    json_t *data = sg_data_get(args, 0);
    sg_data_push(d, json_pack("{s:i,s:I,s:o}", "port", sg_server_config(sg_nsp_server(nsp))->port,
                              "sockets", (json_int_t)sg_nsp_socket_count(nsp), "data",
                              data ? sg_data_import(d, args, data) : json_null()));
    sg_ack_send(ack, d);
    sg_data_free(d);
}

void sg_app__testkit_cluster(sg_nsp_t *nsp)
{
    static const struct {
        const char *event;
        sg_event_cb cb;
    } handlers[] = {
        {"cluster fetch", on_cluster_fetch},
        {"cluster rooms", on_cluster_rooms},
        {"cluster op", on_cluster_op},
        {"cluster emit", on_cluster_emit},
        {"cluster server emit", on_cluster_server_emit},
        {"cluster set data", on_cluster_set_data},
        {"cluster state", on_cluster_state},
        {"legacy remote", on_legacy_remote},
        {"legacy client rooms", on_legacy_client_rooms},
        {"legacy custom request", on_legacy_custom_request},
    };
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        sg_nsp_on(nsp, handlers[i].event, handlers[i].cb, NULL);
    sg_nsp_on_server_event(nsp, "ping", on_server_ping, nsp);
    sg_nsp_custom_hook(nsp, on_custom_hook, nsp);
}
