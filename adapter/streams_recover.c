/* streams_recover.c - connection state recovery on the Streams backend, in
 * the format of @socket.io/redis-streams-adapter, so that a session saved by
 * a Node node is restored here and the other way round:
 *
 *   save:    SET <sessionKeyPrefix><pid> base64(msgpack{sid,pid,rooms,data})
 *            PX <maxDisconnectionDuration>
 *   restore: take the key (once), check that the offset entry still exists,
 *            then read the stream after it and keep the broadcasts of the
 *            namespace the session would have received, each with its entry
 *            id appended.
 *
 * Differences from Node, all deliberate: broadcasts with acks and volatile
 * ones are not replayed (live delivery gave them no offset, and a replayed
 * acked packet reaches the client without its ack id); the key is taken with one EVAL
 * (GET then DEL, atomic) rather than MULTI/GET/DEL/EXEC, because a MULTI
 * whose EXEC is refused by the output limit would leave the shared command
 * connection inside a transaction; and the stream is read in pages of
 * RESTORE_PAGE entries for at most 2 * maxLen + RESTORE_PAGE entries in all
 * (Node reads without COUNT, up to 100 times: one reconnect after a long
 * outage can pull the whole stream into memory several times). The stream
 * holds about maxLen entries, so the bound only cuts a restore racing a
 * flood of new entries; such a session is restored with what was read.
 *
 * The seam with live delivery (where Node's adapter loses or repeats a
 * packet, its code says so): the stream's reader delivers on its own
 * connection while the restore reads, and the socket joins its rooms when
 * the restore ends. So at the end the read is lined up with the last entry
 * the reader has delivered (R): entries of other nodes read past R are
 * dropped from the replay (the reader delivers them once the socket is in
 * its rooms, which happens in the same loop turn), and when the reader is
 * already past what was read the stream is read on until it is caught up.
 * This node's own entries are never dropped: the reader skips them, and
 * they were delivered here when their XADD was answered, which on this same
 * connection came before the answer that read them. Without the middleware
 * (skipMiddlewares, the default) no packet is then lost or delivered
 * twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "bopts.h"
#include "json.h"
#include "json_msgpack.h"
#include "recovery.h"
#include "streams_internal.h"
#include "streams_reader.h"
#include "util.h"

#define RESTORE_PAGE 1000
#define SESSION_MAX_DEPTH 32

static const char TAKE_SCRIPT[] =
    "local v = redis.call('GET', KEYS[1]) redis.call('DEL', KEYS[1]) return v";

/* ---- the offset hook and publishing first ---- */

void sg_streams__on_offset(void *ud, sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                           const char *offset, int remote)
{
    sg_sns_t *ns = ud;
    if (offset)
        json_array_append_new(pkt->data, json_string(offset));
    if (remote)
        return; /* the cluster delivers it */
    sg_bcast_opts_t o = *opts;
    o.flags |= SG_BCAST_LOCAL | SG_BCAST_HAS_OFFSET;
    if (sg_adapter_broadcast(ns->a, pkt, &o) != 0)
        sg_streams__log(ns->s, 1, "namespace %s: a broadcast could not be encoded", ns->nsp);
}

int sg_streams__broadcast_offset(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                                 const sg_bcast_opts_t *opts)
{
    sg_cluster_t *c = sg_cluster_of(a);
    sg_sns_t *ns = c ? sg_cluster_transport_ud(c) : NULL;
    /* During an outage local clients get the packet now, without offset. */
    if (!ns || !sg_streams__can_publish(ns->s))
        return SG_EAGAIN;
    return sg_cluster_broadcast_deferred(a, pkt, opts) == 0 ? 0 : SG_EAGAIN;
}

/* ---- save ---- */

static char *session_key(const sg_streams_t *s, const char *pid)
{
    size_t n = strlen(s->session_prefix) + strlen(pid) + 1;
    char *k = sg_malloc(n);
    snprintf(k, n, "%s%s", s->session_prefix, pid);
    return k;
}

