/* cluster_world.c - the world test_cluster.c runs the cluster code in: one
 * node with a fake transport (records what cluster.c publishes, answers
 * publishes and server counts when the test says so) and a fake server
 * (adapter host and cluster host) with the handlers the Node servers and
 * clients of record-cluster-frames.js had; plus conversions between the
 * fixture form ({"$bin":"hex"}) and the seam form (placeholders + bins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bopts.h"
#include "cluster.h"
#include "json.h"
#include "sio.h"
#include "util.h"

#include "cluster_world.h"

/* ---- JSON helpers ---- */

char *dump(const json_t *v)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_json_dump(&sb, v, NULL, NULL);
    char *s = sg_strndup((const char *)sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
    return s;
}

json_t *parse(const char *s)
{
    json_t *v = NULL;
    assert_int_equal(sg_json_parse(s, strlen(s), &v), 0);
    return v;
}

/* s with every occurrence of from replaced by to (s is freed). */
char *subst(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
        n++;
    if (!n)
        return s;
    char *out = sg_malloc(strlen(s) + n * tl + 1), *o = out;
    const char *p = s, *q;
    while ((q = strstr(p, from))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    strcpy(o, p);
    sg_free(s);
    return out;
}

/* Fixture form -> seam form: {"$bin":"hex"} becomes a placeholder. */
json_t *from_fx(const json_t *v, sg_buf_t ***bins, size_t *nbins)
{
    const char *hex = json_string_value(json_object_get(v, "$bin"));
    if (json_is_object(v) && json_object_size(v) == 1 && hex) {
        size_t n = strlen(hex) / 2;
        sg_buf_t *b = sg_buf_new(n);
        b->flags |= SG_BUF_BINARY;
        for (size_t i = 0; i < n; i++) {
            unsigned x;
            sscanf(hex + 2 * i, "%2x", &x);
            b->data[i] = (unsigned char)x;
        }
        *bins = sg_realloc(*bins, (*nbins + 1) * sizeof(**bins));
        (*bins)[*nbins] = b;
        return sg_json_placeholder((long)(*nbins)++);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(a, from_fx(e, bins, nbins));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) json_object_set_new(o, k, from_fx(e, bins, nbins));
        return o;
    }
    return json_incref((json_t *)v);
}

typedef struct {
    sg_buf_t *const *bins;
    size_t nbins;
} binv_t;

json_t *bin_fx(const sg_buf_t *b)
{
    char *hex = sg_malloc(b->len * 2 + 1);
    for (size_t i = 0; i < b->len; i++)
        sprintf(hex + 2 * i, "%02x", b->data[i]);
    json_t *o = json_pack("{s:s}", "$bin", hex);
    sg_free(hex);
    return o;
}

static json_t *ph_fx(long num, void *ud)
{
    binv_t *bv = ud;
    return num >= 0 && (size_t)num < bv->nbins ? bin_fx(bv->bins[num]) : NULL;
}

/* Seam form -> fixture form. */
json_t *to_fx(const json_t *v, sg_buf_t *const *bins, size_t nbins)
{
    binv_t bv = {bins, nbins};
    return sg_json_map_placeholders(v, ph_fx, &bv);
}

void free_bins(sg_buf_t **bins, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
}

