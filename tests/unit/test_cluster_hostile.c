/* Unit tests for adapter/cluster*.c beyond what a recording of Node shows:
 * hostile messages, duplicate / late / unknown responses, peers that answer
 * twice, never, or go away, partial results on timeouts, a failing
 * transport, closing with work in flight and callbacks after the close.
 * Same world as test_cluster.c (cluster_world.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_world.h"
#include "util.h"

/* Feed a message written in fixture form (binary as {"$bin":"hex"}). */
static void feed_text(world_t *w, const char *text)
{
    json_t *fx = parse(text);
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    json_t *msg = from_fx(fx, &bins, &nbins);
    sg_cluster_on_message(w->c, msg, bins, nbins, NULL);
    json_decref(msg);
    json_decref(fx);
    free_bins(bins, nbins);
}

/* printf-style feed_text. */
__attribute__((format(printf, 2, 3))) static void feedf(world_t *w, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *buf = sg_malloc((size_t)n + 1);
    vsnprintf(buf, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    feed_text(w, buf);
    sg_free(buf);
}

static const json_t *pub(const world_t *w, size_t i)
{
    return json_object_get(json_array_get(w->pubs, i), "msg");
}

static int pub_type(const world_t *w, size_t i)
{
    return (int)json_integer_value(json_object_get(pub(w, i), "type"));
}

static const char *last_request_id(const world_t *w)
{
    const json_t *m = pub(w, json_array_size(w->pubs) - 1);
    const char *id = json_string_value(json_object_get(json_object_get(m, "data"), "requestId"));
    assert_non_null(id);
    return id;
}

static const json_t *result(const world_t *w, size_t i)
{
    const json_t *r = json_array_get(w->results, i);
    assert_non_null(r);
    return r;
}

static void assert_result(const world_t *w, size_t i, int err, const char *msg, const char *json)
{
    const json_t *r = result(w, i);
    assert_int_equal(json_integer_value(json_object_get(r, "err")), err);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), msg);
    json_t *want = parse(json);
    assert_json_equal("results", want, json_object_get(r, "results"));
    json_decref(want);
}

static void run_once(world_t *w)
{
    uv_run(&w->loop, UV_RUN_NOWAIT);
}

/* A world of two sockets: s1 in room1, s2 in room2. */
static world_t *two_sockets(const char *me, int heartbeat)
{
    world_t *w = world_new(me, NULL, heartbeat);
    json_t *r1 = parse("[\"room1\"]"), *r2 = parse("[\"room2\"]");
    world_add_socket(w, "sid-s1", r1);
    world_add_socket(w, "sid-s2", r2);
    json_decref(r1);
    json_decref(r2);
    world_open(w);
    return w;
}

/* A response of `uid` to request `rid` (a local variable). */
#define RESP(uid, type, body)                                                                      \
    feedf(w,                                                                                       \
          "{\"uid\":\"" uid "\",\"nsp\":\"/\",\"type\":%d,\"data\":{\"requestId\":\"%s\"" body     \
          "}}",                                                                                    \
          type, rid)

#define OPTS "{\"rooms\":[],\"except\":[],\"flags\":{}}"
#define PKT "{\"type\":2,\"data\":[\"ev\",1]}"

