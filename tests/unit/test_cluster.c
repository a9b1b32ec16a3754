/* Unit tests for adapter/cluster*.c against what the real Node
 * ClusterAdapter does (tests/unit/fixtures/cluster-node-frames.json, made by
 * fixtures/record-cluster-frames.js with socket.io-adapter 2.5.8).
 *
 * The replays play one Node server of a recorded cluster with the C code
 * (cluster_world.c: fake transport, fake server with the recorder's
 * handlers). Every frame that server received is fed to
 * sg_cluster_on_message; every operation it started is run from the frame it
 * published. Then the frames cluster.c published must be Node's frames, byte
 * for byte in JavaScript's key order (the C uid and request ids mapped to the
 * recorded placeholders), the local deliveries the bytes the Node clients
 * received, the rooms Node's rooms, the server events Node's, and the results
 * Node's results.
 *
 * Two differences are normalised, both outside cluster.c: sockets in a
 * fetchSockets answer are compared sorted by id (adapter.c selects in its
 * own order, Node in connection order), and Node flags no sg_bcast_opts_t
 * carries are dropped from Node's frames before comparing (a RemoteSocket's
 * expectSingleResponse, fetchSockets' flags.timeout: siogate uses
 * requests_timeout).
 *
 * test_cluster_hostile.c has what a recording cannot show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bopts.h"
#include "cluster_world.h"
#include "util.h"

/* ---- normalisation ---- */

static int by_id(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    return strcmp(json_string_value(json_object_get(a, "id")),
                  json_string_value(json_object_get(b, "id")));
}

/* Frames as compared: fetchSockets answers sorted by socket id; Node flags
 * siogate cannot express dropped. */
static void normalise(json_t *frames)
{
    size_t i;
    json_t *f;
    json_array_foreach(frames, i, f)
    {
        json_object_del(f, "offset");
        json_object_del(f, "from");
        json_object_del(f, "delivered");
        json_t *msg = json_object_get(f, "msg"), *data = json_object_get(msg, "data");
        json_t *sockets = json_object_get(data, "sockets");
        if (json_is_array(sockets) && json_array_size(sockets) > 1) {
            size_t n = json_array_size(sockets);
            json_t **v = sg_malloc(n * sizeof(*v));
            for (size_t k = 0; k < n; k++)
                v[k] = json_incref(json_array_get(sockets, k));
            qsort(v, n, sizeof(*v), by_id);
            json_array_clear(sockets);
            for (size_t k = 0; k < n; k++)
                json_array_append_new(sockets, v[k]);
            sg_free(v);
        }
        json_t *flags = json_object_get(json_object_get(data, "opts"), "flags");
        json_object_del(flags, "expectSingleResponse");
        if (!json_object_get(data, "requestId") ||
            json_integer_value(json_object_get(msg, "type")) != SG_CLUSTER_BROADCAST)
            json_object_del(flags, "timeout");
    }
}

/* ---- the replay engine ---- */

typedef struct replay {
    world_t *w;
    const char *name;
    json_t *expected; /* the frames Node's `me` published */
    json_t *idmap;    /* Node's request id placeholder -> ours */
    int last_op;      /* message type of the last operation run, 0: none */
    int last_acked;   /* ... and whether it wanted answers */
    int back_op;      /* a broadcast with acks ran */
    json_t *fed_acks; /* values of the BROADCAST_ACK frames fed */
    json_t *fed_counts;
} replay_t;

static char *quoted(const char *s)
{
    char *q = sg_malloc(strlen(s) + 3);
    sprintf(q, "\"%s\"", s);
    return q;
}

/* Replace ids (quoted, so "req-1" does not hit "req-10") in either direction. */
static char *map_ids(char *text, const json_t *idmap, int node_to_ours)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)idmap, k, v)
    {
        char *a = quoted(k), *b = quoted(json_string_value(v));
        text = node_to_ours ? subst(text, a, b) : subst(text, b, a);
        sg_free(a);
        sg_free(b);
    }
    return text;
}

