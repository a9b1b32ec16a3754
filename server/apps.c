/* apps.c - the built-in applications, written against siogate.h only:
 * "chat" (the demo page plus the handlers the integration tests use) and
 * "conformance" (what the official protocol test suites expect). */
#include <stdlib.h>
#include <string.h>

#include "siogate.h"

/* ---- helpers ---- */

static sg_data_t *data1(json_t *v)
{
    sg_data_t *d = sg_data_new();
    sg_data_push(d, v);
    return d;
}

static void emit1(sg_socket_t *s, const char *event, json_t *v)
{
    sg_data_t *d = data1(v);
    sg_socket_emit(s, event, d);
    sg_data_free(d);
}

static void bcast1(sg_bcast_t *b, const char *event, json_t *v)
{
    sg_data_t *d = data1(v);
    sg_bcast_emit(b, event, d);
    sg_data_free(d);
}

static void ack1(sg_ack_t *ack, json_t *v)
{
    if (!ack) {
        json_decref(v);
        return;
    }
    sg_data_t *d = data1(v);
    sg_ack_send(ack, d);
    sg_data_free(d);
}

/* ---- chat: generic handlers ---- */

typedef struct {
    char *username;
    char *room;
} chat_user_t;

static void chat_user_free(void *p)
{
    chat_user_t *u = p;
    free(u->username);
    free(u->room);
    free(u);
}

static void on_join(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    json_t *room = sg_data_get(args, 0);
    if (json_is_string(room))
        sg_socket_join(s, json_string_value(room));
    ack1(ack, json_true());
}

static void on_leave(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    json_t *room = sg_data_get(args, 0);
    if (json_is_string(room))
        sg_socket_leave(s, json_string_value(room));
    ack1(ack, json_true());
}

static void on_echo(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    if (ack)
        sg_ack_send(ack, args);
}

static void on_broadcast(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                         void *ud)
{
    json_t *room = sg_data_get(args, 0);
    sg_bcast_t *b = sg_bcast_from(s);
    if (json_is_string(room))
        sg_bcast_to(b, json_string_value(room));
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 1);
    sg_bcast_emit(b, "message", d);
    sg_data_free(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void on_rooms(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    json_t *rooms = sg_socket_rooms(s);
    size_t n = json_array_size(rooms);
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(rooms, i));
    qsort(v, n, sizeof(*v), cmp_str);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sorted, v[i]);
    free(v);
    json_decref(rooms);
    ack1(ack, sorted);
}

static void on_volatile(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_socket_emit_volatile(s, "message", args);
}

static void on_handshake(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                         void *ud)
{
    ack1(ack, json_incref(sg_socket_handshake(s)));
}

static void on_disconnect_me(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    sg_socket_disconnect(s, 0);
}

/* Reply {err, args|responses} keeping binary values binary. */
static void emit_result(sg_socket_t *s, const char *event, const char *key, int err,
                        sg_data_t **srcs, size_t n, int first_only)
{
    sg_data_t *d = sg_data_new();
    json_t *list = json_array();
    for (size_t k = 0; k < n; k++) {
        size_t count = first_only ? 1 : sg_data_count(srcs[k]);
        for (size_t i = 0; i < count; i++)
            json_array_append_new(list, sg_data_import(d, srcs[k], sg_data_get(srcs[k], i)));
    }
    json_t *res = json_object();
    json_object_set_new(res, "err", err ? json_string("timeout") : json_null());
    json_object_set_new(res, key, list);
    sg_data_push(d, res);
    if (sg_socket_connected(s))
        sg_socket_emit(s, event, d);
    sg_data_free(d);
}

static void on_request_acked(sg_socket_t *s, int err, sg_data_t *args, void *ud)
{
    if (err != SG_ESTATE)
        emit_result(s, "ack result", "args", err, &args, err ? 0 : 1, 0);
    sg_socket_unref(s);
}

static void on_emit_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    json_t *t = sg_data_get(args, 0);
    unsigned ms = json_is_number(t) ? (unsigned)json_number_value(t) : 1000;
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 1);
    /* The reference keeps the socket alive until the ack or the timeout. */
    if (sg_socket_emit_ack(sg_socket_ref(s), "request", d, ms, on_request_acked, NULL) != 0)
        sg_socket_unref(s);
    sg_data_free(d);
}

static void on_bcast_acked(int err, sg_data_t **responses, size_t n, void *ud)
{
    sg_socket_t *s = ud;
    emit_result(s, "broadcast ack result", "responses", err, responses, n, 1);
    sg_socket_unref(s);
}

static void on_broadcast_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                  void *ud)
{
    json_t *t = sg_data_get(args, 0);
    unsigned ms = json_is_number(t) ? (unsigned)json_number_value(t) : 1000;
    sg_bcast_t *b = sg_bcast_timeout(sg_bcast_new(sg_socket_nsp(s)), ms);
    sg_bcast_emit_ack(b, "request", NULL, on_bcast_acked, sg_socket_ref(s));
}