static void test_garbage_dropped(void **state)
{
    world_t *w = two_sockets("B", 0);
    char longuid[300], many[80000];
    memset(longuid, 'u', 200);
    longuid[200] = '\0';
    /* 10001 rooms: one more than a message may name. */
    size_t at = (size_t)sprintf(many, "[");
    for (int i = 0; i <= SG_CLUSTER_MAX_NAMES; i++)
        at += (size_t)sprintf(many + at, "%s\"r%d\"", i ? "," : "", i % 10);
    sprintf(many + at, "]");
    static const char *const bad[] = {
        "[]",
        "\"x\"",
        "{}",
        "{\"uid\":\"u1\",\"nsp\":\"/\"}",
        "{\"uid\":\"u1\",\"type\":3,\"nsp\":1}",
        "{\"uid\":1,\"type\":3,\"nsp\":\"/\"}",
        "{\"uid\":\"\",\"type\":3,\"nsp\":\"/\"}",
        "{\"uid\":\"a\\u0000b\",\"type\":3,\"nsp\":\"/\",\"data\":{\"packet\":" PKT
        ",\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":\"3\"}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3.5}",
        /* BROADCAST */
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":[1]}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":3,\"data\":{\"packet\":{\"type\":5,\"data\":[\"ev\"]},\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":3,\"data\":{\"packet\":{\"data\":[\"ev\"]},\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":\"ev\"},\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[]},\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[1,2]},\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT ",\"opts\":[]}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT ",\"opts\":" OPTS
        ",\"requestId\":7}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT ",\"opts\":" OPTS
        ",\"requestId\":null}}",
        /* SOCKETS_JOIN / LEAVE / DISCONNECT */
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":4,\"data\":{\"opts\":" OPTS ",\"rooms\":\"x\"}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":5,\"data\":{\"rooms\":[\"x\"]}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":6,\"data\":{\"close\":true}}",
        /* FETCH_SOCKETS, SERVER_SIDE_EMIT */
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":7,\"data\":{\"opts\":" OPTS "}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":7,\"data\":{\"requestId\":\"r1\"}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":9,\"data\":{\"packet\":\"ev\"}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":9,\"data\":{\"packet\":[]}}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":9,\"data\":{\"packet\":[1]}}",
        "{\"uid\":\"u1\",\"nsp\":\"/"
        "\",\"type\":9,\"data\":{\"packet\":[\"ping\"],\"requestId\":5}}",
        /* responses without data */
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":8}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":10,\"data\":1}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":11,\"data\":null}",
        "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":12,\"data\":[]}",
    };
    size_t nbad = sizeof bad / sizeof *bad;
    for (size_t i = 0; i < nbad; i++)
        feed_text(w, bad[i]);
    feedf(w,
          "{\"uid\":\"%s\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT ",\"opts\":" OPTS
          "}}",
          longuid);
    feedf(w,
          "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":7,\"data\":{\"opts\":" OPTS
          ",\"requestId\":\"%s\"}}",
          longuid);
    feedf(w, "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":4,\"data\":{\"opts\":" OPTS ",\"rooms\":%s}}",
          many);
    feedf(w,
          "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT
          ",\"opts\":{\"rooms\":%s,\"except\":[],\"flags\":{}}}}",
          many);
    /* Each dropped with one warning, no effect at all. */
    assert_int_equal(w->logs[1], (int)nbad + 4);
    assert_int_equal(json_array_size(w->pubs), 0);
    assert_int_equal(json_object_size(w->recv), 0);
    assert_int_equal(json_array_size(w->events), 0);
    assert_int_equal(sg_adapter_room_size(w->a, "r1", 2), 0);
    /* Ignored quietly (debug): our own uid, another namespace, heartbeat
     * types without heartbeats, unknown types, answers to no request. */
    int warn = w->logs[1];
    feedf(w,
          "{\"uid\":\"%s\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT ",\"opts\":" OPTS
          "}}",
          w->uid);
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/chat\",\"type\":3,\"data\":{\"packet\":" PKT
                 ",\"opts\":" OPTS "}}");
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":1}");
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":13}");
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":99,\"data\":{}}");
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/"
                 "\",\"type\":8,\"data\":{\"requestId\":\"nope\",\"sockets\":[]}}");
    feed_text(w, "{\"uid\":\"u1\",\"nsp\":\"/"
                 "\",\"type\":11,\"data\":{\"requestId\":\"nope\",\"clientCount\":1}}");
    assert_int_equal(w->logs[1], warn);
    assert_int_equal(json_array_size(w->pubs), 0);
    assert_int_equal(json_object_size(w->recv), 0);
    /* Still alive: a good broadcast goes through, with a placeholder that
     * indexes nothing delivered as the plain object it is. */
    feed_text(w,
              "{\"uid\":\"u1\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":"
              "[\"ev\",{\"_placeholder\":true,\"num\":9}]},\"opts\":{\"rooms\":[\"room1\"]}}}");
    json_t *want = parse("{\"s1\":[\"42[\\\"ev\\\",{\\\"_placeholder\\\":true,\\\"num\\\":9}]\"]}");
    assert_json_equal("delivered", want, w->recv);
    json_decref(want);
    world_free(w);
}