static void feed(replay_t *r, const json_t *f)
{
    char *text = map_ids(dump(json_object_get(f, "msg")), r->idmap, 1);
    json_t *fx = parse(text);
    sg_free(text);
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    json_t *msg = from_fx(fx, &bins, &nbins);
    json_int_t type = json_integer_value(json_object_get(fx, "type"));
    const json_t *data = json_object_get(fx, "data");
    if (type == SG_CLUSTER_BROADCAST_ACK)
        json_array_append(r->fed_acks, json_object_get(data, "packet"));
    if (type == SG_CLUSTER_BROADCAST_CLIENT_COUNT)
        json_array_append(r->fed_counts, json_object_get(data, "clientCount"));
    r->w->last_ack_timeout = 0;
    sg_cluster_on_message(r->w->c, msg, bins, nbins,
                          json_string_value(json_object_get(f, "offset")));
    /* A broadcast with acks reaches the host with the sender's timeout. */
    if (type == SG_CLUSTER_BROADCAST && json_object_get(data, "requestId"))
        assert_int_equal(r->w->last_ack_timeout,
                         json_integer_value(json_object_get(
                             json_object_get(json_object_get(data, "opts"), "flags"), "timeout")));
    json_decref(msg);
    json_decref(fx);
    free_bins(bins, nbins);
    ack_all(r->w);
}

/* Our request id in the last frame we published <-> Node's in frame f. */
static void map_request_id(replay_t *r, const json_t *f)
{
    const char *node = json_string_value(
        json_object_get(json_object_get(json_object_get(f, "msg"), "data"), "requestId"));
    size_t n = json_array_size(r->w->pubs);
    if (!node || !n)
        return;
    const json_t *last = json_object_get(json_array_get(r->w->pubs, n - 1), "msg");
    const char *ours =
        json_string_value(json_object_get(json_object_get(last, "data"), "requestId"));
    if (ours)
        json_object_set_new(r->idmap, node, json_string(ours));
}

/* The operation Node's `me` ran that published frame f, run from f. */
static void run_op(replay_t *r, const json_t *f)
{
    world_t *w = r->w;
    const json_t *msg = json_object_get(f, "msg"), *data = json_object_get(msg, "data");
    int type = (int)json_integer_value(json_object_get(msg, "type"));
    const int acked = json_object_get(data, "requestId") != NULL;
    sg_bopts_t bo;
    assert_int_equal(
        sg_bopts_decode(&bo, json_object_get(data, "opts"), json_object_get(data, "rooms"), 0), 0);
    bo.o.flags &= ~SG_BCAST_LOCAL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    const json_t *pdata = type == SG_CLUSTER_BROADCAST
                              ? json_object_get(json_object_get(data, "packet"), "data")
                              : json_object_get(data, "packet");
    json_t *payload = pdata ? from_fx(pdata, &bins, &nbins) : NULL;
    sg_sio_packet_t pkt;
    sg_sio_packet_init(&pkt);
    pkt.type = SG_SIO_EVENT;
    pkt.nsp = "/";
    pkt.data = payload;
    pkt.bins = bins;
    pkt.nbins = nbins;
    void *handle = NULL;
    switch (type) {
    case SG_CLUSTER_BROADCAST:
        if (acked) {
            /* The server's part first (ackgroup.c: local delivery), then ours. */
            sg_adapter_chost(w->a)->broadcast_ack(w, &pkt, &bo.o, bo.timeout, NULL);
            assert_int_equal(
                sg_cluster_broadcast_ack(w->a, &pkt, &bo.o, bo.timeout, &sg_test_sink, w, &handle),
                0);
            assert_non_null(handle);
            r->back_op = 1;
        } else {
            assert_int_equal(sg_adapter_broadcast(w->a, &pkt, &bo.o), 0);
        }
        break;
    case SG_CLUSTER_SOCKETS_JOIN:
        sg_adapter_add_sockets(w->a, &bo.o, bo.list, bo.nlist);
        break;
    case SG_CLUSTER_SOCKETS_LEAVE:
        sg_adapter_del_sockets(w->a, &bo.o, bo.list, bo.nlist);
        break;
    case SG_CLUSTER_DISCONNECT_SOCKETS:
        sg_adapter_disconnect_sockets(w->a, &bo.o, json_is_true(json_object_get(data, "close")));
        break;
    case SG_CLUSTER_FETCH_SOCKETS:
        w->outstanding++;
        assert_int_equal(sg_cluster_fetch_sockets(w->a, &bo.o, on_result, w), 0);
        break;
    case SG_CLUSTER_SERVER_SIDE_EMIT:
        if (acked)
            w->outstanding++;
        assert_int_equal(
            sg_cluster_server_side_emit(w->a, payload, bins, nbins, acked ? on_result : NULL, w),
            0);
        break;
    default:
        fail_msg("%s: no operation publishes type %d", r->name, type);
    }
    json_decref(payload);
    free_bins(bins, nbins);
    sg_bopts_clear(&bo);
    r->last_op = type;
    r->last_acked = acked;
    /* Without heartbeats the transport counts the servers of the recorded
     * cluster (2), then reports each publish with Node's offset. */
    while (w->npend)
        tp_answer(w, 0, json_string_value(json_object_get(f, "offset")), 2);
    map_request_id(r, f);
}

