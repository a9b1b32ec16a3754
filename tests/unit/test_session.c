/* test_session.c - the Engine.IO session state machine (server/session.c),
 * driven through a fake transport and a fake upper layer on a real libuv
 * loop: open, heartbeat, volatile sends, queue limits, graceful close,
 * upgrade, and what a client's packets do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine.h"
#include "util.h"

/* ---- fakes ---- */

typedef struct {
    int flushes, drains, releases, pauses, drops;
    int writable;    /* what the transport answers */
    int drain_later; /* drain: finish later (1) or close now (0) */
    int messages, closes, releases_upper;
    int joined;
    char close_reason[64];
    unsigned char last[64];
    size_t last_len;
} fake_t;

static fake_t F;

static void tr_flush(sg_session_t *s)
{
    F.flushes++;
}

static int tr_writable(const sg_session_t *s)
{
    return F.writable;
}

static int tr_drain(sg_session_t *s)
{
    F.drains++;
    return F.drain_later;
}

static void tr_release(sg_session_t *s)
{
    F.releases++;
}

static void tr_pause(sg_session_t *s)
{
    F.pauses++;
}

static void tr_drop(sg_session_t *s, struct lws *wsi)
{
    F.drops++;
}

/* the end-of-turn write is the real writer's (ws_out.c), never the session's */
static void tr_write(sg_session_t *s)
{
    fail_msg("the session called the transport's write");
}

static const sg_transport_ops_t fake_tr = {tr_flush, tr_writable, tr_drain, tr_release, tr_pause,
                                           tr_drop,  tr_write};

static void up_message(sg_session_t *s, const unsigned char *d, size_t len, sg_buf_t *bin)
{
    F.messages++;
    F.last_len = len < sizeof(F.last) ? len : sizeof(F.last);
    memcpy(F.last, d, F.last_len);
}

static void up_close(sg_session_t *s, const char *reason)
{
    F.closes++;
    snprintf(F.close_reason, sizeof(F.close_reason), "%s", reason ? reason : "");
}

static void up_release(sg_session_t *s)
{
    F.releases_upper++;
}

static int up_joined(sg_session_t *s)
{
    return F.joined;
}

static const sg_eio_upper_t fake_up = {up_message, up_close, up_release, up_joined, 8, NULL, NULL};

typedef struct {
    uv_loop_t loop;
    sg_config_t cfg;
    sg_timers_t timers;
    sg_defer_t defer;
    sg_stats_t stats;
    sg_engine_t e;
} env_t;

static env_t *env_new(void)
{
    env_t *v = sg_calloc(1, sizeof(*v));
    memset(&F, 0, sizeof(F));
    uv_loop_init(&v->loop);
    sg_config_init(&v->cfg);
    v->cfg.log_level = SG_LOG_ERROR;
    v->cfg.ping_interval = 50;
    v->cfg.ping_timeout = 50;
    v->cfg.connect_timeout = 10000;
    v->cfg.upgrade_timeout = 10000;
    v->cfg.max_sessions = 100;
    sg_timers_init(&v->timers, &v->loop);
    sg_defer_init(&v->defer, &v->loop);
    v->e.cfg = &v->cfg;
    v->e.loop = &v->loop;
    v->e.timers = &v->timers;
    v->e.defer = &v->defer;
    v->e.stats = &v->stats;
    v->e.transports[SG_TR_POLLING] = &fake_tr;
    v->e.transports[SG_TR_WEBSOCKET] = &fake_tr;
    v->e.uppers[0] = &fake_up;
    v->e.uppers[1] = &fake_up;
    sg_engine_init(&v->e);
    return v;
}

static void env_free(env_t *v)
{
    sg_engine_stop(&v->e, "server shutting down");
    sg_defer_run(&v->defer);
    sg_defer_close(&v->defer);
    sg_timers_close(&v->timers);
    uv_run(&v->loop, UV_RUN_DEFAULT);
    sg_engine_free(&v->e);
    sg_timers_free(&v->timers);
    assert_int_equal(uv_loop_close(&v->loop), 0);
    sg_config_free(&v->cfg);
    sg_free(v);
}

/* Run the loop until pred holds (bounded: each round waits for the next
 * timer or idle callback). */
static void run_until(env_t *v, int (*pred)(void))
{
    for (int i = 0; i < 1000 && !pred(); i++)
        uv_run(&v->loop, UV_RUN_ONCE);
    assert_true(pred());
}

