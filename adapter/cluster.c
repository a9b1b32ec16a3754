/* cluster.c - the ClusterAdapter protocol of socket.io-adapter 2.5 (see
 * cluster.h), its core: what every other part shares. The log, ids, the
 * {type, data, uid, nsp} envelope, publishing to every node or to one, and
 * the answers owed to other nodes. The rest stands on this file:
 * cluster_hb.c (the heartbeat variant), cluster_recv.c (the receiver) and
 * cluster_send.c (life of the cluster part, what this node publishes, the
 * requests it makes). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cluster_internal.h"
#include "util.h"

void sg_cluster__log(const sg_cluster_t *c, int level, const char *fmt, ...)
{
    if (!c->env || !c->env->log)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "cluster adapter %s: ", sg_adapter_nsp(c->a));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    c->env->log(c->env->log_ud, level, buf);
}

int sg_cluster__is_name(const json_t *v, const char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), s, len) == 0;
}

/* 8 random bytes in lowercase hex, as Node's randomBytes(8).toString("hex"). */
void sg_cluster__random_id(char out[SG_CLUSTER_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[SG_CLUSTER_ID_LEN / 2];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t t = uv_hrtime() ^ (uint64_t)(uintptr_t)out;
        memcpy(b, &t, sizeof b);
    }
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[SG_CLUSTER_ID_LEN] = '\0';
}

/* ---- envelope ---- */

/* Node builds {type, data} and then sets uid and nsp: that key order. */
static json_t *envelope(const sg_cluster_t *c, int type, json_t *data)
{
    json_t *m = json_object();
    json_object_set_new(m, "type", json_integer(type));
    if (data)
        json_object_set_new(m, "data", data);
    json_object_set_new(m, "uid", json_string(c->uid));
    json_object_set_new(m, "nsp", json_string(sg_adapter_nsp(c->a)));
    return m;
}

int sg_cluster__publish(sg_cluster_t *c, int type, json_t *data, sg_buf_t *const *bins,
                        size_t nbins, sg_cluster_published_cb cb, void *ud)
{
    if (c->touch)
        c->touch(c); /* heartbeats: the next one is postponed */
    json_t *m = envelope(c, type, data);
    int rc = c->tp.publish(c->tp_ud, m, bins, nbins, cb, ud);
    json_decref(m);
    if (rc != 0) {
        sg_cluster__log(c, 3, "publishing a message of type %d failed", type);
        return SG_EIO;
    }
    return 0;
}

/* Responses go to one node; Node only logs their failures. */
void sg_cluster__respond(sg_cluster_t *c, const char *to, int type, json_t *data,
                         sg_buf_t *const *bins, size_t nbins)
{
    json_t *m = envelope(c, type, data);
    if (c->tp.publish_response(c->tp_ud, to, m, bins, nbins) != 0)
        sg_cluster__log(c, 3, "publishing a response of type %d to %s failed", type, to);
    json_decref(m);
}

/* ---- answers owed to other nodes ---- */

struct sg_cluster_reply {
    sg_adapter_reply_t base; /* must stay first */
    sg_cluster_t *c;         /* NULL once the cluster is freed */
    sg_cluster_reply_t *prev, *next;
    int type; /* 10: first call only; 12: one per client ack */
    int sent;
    unsigned refs;
    char *rid;
    char *to;
};

static void reply_unref(sg_cluster_reply_t *r)
{
    if (--r->refs)
        return;
    if (r->c)
        SG_CLUSTER__LIST_DEL(r->c->replies, r);
    sg_free(r->rid);
    sg_free(r->to);
    sg_free(r);
}

static void reply_send(sg_adapter_reply_t *base, const json_t *arg, sg_buf_t *const *bins,
                       size_t nbins)
{
    sg_cluster_reply_t *r = (sg_cluster_reply_t *)base;
    if (!r->c || (r->sent && r->type == SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE))
        return;
    r->sent = 1;
    json_t *data = json_pack("{s:s}", "requestId", r->rid);
    /* An ack without argument is undefined in Node: no packet key at all. */
    if (arg)
        json_object_set(data, "packet", (json_t *)arg);
    sg_cluster__respond(r->c, r->to, r->type, data, bins, nbins);
}

static void reply_release(sg_adapter_reply_t *base)
{
    reply_unref((sg_cluster_reply_t *)base);
}

void sg_cluster__replies_detach(sg_cluster_t *c)
{
    while (c->replies) {
        sg_cluster_reply_t *r = c->replies;
        SG_CLUSTER__LIST_DEL(c->replies, r);
        r->c = NULL;
    }
}

sg_adapter_reply_t *sg_cluster__reply_new(sg_cluster_t *c, const char *to, const char *rid,
                                          int type)
{
    sg_cluster_reply_t *r = sg_calloc(1, sizeof(*r));
    r->base.send = reply_send;
    r->base.release = reply_release;
    r->c = c;
    r->type = type;
    r->refs = 1;
    r->rid = sg_strdup(rid);
    r->to = sg_strdup(to);
    SG_CLUSTER__LIST_ADD(c->replies, r);
    return &r->base;
}