/* A request from the emitter is answered to "emitter", as Node does. */
static void test_emitter_request(void **state)
{
    world_t *w = two_sockets("B", 0);
    feed_text(w, "{\"uid\":\"emitter\",\"nsp\":\"/"
                 "\",\"type\":9,\"data\":{\"requestId\":\"e1\",\"packet\":[\"ping\"]}}");
    assert_int_equal(json_array_size(w->pubs), 1);
    const json_t *p = json_array_get(w->pubs, 0);
    assert_string_equal(json_string_value(json_object_get(p, "to")), "emitter");
    assert_int_equal(pub_type(w, 0), SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE);
    world_free(w);
}

/* Without heartbeats: a second answer from a node, an answer of the wrong
 * kind, an answer to an unknown id, a malformed answer, a late answer. */
static void test_count_responses(void **state)
{
    world_t *w = two_sockets("A", 0);
    w->outstanding++;
    sg_bcast_opts_t all = {0};
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    assert_int_equal(json_array_size(w->pubs), 0); /* the count comes first */
    tp_answer(w, 0, "", 3);
    assert_int_equal(pub_type(w, 0), SG_CLUSTER_FETCH_SOCKETS);
    char *rid = sg_strdup(last_request_id(w));
    RESP("n1", 8, ",\"sockets\":[{\"id\":\"x1\",\"data\":{\"b\":{\"$bin\":\"0102\"}}}]");
    RESP("n1", 8, ",\"sockets\":[{\"id\":\"dup\"}]"); /* same node again */
    RESP("n2", 10, ",\"packet\":\"pong\"");           /* not a fetch answer */
    RESP("n2", 8, ",\"sockets\":{\"id\":\"x\"}");     /* malformed: dropped, not counted */
    feed_text(w, "{\"uid\":\"n2\",\"nsp\":\"/"
                 "\",\"type\":8,\"data\":{\"requestId\":\"other\",\"sockets\":[]}}");
    assert_int_equal(json_array_size(w->results), 0);
    RESP("n2", 8, ",\"sockets\":[{\"id\":\"x2\"}]");
    assert_int_equal(w->outstanding, 0);
    /* Binary in a result travels the way JSON.stringify writes a Buffer. */
    assert_result(
        w, 0, 0, "",
        "[{\"id\":\"x1\",\"data\":{\"b\":{\"type\":\"Buffer\",\"data\":[1,2]}}},{\"id\":\"x2\"}]");
    RESP("n3", 8, ",\"sockets\":[{\"id\":\"late\"}]");
    assert_int_equal(json_array_size(w->results), 1);
    sg_free(rid);
    world_free(w);
}

/* serverSideEmit: partial answers on timeout, Node's text; a single server
 * answers at once with nothing to wait for, without publishing. */
static void test_count_sse_partial_and_alone(void **state)
{
    world_t *w = two_sockets("A", 0);
    json_t *data = parse("[\"ping\",1]");
    w->outstanding++;
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    tp_answer(w, 0, "", 3);
    char *rid = sg_strdup(last_request_id(w));
    RESP("n1", 10, ",\"packet\":[\"pong\",{\"$bin\":\"ff\"}]");
    RESP("n1", 10, ",\"packet\":\"again\"");
    run_until_results(w);
    assert_result(w, 0, SG_ETIMEOUT, "timeout reached: only 1 responses received out of 2",
                  "[[\"pong\",{\"type\":\"Buffer\",\"data\":[255]}]]");
    sg_free(rid);
    /* One server: nothing published, empty answer. */
    size_t npubs = json_array_size(w->pubs);
    w->outstanding++;
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    tp_answer(w, 0, "", 1);
    assert_result(w, 1, 0, "", "[]");
    assert_int_equal(json_array_size(w->pubs), npubs);
    json_decref(data);
    world_free(w);
}