static void deliver(sg_session_t *s, const char *text)
{
    sg_eio_packet_t p;
    assert_int_equal(sg_eio_decode_text(text, strlen(text), &p), 0);
    sg_session_on_packet(s, &p);
}

static int closed(void)
{
    return F.closes > 0;
}

static int reaped(void)
{
    return F.releases_upper > 0;
}

/* ---- tests ---- */

static void test_open_find_close(void **state)
{
    env_t *v = env_new();
    sg_session_t *s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    assert_int_equal(strlen(s->sid), SG_ID_LEN);
    assert_ptr_equal(sg_session_find(&v->e, s->sid, SG_ID_LEN), s);
    assert_int_equal(v->stats.sessions[SG_TR_POLLING], 1);
    sg_buf_t *open = sg_session_open_packet(s, 1);
    assert_non_null(strstr((const char *)open->data, "\"upgrades\":[\"websocket\"]"));
    assert_memory_equal(open->data, "0{\"sid\":\"", 9);
    sg_buf_unref(open);
    char sid[SG_ID_LEN + 1];
    memcpy(sid, s->sid, sizeof(sid));
    sg_session_close(s, "transport close", 0);
    assert_string_equal(F.close_reason, "transport close");
    assert_null(sg_session_find(&v->e, sid, SG_ID_LEN));
    assert_int_equal(F.releases, 2); /* both transports let go of it */
    assert_int_equal(v->stats.sessions[SG_TR_POLLING], 0);
    assert_int_equal(v->stats.sessions_closed[SG_CLOSE_TRANSPORT_CLOSE], 1);
    /* closing twice is harmless; the memory goes at a safe point */
    sg_session_close(s, "transport error", 0);
    assert_int_equal(F.closes, 1);
    run_until(v, reaped);
    env_free(v);
}

static void test_full(void **state)
{
    env_t *v = env_new();
    v->cfg.max_sessions = 2;
    sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    assert_null(sg_session_refusal(&v->e));
    sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    assert_string_equal(sg_session_refusal(&v->e), "Server full");
    assert_string_equal(sg_session_refusal(&v->e), "Server full");
    assert_int_equal(v->stats.refused_full, 2);
    env_free(v);
}

/* While draining every handshake is refused, full or not, and not counted
 * as refused for maxSessions. */
static void test_draining(void **state)
{
    env_t *v = env_new();
    v->e.draining = 1;
    assert_string_equal(sg_session_refusal(&v->e), "Server draining");
    assert_int_equal(v->stats.refused_full, 0);
    env_free(v);
}

static int pinged(void)
{
    return F.flushes > 0;
}

static void test_heartbeat(void **state)
{
    env_t *v = env_new();
    sg_session_t *s = sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    /* a ping is queued after pingInterval ... */
    run_until(v, pinged);
    assert_true(s->awaiting_pong);
    assert_int_equal(s->q.count, 1);
    assert_memory_equal(sg_outq_peek(&s->q, 0)->data, "2", 1);
    /* ... a pong keeps the session ... */
    deliver(s, "3");
    assert_false(s->awaiting_pong);
    /* ... and without the next pong it closes with "ping timeout" */
    run_until(v, closed);
    assert_string_equal(F.close_reason, "ping timeout");
    env_free(v);
}

static void test_client_packets(void **state)
{
    env_t *v = env_new();
    sg_session_t *s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    deliver(s, "4hello");
    assert_int_equal(F.messages, 1);
    assert_memory_equal(F.last, "hello", 5);
    deliver(s, "6"); /* noop: ignored */
    assert_int_equal(F.closes, 0);
    deliver(s, "2"); /* a ping from the client: wrong direction in v4 */
    assert_string_equal(F.close_reason, "transport error");
    deliver(s, "4late"); /* nothing after the close */
    assert_int_equal(F.messages, 1);

    s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    deliver(s, "1");
    assert_true(s->client_close);
    assert_string_equal(F.close_reason, "transport close");
    env_free(v);
}