json_t *load_fixture(void)
{
    const char *dir = getenv("SG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/cluster-node-frames.json", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (set SG_SOURCE_DIR)", path);
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sg_sbuf_append(&sb, chunk, n);
    fclose(f);
    json_t *v = NULL;
    assert_int_equal(sg_json_parse(sg_sbuf_data(&sb), sb.len, &v), 0);
    sg_sbuf_reset(&sb);
    return v;
}

/* ---- the world: one node, a fake transport, a fake server ---- */

static const char *client_of(const char *sid)
{
    return strncmp(sid, "sid-", 4) == 0 ? sid + 4 : sid;
}

static void recv_push(world_t *w, const char *sid, json_t *item)
{
    const char *name = client_of(sid);
    json_t *list = json_object_get(w->recv, name);
    if (!list)
        json_object_set_new(w->recv, name, list = json_array());
    json_array_append_new(list, item);
}

static void record_encoded(world_t *w, const char *sid, const sg_sio_encoded_t *e)
{
    recv_push(w, sid, json_stringn((const char *)e->text->data, e->text->len));
    for (size_t i = 0; i < e->nbins; i++)
        recv_push(w, sid, bin_fx(e->bins[i]));
}

static void host_deliver(sg_asock_t *s, const sg_sio_encoded_t *pkt, unsigned flags, void *ud)
{
    record_encoded(ud, s->id, pkt);
}

static void host_disconnect(sg_asock_t *s, int close, void *ud)
{
    world_t *w = ud;
    /* What the client of a disconnected socket gets from Node. */
    recv_push(w, s->id, json_string("41"));
    json_array_append_new(w->disc, json_pack("[s,b]", client_of(s->id), close));
    sg_adapter_remove_socket(w->a, s);
    ((tsock_t *)s)->removed = 1;
}

static const sg_adapter_host_t host = {host_deliver, host_disconnect, NULL};

static json_t *host_describe(sg_asock_t *s, void *ud)
{
    world_t *w = ud;
    json_t *d = json_object_get(w->describe, s->id);
    return d ? json_deep_copy(d) : json_pack("{s:s}", "id", s->id);
}

/* The recorder's Node servers: note, ping, noack log; ping, pingbin and
 * pingnoarg ack. "keep" leaves the reply to the test. */
static void host_server_event(void *ud, const json_t *data, sg_buf_t *const *bins, size_t nbins,
                              sg_adapter_reply_t *reply)
{
    world_t *w = ud;
    const char *ev = json_string_value(json_array_get(data, 0));
    if (!strcmp(ev, "note") || !strcmp(ev, "ping") || !strcmp(ev, "noack")) {
        json_t *logged = to_fx(data, bins, nbins);
        if (!strcmp(ev, "ping")) /* the recorder logs only the first argument */
            while (json_array_size(logged) > 2)
                json_array_remove(logged, 2);
        json_array_append_new(w->events, logged);
    }
    if (!reply)
        return;
    if (!strcmp(ev, "keep")) {
        w->kept = reply;
        return;
    }
    if (!strcmp(ev, "ping")) {
        char pong[32];
        snprintf(pong, sizeof pong, "pong-%s", w->me);
        json_t *v = json_string(pong);
        reply->send(reply, v, NULL, 0);
        reply->send(reply, v, NULL, 0); /* only the first call counts */
        json_decref(v);
    } else if (!strcmp(ev, "pingbin")) {
        sg_buf_t *b = sg_buf_new_copy("\x09\x08\x07", 3);
        b->flags |= SG_BUF_BINARY;
        json_t *ph = sg_json_placeholder(0);
        reply->send(reply, ph, &b, 1);
        json_decref(ph);
        sg_buf_unref(b);
    } else if (!strcmp(ev, "pingnoarg")) {
        reply->send(reply, NULL, NULL, 0);
    }
    reply->release(reply);
}

typedef struct {
    world_t *w;
    const sg_sio_encoded_t *enc;
    json_t *names;
} ack_dlv_t;

static void ack_deliver(sg_asock_t *s, void *ud)
{
    ack_dlv_t *d = ud;
    record_encoded(d->w, s->id, d->enc);
    json_array_append_new(d->names, json_string(client_of(s->id)));
}

/* Node's in-memory broadcastWithAck: one packet id from the namespace
 * counter, the packet to every match, the count. Client acks come later
 * (ack_all), as the recorder's clients answer. */
static size_t host_broadcast_ack(void *ud, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                                 unsigned timeout_ms, sg_adapter_reply_t *fwd)
{
    world_t *w = ud;
    sg_sio_packet_t p = *pkt;
    p.id = w->next_ack_id++;
    sg_sio_encoded_t enc = {0};
    assert_int_equal(sg_sio_encode(&p, &enc), 0);
    ack_dlv_t d = {w, &enc, json_array()};
    size_t n = sg_adapter_select(w->a, opts, ack_deliver, &d);
    sg_sio_encoded_clear(&enc);
    w->last_ack_timeout = timeout_ms;
    if (fwd) {
        assert_true(w->nfwd < 16);
        w->fwd_to[w->nfwd] =
            json_pack("[o,s]", d.names, json_string_value(json_array_get(pkt->data, 0)));
        w->fwd[w->nfwd++] = fwd;
    } else {
        json_decref(d.names);
    }
    return n;
}

static const sg_adapter_chost_t chost = {host_describe, host_server_event, host_broadcast_ack};

/* The recorder's clients: ask -> "answer-<name>", askbin -> cafe,
 * directack -> "direct-<name>". */
void ack_all(world_t *w)
{
    for (size_t i = 0; i < w->nfwd; i++) {
        json_t *names = json_array_get(w->fwd_to[i], 0);
        const char *ev = json_string_value(json_array_get(w->fwd_to[i], 1));
        size_t k;
        json_t *name;
        json_array_foreach(names, k, name)
        {
            char v[64];
            if (!strcmp(ev, "askbin")) {
                sg_buf_t *b = sg_buf_new_copy("\xca\xfe", 2);
                b->flags |= SG_BUF_BINARY;
                json_t *ph = sg_json_placeholder(0);
                w->fwd[i]->send(w->fwd[i], ph, &b, 1);
                json_decref(ph);
                sg_buf_unref(b);
                continue;
            }
            snprintf(v, sizeof v, "%s-%s", !strcmp(ev, "ask") ? "answer" : "direct",
                     json_string_value(name));
            json_t *s = json_string(v);
            w->fwd[i]->send(w->fwd[i], s, NULL, 0);
            json_decref(s);
        }
        w->fwd[i]->release(w->fwd[i]);
        json_decref(w->fwd_to[i]);
    }
    w->nfwd = 0;
}

/* ---- fake transport ---- */

static int tp_publish(void *tp, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                      sg_cluster_published_cb cb, void *cb_ud)
{
    world_t *w = tp;
    if (w->fail_publish)
        return SG_EIO;
    json_array_append_new(w->pubs,
                          json_pack("{s:s,s:o}", "op", "publish", "msg", to_fx(msg, bins, nbins)));
    if (cb) {
        assert_true(w->npend < MAXPENDING);
        w->pend[w->npend++] = (pending_t){cb, NULL, cb_ud};
    }
    return 0;
}

static int tp_publish_response(void *tp, const char *to, const json_t *msg, sg_buf_t *const *bins,
                               size_t nbins)
{
    world_t *w = tp;
    json_array_append_new(w->pubs, json_pack("{s:s,s:s,s:o}", "op", "response", "to", to, "msg",
                                             to_fx(msg, bins, nbins)));
    return 0;
}

static int tp_server_count(void *tp, sg_cluster_count_cb cb, void *cb_ud)
{
    world_t *w = tp;
    if (w->fail_count)
        return SG_EIO;
    assert_true(w->npend < MAXPENDING);
    w->pend[w->npend++] = (pending_t){NULL, cb, cb_ud};
    return 0;
}

static const sg_cluster_transport_t transport = {tp_publish, tp_publish_response, tp_server_count};

/* The transport answers what it was asked, in order: publishes with
 * status/offset, counts with status/count. */
void tp_answer(world_t *w, int status, const char *offset, size_t count)
{
    pending_t p[MAXPENDING];
    size_t n = w->npend;
    memcpy(p, w->pend, n * sizeof(*p));
    w->npend = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].pcb)
            p[i].pcb(p[i].ud, status, status ? NULL : offset);
        else
            p[i].ccb(p[i].ud, status, count);
    }
}

