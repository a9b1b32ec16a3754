/* streams_reader.c - see streams_reader.h. */
#include "streams_reader.h"

#include <stdio.h>
#include <string.h>

#include "streams_wire.h"
#include "util.h"

#define RETRY_MS 200
#define ID_MAX 48

struct sg_sreader {
    uv_loop_t *loop;
    sg_redis_t *redis;
    char *stream;
    char count[16], block[16];
    sg_sreader_entry_cb on_entry;
    void *ud;
    sg_redis_log_cb log;
    void *log_ud;
    char offset[ID_MAX]; /* "" until anchored */
    int inflight;        /* an XREVRANGE or XREAD is on the wire */
    int failing;         /* an error episode is on (logged once) */
    int closing;
    uv_timer_t retry;
};

static void rlog(sg_sreader_t *r, int level, const char *fmt, const char *a, const char *b)
{
    if (!r->log)
        return;
    char line[512];
    snprintf(line, sizeof line, fmt, a, b);
    r->log(r->log_ud, level, line);
}

static void next(sg_sreader_t *r);

static void on_retry(uv_timer_t *t)
{
    next(t->data);
}

/* An error reply or an unexpected shape: once per episode, then quietly
 * every RETRY_MS until a read works again. */
static void failed(sg_sreader_t *r, const char *why)
{
    if (!r->failing)
        rlog(r, 1, "redis stream %s: read failed (%s); retrying", r->stream, why);
    r->failing = 1;
    uv_timer_start(&r->retry, on_retry, RETRY_MS, 0);
}

static int valid_id(const redisReply *v)
{
    return v && v->type == REDIS_REPLY_STRING && v->len < ID_MAX &&
           sg_streams_is_id(v->str, v->len);
}

/* [id, [f1, v1, ...]]: hand it over and move the offset past it. */
static void one_entry(sg_sreader_t *r, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !valid_id(e->element[0]))
        return; /* not an entry: nothing to move past either */
    const redisReply *id = e->element[0], *fv = e->element[1];
    memcpy(r->offset, id->str, id->len);
    r->offset[id->len] = '\0';
    if (fv->type != REDIS_REPLY_ARRAY || fv->elements % 2) {
        rlog(r, 1, "redis stream %s: skipped entry %s without fields", r->stream, r->offset);
        return;
    }
    for (size_t i = 0; i < fv->elements; i++)
        if (fv->element[i]->type != REDIS_REPLY_STRING) {
            rlog(r, 1, "redis stream %s: skipped entry %s with a field that is not a string",
                 r->stream, r->offset);
            return;
        }
    r->on_entry(r->ud, r->stream, r->offset, fv);
}

static void on_xread(void *ud, const redisReply *rep)
{
    sg_sreader_t *r = ud;
    r->inflight = 0;
    if (r->closing || !rep)
        return; /* closing, or the connection was lost: on_ready resumes */
    if (rep->type == REDIS_REPLY_ERROR) {
        failed(r, rep->str);
        return;
    }
    r->failing = 0;
    /* nil: BLOCK ran out; otherwise [[stream, [entry, ...]]] */
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < rep->elements; s++) {
            const redisReply *st = rep->element[s];
            if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
                st->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            const redisReply *list = st->element[1];
            for (size_t i = 0; i < list->elements && !r->closing; i++)
                one_entry(r, list->element[i]);
        }
    }
    if (!r->closing)
        next(r);
}

static void on_anchor(void *ud, const redisReply *rep)
{
    sg_sreader_t *r = ud;
    r->inflight = 0;
    if (r->closing || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        failed(r, rep->str);
        return;
    }
    r->failing = 0;
    /* [[id, fields]] or [] for an empty or missing stream */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
        valid_id(rep->element[0]->element[0])) {
        const redisReply *id = rep->element[0]->element[0];
        memcpy(r->offset, id->str, id->len);
        r->offset[id->len] = '\0';
    } else {
        strcpy(r->offset, "0-0");
    }
    rlog(r, 3, "redis stream %s: reading from %s", r->stream, r->offset);
    next(r);
}

static void next(sg_sreader_t *r)
{
    if (r->closing || r->inflight || !sg_redis_can_send(r->redis))
        return;
    int rc;
    if (!r->offset[0]) {
        const char *argv[6] = {"XREVRANGE", r->stream, "+", "-", "COUNT", "1"};
        size_t lens[6] = {9, strlen(r->stream), 1, 1, 5, 1};
        rc = sg_redis_command(r->redis, on_anchor, r, 6, argv, lens);
    } else {
        const char *argv[8] = {"XREAD", "COUNT", r->count, "BLOCK",
                               r->block, "STREAMS", r->stream, r->offset};
        size_t lens[8];
        for (int i = 0; i < 8; i++)
            lens[i] = strlen(argv[i]);
        rc = sg_redis_command(r->redis, on_xread, r, 8, argv, lens);
    }
    if (rc == 0)
        r->inflight = 1;
    else if (rc == SG_EAGAIN)
        failed(r, "output limit");
    /* SG_ESTATE: the connection is down; on_ready resumes */
}

static void on_ready(void *ud)
{
    next(ud);
}

sg_sreader_t *sg_sreader_new(uv_loop_t *loop, const sg_sreader_opts_t *o, char *err, size_t errlen)
{
    sg_sreader_t *r = sg_calloc(1, sizeof(*r));
    r->loop = loop;
    r->stream = sg_strdup(o->stream);
    snprintf(r->count, sizeof r->count, "%u", o->count ? o->count : 100);
    snprintf(r->block, sizeof r->block, "%u", o->block_ms);
    r->on_entry = o->on_entry;
    r->ud = o->ud;
    r->log = o->redis->log;
    r->log_ud = o->redis->log_ud;
    uv_timer_init(loop, &r->retry);
    r->retry.data = r;
    char role[300];
    snprintf(role, sizeof role, "stream reader %s", r->stream);
    sg_redis_opts_t ro = *o->redis;
    ro.command_only = 1;
    ro.role = role;
    ro.on_ready = on_ready;
    ro.on_ready_ud = r;
    if (sg_redis_new(loop, &ro, &r->redis, err, errlen) != 0) {
        r->closing = 1;
        r->redis = NULL;
        sg_sreader_free(r);
        return NULL;
    }
    return r;
}

static void on_closed(uv_handle_t *h)
{
    sg_sreader_t *r = h->data;
    sg_free(r->stream);
    sg_free(r);
}

void sg_sreader_free(sg_sreader_t *r)
{
    if (!r)
        return;
    r->closing = 1;
    sg_redis_free(r->redis); /* the pending XREAD's callback runs now, NULL */
    r->redis = NULL;
    uv_timer_stop(&r->retry);
    uv_close((uv_handle_t *)&r->retry, on_closed);
}

const char *sg_sreader_stream(const sg_sreader_t *r)
{
    return r->stream;
}

const char *sg_sreader_offset(const sg_sreader_t *r)
{
    return r->offset;
}

int sg_sreader_ready(const sg_sreader_t *r)
{
    return r->offset[0] && r->redis && sg_redis_can_send(r->redis);
}
