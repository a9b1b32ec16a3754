/* Unit tests for adapter/requests.c: completion by count and by peers,
 * deadlines on one timer, Node's timeout texts, cancel, references and the
 * table closing. Deadlines are a few milliseconds; the loop runs until the
 * expected callbacks came, never for a fixed time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "json.h"
#include "requests.h"
#include "util.h"

#define MAXCALLS 16

typedef struct call {
    int err;
    char msg[128];
    char results[512];
} call_t;

typedef struct box {
    call_t calls[MAXCALLS];
    int n;
    /* Actions run from inside the callback. */
    sg_requests_t *t;
    sg_request_t *cancel_other;
    int start_from_cb; /* start a request from the callback; its rc lands here */
    int start_rc;
    int free_table;
} box_t;

static void dump(const json_t *v, char *out, size_t cap)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_json_dump(&sb, v, NULL, NULL);
    snprintf(out, cap, "%.*s", (int)sb.len, (const char *)sg_sbuf_data(&sb));
    sg_sbuf_reset(&sb);
}

static void on_done(void *ud, int err, const char *msg, const json_t *results)
{
    box_t *b = ud;
    assert_true(b->n < MAXCALLS);
    call_t *c = &b->calls[b->n++];
    c->err = err;
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "");
    assert_true(json_is_array(results));
    dump(results, c->results, sizeof c->results);
    if (b->cancel_other) {
        sg_request_cancel(b->cancel_other);
        b->cancel_other = NULL;
    }
    if (b->start_from_cb) {
        b->start_from_cb = 0;
        sg_request_params_t p = {.id = "late", .id_len = 4, .cb = on_done, .ud = b};
        sg_request_t *q;
        b->start_rc = sg_requests_start(b->t, &p, &q);
    }
    if (b->free_table) {
        b->free_table = 0;
        sg_requests_free(b->t);
    }
}

typedef struct fx {
    uv_loop_t loop;
    sg_requests_t *t;
} fx_t;

static int setup(void **state)
{
    fx_t *f = sg_calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    f->t = sg_requests_new(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sg_requests_free(f->t);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the timer's close callback frees the table */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sg_free(f);
    return 0;
}

static sg_request_t *start(fx_t *f, const char *id, sg_request_mode_t mode, unsigned timeout,
                           box_t *b)
{
    sg_request_params_t p = {
        .id = id,
        .id_len = strlen(id),
        .mode = mode,
        .timeout_ms = timeout,
        .cb = on_done,
        .ud = b,
    };
    sg_request_t *q = NULL;
    assert_int_equal(sg_requests_start(f->t, &p, &q), 0);
    assert_non_null(q);
    return q;
}

static sg_request_t *start_peers(fx_t *f, const char *id, const char *const *peers, size_t n,
                                 unsigned timeout, int partial, box_t *b)
{
    sg_name_t v[8];
    for (size_t i = 0; i < n; i++)
        v[i] = (sg_name_t){peers[i], strlen(peers[i])};
    sg_request_params_t p = {
        .id = id,
        .id_len = strlen(id),
        .mode = SG_REQUEST_PEERS,
        .timeout_ms = timeout,
        .keep_partial = partial,
        .peers = v,
        .npeers = n,
        .cb = on_done,
        .ud = b,
    };
    sg_request_t *q = NULL;
    assert_int_equal(sg_requests_start(f->t, &p, &q), 0);
    return q;
}

static void run_until(fx_t *f, const box_t *b, int n)
{
    for (int i = 0; i < 10000 && b->n < n; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(b->n, n);
}

/* Close the table while b (on the test's stack) can still hear about it. */
static void close_table(fx_t *f, box_t *b, int expect_calls)
{
    sg_requests_free(f->t);
    f->t = NULL;
    assert_int_equal(b->n, expect_calls);
    assert_int_equal(b->calls[expect_calls - 1].err, SG_ESTATE);
}

static int respond(sg_request_t *q, const char *from, json_t *v, sg_request_add_t how)
{
    int rc = sg_request_respond(q, from, from ? strlen(from) : 0, v, how);
    json_decref(v);
    return rc;
}

static void test_count_expected_later(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    assert_ptr_equal(sg_requests_find(f->t, "r1", 2), q);
    assert_string_equal(sg_request_id(q), "r1");
    /* Responses may come before the server count; they wait. */
    assert_int_equal(respond(q, "A", json_pack("[i,i]", 1, 2), SG_REQUEST_EXTEND), 1);
    assert_int_equal(respond(q, "B", json_string("x"), SG_REQUEST_APPEND), 1);
    assert_int_equal(b.n, 0);
    sg_request_set_expected(q, 3);
    assert_int_equal(b.n, 0);
    assert_int_equal(respond(q, "C", NULL, SG_REQUEST_APPEND), 1);
    assert_int_equal(b.n, 1); /* synchronously */
    assert_int_equal(b.calls[0].err, 0);
    assert_string_equal(b.calls[0].results, "[1,2,\"x\",null]");
    assert_null(sg_requests_find(f->t, "r1", 2));
    assert_int_equal(sg_requests_count(f->t), 0);
}

static void test_count_set_expected_completes(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    respond(q, NULL, json_integer(1), SG_REQUEST_APPEND);
    respond(q, NULL, json_integer(2), SG_REQUEST_APPEND);
    sg_request_set_expected(q, 2);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.calls[0].results, "[1,2]");
    /* Expected 0 (no other server) completes empty. */
    q = start(f, "r2", SG_REQUEST_COUNT, 1000, &b);
    sg_request_set_expected(q, 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.calls[1].results, "[]");
}

static void test_count_duplicates_and_extend(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    sg_request_set_expected(q, 3);
    assert_int_equal(respond(q, "A", json_integer(1), SG_REQUEST_APPEND), 1);
    /* The same node twice: ignored (Node would count it and resolve early). */
    assert_int_equal(respond(q, "A", json_integer(2), SG_REQUEST_APPEND), 0);
    /* EXTEND wants an array: anything else is not a valid answer. */
    assert_int_equal(respond(q, "B", json_string("no"), SG_REQUEST_EXTEND), 0);
    /* Unknown senders (classic protocol) are counted each time. */
    assert_int_equal(respond(q, NULL, json_integer(3), SG_REQUEST_COUNT_ONLY), 1);
    assert_int_equal(b.n, 0);
    assert_int_equal(respond(q, NULL, json_integer(4), SG_REQUEST_APPEND), 1);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.calls[0].results, "[1,4]");
    /* Late: the request is gone. */
    assert_null(sg_requests_find(f->t, "r1", 2));
}