/* ---- the backend the adapter runs: the cluster over the fake transport ---- */

static int tb_open(sg_adapter_t *a)
{
    world_t *w = sg_adapter_host_ud(a);
    w->c = sg_cluster_new(a, &transport, w, &w->copts);
    assert_ptr_equal(sg_cluster_of(a), w->c);
    assert_ptr_equal(sg_cluster_transport_ud(w->c), w);
    return 0;
}

static void tb_close(sg_adapter_t *a)
{
    sg_cluster_free(sg_cluster_of(a));
}

/* Recovery with the backend's own store, as the Streams backend does it:
 * the broadcast is published first and reaches the offset hook. */
static int tb_broadcast_offset(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                               const sg_bcast_opts_t *opts)
{
    return sg_cluster_broadcast_deferred(a, pkt, opts) == 0 ? 0 : SG_EAGAIN;
}

static void tb_persist(sg_adapter_t *a, const char *sid, const char *pid, const json_t *rooms,
                       const json_t *data)
{
}

static void tb_restore(sg_adapter_t *a, const char *pid, const char *offset,
                       sg_adapter_restore_cb cb, void *ud)
{
    cb(ud, NULL);
}

static const sg_adapter_ops_t cluster_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "cluster-test",
    .open = tb_open,
    .close = tb_close,
    .broadcast = sg_cluster_broadcast,
    .add_sockets = sg_cluster_add_sockets,
    .del_sockets = sg_cluster_del_sockets,
    .disconnect_sockets = sg_cluster_disconnect_sockets,
    .fetch_sockets = sg_cluster_fetch_sockets,
    .server_side_emit = sg_cluster_server_side_emit,
    .broadcast_ack = sg_cluster_broadcast_ack,
    .cancel = sg_cluster_cancel,
    .broadcast_offset = tb_broadcast_offset,
    .persist_session = tb_persist,
    .restore_session = tb_restore,
};