static json_t *ids_of(const json_t *sockets)
{
    json_t *ids = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(sockets, i, s) json_array_append(ids, json_object_get(s, "id"));
    return ids;
}

static int is_local(const world_t *w, const char *id)
{
    for (size_t i = 0; i < w->nsocks; i++)
        if (!strcmp(w->socks[i].id, id))
            return 1;
    return 0;
}

/* Node's value with binary as siogate's results carry it. */
static json_t *node_buffers(const json_t *v)
{
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    json_t *ph = from_fx(v, &bins, &nbins);
    json_t *out = sg_json_node_buffers(ph, bins, nbins);
    json_decref(ph);
    free_bins(bins, nbins);
    return out;
}

/* Server counts Node reported for this node. */
static void check_count(replay_t *r, const json_t *want)
{
    const json_t *count = NULL;
    if (json_is_object(want))
        count = json_object_get(want, r->last_op ? "serverCount" : r->w->me);
    else if (json_is_integer(want) && !r->last_op)
        count = want;
    if (count && r->w->c)
        assert_int_equal(sg_cluster_server_count(r->w->c), json_integer_value(count));
}

static void check_request_result(replay_t *r, const json_t *want, const char *ctx)
{
    world_t *w = r->w;
    const json_t *got = json_array_get(w->results, json_array_size(w->results) - 1);
    assert_non_null(got);
    const char *err = json_string_value(json_object_get(want, "error"));
    if (err) {
        assert_int_equal(json_integer_value(json_object_get(got, "err")), SG_ETIMEOUT);
        assert_string_equal(json_string_value(json_object_get(got, "msg")), err);
        return;
    }
    assert_int_equal(json_integer_value(json_object_get(got, "err")), 0);
    const json_t *res = json_object_get(got, "results");
    if (r->last_op == SG_CLUSTER_FETCH_SOCKETS) {
        /* Node's list has the local sockets too; ours only the others'. */
        const json_t *ids = json_is_object(want) ? json_object_get(want, "ids") : want;
        json_t *remote = json_array(), *ours = ids_of(res);
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
        {
            if (!is_local(w, json_string_value(id)))
                json_array_append(remote, id);
        }
        assert_json_equal(ctx, remote, ours);
        json_decref(remote);
        json_decref(ours);
    } else {
        json_t *conv = node_buffers(want);
        assert_json_equal(ctx, conv, res);
        json_decref(conv);
    }
}

