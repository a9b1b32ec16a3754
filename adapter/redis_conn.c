/* redis_conn.c - two links (redis_link.h) on our libuv loop, with
 * reconnection, subscription restore and a bound on the commands waiting for
 * Redis. */
#include "redis_conn.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "redis_cluster.h"
#include "redis_link.h"
#include "redis_sentinel.h"
#include "redis_url.h"
#include "util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_OUTPUT_LIMIT ((size_t)32 * 1024 * 1024)

typedef enum { CONN_IDLE = 0, CONN_CONNECTING, CONN_READY } conn_state_t;

typedef struct conn {
    sg_redis_t *r;
    const char *name; /* "command" / "subscriber" */
    int is_sub;
    sg_rlink_t *link; /* NULL while waiting to retry */
    conn_state_t state;
    unsigned attempt; /* failed attempts since the last ready state */
    int ever_ready;   /* ready at least once: the next ready is a reconnect */
    uv_timer_t timer; /* the reconnect delay */
    int awaiting_master; /* Sentinel: waits for the master's address */
} conn_t;

typedef struct sub {
    char *key; /* 'c' (channel), 'p' (pattern) or 's' (shard channel), then the name */
    size_t klen;
    sg_redis_msg_cb cb;
    void *ud;
} sub_t;

/* One command of the command connection that Redis has not answered yet. */
typedef struct cmd_rec {
    sg_redis_t *r;
    sg_redis_reply_cb cb; /* NULL for PUBLISH */
    void *ud;
    size_t bytes; /* its share of r->out.bytes */
} cmd_rec_t;

struct sg_redis {
    uv_loop_t *loop;
    sg_rurl_t url; /* with Sentinel, url.host/url.port: the master as last resolved */
    const char *where; /* url.where */
    sg_rsentinel_t *sentinel; /* NULL unless url.kind is SG_RURL_SENTINEL */
    sg_rcluster_t *cluster;   /* NULL unless url.kind is SG_RURL_CLUSTER: then the
                                 two conns stay idle and everything goes there */
    int master_known;         /* Sentinel: url.host is the master to try */
    int resolving;            /* Sentinel: a resolve is in flight */
    unsigned bmin, bmax;
    unsigned connect_timeout; /* ms */
    size_t reply_limit;
    sg_redis_log_cb log;
    void *log_ud;
    int command_only;
    char *role;
    void (*on_ready)(void *ud);
    void *on_ready_ud;
    conn_t cmd, sub;
    sg_map_t *subs;
    sg_redis_state_t state;
    int closing;
    int open_timers;
    uint64_t reconnects, timeouts;
    struct {
        size_t limit;
        size_t bytes, cmds; /* sent on the command connection, not yet answered */
        int over;           /* dropping until bytes fall to limit / 2 */
        uint64_t dropped;   /* since start */
        uint64_t episode_dropped, episode_start;
    } out;
};