static void env_log(void *ud, int level, const char *msg)
{
    world_t *w = ud;
    assert_true(level >= 0 && level <= 3);
    w->logs[level]++;
}

void world_add_socket(world_t *w, const char *id, const json_t *rooms)
{
    assert_true(w->nsocks < MAXS);
    tsock_t *s = &w->socks[w->nsocks++];
    snprintf(s->id, sizeof s->id, "%s", id);
    s->a.id = s->id;
    s->a.id_len = strlen(s->id);
    sg_adapter_add_socket(w->a, &s->a);
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r)
    {
        if (strcmp(json_string_value(r), id) != 0)
            sg_adapter_join(w->a, &s->a, json_string_value(r), json_string_length(r));
    }
}

/* Every RemoteSocket Node sent, by id: what the host describes. */
static void collect_describe(json_t *v, json_t *out)
{
    if (json_is_object(v)) {
        json_t *id = json_object_get(v, "id"), *hs = json_object_get(v, "handshake");
        if (json_is_string(id) && hs)
            json_object_set(out, json_string_value(id), v);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) collect_describe(e, out);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) collect_describe(e, out);
    }
}

const json_t *scenario(const world_t *w, const char *name)
{
    const json_t *s = json_object_get(json_object_get(w->fx, "scenarios"), name);
    if (!s)
        fail_msg("no scenario %s in the fixture", name);
    return s;
}

/* A world for Node server `me`, its sockets as the fixture has them in
 * scenario `rooms_from`. Heartbeat options as the recorder's. */