static void test_volatile_and_limits(void **state)
{
    env_t *v = env_new();
    v->cfg.outq_hard_limit = 10;
    v->cfg.outq_soft_limit = 10;
    sg_session_t *s = sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    sg_buf_t *b = sg_buf_new_copy("4abcd", 5);
    F.writable = 0;
    assert_int_equal(sg_session_send(s, b, 1), SG_EAGAIN); /* volatile, not writable */
    assert_int_equal(v->stats.drops_volatile, 1);
    F.writable = 1;
    assert_int_equal(sg_session_send(s, b, 1), 0);
    /* volatile waits for nothing: with something queued it is dropped */
    assert_int_equal(sg_session_send(s, b, 1), SG_EAGAIN);
    assert_int_equal(sg_session_send(s, b, 0), 0);
    assert_int_equal(v->stats.queue_bytes, 10);
    /* past outqHardLimit: refused, and the session closes at a safe point */
    assert_int_equal(sg_session_send(s, b, 0), SG_ETOOBIG);
    assert_int_equal(sg_session_send(s, b, 0), SG_ESTATE); /* closing already */
    assert_int_equal(F.closes, 0);
    run_until(v, closed);
    assert_string_equal(F.close_reason, "transport error");
    assert_int_equal(v->stats.queue_bytes, 0);
    sg_buf_unref(b);
    env_free(v);
}

static void test_graceful_close(void **state)
{
    env_t *v = env_new();
    sg_session_t *s = sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    sg_buf_t *b = sg_buf_new_copy("41", 2);
    sg_session_send(s, b, 0);
    sg_buf_unref(b);
    F.drain_later = 1;
    sg_session_close(s, "forced server close", 1);
    assert_int_equal(s->state, SG_SESS_CLOSING);
    assert_int_equal(F.closes, 1); /* the upper layer knows at once */
    assert_int_equal(F.releases, 0);
    /* not drained yet: nothing happens */
    sg_session_drained(s);
    assert_int_equal(s->state, SG_SESS_CLOSING);
    sg_buf_unref(sg_outq_pop(&s->q)); /* the transport wrote it */
    sg_session_drained(s);
    assert_int_equal(F.releases, 2);
    run_until(v, reaped);

    /* a transport that can close at once does */
    F.drain_later = 0;
    F.releases = 0;
    s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    sg_session_close(s, "forced server close", 1);
    assert_int_equal(F.releases, 2);
    env_free(v);
}

static void test_connect_timeout(void **state)
{
    env_t *v = env_new();
    v->cfg.connect_timeout = 20;
    v->cfg.ping_interval = 60000;
    F.joined = 0;
    sg_session_new(&v->e, SG_TR_WEBSOCKET, 0, 4);
    run_until(v, closed);
    assert_string_equal(F.close_reason, "forced close");
    env_free(v);
}

static void test_upgrade(void **state)
{
    env_t *v = env_new();
    v->cfg.ping_interval = 60000;
    sg_session_t *s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    struct lws *probe = (struct lws *)0x1, *ws = (struct lws *)0x2;
    sg_session_probe_started(s, probe);
    assert_ptr_equal(s->probe, probe);
    sg_session_probe_answered(s);
    assert_true(s->upgrading);
    assert_int_equal(F.pauses, 1); /* polling goes idle */
    sg_session_upgraded(s, ws, 7);
    assert_int_equal(s->transport, SG_TR_WEBSOCKET);
    assert_ptr_equal(s->ws, ws);
    assert_null(s->probe);
    assert_false(s->upgrading);
    assert_int_equal(v->stats.upgrades, 1);
    assert_int_equal(v->stats.sessions[SG_TR_WEBSOCKET], 1);
    assert_int_equal(v->stats.sessions[SG_TR_POLLING], 0);
    /* the WebSocket goes away: the session closes */
    sg_session_forget_wsi(s, ws, "transport close");
    assert_string_equal(F.close_reason, "transport close");
    env_free(v);
}

static void test_probe_failures(void **state)
{
    env_t *v = env_new();
    v->cfg.ping_interval = 60000;
    v->cfg.upgrade_timeout = 20;
    sg_session_t *s = sg_session_new(&v->e, SG_TR_POLLING, 0, 4);
    struct lws *probe = (struct lws *)0x1;
    /* a probe that goes away leaves the session on polling */
    sg_session_probe_started(s, probe);
    sg_session_probe_answered(s);
    sg_session_forget_wsi(s, probe, "transport error");
    assert_null(s->probe);
    assert_false(s->upgrading);
    assert_int_equal(s->state, SG_SESS_OPEN);
    /* a probe past upgradeTimeout is dropped, the session goes on */
    sg_session_probe_started(s, probe);
    for (int i = 0; i < 1000 && !F.drops; i++)
        uv_run(&v->loop, UV_RUN_ONCE);
    assert_int_equal(F.drops, 1);
    assert_null(s->probe);
    assert_int_equal(s->state, SG_SESS_OPEN);
    env_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_find_close),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_draining),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_client_packets),
        cmocka_unit_test(test_volatile_and_limits),
        cmocka_unit_test(test_graceful_close),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_probe_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