void sg_streams__persist(sg_adapter_t *a, const char *sid, const char *pid, const json_t *rooms,
                         const json_t *data)
{
    sg_cluster_t *c = sg_cluster_of(a);
    sg_sns_t *ns = c ? sg_cluster_transport_ud(c) : NULL;
    if (!ns)
        return;
    sg_streams_t *s = ns->s;
    json_t *sess = json_pack("{s:s,s:s,s:O,s:o}", "sid", sid, "pid", pid, "rooms", rooms, "data",
                             data ? json_deep_copy(data) : json_object());
    sg_sbuf_t mp, b64;
    sg_sbuf_init(&mp);
    sg_sbuf_init(&b64);
    sg_streams_pack(&mp, sess, NULL, 0);
    sg_b64_encode(&b64, sg_sbuf_data(&mp), mp.len);
    sg_sbuf_reset(&mp);
    char *key = session_key(s, pid), px[24];
    snprintf(px, sizeof px, "%u", sg_adapter_env(a)->recovery_ms);
    const char *argv[5] = {"SET", key, (const char *)sg_sbuf_data(&b64), "PX", px};
    size_t lens[5] = {3, strlen(key), b64.len, 2, strlen(px)};
    if (sg_redis_command(s->redis, NULL, NULL, 5, argv, lens) != 0)
        sg_streams__log(s, 2, "namespace %s: session %s not saved (Redis unreachable)", ns->nsp,
                        pid);
    sg_free(key);
    sg_sbuf_reset(&b64);
    json_decref(sess);
}

/* ---- restore ---- */

typedef struct restore {
    sg_streams_t *s;
    char *stream, *nsp;
    size_t nsp_len;
    char offset[64];
    sg_adapter_restore_cb cb;
    void *ud;
    int waiting;       /* replies of the first step still to come */
    int offset_found;
    json_t *session;   /* {sid, pid, rooms, data} */
    sg_adapter_missed_t *missed;
    char (*ids)[64]; /* the entry id of each missed packet */
    uint8_t *own;    /* ... and whether this node wrote it */
    char uid[SG_CLUSTER_ID_LEN + 1]; /* this node's uid in the namespace */
    size_t nmissed, cap;
    size_t scanned;
    unsigned catchups; /* extra reads to reach the reader */
} restore_t;

static void restore_finish(restore_t *r, int ok)
{
    const json_t *sid = json_object_get(r->session, "sid"), *pid = json_object_get(r->session, "pid");
    if (ok && json_is_string(sid) && json_is_string(pid)) {
        sg_adapter_session_t sess = {json_string_value(sid), json_string_value(pid),
                                     json_object_get(r->session, "rooms"),
                                     json_object_get(r->session, "data"), r->missed, r->nmissed};
        r->cb(r->ud, &sess);
    } else {
        r->cb(r->ud, NULL);
    }
    for (size_t i = 0; i < r->nmissed; i++) {
        json_decref(r->missed[i].data);
        for (size_t k = 0; k < r->missed[i].nbins; k++)
            sg_buf_unref(r->missed[i].bins[k]);
        sg_free(r->missed[i].bins);
    }
    sg_free(r->missed);
    sg_free(r->ids);
    sg_free(r->own);
    json_decref(r->session);
    sg_free(r->stream);
    sg_free(r->nsp);
    sg_free(r);
}

/* base64(msgpack{sid, pid, rooms, data}); binary in data becomes what JSON
 * makes of a Buffer, since socket.data is JSON here. */
static json_t *decode_session(const char *v, size_t len)
{
    sg_buf_t *raw = NULL;
    json_t *out = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_b64_decode(v, len, &raw) != 0)
        return NULL;
    if (sg_jmp_unpack_bytes(raw->data, raw->len, SESSION_MAX_DEPTH, &out, &bins, &nbins) == 0 &&
        nbins) {
        json_t *conv = sg_json_node_buffers(out, bins, nbins);
        json_decref(out);
        out = conv;
    }
    sg_bufs_free(bins, nbins);
    sg_buf_unref(raw);
    if (out && (!json_is_object(out) || !json_is_array(json_object_get(out, "rooms")))) {
        json_decref(out);
        out = NULL;
    }
    return out;
}

