/* streams.c - what the namespaces of the Streams backend share: the Redis
 * connections, the readers and their dispatch by namespace, and the outbox
 * (see streams.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "streams_internal.h"
#include "streams_reader.h"
#include "util.h"

#define XADD_MAX_ARGS 14
#define SKIP_LOG_EVERY_MS 10000
#define VERIFY_COUNT 10000 /* entries read after the last acked one, per stream */

/* One XADD: its arguments in one block, waiting in the outbox or on the
 * wire (then owned by the reply callback). */
struct sg_sout {
    sg_sout_t *prev, *next;
    sg_streams_t *s;
    sg_cluster_published_cb cb;
    void *cb_ud;
    int argc;
    const char *argv[XADD_MAX_ARGS];
    size_t lens[XADD_MAX_ARGS];
    size_t bytes;
    char *blob;
    int requeued; /* on the wire when the connection went: maybe stored */
};

/* The last id Redis gave one of our XADDs, per stream. */
typedef struct acked {
    char *stream;
    char id[48];
} acked_t;

void sg_streams__log(const sg_streams_t *s, int level, const char *fmt, ...)
{
    if (!s->o.redis.log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->o.redis.log(s->o.redis.log_ud, level, buf);
}

const redisReply *sg_streams__field(const redisReply *fields, const char *name)
{
    const redisReply *v = NULL;
    size_t len = strlen(name);
    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) { /* the last one wins, as in an object */
        const redisReply *k = fields->element[i], *val = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == len && !memcmp(k->str, name, len) &&
            val->type == REDIS_REPLY_STRING)
            v = val;
    }
    return v;
}

/* ---- entries and the outbox ---- */

static sg_sout_t *sout_new(sg_streams_t *s, const char *stream, const sg_streams_entry_t *e,
                           sg_cluster_published_cb cb, void *cb_ud)
{
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%u", s->o.max_len);
    const char *argv[XADD_MAX_ARGS] = {"XADD", stream, "MAXLEN", "~",  maxlen, "*",  "uid",
                                       e->uid, "nsp", e->nsp,  "type", e->type, "data", e->data};
    size_t lens[XADD_MAX_ARGS] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 3,
                                  e->uid_len, 3, e->nsp_len, 4, strlen(e->type), 4, e->data_len};
    int argc = e->data ? 14 : 12;
    sg_sout_t *o = sg_calloc(1, sizeof(*o));
    o->s = s;
    o->cb = cb;
    o->cb_ud = cb_ud;
    o->argc = argc;
    for (int i = 0; i < argc; i++)
        o->bytes += lens[i];
    o->blob = sg_malloc(o->bytes ? o->bytes : 1);
    char *p = o->blob;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], lens[i]);
        o->argv[i] = p;
        o->lens[i] = lens[i];
        p += lens[i];
    }
    return o;
}

static void sout_free(sg_sout_t *o)
{
    sg_free(o->blob);
    sg_free(o);
}

/* The entry will never be written: its publisher learns it. */
static void sout_fail(sg_sout_t *o, int status)
{
    if (o->cb)
        o->cb(o->cb_ud, status, NULL);
    sout_free(o);
}

static void out_unlink(sg_streams_t *s, sg_sout_t *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        s->out.head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        s->out.tail = o->prev;
    if (s->out.requeued == o)
        s->out.requeued = o->prev;
    o->prev = o->next = NULL;
    s->out.n--;
    s->out.bytes -= o->bytes;
}

/* Insert after `after` (NULL: at the head). */
static void out_insert(sg_streams_t *s, sg_sout_t *after, sg_sout_t *o)
{
    o->prev = after;
    o->next = after ? after->next : s->out.head;
    if (o->next)
        o->next->prev = o;
    else
        s->out.tail = o;
    if (after)
        after->next = o;
    else
        s->out.head = o;
    s->out.n++;
    s->out.bytes += o->bytes;
}

/* Keep the outbox within its bounds by dropping the oldest; one warning per
 * episode (it ends when the outbox empties). */
