/* test_ackgroup.c - acknowledgements through the Socket.IO layer: emits
 * with acks to one socket, broadcasts with acks to many (ackgroup.c), their
 * timeouts, maxPendingAcks, and shutdown answering what is still pending.
 * A server is created but never started: its sessions run on a fake
 * transport that keeps what is queued, and the test plays the clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"

/* The ack id of the EVENT queued for s: "42<id>[...]". */
static long next_ack_id(sg_session_t *s, const char *event)
{
    char *t = fake_next(s);
    assert_memory_equal(t, "42", 2);
    char *end;
    long id = strtol(t + 2, &end, 10);
    assert_true(end > t + 2);
    assert_non_null(strstr(end, event));
    sg_free(t);
    return id;
}

static void answer(sg_session_t *s, long id, const char *json)
{
    char text[256];
    snprintf(text, sizeof text, "43%ld%s", id, json);
    fake_deliver(s, text);
}


typedef struct {
    int calls, err;
    size_t n;
    char first[64];
} result_t;

static void on_group(int err, sg_data_t **responses, size_t n, void *ud)
{
    result_t *r = ud;
    r->calls++;
    r->err = err;
    r->n = n;
    if (n) {
        json_t *v = sg_data_get(responses[0], 0);
        snprintf(r->first, sizeof r->first, "%s", json_is_string(v) ? json_string_value(v) : "?");
    }
}

static void run_until_called(env_t *v, const result_t *r)
{
    for (int i = 0; i < 1000 && !r->calls; i++)
        uv_run(v->srv->loop, UV_RUN_ONCE);
    assert_int_equal(r->calls, 1);
}

static void test_broadcast_with_acks(void **state)
{
    env_t *v = env_new(1000);
    sg_session_t *a = fake_client(v), *b = fake_client(v);
    result_t r = {0};
    sg_nsp_t *nsp = sg_server_of(v->srv, "/");
    assert_int_equal(sg_bcast_emit_ack(sg_bcast_new(nsp), "req", NULL, on_group, &r), 0);
    long ida = next_ack_id(a, "\"req\""), idb = next_ack_id(b, "\"req\"");
    assert_int_equal(ida, idb); /* one id for every recipient, as Node */
    assert_int_equal(v->srv->stats.acks_pending, 2);
    answer(a, ida, "[\"from a\"]");
    assert_int_equal(r.calls, 0);
    answer(a, ida, "[\"again\"]"); /* a second answer is dropped */
    answer(b, 999, "[\"unknown id\"]");
    assert_int_equal(r.calls, 0);
    answer(b, idb, "[\"from b\"]");
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.first, "from a");
    assert_int_equal(v->srv->stats.acks_pending, 0);
    env_free(v);
}

static void test_broadcast_timeout(void **state)
{
    env_t *v = env_new(1000);
    sg_session_t *a = fake_client(v);
    fake_client(v); /* never answers */
    result_t r = {0};
    sg_nsp_t *nsp = sg_server_of(v->srv, "/");
    sg_bcast_t *bc = sg_bcast_timeout(sg_bcast_new(nsp), 20);
    assert_int_equal(sg_bcast_emit_ack(bc, "req", NULL, on_group, &r), 0);
    answer(a, next_ack_id(a, "req"), "[\"a\"]");
    run_until_called(v, &r);
    assert_int_equal(r.err, SG_ETIMEOUT);
    assert_int_equal(r.n, 1);
    /* the silent member's pending ack goes with the group's timeout too */
    for (int i = 0; i < 1000 && v->srv->stats.acks_pending; i++)
        uv_run(v->srv->loop, UV_RUN_ONCE);
    assert_int_equal(v->srv->stats.acks_pending, 0);
    env_free(v);
}

typedef struct {
    int calls, err;
} one_t;

static void on_one(sg_socket_t *s, int err, sg_data_t *args, void *ud)
{
    one_t *o = ud;
    o->calls++;
    o->err = err;
}

static void test_pending_cap_and_socket_close(void **state)
{
    env_t *v = env_new(2);
    sg_session_t *a = fake_client(v);
    sg_socket_t *s = sg_client_of(a)->sockets;
    one_t o1 = {0}, o2 = {0}, o3 = {0};
    assert_int_equal(sg_socket_emit_ack(s, "q", NULL, 0, on_one, &o1), 0);
    assert_int_equal(sg_socket_emit_ack(s, "q", NULL, 0, on_one, &o2), 0);
    /* maxPendingAcks: refused, nothing sent */
    assert_int_equal(sg_socket_emit_ack(s, "q", NULL, 0, on_one, &o3), SG_ETOOBIG);
    assert_int_equal(a->q.count, 2);
    /* a broadcast with acks leaves the full socket out */
    result_t r = {0};
    sg_bcast_emit_ack(sg_bcast_new(sg_server_of(v->srv, "/")), "req", NULL, on_group, &r);
    assert_int_equal(a->q.count, 2);
    assert_int_equal(r.calls, 1); /* nobody to wait for */
    /* the socket goes: its pending acks fail with SG_ESTATE */
    sg_session_close(a, "transport close", 0);
    assert_int_equal(o1.calls, 1);
    assert_int_equal(o1.err, SG_ESTATE);
    assert_int_equal(o2.err, SG_ESTATE);
    assert_int_equal(o3.calls, 0);
    env_free(v);
}

static void test_shutdown_answers_pending(void **state)
{
    env_t *v = env_new(1000);
    fake_client(v);
    result_t r = {0};
    sg_bcast_t *bc = sg_bcast_timeout(sg_bcast_new(sg_server_of(v->srv, "/")), 60000);
    assert_int_equal(sg_bcast_emit_ack(bc, "req", NULL, on_group, &r), 0);
    sg_server_stop(v->srv);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, SG_ESTATE);
    /* nothing new may start now */
    result_t r2 = {0};
    assert_int_equal(sg_bcast_emit_ack(sg_bcast_new(sg_server_of(v->srv, "/")), "x", NULL,
                                       on_group, &r2),
                     SG_ESTATE);
    assert_int_equal(r2.calls, 0);
    env_free(v);
}

static void test_timeouts_capped(void **state)
{
    env_t *v = env_new(1000);
    sg_session_t *a = fake_client(v);
    sg_socket_t *s = sg_client_of(a)->sockets;
    one_t o = {0};
    /* (unsigned)-1, as a negative timeout would arrive: capped to an hour */
    assert_int_equal(sg_socket_emit_ack(s, "q", NULL, (unsigned)-1, on_one, &o), 0);
    const sg_theap_t *h = &v->srv->timers.heap;
    assert_true(h->n >= 2); /* the session's heartbeat and the ack */
    for (uint32_t i = 0; i < h->n; i++)
        assert_true(h->v[i]->due <= uv_now(v->srv->loop) + SG_TIMEOUT_MAX);
    env_free(v);
    assert_int_equal(o.err, SG_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_with_acks),
        cmocka_unit_test(test_broadcast_timeout),
        cmocka_unit_test(test_pending_cap_and_socket_close),
        cmocka_unit_test(test_shutdown_answers_pending),
        cmocka_unit_test(test_timeouts_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