static void page(restore_t *r);

/* One entry of the page: a broadcast of our namespace that the session
 * would have received (Node's shouldIncludePacket) is kept, with its id. */
static void consider(restore_t *r, const redisReply *id, const redisReply *fv)
{
    const redisReply *nsp = sg_streams__field(fv, "nsp"), *type = sg_streams__field(fv, "type"),
                     *data = sg_streams__field(fv, "data"), *uid = sg_streams__field(fv, "uid");
    if (!nsp || nsp->len != r->nsp_len || memcmp(nsp->str, r->nsp, r->nsp_len) || !type ||
        type->len != 1 || type->str[0] != '3' || !data || !uid)
        return;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_streams_entry_decode(uid->str, uid->len, nsp->str, nsp->len, type->str, type->len,
                                data->str, data->len, &msg, &bins, &nbins) != 0)
        return;
    const json_t *d = json_object_get(msg, "data");
    json_t *pdata = json_object_get(json_object_get(d, "packet"), "data");
    const json_t *opts = json_object_get(d, "opts");
    sg_bopts_t bo;
    /* Unlike Node, not what live delivery gave no offset to: a broadcast
     * with acks (0.2 puts them in the stream; replayed, the client would
     * get it again without its ack id) or a volatile one. */
    int replayable = !json_object_get(d, "requestId") &&
                     !json_is_true(json_object_get(json_object_get(opts, "flags"), "volatile"));
    if (replayable && json_is_array(pdata) && json_is_object(opts) &&
        sg_bopts_decode(&bo, opts, NULL, SG_CLUSTER_MAX_NAMES) == 0) {
        if (sg_rstore_include(json_object_get(r->session, "rooms"), &bo.o)) {
            if (r->nmissed == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 16;
                r->missed = sg_realloc(r->missed, r->cap * sizeof(*r->missed));
                r->ids = sg_realloc(r->ids, r->cap * sizeof(*r->ids));
                r->own = sg_realloc(r->own, r->cap * sizeof(*r->own));
            }
            r->own[r->nmissed] = uid->len == SG_CLUSTER_ID_LEN &&
                                 !memcmp(uid->str, r->uid, SG_CLUSTER_ID_LEN);
            json_t *copy = json_copy(pdata);
            json_array_append_new(copy, json_stringn(id->str, id->len));
            snprintf(r->ids[r->nmissed], sizeof r->ids[0], "%.*s", (int)id->len, id->str);
            r->missed[r->nmissed++] = (sg_adapter_missed_t){copy, bins, nbins};
            bins = NULL;
            nbins = 0;
        }
        sg_bopts_clear(&bo);
    }
    json_decref(msg);
    sg_bufs_free(bins, nbins);
}

/* Stream ids compared as Redis does: milliseconds, then sequence. */
static int id_cmp(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    if (am != bm)
        return am < bm ? -1 : 1;
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0,
                       bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return as < bs ? -1 : as > bs;
}

#define MAX_CATCHUPS 16

/* The read reached the end of the stream: line it up with the reader (see
 * the top of the file). 1 when the restore may finish now, 0 when it reads
 * on. */
static int line_up(restore_t *r)
{
    sg_sreader_t *rd = sg_map_get(r->s->readers, r->stream, strlen(r->stream));
    const char *R = rd ? sg_sreader_offset(rd) : "";
    if (!*R || !sg_streams_is_id(R, strlen(R)))
        return 1;
    if (id_cmp(r->offset, R) < 0 && r->catchups < MAX_CATCHUPS) {
        r->catchups++; /* the reader delivered entries this read has not seen */
        page(r);
        return 0;
    }
    size_t keep = 0;
    for (size_t i = 0; i < r->nmissed; i++) {
        sg_adapter_missed_t *m = &r->missed[i];
        if (r->own[i] || id_cmp(r->ids[i], R) <= 0) {
            r->missed[keep] = *m;
            memcpy(r->ids[keep], r->ids[i], sizeof r->ids[0]);
            r->own[keep++] = r->own[i];
            continue;
        }
        json_decref(m->data); /* the reader brings it */
        for (size_t k = 0; k < m->nbins; k++)
            sg_buf_unref(m->bins[k]);
        sg_free(m->bins);
    }
    r->nmissed = keep;
    return 1;
}