static void out_bound(sg_streams_t *s)
{
    while (s->out.head && s->out.n > 1 &&
           (s->out.n > s->o.outbox_entries || s->out.bytes > s->o.outbox_bytes)) {
        if (!s->out.over)
            sg_streams__log(s, 1,
                            "redis streams: outbox full (%zu entries, %zu bytes) while Redis is "
                            "unreachable; dropping the oldest",
                            s->out.n, s->out.bytes);
        s->out.over = 1;
        s->out.dropped++;
        s->out.episode_dropped++;
        sg_sout_t *o = s->out.head;
        out_unlink(s, o);
        sout_fail(o, SG_EAGAIN);
    }
}

static void out_flush(sg_streams_t *s);

static void note_acked(sg_streams_t *s, const char *stream, size_t slen, const char *id,
                       size_t idlen)
{
    if (idlen >= sizeof(((acked_t *)0)->id) || !sg_streams_is_id(id, idlen))
        return;
    acked_t *a = sg_map_get(s->acked, stream, slen);
    if (!a) {
        a = sg_calloc(1, sizeof(*a));
        a->stream = sg_strndup(stream, slen);
        sg_map_put(s->acked, a->stream, slen, a);
    }
    memcpy(a->id, id, idlen);
    a->id[idlen] = '\0';
}

static void on_xadd(void *ud, const redisReply *rep)
{
    sg_sout_t *o = ud;
    sg_streams_t *s = o->s;
    if (!rep) {
        if (s->closing) {
            sout_fail(o, SG_ESTATE);
            return;
        }
        /* A publisher waiting to deliver locally must not wait for the
         * outage: it learns now, and the entry is written later anyway. */
        if (o->cb) {
            o->cb(o->cb_ud, SG_EAGAIN, NULL);
            o->cb = NULL;
        }
        /* Lost with the connection: back in front of what was queued since,
         * behind what came back before it. */
        out_insert(s, s->out.requeued, o);
        s->out.requeued = o;
        o->requeued = 1;
        out_bound(s);
        return;
    }
    if (rep->type == REDIS_REPLY_STRING) {
        s->written++;
        note_acked(s, o->argv[1], o->lens[1], rep->str, rep->len);
        if (o->cb)
            o->cb(o->cb_ud, 0, rep->str);
        sout_free(o);
    } else {
        if (s->xadd_errors++ == 0 || rep->type != REDIS_REPLY_ERROR)
            sg_streams__log(s, 1, "redis streams: XADD to %.*s refused (%s)", (int)o->lens[1],
                            o->argv[1], rep->type == REDIS_REPLY_ERROR ? rep->str : "odd reply");
        sout_fail(o, SG_EIO);
    }
    if (s->out.head)
        out_flush(s);
}

/* 0 sent, SG_ESTATE (down), SG_EAGAIN (output limit; nothing was sent). */
static int out_send(sg_streams_t *s, sg_sout_t *o)
{
    return sg_redis_command(s->redis, on_xadd, o, o->argc, o->argv, o->lens);
}

static void out_flush(sg_streams_t *s)
{
    while (s->out.head && !s->closing && !s->out.verifying && sg_redis_can_send(s->redis)) {
        sg_sout_t *o = s->out.head;
        out_unlink(s, o);
        if (out_send(s, o) != 0) {
            out_insert(s, NULL, o); /* retried on the next reply or reconnect */
            return;
        }
    }
    if (!s->out.head && s->out.over) {
        s->out.over = 0;
        sg_streams__log(s, 1, "redis streams: outbox written; %llu entries were dropped",
                        (unsigned long long)s->out.episode_dropped);
        s->out.episode_dropped = 0;
    }
}