/* ---- cluster: server-side events and cluster-wide operations ---- */

/* Server-side event "ping" from another node: answer "pong" when the sender
 * wants an ack, otherwise serverSideEmit("pong", ...args) to the cluster. */
static void on_server_ping(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                           void *ud)
{
    if (ack)
        ack1(ack, json_string("pong"));
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
        sg_bcast_to(b, json_string_value(v));
    json_array_foreach(json_object_get(o, "except"), i, v) if (json_is_string(v))
        sg_bcast_except(b, json_string_value(v));
    return b;
}

static void on_cluster_result(int err, const char *msg, json_t *result, void *ud)
{
    sg_ack_t *ack = ud;
    ack1(ack, json_pack("{s:s?,s:O?}", "err", err ? (msg ? msg : sg_strerror(err)) : NULL,
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
        ack1(ack, json_pack("{s:s}", "err", "cluster unreachable"));
}

static void on_cluster_rooms(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    if (!ack)
        return;
    sg_ack_keep(ack);
    if (sg_nsp_all_rooms_cluster(sg_socket_nsp(s), on_cluster_result, ack) != 0)
        ack1(ack, json_pack("{s:s}", "err", "cluster unreachable"));
}

/* {rooms, except, join | leave | disconnect(close)} */
static void on_cluster_op(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                          void *ud)
{
    const json_t *o = sg_data_get(args, 0);
    sg_bcast_t *b = bcast_of(sg_socket_nsp(s), o);
    const char *join = json_string_value(json_object_get(o, "join"));
    const char *leave = json_string_value(json_object_get(o, "leave"));
    if (join)
        sg_bcast_sockets_join(b, join);
    else if (leave)
        sg_bcast_sockets_leave(b, leave);
    else
        sg_bcast_disconnect_sockets(b, json_is_true(json_object_get(o, "close")));
    ack1(ack, json_true());
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
    if (json_is_integer(t) && ack) {
        /* io.to(..).timeout(t).emit(event, ...rest, cb): ack {err, responses} */
        sg_bcast_timeout(b, (unsigned)json_integer_value(t));
        sg_bcast_emit_ack(b, event, d, on_bcast_emit_acked, sg_ack_keep(ack));
    } else {
        ack1(ack, json_integer(sg_bcast_emit(b, event, d)));
    }
    sg_data_free(d);
}

static void on_sse_acked(int err, sg_data_t **responses, size_t n, void *ud)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(list, sg_data_get(responses[i], 0));
    ack1(ud, json_pack("{s:s?,s:o}", "err", err ? sg_strerror(err) : NULL, "responses", list));
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
        ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
    else if (!want)
        ack1(ack, json_pack("{s:n}", "err"));
}

static void on_cluster_set_data(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                void *ud)
{
    json_t *v = sg_data_get(args, 0);
    if (json_is_object(v))
        json_object_update(sg_socket_data_json(s), v);
    ack1(ack, json_true());
}

static void on_cluster_state(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    ack1(ack, json_string(sg_server_cluster_state(sg_nsp_server(sg_socket_nsp(s)))));
}

/* ---- cluster: the legacy (socket.io-redis 5.x) names ---- */

static void on_legacy_done(int err, void *ud)
{
    ack1(ud, json_pack("{s:s?}", "err", err ? sg_strerror(err) : NULL));
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
        ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
}

static void on_legacy_custom_request(sg_socket_t *s, const char *ev, sg_data_t *args,
                                     sg_ack_t *ack, void *ud)
{
    if (!ack)
        return;
    sg_ack_keep(ack);
    int rc = sg_nsp_custom_request(sg_socket_nsp(s), args, on_bcast_emit_acked, ack);
    if (rc != 0)
        ack1(ack, json_pack("{s:s}", "err", sg_strerror(rc)));
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

/* ---- chat: the page's protocol ---- */

static void user_count(sg_nsp_t *nsp, const char *room)
{
    json_t *v = json_pack("{s:s,s:I}", "room", room, "count",
                          (json_int_t)sg_nsp_room_size(nsp, room));
    bcast1(sg_bcast_to(sg_bcast_new(nsp), room), "user count", v);
}

static void on_add_user(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    json_t *name = sg_data_get(args, 0), *room = sg_data_get(args, 1);
    chat_user_t *u = sg_socket_get_data(s);
    if (!u) {
        if (!json_is_string(name) || !json_string_length(name))
            return;
        u = calloc(1, sizeof(*u));
        u->username = strdup(json_string_value(name));
        u->room = strdup(json_is_string(room) && json_string_length(room)
                             ? json_string_value(room)
                             : "lobby");
        sg_socket_set_data(s, u, chat_user_free);
        sg_socket_join(s, u->room);
        bcast1(sg_bcast_to(sg_bcast_from(s), u->room), "user joined",
               json_pack("{s:s}", "username", u->username));
        user_count(sg_socket_nsp(s), u->room);
    }
    ack1(ack, json_pack("{s:s,s:I}", "room", u->room, "count",
                        (json_int_t)sg_nsp_room_size(sg_socket_nsp(s), u->room)));
}

static void on_new_message(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                           void *ud)
{
    chat_user_t *u = sg_socket_get_data(s);
    json_t *text = sg_data_get(args, 0);
    if (!u || !json_is_string(text))
        return;
    bcast1(sg_bcast_to(sg_bcast_from(s), u->room), "new message",
           json_pack("{s:s,s:O}", "username", u->username, "message", text));
}

static void on_typing(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    chat_user_t *u = sg_socket_get_data(s);
    if (!u)
        return;
    bcast1(sg_bcast_to(sg_bcast_from(s), u->room), ev,
           json_pack("{s:s}", "username", u->username));
}

static void on_chat_disconnect(sg_socket_t *s, const char *reason, void *ud)
{
    sg_nsp_t *nsp = sg_socket_nsp(s);
    bcast1(sg_bcast_to(sg_bcast_new(nsp), "observers"), "peer disconnect",
           json_pack("{s:s,s:s}", "id", sg_socket_id(s), "reason", reason));
    chat_user_t *u = sg_socket_get_data(s);
    if (u) {
        bcast1(sg_bcast_to(sg_bcast_new(nsp), u->room), "user left",
               json_pack("{s:s}", "username", u->username));
        user_count(nsp, u->room);
    }
}

static void auth_middleware(sg_socket_t *s, const json_t *auth, void *ud)
{
    json_t *token = json_object_get(auth, "token");
    if (json_is_string(token) && !strcmp(json_string_value(token), "secret"))
        sg_socket_next(s, NULL, NULL);
    else
        sg_socket_next(s, "unauthorized", json_pack("{s:s}", "reason", "bad token"));
}

static void greet_auth(sg_socket_t *s, void *ud)
{
    json_t *hs = sg_socket_handshake(s);
    emit1(s, "auth", json_incref(json_object_get(hs, "auth")));
}

static void chat_install_nsp(sg_nsp_t *nsp, void *ud)
{
    static const struct {
        const char *event;
        sg_event_cb cb;
    } handlers[] = {
        {"join", on_join},
        {"leave", on_leave},
        {"echo", on_echo},
        {"broadcast", on_broadcast},
        {"rooms", on_rooms},
        {"volatile", on_volatile},
        {"handshake", on_handshake},
        {"disconnect me", on_disconnect_me},
        {"emit with ack", on_emit_with_ack},
        {"broadcast with ack", on_broadcast_with_ack},
        {"add user", on_add_user},
        {"new message", on_new_message},
        {"typing", on_typing},
        {"stop typing", on_typing},
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
    sg_nsp_on_disconnect(nsp, on_chat_disconnect, NULL);
}

static int install_chat(sg_server_t *srv)
{
    sg_server_of(srv, "/custom");
    sg_nsp_t *auth = sg_server_of(srv, "/auth");
    sg_nsp_use(auth, auth_middleware, NULL);
    sg_nsp_on_connection(auth, greet_auth, NULL);
    /* Every namespace known now (configured ones included) gets the handlers. */
    sg_server_foreach_nsp(srv, chat_install_nsp, NULL);
    return 0;
}

/* ---- conformance ---- */

static void conf_on_connection(sg_socket_t *s, void *ud)
{
    greet_auth(s, ud);
}

static void conf_message(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                         void *ud)
{
    sg_socket_emit(s, "message-back", args);
}

static void conf_message_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                  void *ud)
{
    if (ack)
        sg_ack_send(ack, args);
}

static int install_conformance(sg_server_t *srv)
{
    sg_nsp_t *root = sg_server_of(srv, "/");
    sg_nsp_on_connection(root, conf_on_connection, NULL);
    sg_nsp_on(root, "message", conf_message, NULL);
    sg_nsp_on(root, "message-with-ack", conf_message_with_ack, NULL);
    sg_nsp_on_connection(sg_server_of(srv, "/custom"), conf_on_connection, NULL);
    sg_server_enable_eio_echo(srv, "/engine.io/");
    return 0;
}

int sg_apps_install(sg_server_t *srv, const char *name)
{
    if (!strcmp(name, "chat"))
        return install_chat(srv);
    if (!strcmp(name, "conformance"))
        return install_conformance(srv);
    if (!strcmp(name, "none"))
        return 0;
    return SG_EINVAL;
}
