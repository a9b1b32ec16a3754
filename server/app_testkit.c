/* app_testkit.c - the handlers the integration tests drive (the contract is
 * the header of tests/integration/ref-server.js, which implements the same
 * app on Node's socket.io). Any client of this app can make the server act
 * on every socket of the cluster: it is for tests, never for production, and
 * says so in the log at start-up.
 *
 * Namespaces: "/", "/custom", "/auth" (token middleware) and the configured
 * ones, all with the same handlers. Client-supplied timeouts must be
 * integers in 1..TESTKIT_TIMEOUT_MAX ms. */
#include <stdlib.h>
#include <string.h>

#include "apps_internal.h"

#define TESTKIT_TIMEOUT_MAX 60000

/* A client-supplied timeout: an integer in 1..TESTKIT_TIMEOUT_MAX, or 0. */
static unsigned client_timeout(const json_t *t)
{
    if (!json_is_integer(t))
        return 0;
    json_int_t v = json_integer_value(t);
    return v >= 1 && v <= TESTKIT_TIMEOUT_MAX ? (unsigned)v : 0;
}

/* Apply join/leave to a room name or an array of them; 0 if any failed. */
static int each_room(sg_socket_t *s, const json_t *rooms,
                     int (*op)(sg_socket_t *, const char *, size_t))
{
    if (json_is_string(rooms))
        return op(s, json_string_value(rooms), json_string_length(rooms)) == 0;
    size_t i;
    json_t *v;
    int ok = json_is_array(rooms);
    json_array_foreach(rooms, i, v)
    {
        if (!json_is_string(v) || op(s, json_string_value(v), json_string_length(v)) != 0)
            ok = 0;
    }
    return ok;
}

static void on_join(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_app__ack1(ack, json_boolean(each_room(s, sg_data_get(args, 0), sg_socket_join_n)));
}

static void on_leave(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_app__ack1(ack, json_boolean(each_room(s, sg_data_get(args, 0), sg_socket_leave_n)));
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
        sg_bcast_to_n(b, json_string_value(room), json_string_length(room));
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 1);
    sg_bcast_emit(b, "message", d);
    sg_data_free(d);
}

static int cmp_str(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    size_t lx = json_string_length(x), ly = json_string_length(y);
    int c = memcmp(json_string_value(x), json_string_value(y), lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

static void on_rooms(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    json_t *rooms = sg_socket_rooms(s);
    size_t n = json_array_size(rooms);
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(rooms, i));
    qsort(v, n, sizeof(*v), cmp_str);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sorted, v[i]);
    free(v);
    json_decref(rooms);
    sg_app__ack1(ack, sorted);
}

static void on_volatile(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_socket_emit_volatile(s, "message", args);
}

static void on_handshake(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                         void *ud)
{
    sg_app__ack1(ack, json_incref(sg_socket_handshake(s)));
}

/* socket.disconnect(close === true) */
static void on_disconnect_me(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    sg_socket_disconnect(s, json_is_true(sg_data_get(args, 0)));
}

/* Reply {err, args|responses} keeping binary values binary. */
static void emit_result(sg_socket_t *s, const char *event, const char *key, const char *err,
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
    json_object_set_new(res, "err", err ? json_string(err) : json_null());
    json_object_set_new(res, key, list);
    sg_data_push(d, res);
    if (sg_socket_connected(s))
        sg_socket_emit(s, event, d);
    sg_data_free(d);
}

static void on_request_acked(sg_socket_t *s, int err, sg_data_t *args, void *ud)
{
    if (err != SG_ESTATE)
        emit_result(s, "ack result", "args", err ? "timeout" : NULL, &args, err ? 0 : 1, 0);
    sg_socket_unref(s);
}

/* socket.timeout(t).emit("request", ...rest, cb) */
static void on_emit_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                             void *ud)
{
    unsigned ms = client_timeout(sg_data_get(args, 0));
    if (!ms) {
        emit_result(s, "ack result", "args", "invalid timeout", NULL, 0, 0);
        return;
    }
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
    emit_result(s, "broadcast ack result", "responses",
                err == SG_ETIMEOUT ? "timeout" : err ? sg_strerror(err) : NULL, responses, n, 1);
    sg_socket_unref(s);
}

/* io.of(nsp).timeout(t).emit("request", cb) */
static void on_broadcast_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                  void *ud)
{
    unsigned ms = client_timeout(sg_data_get(args, 0));
    if (!ms) {
        emit_result(s, "broadcast ack result", "responses", "invalid timeout", NULL, 0, 1);
        return;
    }
    sg_bcast_t *b = sg_bcast_timeout(sg_bcast_new(sg_socket_nsp(s)), ms);
    sg_socket_ref(s);
    if (sg_bcast_emit_ack(b, "request", NULL, on_bcast_acked, s) != 0)
        sg_socket_unref(s);
}

/* Every disconnect, with its reason, to the room "observers". */
static void on_any_disconnect(sg_socket_t *s, const char *reason, void *ud)
{
    sg_nsp_t *nsp = sg_socket_nsp(s);
    sg_app__bcast1(sg_bcast_to(sg_bcast_new(nsp), "observers"), "peer disconnect",
                   json_pack("{s:s,s:s}", "id", sg_socket_id(s), "reason", reason));
}

static void auth_middleware(sg_socket_t *s, const json_t *auth, void *ud)
{
    json_t *token = json_object_get(auth, "token");
    if (json_is_string(token) && !strcmp(json_string_value(token), "secret"))
        sg_socket_next(s, NULL, NULL);
    else
        sg_socket_next(s, "unauthorized", json_pack("{s:s}", "reason", "bad token"));
}

static void install_nsp(sg_nsp_t *nsp, void *ud)
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
    };
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        sg_nsp_on(nsp, handlers[i].event, handlers[i].cb, NULL);
    sg_nsp_on_disconnect(nsp, on_any_disconnect, NULL);
    sg_app__testkit_cluster(nsp);
}

static int install(sg_server_t *srv)
{
    sg_server_log(srv, SG_LOG_WARN,
                  "app testkit: test handlers that let any client act on every socket of the "
                  "cluster; for tests only, never expose this app");
    sg_server_of(srv, "/custom");
    sg_nsp_t *auth = sg_server_of(srv, "/auth");
    sg_nsp_use(auth, auth_middleware, NULL);
    sg_nsp_on_connection(auth, sg_app__greet_auth, NULL);
    sg_server_foreach_nsp(srv, install_nsp, NULL);
    return 0;
}

const sg_app_def_t sg_app_testkit = {"testkit", NULL, install};