/* Heartbeats: peers from any message but the emitter's, answers per peer,
 * ADAPTER_CLOSE completing requests, partial results, no peer at all. */
static void test_peers(void **state)
{
    world_t *w = two_sockets("H1", 1);
    assert_int_equal(sg_cluster_start(w->c), 0);
    assert_int_equal(pub_type(w, 0), SG_CLUSTER_INITIAL_HEARTBEAT);
    assert_int_equal(sg_cluster_server_count(w->c), 1);
    /* No peer: the answer comes on the next tick, nothing is published. */
    w->outstanding++;
    sg_bcast_opts_t all = {0};
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    assert_int_equal(json_array_size(w->results), 0);
    run_until_results(w);
    assert_result(w, 0, 0, "", "[]");
    assert_int_equal(json_array_size(w->pubs), 1);
    /* Three peers announce themselves; each INITIAL_HEARTBEAT is answered. */
    feed_text(w, "{\"uid\":\"p1\",\"nsp\":\"/\",\"type\":1}");
    feed_text(w, "{\"uid\":\"p2\",\"nsp\":\"/\",\"type\":2}");
    feed_text(w, "{\"uid\":\"p3\",\"nsp\":\"/\",\"type\":1}");
    feed_text(w, "{\"uid\":\"emitter\",\"nsp\":\"/\",\"type\":3,\"data\":{\"packet\":" PKT
                 ",\"opts\":" OPTS "}}");
    assert_int_equal(sg_cluster_server_count(w->c), 4);
    assert_int_equal(json_array_size(w->pubs), 3);
    assert_int_equal(pub_type(w, 1), SG_CLUSTER_HEARTBEAT);
    assert_int_equal(pub_type(w, 2), SG_CLUSTER_HEARTBEAT);
    json_t *data = parse("[\"ping\"]");
    w->outstanding++;
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    assert_int_equal(pub_type(w, 3), SG_CLUSTER_SERVER_SIDE_EMIT); /* at once: no count to ask */
    char *rid = sg_strdup(last_request_id(w));
    RESP("p1", 10, ",\"packet\":\"a\"");
    RESP("p1", 10, ",\"packet\":\"dup\"");
    RESP("x9", 10, ",\"packet\":\"not waited for\""); /* a new node: a peer, not of this request */
    assert_int_equal(sg_cluster_server_count(w->c), 5);
    feed_text(w, "{\"uid\":\"p2\",\"nsp\":\"/\",\"type\":13}");
    assert_int_equal(json_array_size(w->results), 1);
    RESP("p3", 10, ""); /* acked without argument */
    assert_result(w, 1, 0, "", "[\"a\",null]");
    sg_free(rid);
    /* Partial answers on timeout, Node's text for heartbeats. */
    w->outstanding++;
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    rid = sg_strdup(last_request_id(w));
    RESP("x9", 10, ",\"packet\":\"x\"");
    run_until_results(w);
    assert_result(w, 2, SG_ETIMEOUT, "timeout reached: missing 2 responses", "[\"x\"]");
    sg_free(rid);
    /* A fetch completes when the last peer it waits for says goodbye. */
    w->outstanding++;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    feed_text(w, "{\"uid\":\"p1\",\"nsp\":\"/\",\"type\":13}");
    feed_text(w, "{\"uid\":\"p3\",\"nsp\":\"/\",\"type\":13}");
    assert_int_equal(json_array_size(w->results), 3);
    feed_text(w, "{\"uid\":\"x9\",\"nsp\":\"/\",\"type\":13}");
    assert_result(w, 3, 0, "", "[]");
    assert_int_equal(sg_cluster_server_count(w->c), 1);
    json_decref(data);
    world_free(w);
}