world_t *world_new(const char *me, const char *rooms_from, int heartbeat)
{
    world_t *w = sg_calloc(1, sizeof(*w));
    uv_loop_init(&w->loop);
    w->fx = load_fixture();
    w->me = me;
    w->pubs = json_array();
    w->recv = json_object();
    w->disc = json_array();
    w->events = json_array();
    w->results = json_array();
    w->sink = json_array();
    w->offsets = json_array();
    w->describe = json_object();
    collect_describe(json_object_get(w->fx, "scenarios"), w->describe);
    w->env = (sg_adapter_env_t){.loop = &w->loop, .log = env_log, .log_ud = w};
    w->copts.heartbeat = heartbeat;
    w->copts.heartbeat_interval = heartbeat ? 60000 : 0;
    w->copts.heartbeat_timeout = heartbeat ? 60000 : 0;
    w->copts.requests_timeout = 30;
    w->a = sg_adapter_new(&cluster_ops, "/", &host, w);
    if (rooms_from) {
        const json_t *rooms =
            json_object_get(json_object_get(scenario(w, rooms_from), "rooms"), me);
        const char *id;
        json_t *r;
        json_object_foreach((json_t *)rooms, id, r) world_add_socket(w, id, r);
    }
    return w;
}

void world_open(world_t *w)
{
    if (w->copts.on_offset)
        w->env.recovery_ms = 120000; /* the adapter asks for offsets */
    assert_int_equal(sg_adapter_open(w->a, &w->env, &chost), 0);
    assert_non_null(w->c);
    assert_int_equal(strlen(sg_cluster_uid(w->c)), SG_CLUSTER_ID_LEN);
    snprintf(w->uid, sizeof w->uid, "%s", sg_cluster_uid(w->c));
}

void world_free(world_t *w)
{
    if (w->c)
        sg_adapter_close(w->a); /* frees the cluster */
    w->c = NULL;
    /* The transport answers what is still pending (after the free: the
     * cluster must cope), the host releases what it kept. */
    tp_answer(w, SG_EIO, NULL, 0);
    ack_all(w);
    if (w->kept)
        w->kept->release(w->kept);
    for (size_t i = 0; i < w->nsocks; i++)
        if (!w->socks[i].removed)
            sg_adapter_remove_socket(w->a, &w->socks[i].a);
    sg_adapter_free(w->a);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    json_decref(w->fx);
    json_decref(w->pubs);
    json_decref(w->recv);
    json_decref(w->disc);
    json_decref(w->events);
    json_decref(w->results);
    json_decref(w->sink);
    json_decref(w->offsets);
    json_decref(w->describe);
    sg_free(w);
}

void close_cluster(world_t *w)
{
    sg_adapter_close(w->a);
    w->c = NULL;
}

/* ---- results ---- */

void on_result(void *ud, int err, const char *msg, const json_t *results)
{
    world_t *w = ud;
    json_array_append_new(w->results, json_pack("{s:i,s:s,s:O}", "err", err, "msg", msg ? msg : "",
                                                "results", (json_t *)results));
    w->outstanding--;
}

static void sink_servers(void *ud, size_t n)
{
    world_t *w = ud;
    json_array_append_new(w->sink, json_pack("[s,I]", "servers", (json_int_t)n));
}

static void sink_count(void *ud, size_t n)
{
    world_t *w = ud;
    json_array_append_new(w->sink, json_pack("[s,I]", "count", (json_int_t)n));
}

static void sink_ack(void *ud, const json_t *arg, sg_buf_t *const *bins, size_t nbins)
{
    world_t *w = ud;
    json_array_append_new(w->sink, json_pack("[s,o]", "ack", to_fx(arg, bins, nbins)));
}

static void sink_gone(void *ud)
{
    world_t *w = ud;
    json_array_append_new(w->sink, json_pack("[s]", "gone"));
}

const sg_adapter_ack_sink_t sg_test_sink = {sink_servers, sink_count, sink_ack, sink_gone};

void run_until_results(world_t *w)
{
    for (int i = 0; i < 100000 && w->outstanding > 0; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_int_equal(w->outstanding, 0);
}

/* The offset hook: append the offset to remote broadcasts, as Node does with
 * connection state recovery; log every call. */
void on_offset(void *ud, sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts, const char *offset,
               int remote)
{
    world_t *w = ud;
    json_array_append_new(w->offsets,
                          json_pack("[s?,b,o]", offset, remote, json_deep_copy(pkt->data)));
    if (remote)
        json_array_append_new(pkt->data, offset ? json_string(offset) : json_null());
}
