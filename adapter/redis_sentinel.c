/* redis_sentinel.c - see redis_sentinel.h. */
#include "redis_sentinel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"
#include "util.h"

struct sg_rsentinel {
    uv_loop_t *loop;
    char **hosts;
    int *ports;
    size_t n;
    char *master, *user, *pass;
    unsigned timeout_ms, retry_ms;
    sg_rsentinel_addr_cb on_master;
    void *ud;
    void (*log)(void *ud, int level, const char *msg);
    void *log_ud;
    size_t good; /* the sentinel that answered last */
    /* resolve */
    sg_rlink_t *ask;
    size_t ask_i, asked; /* the sentinel asked, how many so far */
    sg_rsentinel_addr_cb cb;
    void *cb_ud;
    /* follow */
    sg_rlink_t *watch;
    size_t watch_i;
    uv_timer_t retry;
    int closing;
};

__attribute__((format(printf, 3, 4))) static void slog(sg_rsentinel_t *s, int level,
                                                       const char *fmt, ...)
{
    if (!s->log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->log(s->log_ud, level, buf);
}

static sg_rlink_t *link_to(sg_rsentinel_t *s, size_t i, void (*on_ready)(void *),
                           void (*on_push)(void *, const redisReply *),
                           void (*on_lost)(void *, int, const char *))
{
    sg_rlink_opts_t o = {.host = s->hosts[i],
                         .port = s->ports[i],
                         .user = s->user,
                         .pass = s->pass,
                         .timeout_ms = s->timeout_ms,
                         .reply_limit = 1 << 20, /* addresses and short messages */
                         .on_ready = on_ready,
                         .on_push = on_push,
                         .on_lost = on_lost,
                         .ud = s};
    return sg_rlink_new(s->loop, &o);
}

/* ---- resolve ---- */

static void ask_next(sg_rsentinel_t *s);

static void resolved(sg_rsentinel_t *s, const char *host, int port)
{
    sg_rlink_free(s->ask);
    s->ask = NULL;
    sg_rsentinel_addr_cb cb = s->cb;
    s->cb = NULL;
    if (cb)
        cb(s->cb_ud, host, port);
}

/* get-master-addr-by-name's answer [host, port]: 1 with host and *port. */
static int parse_addr(const redisReply *rep, char host[256], int *port)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len >= 256)
        return 0;
    memcpy(host, rep->element[0]->str, rep->element[0]->len);
    host[rep->element[0]->len] = '\0';
    long p = strtol(rep->element[1]->str, NULL, 10);
    *port = (int)p;
    return p > 0 && p < 65536;
}

static void on_addr(void *ud, const redisReply *rep)
{
    sg_rsentinel_t *s = ud;
    if (!rep || s->closing)
        return; /* on_ask_lost moves on */
    char host[256];
    int port;
    if (parse_addr(rep, host, &port)) {
        s->good = s->ask_i;
        resolved(s, host, port);
        return;
    }
    slog(s, 1, "redis sentinel %s:%d: no address for master '%s'", s->hosts[s->ask_i],
         s->ports[s->ask_i], s->master);
    sg_rlink_free(s->ask);
    s->ask = NULL;
    ask_next(s);
}

static void on_ask_lost(void *ud, int reason, const char *why)
{
    (void)reason;
    sg_rsentinel_t *s = ud;
    slog(s, 3, "redis sentinel %s:%d: %s", s->hosts[s->ask_i], s->ports[s->ask_i], why);
    sg_rlink_free(s->ask);
    s->ask = NULL;
    ask_next(s);
}

static void ask_next(sg_rsentinel_t *s)
{
    if (s->asked == s->n) {
        resolved(s, NULL, 0);
        return;
    }
    s->ask_i = (s->good + s->asked++) % s->n;
    s->ask = link_to(s, s->ask_i, NULL, NULL, on_ask_lost);
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->master};
    sg_rlink_command(s->ask, on_addr, s, 3, argv, NULL);
}

void sg_rsentinel_resolve(sg_rsentinel_t *s, sg_rsentinel_addr_cb cb, void *ud)
{
    s->cb = cb;
    s->cb_ud = ud;
    if (s->ask)
        return;
    s->asked = 0;
    ask_next(s);
}

/* ---- follow ---- */