static void test_count_timeout_texts(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 2, &b);
    sg_request_set_expected(q, 2);
    respond(q, "A", json_string("a"), SG_REQUEST_APPEND);
    run_until(f, &b, 1);
    assert_int_equal(b.calls[0].err, SG_ETIMEOUT);
    assert_string_equal(b.calls[0].msg, "timeout reached: only 1 responses received out of 2");
    assert_string_equal(b.calls[0].results, "[]"); /* fetchSockets rejects */
    /* keep_partial (serverSideEmit): the answers so far; expected unknown: 0. */
    sg_request_params_t p = {
        .id = "r2", .id_len = 2, .timeout_ms = 1, .keep_partial = 1, .cb = on_done, .ud = &b};
    assert_int_equal(sg_requests_start(f->t, &p, &q), 0);
    respond(q, "A", json_string("a"), SG_REQUEST_APPEND);
    run_until(f, &b, 2);
    assert_int_equal(b.calls[1].err, SG_ETIMEOUT);
    assert_string_equal(b.calls[1].msg, "timeout reached: only 1 responses received out of 0");
    assert_string_equal(b.calls[1].results, "[\"a\"]");
    /* A fixed text (the classic adapter's). */
    p = (sg_request_params_t){.id = "r3",
                              .id_len = 2,
                              .timeout_ms = 1,
                              .timeout_text =
                                  "timeout reached while waiting for fetchSockets response",
                              .cb = on_done,
                              .ud = &b};
    assert_int_equal(sg_requests_start(f->t, &p, &q), 0);
    run_until(f, &b, 3);
    assert_string_equal(b.calls[2].msg, "timeout reached while waiting for fetchSockets response");
}

static void test_peers(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    const char *peers[] = {"A", "B", "C"};
    sg_request_t *q = start_peers(f, "r1", peers, 3, 1000, 0, &b);
    assert_int_equal(sg_request_mode(q), SG_REQUEST_PEERS);
    assert_int_equal(respond(q, "A", json_string("a"), SG_REQUEST_APPEND), 1);
    assert_int_equal(respond(q, "A", json_string("a2"), SG_REQUEST_APPEND), 0); /* duplicate */
    assert_int_equal(respond(q, "X", json_string("x"), SG_REQUEST_APPEND), 0);  /* not a peer */
    assert_int_equal(respond(q, NULL, json_string("n"), SG_REQUEST_APPEND), 0); /* anonymous */
    sg_requests_peer_gone(f->t, "B", 1);
    assert_int_equal(b.n, 0);
    sg_requests_peer_gone(f->t, "B", 1);                                       /* again: nothing */
    assert_int_equal(respond(q, "B", json_string("b"), SG_REQUEST_APPEND), 0); /* removed */
    assert_int_equal(respond(q, "C", json_string("c"), SG_REQUEST_APPEND), 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.calls[0].err, 0);
    assert_string_equal(b.calls[0].results, "[\"a\",\"c\"]");
}