/* Peers silent for heartbeatTimeout go at the next sweep (every second, as
 * Node's), and the requests waiting for them complete. HEARTBEATs follow the
 * last publish. A broadcast with acks nobody cancels is forgotten 1 s after
 * its timeout (gone). */
static void test_peer_expiry_and_heartbeats(void **state)
{
    world_t *w = world_new("H1", NULL, 1);
    w->copts.heartbeat_interval = 5;
    w->copts.heartbeat_timeout = 1;
    world_open(w);
    assert_int_equal(sg_cluster_start(w->c), 0);
    feed_text(w, "{\"uid\":\"p1\",\"nsp\":\"/\",\"type\":2}");
    assert_int_equal(sg_cluster_server_count(w->c), 2);
    w->outstanding++;
    sg_bcast_opts_t all = {0};
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    json_t *data = parse("[\"ev\"]");
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.data = data;
    void *h = NULL;
    assert_int_equal(sg_cluster_broadcast_ack(w->a, &pkt, &all, 1, &sg_test_sink, w, &h), 0);
    /* The fetch times out first (requests_timeout 30 ms): p1 has not expired. */
    run_until_results(w);
    assert_result(w, 0, SG_ETIMEOUT, "timeout reached: missing 1 responses", "[]");
    for (int i = 0; i < 100000 && json_array_size(w->sink) < 2; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    json_t *want = parse("[[\"servers\",1],[\"gone\"]]");
    assert_json_equal("sink", want, w->sink);
    json_decref(want);
    for (int i = 0; i < 100000 && sg_cluster_server_count(w->c) > 1; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_int_equal(sg_cluster_server_count(w->c), 1);
    /* Heartbeats went out meanwhile, each after the previous publish. */
    size_t beats = 0;
    for (size_t i = 0; i < json_array_size(w->pubs); i++)
        beats += pub_type(w, i) == SG_CLUSTER_HEARTBEAT;
    assert_true(beats > 1);
    json_decref(data);
    world_free(w);
}

/* The sink of a broadcast with acks: the server count never inside the
 * call, one count per node, malformed counts dropped, nothing after cancel. */
static void test_broadcast_ack_sink(void **state)
{
    world_t *w = two_sockets("A", 0);
    json_t *data = parse("[\"ask\"]");
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.data = data;
    sg_bcast_opts_t all = {0};
    void *h = NULL;
    assert_int_equal(sg_cluster_broadcast_ack(w->a, &pkt, &all, 1000, &sg_test_sink, w, &h), 0);
    assert_int_equal(json_array_size(w->sink), 0);
    tp_answer(w, 0, "", 3);
    char *rid = sg_strdup(last_request_id(w));
    RESP("n1", 11, ",\"clientCount\":2");
    RESP("n1", 11, ",\"clientCount\":2");  /* a second count from n1 */
    RESP("n2", 11, ",\"clientCount\":-1"); /* not a count */
    RESP("n2", 11, ",\"clientCount\":\"1\"");
    RESP("n1", 12, ",\"packet\":{\"$bin\":\"cafe\"}");
    RESP("n1", 12, "");
    RESP("n2", 8, ",\"sockets\":[]"); /* wrong kind */
    json_t *want =
        parse("[[\"servers\",2],[\"count\",2],[\"ack\",{\"$bin\":\"cafe\"}],[\"ack\",null]]");
    assert_json_equal("sink", want, w->sink);
    json_decref(want);
    sg_cluster_cancel(w->a, h);
    RESP("n2", 11, ",\"clientCount\":1");
    RESP("n1", 12, ",\"packet\":1");
    assert_int_equal(json_array_size(w->sink), 4);
    sg_free(rid);
    /* No server count: no other server, reported on the next tick. */
    json_array_clear(w->sink);
    w->fail_count = 1;
    assert_int_equal(sg_cluster_broadcast_ack(w->a, &pkt, &all, 1000, &sg_test_sink, w, &h), 0);
    assert_int_equal(json_array_size(w->sink), 0);
    run_once(w);
    want = parse("[[\"servers\",0]]");
    assert_json_equal("sink", want, w->sink);
    json_decref(want);
    json_decref(data);
    world_free(w); /* the pending one hears gone() */
}

/* A transport that fails: at once (error returned, no callback) or later
 * (the request fails with SG_EIO). */
static void test_transport_failures(void **state)
{
    world_t *w = two_sockets("A", 0);
    sg_bcast_opts_t all = {0};
    json_t *data = parse("[\"ev\"]");
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.data = data;
    w->fail_count = 1;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), SG_EIO);
    w->fail_count = 0;
    w->fail_publish = 1;
    /* The local part is adapter.c's and happened; the error says the rest did not. */
    assert_int_equal(sg_adapter_broadcast(w->a, &pkt, &all), SG_EIO);
    assert_int_equal(json_object_size(w->recv), 2);
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, NULL, NULL), SG_EIO);
    void *h = NULL;
    assert_int_equal(sg_cluster_broadcast_ack(w->a, &pkt, &all, 100, &sg_test_sink, w, &h), SG_EIO);
    w->outstanding++;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    tp_answer(w, 0, "", 2); /* counted, then the publish fails */
    assert_result(w, 0, SG_EIO, "the cluster transport could not publish the request", "[]");
    w->fail_publish = 0;
    w->outstanding += 2;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    tp_answer(w, SG_EIO, NULL, 0); /* both counts fail */
    assert_result(w, 1, SG_EIO, "the cluster transport could not count the servers", "[]");
    assert_result(w, 2, SG_EIO, "the cluster transport could not count the servers", "[]");
    w->outstanding++;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    tp_answer(w, 0, "", 2);
    tp_answer(w, SG_EIO, NULL, 0); /* the publish reports a failure */
    assert_result(w, 3, SG_EIO, "the cluster transport could not publish the request", "[]");
    assert_int_equal(json_array_size(w->sink), 0);
    json_decref(data);
    world_free(w);
}