static void on_page(void *ud, const redisReply *rep)
{
    restore_t *r = ud;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        restore_finish(r, 0);
        return;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof r->offset ||
            !sg_streams_is_id(e->element[0]->str, e->element[0]->len))
            continue;
        if (e->element[1]->type == REDIS_REPLY_ARRAY)
            consider(r, e->element[0], e->element[1]);
        memcpy(r->offset, e->element[0]->str, e->element[0]->len);
        r->offset[e->element[0]->len] = '\0';
    }
    r->scanned += rep->elements;
    if (rep->elements < RESTORE_PAGE || r->scanned >= 2 * (size_t)r->s->o.max_len + RESTORE_PAGE) {
        if (line_up(r))
            restore_finish(r, 1);
    } else {
        page(r);
    }
}

static void page(restore_t *r)
{
    char from[80], count[16];
    sg_streams_next_id(r->offset, from, sizeof from);
    snprintf(count, sizeof count, "%d", RESTORE_PAGE);
    const char *argv[6] = {"XRANGE", r->stream, from, "+", "COUNT", count};
    size_t lens[6] = {6, strlen(r->stream), strlen(from), 1, 5, strlen(count)};
    if (sg_redis_command(r->s->redis, on_page, r, 6, argv, lens) != 0)
        restore_finish(r, 0);
}

/* Both first replies are in: go on only with a session and its offset. */
static void first_step_done(restore_t *r)
{
    if (--r->waiting > 0)
        return;
    if (!r->session || !r->offset_found)
        restore_finish(r, 0);
    else
        page(r);
}

static void on_take(void *ud, const redisReply *rep)
{
    restore_t *r = ud;
    if (rep && rep->type == REDIS_REPLY_STRING)
        r->session = decode_session(rep->str, rep->len);
    first_step_done(r);
}

static void on_check(void *ud, const redisReply *rep)
{
    restore_t *r = ud;
    r->offset_found = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1;
    first_step_done(r);
}

void sg_streams__restore(sg_adapter_t *a, const char *pid, const char *offset,
                         sg_adapter_restore_cb cb, void *ud)
{
    sg_cluster_t *c = sg_cluster_of(a);
    sg_sns_t *ns = c ? sg_cluster_transport_ud(c) : NULL;
    /* Node accepts stream ids only. */
    if (!ns || strlen(offset) >= 64 || !sg_streams_is_id(offset, strlen(offset)) ||
        !sg_redis_can_send(ns->s->redis)) {
        cb(ud, NULL);
        return;
    }
    restore_t *r = sg_calloc(1, sizeof(*r));
    r->s = ns->s;
    r->stream = sg_strdup(ns->stream);
    r->nsp = sg_strdup(ns->nsp);
    r->nsp_len = ns->nsp_len;
    snprintf(r->uid, sizeof r->uid, "%s", sg_cluster_uid(ns->c));
    snprintf(r->offset, sizeof r->offset, "%s", offset);
    r->cb = cb;
    r->ud = ud;
    char *key = session_key(ns->s, pid);
    const char *take[4] = {"EVAL", TAKE_SCRIPT, "1", key};
    size_t take_lens[4] = {4, sizeof TAKE_SCRIPT - 1, 1, strlen(key)};
    const char *check[4] = {"XRANGE", r->stream, r->offset, r->offset};
    size_t check_lens[4] = {6, strlen(r->stream), strlen(r->offset), strlen(r->offset)};
    r->waiting = 2;
    int rc1 = sg_redis_command(ns->s->redis, on_take, r, 4, take, take_lens);
    int rc2 = sg_redis_command(ns->s->redis, on_check, r, 4, check, check_lens);
    sg_free(key);
    /* A refused command never calls back: count it as answered (nothing). */
    if (rc1 != 0)
        first_step_done(r);
    if (rc2 != 0)
        first_step_done(r);
}
