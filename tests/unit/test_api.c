/* test_api.c - the embedding API (siogate.h) as an application uses it:
 * rooms, the broadcast operator and its flags, local fetchSockets,
 * namespaces, and sg_data_t with binary values. A never-started server
 * with a fake transport plays the network (fake_server.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fake_server.h"
#include "util.h"

static sg_socket_t *sock(sg_session_t *s)
{
    return sg_client_of(s)->sockets;
}

/* Everything queued for s, joined with '|'. */
static void drain(sg_session_t *s, char *out, size_t len)
{
    out[0] = '\0';
    while (!sg_outq_empty(&s->q)) {
        char *t = fake_next(s);
        if (out[0])
            strncat(out, "|", len - strlen(out) - 1);
        strncat(out, t, len - strlen(out) - 1);
        sg_free(t);
    }
}

static void test_rooms(void **state)
{
    env_t *v = env_new(100);
    sg_socket_t *s = sock(fake_client(v));
    sg_nsp_t *nsp = sg_socket_nsp(s);
    assert_string_equal(sg_nsp_name(nsp), "/");
    assert_int_equal(sg_socket_join(s, "a"), 0);
    assert_int_equal(sg_socket_join(s, "b"), 0);
    assert_true(sg_socket_in_room(s, "a"));
    assert_true(sg_socket_in_room(s, sg_socket_id(s))); /* its own id room */
    assert_false(sg_socket_in_room(s, "c"));
    assert_int_equal(sg_nsp_room_size(nsp, "a"), 1);
    json_t *rooms = sg_socket_rooms(s);
    assert_int_equal(json_array_size(rooms), 3);
    assert_string_equal(json_string_value(json_array_get(rooms, 0)), sg_socket_id(s));
    json_decref(rooms);
    assert_int_equal(sg_socket_leave(s, "a"), 0);
    assert_false(sg_socket_in_room(s, "a"));
    json_t *all = sg_nsp_all_rooms(nsp);
    assert_int_equal(json_array_size(all), 2); /* its id, "b" */
    json_decref(all);
    /* a socket that is gone: harmless no-ops */
    sg_socket_ref(s);
    sg_socket_disconnect(s, 0);
    assert_int_equal(sg_socket_join(s, "x"), SG_ESTATE);
    assert_int_equal(sg_socket_leave(s, "b"), SG_ESTATE);
    assert_false(sg_socket_in_room(s, "b"));
    sg_socket_unref(s);
    env_free(v);
}

static void count_one(sg_socket_t *s, void *ud)
{
    (*(int *)ud)++;
}

static void test_broadcast_operator(void **state)
{
    env_t *v = env_new(100);
    sg_session_t *a = fake_client(v), *b = fake_client(v), *c = fake_client(v);
    sg_nsp_t *nsp = sg_socket_nsp(sock(a));
    sg_socket_join(sock(a), "r");
    sg_socket_join(sock(b), "r");
    char out[512];
    /* to a room except one socket */
    sg_data_t *d = sg_data_from_json(json_pack("[i]", 1));
    sg_bcast_t *bc = sg_bcast_except(sg_bcast_to(sg_bcast_new(nsp), "r"), sg_socket_id(sock(b)));
    assert_int_equal(sg_bcast_emit(bc, "ev", d), 0);
    drain(a, out, sizeof out);
    assert_string_equal(out, "42[\"ev\",1]");
    drain(b, out, sizeof out);
    assert_string_equal(out, "");
    drain(c, out, sizeof out);
    assert_string_equal(out, "");
    /* volatile: goes to writable transports (the fake one always is);
     * compress is accepted; local stays on this node */
    bc = sg_bcast_compress(sg_bcast_local(sg_bcast_volatile(sg_bcast_new(nsp))), 1);
    assert_int_equal(sg_bcast_emit(bc, "v", NULL), 0);
    drain(c, out, sizeof out);
    assert_string_equal(out, "42[\"v\"]");
    drain(a, out, sizeof out);
    drain(b, out, sizeof out);
    /* socketsJoin / socketsLeave on the matches */
    sg_bcast_sockets_join(sg_bcast_to(sg_bcast_new(nsp), "r"), "s");
    assert_true(sg_socket_in_room(sock(a), "s"));
    assert_false(sg_socket_in_room(sock(c), "s"));
    sg_bcast_sockets_leave(sg_bcast_new(nsp), "s");
    assert_false(sg_socket_in_room(sock(a), "s"));
    /* local fetchSockets */
    int n = 0;
    assert_int_equal(sg_bcast_fetch_sockets(sg_bcast_to(sg_bcast_new(nsp), "r"), count_one, &n),
                     2);
    assert_int_equal(n, 2);
    /* reserved names are refused, and the operator is consumed anyway */
    assert_int_equal(sg_bcast_emit(sg_bcast_new(nsp), "disconnect", d), SG_EINVAL);
    sg_data_free(d);
    env_free(v);
}

static void test_data_binary(void **state)
{
    env_t *v = env_new(100);
    sg_session_t *a = fake_client(v);
    sg_data_t *d = sg_data_new();
    sg_data_push(d, json_string("x"));
    sg_data_push_binary(d, "\x01\x02", 2);
    assert_int_equal(sg_data_count(d), 2);
    const void *p;
    size_t len;
    assert_int_equal(sg_data_binary(d, sg_data_get(d, 1), &p, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "\x01\x02", 2);
    assert_int_equal(sg_data_binary(d, sg_data_get(d, 0), &p, &len), SG_EINVAL);
    /* a binary argument goes out as BINARY_EVENT and its attachment */
    assert_int_equal(sg_socket_emit(sock(a), "bin", d), 0);
    char *t = fake_next(a);
    assert_string_equal(t, "451-[\"bin\",\"x\",{\"_placeholder\":true,\"num\":0}]");
    sg_free(t);
    sg_buf_t *att = sg_outq_pop(&a->q);
    assert_true(att->flags & SG_BUF_BINARY);
    assert_memory_equal(att->data, "\x01\x02", 2);
    sg_buf_unref(att);
    sg_data_free(d);
    /* a non-array becomes empty data */
    d = sg_data_from_json(json_string("not an array"));
    assert_int_equal(sg_data_count(d), 0);
    sg_data_free(d);
    env_free(v);
}

static int acked;

static void on_event(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    /* keep the ack, then drop it without answering: sg_ack_free */
    sg_ack_free(sg_ack_keep(ack));
    acked++;
}

static void test_ack_free_unanswered(void **state)
{
    env_t *v = env_new(100);
    sg_session_t *a = fake_client(v);
    sg_nsp_on(sg_socket_nsp(sock(a)), "q", on_event, NULL);
    fake_deliver(a, "421[\"q\"]");
    assert_int_equal(acked, 1);
    assert_true(sg_outq_empty(&a->q)); /* no answer went out */
    env_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rooms),
        cmocka_unit_test(test_broadcast_operator),
        cmocka_unit_test(test_data_binary),
        cmocka_unit_test(test_ack_free_unanswered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