static void check_result(replay_t *r, const json_t *sc)
{
    world_t *w = r->w;
    const json_t *want = json_object_get(sc, "result");
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%s as %s: result", r->name, w->me);
    check_count(r, want);
    if (r->last_acked &&
        (r->last_op == SG_CLUSTER_FETCH_SOCKETS || r->last_op == SG_CLUSTER_SERVER_SIDE_EMIT))
        check_request_result(r, want, ctx);
    if (r->back_op) {
        /* One server count, one client count per node, every ack. */
        json_t *sink = json_array();
        json_array_append_new(sink, json_pack("[s,i]", "servers", 1));
        size_t i;
        json_t *v;
        json_array_foreach(r->fed_counts, i, v)
            json_array_append_new(sink, json_pack("[s,O]", "count", v));
        json_array_foreach(r->fed_acks, i, v)
            json_array_append_new(sink, json_pack("[s,O]", "ack", v));
        assert_json_equal(ctx, sink, w->sink);
        json_decref(sink);
    }
}

static void add_room(const char *room, size_t len, void *ud)
{
    json_array_append_new(ud, json_stringn(room, len));
}

static void check_state(replay_t *r, const json_t *sc)
{
    world_t *w = r->w;
    char ctx[128];
    /* What this node's clients received. */
    const json_t *recv = json_object_get(sc, "received");
    if (recv) {
        json_t *want = json_object(), *got = json_object();
        for (size_t i = 0; i < w->nsocks; i++) {
            const char *name = w->socks[i].id + 4; /* "sid-B1" is client B1 */
            const json_t *x = json_object_get(recv, name), *y = json_object_get(w->recv, name);
            if (x)
                json_object_set(want, name, (json_t *)x);
            if (y)
                json_object_set(got, name, (json_t *)y);
        }
        snprintf(ctx, sizeof ctx, "%s as %s: received", r->name, w->me);
        assert_json_equal(ctx, want, got);
        json_decref(want);
        json_decref(got);
    }
    /* Rooms afterwards: own id first, then join order, as Node's Set. */
    const json_t *rooms = json_object_get(json_object_get(sc, "rooms"), w->me);
    if (rooms) {
        json_t *got = json_object();
        for (size_t i = 0; i < w->nsocks; i++) {
            if (w->socks[i].removed)
                continue;
            json_t *list = json_array();
            sg_adapter_socket_rooms(&w->socks[i].a, add_room, list);
            json_object_set_new(got, w->socks[i].id, list);
        }
        snprintf(ctx, sizeof ctx, "%s as %s: rooms", r->name, w->me);
        assert_json_equal(ctx, rooms, got);
        json_decref(got);
    }
    const json_t *events = json_object_get(json_object_get(sc, "server_events"), w->me);
    json_t *none = json_array();
    snprintf(ctx, sizeof ctx, "%s as %s: server events", r->name, w->me);
    assert_json_equal(ctx, events ? events : none, w->events);
    json_decref(none);
}

static int delivered_to(const json_t *f, const char *me)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(f, "delivered"), i,
                       n) if (!strcmp(json_string_value(n), me)) return 1;
    return 0;
}

/* Play Node server w->me through scenario `name`. */
static void replay(world_t *w, const char *name)
{
    const json_t *sc = scenario(w, name);
    replay_t r = {w, name, json_array(), json_object(), 0, 0, 0, json_array(), json_array()};
    json_array_clear(w->pubs);
    json_object_clear(w->recv);
    json_array_clear(w->events);
    json_array_clear(w->sink);
    char me_uid[32];
    snprintf(me_uid, sizeof me_uid, "uid-%s", w->me);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sc, "frames"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "from")), me_uid) != 0) {
            if (delivered_to(f, w->me))
                feed(&r, f);
            continue;
        }
        json_array_append_new(r.expected, json_deep_copy(f));
        int type = (int)json_integer_value(json_object_get(json_object_get(f, "msg"), "type"));
        if (strcmp(json_string_value(json_object_get(f, "op")), "publish") != 0)
            continue; /* a response: the fed request made it */
        if (type == SG_CLUSTER_INITIAL_HEARTBEAT)
            assert_int_equal(sg_cluster_start(w->c), 0);
        else if (type == SG_CLUSTER_ADAPTER_CLOSE)
            close_cluster(w);
        else if (type != SG_CLUSTER_HEARTBEAT) /* a HEARTBEAT answers a fed INITIAL_HEARTBEAT */
            run_op(&r, f);
    }
    run_until_results(w); /* the scenarios that time out */
    /* Our frames, with our ids as Node's placeholders. */
    char *text = subst(dump(w->pubs), w->uid, me_uid);
    json_t *got = parse(text = map_ids(text, r.idmap, 0));
    sg_free(text);
    normalise(got);
    normalise(r.expected);
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%s as %s: frames", name, w->me);
    assert_json_equal(ctx, r.expected, got);
    json_decref(got);
    check_state(&r, sc);
    check_result(&r, sc);
    json_decref(r.expected);
    json_decref(r.idmap);
    json_decref(r.fed_acks);
    json_decref(r.fed_counts);
}