static void test_offset_hook_failed_publish(void **state)
{
    world_t *w = world_new("R1", NULL, 0);
    w->copts.on_offset = on_offset;
    w->copts.offset_ud = w;
    world_open(w);
    json_t *data = parse("[\"ev\"]");
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.data = data;
    sg_bcast_opts_t all = {0};
    assert_int_equal(sg_adapter_broadcast(w->a, &pkt, &all), 0);
    tp_answer(w, SG_EIO, NULL, 0);
    /* It hears of a failed publish without an offset, to deliver anyway. */
    json_t *want = parse("[[null,false,[\"ev\"]]]");
    assert_true(json_equal(want, w->offsets));
    json_decref(want);
    json_array_clear(w->offsets);
    /* An ack id: no offset either (Node: packet.id !== undefined). */
    pkt.id = 3;
    assert_int_equal(sg_adapter_broadcast(w->a, &pkt, &all), 0);
    assert_int_equal(w->npend, 0);
    /* A publish still pending when the cluster goes reports to nobody. */
    pkt.id = -1;
    assert_int_equal(sg_adapter_broadcast(w->a, &pkt, &all), 0);
    assert_int_equal(w->npend, 1);
    json_decref(data);
    world_free(w);
    /* (world_free answered it after the close: no hook call, no leak) */
}

/* Closing with work in flight: every request hears SG_ESTATE once, the
 * sink gone(), answers owed go nowhere, ADAPTER_CLOSE with heartbeats, and
 * the entry points refuse. */