static void test_peers_timeout_and_removal(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    const char *peers[] = {"A", "B", "C"};
    sg_request_t *q = start_peers(f, "r1", peers, 3, 2, 1, &b);
    respond(q, "A", json_string("a"), SG_REQUEST_APPEND);
    run_until(f, &b, 1);
    assert_int_equal(b.calls[0].err, SG_ETIMEOUT);
    assert_string_equal(b.calls[0].msg, "timeout reached: missing 2 responses");
    assert_string_equal(b.calls[0].results, "[\"a\"]");
    /* Removal of the last missing peer completes successfully, several at once. */
    start_peers(f, "r2", peers + 1, 1, 1000, 0, &b);
    start_peers(f, "r3", peers, 2, 1000, 0, &b);
    start_peers(f, "r4", peers + 1, 2, 1000, 0, &b);
    sg_requests_peer_gone(f->t, "A", 1);
    assert_int_equal(b.n, 1);
    sg_requests_peer_gone(f->t, "B", 1);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.calls[1].err, 0);
    assert_int_equal(b.calls[2].err, 0);
    assert_int_equal(sg_requests_count(f->t), 1);
    sg_requests_peer_gone(f->t, "C", 1);
    assert_int_equal(b.n, 4);
}

static void test_peer_gone_callback_cancels_other(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    const char *peers[] = {"A"};
    start_peers(f, "r1", peers, 1, 1000, 0, &b);
    sg_request_t *q2 = start_peers(f, "r2", peers, 1, 1000, 0, &b);
    /* r1 completes first and its callback cancels r2, which also had A. */
    b.cancel_other = q2;
    sg_requests_peer_gone(f->t, "A", 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(sg_requests_count(f->t), 0);
}

static void test_peers_none_completes_later(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start_peers(f, "r1", NULL, 0, 1000, 0, &b);
    assert_int_equal(b.n, 0); /* never from inside start */
    assert_true(sg_request_pending(q));
    run_until(f, &b, 1);
    assert_int_equal(b.calls[0].err, 0);
    assert_string_equal(b.calls[0].results, "[]");
}

static void test_open(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_OPEN, 2, &b);
    assert_int_equal(respond(q, "A", json_integer(1), SG_REQUEST_APPEND), 0);
    sg_request_set_expected(q, 0); /* not COUNT: nothing */
    assert_int_equal(b.n, 0);
    run_until(f, &b, 1);
    assert_int_equal(b.calls[0].err, SG_ETIMEOUT);
    assert_string_equal(b.calls[0].msg, "timeout reached");
    /* No deadline: only finish (or the table closing) ends it. */
    q = start(f, "r2", SG_REQUEST_OPEN, 0, &b);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(b.n, 1);
    sg_request_finish(q, SG_EIO, "Redis is unreachable");
    assert_int_equal(b.n, 2);
    assert_int_equal(b.calls[1].err, SG_EIO);
    assert_string_equal(b.calls[1].msg, "Redis is unreachable");
}

static void test_cancel_and_refs(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 1, &b);
    sg_request_ref(q); /* an asynchronous step still refers to it */
    sg_request_cancel(q);
    assert_false(sg_request_pending(q));
    assert_null(sg_requests_find(f->t, "r1", 2));
    /* Everything on a finished request is a no-op. */
    sg_request_cancel(q);
    sg_request_finish(q, SG_EIO, "x");
    sg_request_set_expected(q, 0);
    assert_int_equal(sg_request_respond(q, "A", 1, NULL, SG_REQUEST_APPEND), 0);
    sg_request_unref(q);
    /* The id may be used again; the old deadline fires nobody. */
    q = start(f, "r1", SG_REQUEST_COUNT, 5, &b);
    run_until(f, &b, 1);
    assert_int_equal(b.calls[0].err, SG_ETIMEOUT);
}