int sg_streams__xadd(sg_streams_t *s, const char *stream, const sg_streams_entry_t *e,
                     sg_cluster_published_cb cb, void *cb_ud)
{
    sg_sout_t *o = sout_new(s, stream, e, cb, cb_ud);
    if (!s->out.head) {
        int rc = out_send(s, o);
        if (rc == 0)
            return 0;
        if (rc == SG_EAGAIN) { /* Redis is there and not keeping up */
            sout_free(o);
            return SG_EAGAIN;
        }
    }
    out_insert(s, s->out.tail, o); /* after what waits already: order */
    out_bound(s);
    return 0;
}

int sg_streams__can_publish(const sg_streams_t *s)
{
    return !s->closing && !s->out.head && sg_redis_can_send(s->redis);
}

/* ---- after a reconnect: what Redis stored before the connection went ----
 *
 * An XADD whose reply was lost with the connection may have been applied.
 * Redis applies a connection's commands in order, so in each stream the
 * entries of ours after the last one acknowledged are a prefix of what was
 * requeued, in the same order: read them back and count those as written
 * (with their ids) instead of writing them twice. */

typedef struct verify {
    sg_streams_t *s;
    char *stream;
} verify_t;

/* Fields 6.. of an XADD are uid, nsp, type[, data], as pairs. */
static int same_entry(const sg_sout_t *o, const redisReply *fields)
{
    if (fields->type != REDIS_REPLY_ARRAY)
        return 0;
    for (int i = 6; i + 1 < o->argc; i += 2) {
        char name[8];
        snprintf(name, sizeof name, "%.*s", (int)o->lens[i], o->argv[i]);
        const redisReply *v = sg_streams__field(fields, name);
        if (!v || v->len != o->lens[i + 1] || memcmp(v->str, o->argv[i + 1], v->len))
            return 0;
    }
    return o->argc == 14 || !sg_streams__field(fields, "data");
}

static sg_sout_t *next_requeued(sg_sout_t *o, const char *stream, size_t slen)
{
    for (; o; o = o->next)
        if (o->requeued && o->lens[1] == slen && !memcmp(o->argv[1], stream, slen))
            return o;
    return NULL;
}

static void verify_done(sg_streams_t *s)
{
    if (--s->out.verifying > 0 || s->closing)
        return;
    if (!sg_redis_can_send(s->redis))
        return; /* lost again: the next on_ready verifies again */
    for (sg_sout_t *o = s->out.head; o; o = o->next)
        o->requeued = 0;
    out_flush(s);
}

static void on_verify(void *ud, const redisReply *rep)
{
    verify_t *v = ud;
    sg_streams_t *s = v->s;
    size_t slen = strlen(v->stream);
    uint64_t before = s->deduplicated;
    if (rep && rep->type == REDIS_REPLY_ARRAY && !s->closing) {
        sg_sout_t *cand = next_requeued(s->out.head, v->stream, slen);
        for (size_t i = 0; i < rep->elements && cand; i++) {
            const redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING || !same_entry(cand, e->element[1]))
                continue;
            sg_sout_t *next = next_requeued(cand->next, v->stream, slen);
            out_unlink(s, cand);
            s->written++;
            s->deduplicated++;
            note_acked(s, v->stream, slen, e->element[0]->str, e->element[0]->len);
            if (cand->cb)
                cand->cb(cand->cb_ud, 0, e->element[0]->str);
            sout_free(cand);
            cand = next;
        }
    }
    if (s->deduplicated > before)
        sg_streams__log(s, 2, "redis stream %s: %llu entries sent before the connection went "
                              "were stored; not written again", v->stream,
                        (unsigned long long)(s->deduplicated - before));
    sg_free(v->stream);
    sg_free(v);
    verify_done(s);
}