static void watch_start(sg_rsentinel_t *s);

static void on_retry(uv_timer_t *t)
{
    watch_start(t->data);
}

/* "+switch-master" payload: "<name> <old ip> <old port> <new ip> <new port>". */
static void on_watch_push(void *ud, const redisReply *rep)
{
    sg_rsentinel_t *s = ud;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[2]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "message"))
        return;
    char name[256], oh[256], nh[256];
    int op, np;
    char text[1024];
    if (rep->element[2]->len >= sizeof text)
        return;
    memcpy(text, rep->element[2]->str, rep->element[2]->len);
    text[rep->element[2]->len] = '\0';
    if (sscanf(text, "%255s %255s %d %255s %d", name, oh, &op, nh, &np) != 5 ||
        strcmp(name, s->master) != 0 || np <= 0 || np > 65535)
        return;
    slog(s, 2, "redis sentinel: master '%s' switched from %s:%d to %s:%d", s->master, oh, op, nh,
         np);
    s->on_master(s->ud, nh, np);
}

/* Once following, the master may already have moved: ask. */
static void on_watch_addr(void *ud, const redisReply *rep)
{
    sg_rsentinel_t *s = ud;
    char host[256];
    int port;
    if (parse_addr(rep, host, &port))
        s->on_master(s->ud, host, port);
    /* Then follow: the sentinel is now in subscribed mode. */
    const char *argv[2] = {"SUBSCRIBE", "+switch-master"};
    if (s->watch)
        sg_rlink_send(s->watch, 2, argv, NULL);
}

static void on_watch_ready(void *ud)
{
    sg_rsentinel_t *s = ud;
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->master};
    sg_rlink_command(s->watch, on_watch_addr, s, 3, argv, NULL);
}

static void on_watch_lost(void *ud, int reason, const char *why)
{
    (void)reason;
    sg_rsentinel_t *s = ud;
    slog(s, 3, "redis sentinel %s:%d: following stopped (%s)", s->hosts[s->watch_i],
         s->ports[s->watch_i], why);
    sg_rlink_free(s->watch);
    s->watch = NULL;
    s->watch_i = (s->watch_i + 1) % s->n;
    if (!s->closing)
        uv_timer_start(&s->retry, on_retry, s->retry_ms, 0);
}

static void watch_start(sg_rsentinel_t *s)
{
    if (s->closing || s->watch)
        return;
    s->watch = link_to(s, s->watch_i, on_watch_ready, on_watch_push, on_watch_lost);
}

/* ---- life ---- */

sg_rsentinel_t *sg_rsentinel_new(uv_loop_t *loop, const sg_rsentinel_opts_t *o)
{
    sg_rsentinel_t *s = sg_calloc(1, sizeof(*s));
    s->loop = loop;
    s->n = o->n;
    s->hosts = sg_calloc(o->n, sizeof(char *));
    s->ports = sg_calloc(o->n, sizeof(int));
    for (size_t i = 0; i < o->n; i++) {
        s->hosts[i] = sg_strdup(o->hosts[i]);
        s->ports[i] = o->ports[i];
    }
    s->master = sg_strdup(o->master);
    s->user = o->user ? sg_strdup(o->user) : NULL;
    s->pass = o->pass ? sg_strdup(o->pass) : NULL;
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    s->retry_ms = o->retry_ms ? o->retry_ms : 1000;
    s->on_master = o->on_master;
    s->ud = o->ud;
    s->log = o->log;
    s->log_ud = o->log_ud;
    uv_timer_init(loop, &s->retry);
    s->retry.data = s;
    watch_start(s);
    return s;
}

static void on_closed(uv_handle_t *h)
{
    sg_rsentinel_t *s = h->data;
    for (size_t i = 0; i < s->n; i++)
        sg_free(s->hosts[i]);
    sg_free(s->hosts);
    sg_free(s->ports);
    sg_free(s->master);
    sg_free(s->user);
    sg_free(s->pass);
    sg_free(s);
}

void sg_rsentinel_free(sg_rsentinel_t *s)
{
    if (!s)
        return;
    s->closing = 1;
    sg_rlink_free(s->watch);
    s->watch = NULL;
    if (s->ask)
        resolved(s, NULL, 0);
    uv_close((uv_handle_t *)&s->retry, on_closed);
}