static void test_bad_params(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    sg_request_params_t p = {.id = "r1", .id_len = 2, .cb = on_done, .ud = &b};
    sg_request_t *q = NULL;
    assert_int_equal(sg_requests_start(f->t, &p, &q), SG_EINVAL); /* pending id */
    sg_name_t peer = {"A", 1};
    p = (sg_request_params_t){.id = "r2", .id_len = 2, .peers = &peer, .npeers = 1};
    assert_int_equal(sg_requests_start(f->t, &p, &q), SG_EINVAL); /* peers without PEERS */
    /* Ids are whole byte strings. */
    p = (sg_request_params_t){.id = "r1\0x", .id_len = 4, .cb = on_done, .ud = &b};
    assert_int_equal(sg_requests_start(f->t, &p, &q), 0);
    assert_int_equal(sg_requests_count(f->t), 2);
    close_table(f, &b, 2);
}

static void test_deadline_order(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    start(f, "none", SG_REQUEST_COUNT, 0, &b);
    start(f, "slow", SG_REQUEST_COUNT, 30, &b);
    sg_request_t *mid = start(f, "mid", SG_REQUEST_COUNT, 10, &b);
    start(f, "fast", SG_REQUEST_COUNT, 1, &b);
    sg_request_set_expected(mid, 1);
    /* The order of the callbacks says which request timed out: fast, mid
     * (the one expecting a response), slow. Only the order is checked, not
     * what is pending between them: on a busy machine the loop may wake
     * late and run all three deadlines in one pass, still in order. */
    run_until(f, &b, 3);
    assert_string_equal(b.calls[0].msg, "timeout reached: only 0 responses received out of 0");
    assert_string_equal(b.calls[1].msg, "timeout reached: only 0 responses received out of 1");
    assert_string_equal(b.calls[2].msg, "timeout reached: only 0 responses received out of 0");
    assert_null(sg_requests_find(f->t, "fast", 4));
    assert_null(sg_requests_find(f->t, "mid", 3));
    assert_null(sg_requests_find(f->t, "slow", 4));
    assert_non_null(sg_requests_find(f->t, "none", 4));
    assert_int_equal(sg_requests_count(f->t), 1);
    close_table(f, &b, 4);
}

static void test_response_cap(void **state)
{
    fx_t *f = *state;
    box_t b = {0};
    sg_request_t *q = start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    char from[16];
    for (int i = 0; i < SG_REQUEST_MAX_RESPONSES + 10; i++) {
        snprintf(from, sizeof from, "n%d", i);
        int rc = sg_request_respond(q, from, strlen(from), NULL, SG_REQUEST_COUNT_ONLY);
        assert_int_equal(rc, i < SG_REQUEST_MAX_RESPONSES);
    }
    sg_request_set_expected(q, 1u << 20); /* capped: the responses we took suffice */
    assert_int_equal(b.n, 1);
}

static void test_free_fails_everything(void **state)
{
    fx_t *f = *state;
    box_t b = {.t = f->t, .start_from_cb = 1};
    const char *peers[] = {"A"};
    start(f, "r1", SG_REQUEST_COUNT, 1000, &b);
    start_peers(f, "r2", peers, 1, 0, 1, &b);
    sg_request_t *q3 = start(f, "r3", SG_REQUEST_OPEN, 0, &b);
    sg_request_ref(q3);
    sg_requests_free(f->t);
    f->t = NULL;
    assert_int_equal(b.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b.calls[i].err, SG_ESTATE);
        assert_string_equal(b.calls[i].msg, "adapter closed");
    }
    assert_int_equal(b.start_rc, SG_ESTATE); /* no new request while closing */
    assert_false(sg_request_pending(q3));
    sg_request_unref(q3); /* outlives the table */
}

static void test_free_from_timeout_callback(void **state)
{
    fx_t *f = *state;
    box_t b = {.t = f->t, .free_table = 1};
    start(f, "r1", SG_REQUEST_COUNT, 1, &b);
    start(f, "r2", SG_REQUEST_COUNT, 1, &b);
    start(f, "r3", SG_REQUEST_COUNT, 0, &b);
    run_until(f, &b, 3); /* the first times out and closes the table: the rest fail */
    assert_int_equal(b.calls[0].err, SG_ETIMEOUT);
    assert_int_equal(b.calls[1].err, SG_ESTATE);
    assert_int_equal(b.calls[2].err, SG_ESTATE);
    f->t = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_count_expected_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_set_expected_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_duplicates_and_extend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_timeout_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_timeout_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone_callback_cancels_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_none_completes_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_fails_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_from_timeout_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