static void verify_start(sg_streams_t *s)
{
    s->out.verifying = 1; /* held while the requests go out */
    sg_map_t *seen = sg_map_new();
    for (sg_sout_t *o = s->out.head; o; o = o->next) {
        if (!o->requeued || sg_map_get(seen, o->argv[1], o->lens[1]))
            continue;
        sg_map_put(seen, o->argv[1], o->lens[1], o);
        acked_t *a = sg_map_get(s->acked, o->argv[1], o->lens[1]);
        if (!a)
            continue; /* nothing of ours acknowledged there yet: cannot tell */
        char from[64], count[16];
        sg_streams_next_id(a->id, from, sizeof from);
        snprintf(count, sizeof count, "%d", VERIFY_COUNT);
        verify_t *v = sg_malloc(sizeof(*v));
        v->s = s;
        v->stream = sg_strndup(o->argv[1], o->lens[1]);
        const char *argv[6] = {"XRANGE", v->stream, from, "+", "COUNT", count};
        size_t lens[6] = {6, o->lens[1], strlen(from), 1, 5, strlen(count)};
        if (sg_redis_command(s->redis, on_verify, v, 6, argv, lens) == 0) {
            s->out.verifying++;
        } else {
            sg_free(v->stream);
            sg_free(v);
        }
    }
    sg_map_free(seen);
    verify_done(s);
}

static void on_ready(void *ud)
{
    sg_streams_t *s = ud;
    s->out.requeued = NULL;
    for (sg_sout_t *o = s->out.head; o; o = o->next)
        if (o->requeued) {
            verify_start(s);
            return;
        }
    out_flush(s);
}

/* ---- readers ---- */


/* Malformed entries: a line for the first, then one per SKIP_LOG_EVERY_MS
 * with the count, so a peer writing garbage cannot fill the log. */
static void skipped(sg_streams_t *s, const char *stream, const char *id)
{
    s->skipped++;
    uint64_t now = uv_now(s->loop);
    if (s->skip_logged_at && now - s->skip_logged_at < SKIP_LOG_EVERY_MS) {
        s->skip_unlogged++;
        return;
    }
    sg_streams__log(s, 1, "redis stream %s: skipped malformed entry %s (%llu more since the last "
                          "such line)", stream, id, (unsigned long long)s->skip_unlogged);
    s->skip_logged_at = now ? now : 1;
    s->skip_unlogged = 0;
}

static void on_entry(void *ud, const char *stream, const char *id, const redisReply *fv)
{
    sg_streams_t *s = ud;
    const redisReply *nsp = sg_streams__field(fv, "nsp");
    if (!nsp || !nsp->len)
        return; /* Node skips these too */
    sg_sns_t *ns = sg_map_get(s->nsps, nsp->str, nsp->len);
    /* Not hosted here, or the mirror copy of an entry we read elsewhere. */
    if (!ns || strcmp(ns->stream, stream) != 0)
        return;
    const redisReply *uid = sg_streams__field(fv, "uid"), *type = sg_streams__field(fv, "type"),
                     *data = sg_streams__field(fv, "data");
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (!uid || !type ||
        sg_streams_entry_decode(uid->str, uid->len, nsp->str, nsp->len, type->str, type->len,
                                data ? data->str : NULL, data ? data->len : 0, &msg, &bins,
                                &nbins) != 0) {
        skipped(s, stream, id);
    } else {
        s->read++;
        sg_cluster_on_message(ns->c, msg, bins, nbins, id);
    }
    json_decref(msg);
    sg_bufs_free(bins, nbins);
}

int sg_streams__want_reader(sg_streams_t *s, const char *stream)
{
    if (sg_map_get(s->readers, stream, strlen(stream)))
        return 0;
    char err[256];
    sg_sreader_opts_t ro = {&s->o.redis, stream, s->o.read_count, s->o.block_ms, on_entry, s};
    sg_sreader_t *r = sg_sreader_new(s->loop, &ro, err, sizeof err);
    if (!r)
        return SG_EINVAL;
    const char *key = sg_sreader_stream(r);
    sg_map_put(s->readers, key, strlen(key), r);
    return 0;
}

/* ---- life ---- */