static const char *const count_scenarios[] = {
    "broadcast",
    "broadcast_rooms_binary",
    "broadcast_volatile",
    "broadcast_compress",
    "broadcast_from_socket",
    "broadcast_except_sid",
    "sockets_join",
    "sockets_leave",
    "fetch_sockets",
    "fetch_sockets_room",
    "server_side_emit",
    "server_side_emit_ack",
    "server_side_emit_ack_binary",
    "server_side_emit_ack_noarg",
    "broadcast_ack",
    "broadcast_ack_binary",
    "remote_socket_emit",
    "fetch_sockets_timeout",
    "server_side_emit_ack_timeout",
    "disconnect_sockets",
    NULL,
};

static const char *const hb_scenarios[] = {
    "hb_init",
    "hb_fetch_sockets",
    "hb_server_side_emit_ack",
    "hb_broadcast",
    "hb_emitter",
    "hb_fetch_sockets_timeout",
    "hb_server_side_emit_ack_timeout",
    "hb_close_completes_request",
    NULL,
};

static void replay_all(const char *me, const char *rooms_from, int heartbeat,
                       const char *const *names)
{
    world_t *w = world_new(me, rooms_from, heartbeat);
    world_open(w);
    for (size_t i = 0; names[i]; i++)
        replay(w, names[i]);
    world_free(w);
}

/* Node's A: every operation, then B's answers complete it. */
static void test_replay_sender(void **state)
{
    replay_all("A", "broadcast", 0, count_scenarios);
}

/* Node's B: every message of A, and B's answers. */
static void test_replay_receiver(void **state)
{
    replay_all("B", "broadcast", 0, count_scenarios);
}

static void test_replay_heartbeat_sender(void **state)
{
    replay_all("H1", "hb_fetch_sockets", 1, hb_scenarios);
}

static void test_replay_heartbeat_receiver(void **state)
{
    replay_all("H2", "hb_fetch_sockets", 1, hb_scenarios);
}

/* Connection state recovery: the hook appends the offset Node appends. */
static void test_replay_offsets(void **state)
{
    static const char *const names[] = {"csr_broadcast", "csr_broadcast_volatile", NULL};
    world_t *w = world_new("R2", "csr_broadcast", 0);
    w->copts.on_offset = on_offset;
    w->copts.offset_ud = w;
    world_open(w);
    for (size_t i = 0; names[i]; i++)
        replay(w, names[i]);
    /* Only the broadcast that is not volatile reached the hook. */
    json_t *want = parse("[[\"1-0\",true,[\"csr\",1]]]");
    assert_json_equal("offsets as R2", want, w->offsets);
    json_decref(want);
    world_free(w);
    /* The sender hears its own offset once the publish reports it. */
    w = world_new("R1", "csr_broadcast", 0);
    w->copts.on_offset = on_offset;
    w->copts.offset_ud = w;
    world_open(w);
    for (size_t i = 0; names[i]; i++)
        replay(w, names[i]);
    want = parse("[[\"1-0\",false,[\"csr\",1]]]");
    assert_json_equal("offsets as R1", want, w->offsets);
    json_decref(want);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_sender),
        cmocka_unit_test(test_replay_receiver),
        cmocka_unit_test(test_replay_heartbeat_sender),
        cmocka_unit_test(test_replay_heartbeat_receiver),
        cmocka_unit_test(test_replay_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