static void test_close_with_work_in_flight(void **state)
{
    world_t *w = two_sockets("H1", 1);
    assert_int_equal(sg_cluster_start(w->c), 0);
    feed_text(w, "{\"uid\":\"p1\",\"nsp\":\"/\",\"type\":2}");
    sg_bcast_opts_t all = {0};
    json_t *data = parse("[\"ping\"]");
    w->outstanding += 2;
    assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    assert_int_equal(sg_cluster_server_side_emit(w->a, data, NULL, 0, on_result, w), 0);
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.data = data;
    void *h = NULL;
    assert_int_equal(sg_cluster_broadcast_ack(w->a, &pkt, &all, 1000, &sg_test_sink, w, &h), 0);
    /* Another node's request whose answer the host keeps for later. */
    feed_text(w, "{\"uid\":\"p1\",\"nsp\":\"/"
                 "\",\"type\":9,\"data\":{\"requestId\":\"k1\",\"packet\":[\"keep\"]}}");
    assert_non_null(w->kept);
    size_t npubs = json_array_size(w->pubs);
    sg_adapter_t *a = w->a;
    close_cluster(w);
    assert_int_equal(json_array_size(w->pubs), npubs + 1);
    assert_int_equal(pub_type(w, npubs), SG_CLUSTER_ADAPTER_CLOSE);
    assert_null(json_object_get(pub(w, npubs), "data"));
    assert_int_equal(w->outstanding, 0);
    assert_result(w, 0, SG_ESTATE, "adapter closed", "[]");
    assert_result(w, 1, SG_ESTATE, "adapter closed", "[]");
    json_t *want = parse("[[\"gone\"]]");
    assert_json_equal("sink", want, w->sink);
    json_decref(want);
    /* The host answers late: nothing is published. */
    json_t *v = json_string("late");
    w->kept->send(w->kept, v, NULL, 0);
    json_decref(v);
    assert_int_equal(json_array_size(w->pubs), npubs + 1);
    /* The adapter works single-node now; the cluster entry points refuse. */
    assert_null(sg_cluster_of(a));
    assert_int_equal(sg_cluster_fetch_sockets(a, &all, on_result, w), SG_ESTATE);
    assert_int_equal(sg_cluster_broadcast(a, &pkt, &all), SG_ESTATE);
    assert_int_equal(sg_cluster_broadcast_ack(a, &pkt, &all, 1, &sg_test_sink, w, &h), SG_ESTATE);
    json_decref(data);
    world_free(w); /* runs the loop: the timers close, the cluster is freed */
}

/* Requests from several nodes interleaved with our own: ids never mix. */
static void test_request_ids(void **state)
{
    world_t *w = two_sockets("A", 0);
    sg_bcast_opts_t all = {0};
    for (int i = 0; i < 8; i++) {
        w->outstanding++;
        assert_int_equal(sg_cluster_fetch_sockets(w->a, &all, on_result, w), 0);
    }
    tp_answer(w, 0, "", 2);
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(w->pubs); i++) {
        const char *id =
            json_string_value(json_object_get(json_object_get(pub(w, i), "data"), "requestId"));
        assert_int_equal(strlen(id), SG_CLUSTER_ID_LEN);
        assert_int_equal(strspn(id, "0123456789abcdef"), SG_CLUSTER_ID_LEN);
        assert_null(json_object_get(seen, id));
        json_object_set_new(seen, id, json_true());
    }
    assert_int_equal(json_object_size(seen), 8);
    assert_int_equal(strspn(w->uid, "0123456789abcdef"), SG_CLUSTER_ID_LEN);
    json_decref(seen);
    world_free(w); /* the eight fail with SG_ESTATE */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_dropped),
        cmocka_unit_test(test_emitter_request),
        cmocka_unit_test(test_count_responses),
        cmocka_unit_test(test_count_sse_partial_and_alone),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_peer_expiry_and_heartbeats),
        cmocka_unit_test(test_broadcast_ack_sink),
        cmocka_unit_test(test_transport_failures),
        cmocka_unit_test(test_offset_hook_failed_publish),
        cmocka_unit_test(test_close_with_work_in_flight),
        cmocka_unit_test(test_request_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