int sg_streams_new(uv_loop_t *loop, const sg_streams_opts_t *o, sg_streams_t **out, char *err,
                   size_t errlen)
{
    sg_streams_t *s = sg_calloc(1, sizeof(*s));
    s->loop = loop;
    s->o = *o;
    s->url = sg_strdup(o->redis.url ? o->redis.url : "");
    s->stream_name = sg_strdup(o->stream_name && *o->stream_name ? o->stream_name : "socket.io");
    s->channel_prefix =
        sg_strdup(o->channel_prefix && *o->channel_prefix ? o->channel_prefix : "socket.io");
    s->session_prefix = sg_strdup(o->session_prefix && *o->session_prefix ? o->session_prefix
                                                                          : "sio:session:");
    s->o.session_prefix = s->session_prefix;
    s->o.redis.url = s->url;
    s->o.redis.role = NULL;
    s->o.stream_name = s->stream_name;
    s->o.channel_prefix = s->channel_prefix;
    if (s->o.protocol != 2)
        s->o.protocol = 3;
    if (!s->o.stream_count || s->o.protocol == 2)
        s->o.stream_count = 1; /* 0.2 has a single stream */
    if (!s->o.max_len)
        s->o.max_len = 10000;
    if (!s->o.read_count)
        s->o.read_count = 100;
    if (!s->o.outbox_entries)
        s->o.outbox_entries = 10000;
    if (!s->o.outbox_bytes)
        s->o.outbox_bytes = (size_t)64 * 1024 * 1024;
    s->readers = sg_map_new();
    s->nsps = sg_map_new();
    s->acked = sg_map_new();
    sg_redis_opts_t ro = s->o.redis;
    ro.on_ready = on_ready;
    ro.on_ready_ud = s;
    if (sg_redis_new(loop, &ro, &s->redis, err, errlen) != 0) {
        s->redis = NULL;
        sg_streams_free(s);
        return SG_EINVAL;
    }
    for (unsigned i = 0; i < s->o.stream_count; i++) {
        char name[512];
        if (s->o.stream_count == 1)
            snprintf(name, sizeof name, "%s", s->stream_name);
        else
            snprintf(name, sizeof name, "%s-%u", s->stream_name, i);
        if (sg_streams__want_reader(s, name) != 0) {
            snprintf(err, errlen, "cannot start the reader of stream %s", name);
            sg_streams_free(s);
            return SG_EINVAL;
        }
    }
    *out = s;
    return 0;
}

void sg_streams_free(sg_streams_t *s)
{
    if (!s)
        return;
    s->closing = 1;
    sg_map_iter_t it = {0};
    while (sg_map_next(s->readers, &it))
        sg_sreader_free(it.val); /* their keys go with them: drop the map first */
    sg_map_free(s->readers);
    s->readers = NULL;
    sg_redis_free(s->redis); /* entries on the wire fail now (on_xadd, closing) */
    s->redis = NULL;
    while (s->out.head) {
        sg_sout_t *o = s->out.head;
        out_unlink(s, o);
        sout_fail(o, SG_ESTATE);
    }
    sg_map_free(s->nsps); /* empty: every namespace closed first */
    it = (sg_map_iter_t){0};
    while (s->acked && sg_map_next(s->acked, &it)) {
        acked_t *a = it.val;
        sg_free(a->stream);
        sg_free(a);
    }
    sg_map_free(s->acked);
    sg_free(s->url);
    sg_free(s->stream_name);
    sg_free(s->channel_prefix);
    sg_free(s->session_prefix);
    sg_free(s);
}

const char *sg_streams_state(const sg_streams_t *s)
{
    if (!s->redis)
        return "down";
    if (sg_redis_state(s->redis) != SG_REDIS_READY)
        return sg_redis_state_name(s->redis);
    /* Ready means reading too: a reader not yet anchored would miss what is
     * written now. */
    sg_map_iter_t it = {0};
    while (sg_map_next(s->readers, &it))
        if (!sg_sreader_ready(it.val))
            return sg_sreader_offset(it.val)[0] ? "down" : "connecting";
    return "ready";
}

void sg_streams_stats(const sg_streams_t *s, sg_streams_stats_t *out)
{
    *out = (sg_streams_stats_t){s->out.n,  s->out.bytes, s->out.dropped, s->written,
                                s->read,   s->skipped};
}