__attribute__((format(printf, 3, 4))) static void rlog(sg_redis_t *r, int level, const char *fmt,
                                                       ...)
{
    if (!r->log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->log(r->log_ud, level, buf);
}

/* ---- state ---- */

static void update_state(sg_redis_t *r)
{
    sg_redis_state_t s;
    if (r->cmd.state == CONN_READY && (r->command_only || r->sub.state == CONN_READY))
        s = SG_REDIS_READY;
    else
        s = r->state == SG_REDIS_CONNECTING ? SG_REDIS_CONNECTING : SG_REDIS_DOWN;
    if (s == r->state)
        return;
    r->state = s;
    if (s == SG_REDIS_READY)
        rlog(r, 2, "redis %s: %s connection ready", r->where, r->role);
    else
        rlog(r, 1, "redis %s: %s connection down; cross-node operations fail until it is back",
             r->where, r->role);
    if (s == SG_REDIS_READY && r->on_ready)
        r->on_ready(r->on_ready_ud); /* last: it may send commands */
}

static void conn_start(conn_t *c);

static void on_retry(uv_timer_t *t)
{
    conn_start(t->data);
}

/* An attempt failed or a ready connection was lost: retry after the
 * back-off. With Sentinel the master is asked for again first. */
static void conn_failed(conn_t *c, int reason, const char *why_buf)
{
    sg_redis_t *r = c->r;
    int was_ready = c->state == CONN_READY;
    c->state = CONN_IDLE;
    c->awaiting_master = 0;
    if (reason == SG_RLINK_TIMEOUT)
        r->timeouts++;
    r->master_known = 0;
    if (r->closing)
        return;
    unsigned delay = r->bmin;
    for (unsigned i = 0; i < c->attempt && delay < r->bmax; i++)
        delay *= 2;
    if (delay > r->bmax)
        delay = r->bmax;
    c->attempt++;
    int refused = reason == SG_RLINK_REFUSED;
    if (was_ready)
        rlog(r, 1, "redis %s: %s connection lost (%s); reconnecting in %u ms", r->where, c->name,
             why_buf, delay);
    else /* once at warn (error when Redis refused us), then at debug while it lasts */
        rlog(r, c->attempt == 1 ? (refused ? 0 : 1) : 3,
             "redis %s: %s connection %s (%s); retrying in %u ms", r->where, c->name,
             refused ? "refused" : "failed", why_buf, delay);
    update_state(r);
    uv_timer_start(&c->timer, on_retry, delay, 0);
}

/* The link is gone (its waiting commands got their NULL reply first). */
static void on_link_lost(void *ud, int reason, const char *why)
{
    conn_t *c = ud;
    char why_buf[160];
    snprintf(why_buf, sizeof why_buf, "%s", why); /* why dies with the link */
    sg_rlink_free(c->link);
    c->link = NULL;
    assert(c->is_sub || c->r->out.cmds == 0);
    conn_failed(c, reason, why_buf);
}

static const char *sub_verb(char kind, int unsub)
{
    switch (kind) {
    case 'p':
        return unsub ? "PUNSUBSCRIBE" : "PSUBSCRIBE";
    case 's':
        return unsub ? "SUNSUBSCRIBE" : "SSUBSCRIBE";
    default:
        return unsub ? "UNSUBSCRIBE" : "SUBSCRIBE";
    }
}

/* One channel per command: in a Redis Cluster a multi-channel SSUBSCRIBE
 * fails with CROSSSLOT. */
static void issue_sub(sg_redis_t *r, const sub_t *s, int unsub)
{
    const char *verb = sub_verb(s->key[0], unsub);
    const char *argv[2] = {verb, s->key + 1};
    size_t lens[2] = {strlen(verb), s->klen - 1};
    sg_rlink_send(r->sub.link, 2, argv, lens);
}

static void on_link_ready(void *ud)
{
    conn_t *c = ud;
    c->state = CONN_READY;
    c->attempt = 0;
    if (c->ever_ready)
        c->r->reconnects++;
    c->ever_ready = 1;
    rlog(c->r, 3, "redis %s: %s connection ready", c->r->where, c->name);
    if (c->is_sub) {
        sg_map_iter_t it = {0};
        while (sg_map_next(c->r->subs, &it))
            issue_sub(c->r, it.val, 0);
    }
    update_state(c->r);
}

/* Pub/Sub messages, subscription confirmations and errors no command waits
 * for, from the subscriber connection or any subscriber link of a cluster. */
static void dispatch_push(sg_redis_t *r, const redisReply *rep)
{
    if (r->closing)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        rlog(r, 1, "redis %s: subscriber: %s", r->where, rep->str);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return;
    redisReply **e = rep->element;
    if (e[0]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *name, *chan, *payload;
    char kind;
    if (!strcmp(e[0]->str, "message") || !strcmp(e[0]->str, "smessage")) {
        name = chan = e[1];
        payload = e[2];
        kind = e[0]->str[0] == 's' ? 's' : 'c';
    } else if (!strcmp(e[0]->str, "pmessage") && rep->elements >= 4) {
        name = e[1];
        chan = e[2];
        payload = e[3];
        kind = 'p';
    } else {
        return; /* subscribe confirmations */
    }
    if (name->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING ||
        payload->type != REDIS_REPLY_STRING)
        return;
    char kbuf[512];
    char *key = name->len + 1 <= sizeof kbuf ? kbuf : sg_malloc(name->len + 1);
    key[0] = kind;
    memcpy(key + 1, name->str, name->len);
    sub_t *s = sg_map_get(r->subs, key, name->len + 1);
    if (key != kbuf)
        sg_free(key);
    if (s)
        s->cb(s->ud, chan->str, chan->len, payload->str, payload->len);
}

static void on_sub_push(void *ud, const redisReply *rep)
{
    conn_t *c = ud;
    dispatch_push(c->r, rep);
}

/* Nothing arrives unasked on the command connection; a stray reply is only
 * logged. */
static void on_cmd_push(void *ud, const redisReply *rep)
{
    conn_t *c = ud;
    if (rep->type == REDIS_REPLY_ERROR)
        rlog(c->r, 1, "redis %s: %s", c->r->where, rep->str);
}

static void on_master(void *ud, const char *host, int port);

static void conn_start(conn_t *c)
{
    sg_redis_t *r = c->r;
    if (r->closing || c->link || c->awaiting_master)
        return;
    if (r->sentinel && !r->master_known) {
        c->state = CONN_CONNECTING;
        c->awaiting_master = 1;
        if (!r->resolving) {
            r->resolving = 1;
            sg_rsentinel_resolve(r->sentinel, on_master, r);
        }
        return;
    }
    sg_rlink_opts_t o = {
        .host = r->url.host,
        .port = r->url.port,
        .unix_path = r->url.unix_path,
        .user = r->url.user,
        .pass = r->url.pass,
        .db = c->is_sub ? 0 : r->url.db, /* Pub/Sub ignores databases */
        .expect_master = r->sentinel != NULL,
        .timeout_ms = r->connect_timeout,
        .reply_limit = r->reply_limit,
        .on_ready = on_link_ready,
        .on_push = c->is_sub ? on_sub_push : on_cmd_push,
        .on_lost = on_link_lost,
        .ud = c,
    };
    c->state = CONN_CONNECTING;
    c->link = sg_rlink_new(r->loop, &o);
}

/* ---- Sentinel ---- */

/* A resolve answered: connect what waits for it, or count a failed
 * attempt when no sentinel knew the master. */
static void on_master(void *ud, const char *host, int port)
{
    sg_redis_t *r = ud;
    r->resolving = 0;
    if (r->closing)
        return;
    if (host) {
        if (!r->url.host || strcmp(r->url.host, host) != 0 || r->url.port != port)
            rlog(r, 2, "redis %s: master at %s:%d", r->where, host, port);
        sg_free(r->url.host);
        r->url.host = sg_strdup(host);
        r->url.port = port;
        r->master_known = 1;
    }
    conn_t *cs[2] = {&r->cmd, &r->sub};
    for (int i = 0; i < 2; i++) {
        if (!cs[i]->awaiting_master)
            continue;
        cs[i]->awaiting_master = 0;
        if (host) {
            conn_start(cs[i]);
        } else {
            char why[300];
            snprintf(why, sizeof why, "no sentinel gave the address of master '%s'",
                     r->url.master);
            conn_failed(cs[i], SG_RLINK_FAILED, why);
        }
    }
}

/* The follower saw the master (at start, after each reconnect to a
 * sentinel, on +switch-master): a connection to another address is
 * dropped and made again to the new one. */
static void on_switch(void *ud, const char *host, int port)
{
    sg_redis_t *r = ud;
    if (r->closing || (r->url.host && !strcmp(r->url.host, host) && r->url.port == port))
        return;
    conn_t *cs[2] = {&r->cmd, &r->sub};
    for (int i = 0; i < 2; i++) {
        if (!cs[i]->link)
            continue;
        sg_rlink_free(cs[i]->link);
        cs[i]->link = NULL;
        conn_failed(cs[i], SG_RLINK_FAILED, "the master moved"); /* retries after bmin */
    }
    on_master(r, host, port); /* the address those retries use */
}

/* ---- Redis Cluster: redis_cluster.c does the work ---- */

static void on_cluster_state(void *ud, int ready)
{
    sg_redis_t *r = ud;
    sg_redis_state_t s = ready ? SG_REDIS_READY
                               : (r->state == SG_REDIS_CONNECTING ? SG_REDIS_CONNECTING
                                                                  : SG_REDIS_DOWN);
    if (s == r->state)
        return;
    r->state = s;
    if (ready)
        rlog(r, 2, "redis %s: %s connection ready", r->where, r->role);
    else
        rlog(r, 1, "redis %s: %s connection down; cross-node operations may fail until it is "
             "back", r->where, r->role);
    if (ready && r->on_ready)
        r->on_ready(r->on_ready_ud);
}

static void on_cluster_push(void *ud, const redisReply *rep)
{
    dispatch_push(ud, rep);
}

/* ---- public ---- */

static void conn_init(sg_redis_t *r, conn_t *c, const char *name, int is_sub)
{
    c->r = r;
    c->name = name;
    c->is_sub = is_sub;
    uv_timer_init(r->loop, &c->timer);
    c->timer.data = c;
    r->open_timers++;
}

int sg_redis_new(uv_loop_t *loop, const sg_redis_opts_t *o, sg_redis_t **out, char *err,
                 size_t errlen)
{
    sg_redis_t *r = sg_calloc(1, sizeof(*r));
    r->loop = loop;
    if (sg_rurl_parse(o->url ? o->url : "", &r->url, err, errlen) != 0) {
        sg_free(r);
        return SG_EINVAL;
    }
    r->where = r->url.where;
    r->bmin = o->backoff_min_ms ? o->backoff_min_ms : 1;
    r->bmax = o->backoff_max_ms > r->bmin ? o->backoff_max_ms : r->bmin;
    r->connect_timeout = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    r->out.limit = o->output_limit ? o->output_limit : DEFAULT_OUTPUT_LIMIT;
    r->reply_limit = o->reply_limit;
    r->log = o->log;
    r->log_ud = o->log_ud;
    r->command_only = o->command_only;
    r->role = sg_strdup(o->role ? o->role : "cluster");
    r->on_ready = o->on_ready;
    r->on_ready_ud = o->on_ready_ud;
    r->subs = sg_map_new();
    conn_init(r, &r->cmd, "command", 0);
    conn_init(r, &r->sub, "subscriber", 1);
    rlog(r, 2, "redis %s: connecting (%s)", r->where, r->role);
    if (r->url.kind == SG_RURL_CLUSTER) {
        sg_rcluster_opts_t co = {.url = &r->url,
                                 .timeout_ms = r->connect_timeout,
                                 .backoff_min_ms = r->bmin,
                                 .backoff_max_ms = r->bmax,
                                 .reply_limit = r->reply_limit,
                                 .command_only = r->command_only,
                                 .on_state = on_cluster_state,
                                 .on_push = on_cluster_push,
                                 .ud = r,
                                 .log = r->log,
                                 .log_ud = r->log_ud};
        r->cluster = sg_rcluster_new(loop, &co);
        *out = r;
        return 0;
    }
    if (r->url.kind == SG_RURL_SENTINEL) {
        sg_rsentinel_opts_t so = {.hosts = r->url.hosts,
                                  .ports = r->url.ports,
                                  .n = r->url.n,
                                  .master = r->url.master,
                                  .user = r->url.s_user,
                                  .pass = r->url.s_pass,
                                  .timeout_ms = r->connect_timeout,
                                  .retry_ms = r->bmax,
                                  .on_master = on_switch,
                                  .ud = r,
                                  .log = r->log,
                                  .log_ud = r->log_ud};
        r->sentinel = sg_rsentinel_new(loop, &so);
    }
    conn_start(&r->cmd);
    if (!r->command_only)
        conn_start(&r->sub);
    *out = r;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    sg_redis_t *r = c->r;
    if (--r->open_timers == 0)
        sg_free(r);
}

void sg_redis_free(sg_redis_t *r)
{
    if (!r)
        return;
    r->closing = 1;
    if (r->cluster) {
        sg_rcluster_flush(r->cluster);
        sg_rcluster_free(r->cluster);
        r->cluster = NULL;
    }
    /* What was sent last (a session saved at shutdown) may still be queued:
     * give it to the kernel once, so Redis runs it after we go. */
    if (r->cmd.link && r->cmd.state == CONN_READY)
        sg_rlink_flush(r->cmd.link);
    conn_t *cs[2] = {&r->cmd, &r->sub};
    for (int i = 0; i < 2; i++) {
        sg_rlink_free(cs[i]->link); /* runs pending callbacks with NULL */
        cs[i]->link = NULL;
        uv_timer_stop(&cs[i]->timer);
        uv_close((uv_handle_t *)&cs[i]->timer, on_timer_closed);
    }
    sg_map_iter_t it = {0};
    while (sg_map_next(r->subs, &it)) {
        sub_t *s = it.val;
        sg_free(s->key);
        sg_free(s);
    }
    sg_map_free(r->subs);
    r->subs = NULL;
    sg_rsentinel_free(r->sentinel);
    r->sentinel = NULL;
    sg_rurl_clear(&r->url);
    r->where = "closed";
    sg_free(r->role);
}

sg_redis_state_t sg_redis_state(const sg_redis_t *r)
{
    return r->state;
}

const char *sg_redis_state_name(const sg_redis_t *r)
{
    static const char *const names[] = {"connecting", "ready", "down"};
    return names[r->state];
}

int sg_redis_can_send(const sg_redis_t *r)
{
    if (r->cluster)
        return !r->closing && sg_rcluster_can_send(r->cluster);
    return !r->closing && r->cmd.state == CONN_READY;
}

static char *sub_key(const char *name, int kind, size_t *klen)
{
    size_t n = strlen(name);
    char *key = sg_malloc(n + 2);
    key[0] = kind == SG_REDIS_PATTERN ? 'p' : kind == SG_REDIS_SHARD ? 's' : 'c';
    memcpy(key + 1, name, n + 1);
    *klen = n + 1;
    return key;
}

void sg_redis_subscribe(sg_redis_t *r, const char *name, int kind, sg_redis_msg_cb cb, void *ud)
{
    size_t klen;
    char *key = sub_key(name, kind, &klen);
    sub_t *s = sg_map_get(r->subs, key, klen);
    if (s) {
        sg_free(key);
        s->cb = cb;
        s->ud = ud;
        return;
    }
    s = sg_calloc(1, sizeof(*s));
    s->key = key;
    s->klen = klen;
    s->cb = cb;
    s->ud = ud;
    sg_map_put(r->subs, s->key, s->klen, s);
    if (r->cluster)
        sg_rcluster_subscribe(r->cluster, s->key[0], s->key + 1, s->klen - 1);
    else if (r->sub.state == CONN_READY)
        issue_sub(r, s, 0); /* never READY when command_only */
}

void sg_redis_unsubscribe(sg_redis_t *r, const char *name, int kind)
{
    if (!r->subs)
        return;
    size_t klen;
    char *key = sub_key(name, kind, &klen);
    sub_t *s = sg_map_del(r->subs, key, klen);
    sg_free(key);
    if (!s)
        return;
    if (r->cluster)
        sg_rcluster_unsubscribe(r->cluster, s->key[0], s->key + 1, s->klen - 1);
    else if (r->sub.state == CONN_READY)
        issue_sub(r, s, 1);
    sg_free(s->key);
    sg_free(s);
}
/* ---- commands and the output limit ---- */

static size_t ndigits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* What the link queues for argv (RESP: "*argc\r\n",
 * then "$len\r\n" arg "\r\n" each): the bytes this command holds until
 * Redis answers it. */
static size_t resp_len(int argc, const size_t *lens)
{
    size_t n = 1 + ndigits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++)
        n += 1 + ndigits(lens[i]) + 2 + lens[i] + 2;
    return n;
}

/* 1 if a command of this size may go out now. An episode starts when one
 * would pass the limit and lasts until half of it is answered, so a Redis
 * that hovers at the limit gives two log lines, not two per message. With
 * nothing in flight a command always goes: one larger than the limit must not
 * be refused forever, and the bound is then limit + that command. */
static int out_admit(sg_redis_t *r, size_t bytes)
{
    if (!r->out.over) {
        if (r->out.cmds == 0 || r->out.bytes + bytes <= r->out.limit)
            return 1;
        r->out.over = 1;
        r->out.episode_dropped = 0;
        r->out.episode_start = uv_now(r->loop);
        rlog(r, 1,
             "redis %s: output to Redis over redisOutputLimit (%zu bytes pending): dropping "
             "publishes until Redis catches up",
             r->where, r->out.bytes);
    }
    r->out.dropped++;
    r->out.episode_dropped++;
    return 0;
}

static void out_settle(sg_redis_t *r)
{
    if (!r->out.over || r->out.bytes > r->out.limit / 2)
        return;
    r->out.over = 0;
    rlog(r, 1,
         "redis %s: output to Redis back under redisOutputLimit after %llu ms; %llu publishes "
         "and commands dropped",
         r->where, (unsigned long long)(uv_now(r->loop) - r->out.episode_start),
         (unsigned long long)r->out.episode_dropped);
}

/* Runs exactly once per sent command: with the reply, or with NULL when
 * the link is lost or freed (sg_redis_free). */
static void on_cmd_reply(void *privdata, const redisReply *reply)
{
    cmd_rec_t *rec = privdata;
    sg_redis_t *r = rec->r;
    r->out.bytes -= rec->bytes;
    r->out.cmds--;
    out_settle(r); /* before cb, which may send again */
    if (rec->cb)
        rec->cb(rec->ud, reply);
    sg_free(rec);
}

int sg_redis_command(sg_redis_t *r, sg_redis_reply_cb cb, void *ud, int argc, const char **argv,
                     const size_t *lens)
{
    if (!sg_redis_can_send(r))
        return SG_ESTATE;
    size_t bytes = resp_len(argc, lens);
    if (!out_admit(r, bytes))
        return SG_EAGAIN;
    cmd_rec_t *rec = sg_malloc(sizeof(*rec));
    *rec = (cmd_rec_t){r, cb, ud, bytes};
    int rc = r->cluster ? sg_rcluster_command(r->cluster, on_cmd_reply, rec, argc, argv, lens)
                        : sg_rlink_command(r->cmd.link, on_cmd_reply, rec, argc, argv, lens);
    if (rc != 0) {
        sg_free(rec);
        return SG_ESTATE;
    }
    r->out.bytes += bytes;
    r->out.cmds++;
    return 0;
}

int sg_redis_publish(sg_redis_t *r, const char *channel, size_t chlen, const void *data,
                     size_t len)
{
    const char *argv[3] = {"PUBLISH", channel, data};
    size_t lens[3] = {7, chlen, len};
    return sg_redis_command(r, NULL, NULL, 3, argv, lens);
}

void sg_redis_stats(const sg_redis_t *r, sg_redis_stats_t *out)
{
    *out = (sg_redis_stats_t){
        .pending_bytes = r->out.bytes,
        .pending_cmds = r->out.cmds,
        .dropped = r->out.dropped,
        .reconnects = r->reconnects,
        .timeouts = r->timeouts,
        .over_limit = r->out.over,
    };
    if (r->cluster) {
        uint64_t t, c;
        sg_rcluster_counts(r->cluster, &t, &c);
        out->timeouts += t;
        out->reconnects += c;
    }
}
