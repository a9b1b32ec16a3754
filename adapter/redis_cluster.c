/* redis_cluster.c - see redis_cluster.h. */
#include "redis_cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "map.h"
#include "util.h"

#define NSLOTS 16384
#define MAX_NODES 1024    /* addresses remembered (CLUSTER SLOTS, MOVED, ASK) */
#define MAX_REDIRECTS 5

typedef struct cnode {
    sg_rcluster_t *c;
    char *host;
    int port;
    int master;        /* owns slots in the current map */
    sg_rlink_t *cmd;   /* commands; opened for every master */
    sg_rlink_t *sub;   /* subscriptions placed here; opened when one is */
    int cmd_ready, sub_ready;
} cnode_t;

typedef struct csub {
    char *key; /* kind character, then the name */
    size_t klen;
    unsigned slot; /* shard channels */
    cnode_t *on;   /* where it is subscribed now, or NULL */
} csub_t;

typedef struct fan fan_t;

/* A routed command waiting for its reply. */
typedef struct creq {
    sg_rcluster_t *c;
    sg_rlink_reply_cb cb;
    void *ud;
    char *resp;
    size_t len;
    unsigned redirects;
} creq_t;

/* PUBSUB NUMSUB / SHARDNUMSUB sent to every master. */
struct fan {
    sg_rlink_reply_cb cb;
    void *ud;
    size_t waiting;
    long long sum;
    int failed;
    char *channel;
    size_t chlen;
};

struct sg_rcluster {
    uv_loop_t *loop;
    const sg_rurl_t *url;
    unsigned timeout_ms, bmin, bmax;
    size_t reply_limit;
    int command_only;
    void (*on_state)(void *ud, int ready);
    void (*on_push)(void *ud, const redisReply *reply);
    void *ud;
    void (*log)(void *ud, int level, const char *msg);
    void *log_ud;
    cnode_t **nodes;
    size_t nnodes;
    uint16_t slots[NSLOTS]; /* node index + 1; 0: no owner */
    int have_topology, complete;
    cnode_t *psnode; /* holds the channel and pattern subscriptions */
    sg_map_t *subs;  /* key -> csub_t */
    /* topology refresh */
    sg_rlink_t *ask;
    char *ask_host;
    int ask_port;
    size_t ask_i;
    int refreshing;
    unsigned fails; /* refreshes since the cluster was last ready */
    uv_timer_t timer;
    int ready, closing;
    uint64_t timeouts, reconnects;
    int was_ready;
};

__attribute__((format(printf, 3, 4))) static void clog_(sg_rcluster_t *c, int level,
                                                        const char *fmt, ...)
{
    if (!c->log)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "redis %s: ", c->url->where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    c->log(c->log_ud, level, buf);
}

/* ---- slots ---- */

static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned sg_rcluster_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (NSLOTS - 1);
    }
    return crc16(key, len) & (NSLOTS - 1);
}

static cnode_t *owner(const sg_rcluster_t *c, unsigned slot)
{
    uint16_t i = c->slots[slot];
    return i ? c->nodes[i - 1] : NULL;
}

static int node_index(const sg_rcluster_t *c, const cnode_t *n)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i] == n)
            return (int)i;
    return -1;
}

static cnode_t *node_get(sg_rcluster_t *c, const char *host, size_t hlen, int port)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && strlen(c->nodes[i]->host) == hlen &&
            !memcmp(c->nodes[i]->host, host, hlen))
            return c->nodes[i];
    if (c->nnodes == MAX_NODES)
        return NULL;
    cnode_t *n = sg_calloc(1, sizeof(*n));
    n->c = c;
    n->host = sg_strndup(host, hlen);
    n->port = port;
    c->nodes = sg_realloc(c->nodes, (c->nnodes + 1) * sizeof(*c->nodes));
    c->nodes[c->nnodes++] = n;
    return n;
}

/* ---- state ---- */

static void refresh_soon(sg_rcluster_t *c);
static void place_all(sg_rcluster_t *c);

static void update_state(sg_rcluster_t *c)
{
    int ready = c->have_topology && c->complete && !c->closing;
    for (size_t i = 0; ready && i < c->nnodes; i++)
        if (c->nodes[i]->master && !c->nodes[i]->cmd_ready)
            ready = 0;
    sg_map_iter_t it = {0};
    while (ready && sg_map_next(c->subs, &it)) {
        const csub_t *s = it.val;
        if (!s->on || !s->on->sub_ready)
            ready = 0;
    }
    if (ready == c->ready)
        return;
    c->ready = ready;
    if (ready) {
        c->fails = 0;
        if (c->was_ready)
            c->reconnects++;
        c->was_ready = 1;
    }
    if (c->on_state)
        c->on_state(c->ud, ready);
}

/* ---- node links ---- */

static void node_link_lost(cnode_t *n, int is_sub, int reason, const char *why)
{
    sg_rcluster_t *c = n->c;
    if (reason == SG_RLINK_TIMEOUT)
        c->timeouts++;
    clog_(c, c->ready ? 1 : 3, "%s link to %s:%d lost (%s)", is_sub ? "subscriber" : "command",
          n->host, n->port, why);
    if (is_sub) {
        sg_rlink_free(n->sub);
        n->sub = NULL;
        n->sub_ready = 0;
        sg_map_iter_t it = {0};
        while (sg_map_next(c->subs, &it)) {
            csub_t *s = it.val;
            if (s->on == n)
                s->on = NULL;
        }
    } else {
        sg_rlink_free(n->cmd);
        n->cmd = NULL;
        n->cmd_ready = 0;
    }
    update_state(c);
    refresh_soon(c);
}

static void on_cmd_lost(void *ud, int reason, const char *why)
{
    node_link_lost(ud, 0, reason, why);
}

static void on_sub_lost(void *ud, int reason, const char *why)
{
    node_link_lost(ud, 1, reason, why);
}

static void on_cmd_ready(void *ud)
{
    cnode_t *n = ud;
    n->cmd_ready = 1;
    update_state(n->c);
}

static void on_sub_ready(void *ud)
{
    cnode_t *n = ud;
    n->sub_ready = 1;
    place_all(n->c);
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": slot and node, or -1. */
static int parse_redirect(sg_rcluster_t *c, const char *err, cnode_t **to)
{
    const char *p = strchr(err, ' ');
    if (!p)
        return -1;
    char *e;
    long slot = strtol(p + 1, &e, 10);
    if (e == p + 1 || *e != ' ' || slot < 0 || slot >= NSLOTS)
        return -1;
    const char *hp = e + 1, *colon = strrchr(hp, ':');
    if (!colon)
        return -1;
    long port = strtol(colon + 1, &e, 10);
    if (port < 1 || port > 65535 || (*e && *e != ' '))
        return -1;
    size_t hlen = (size_t)(colon - hp);
    if (hlen == 0) { /* an empty host: the node we asked; unknown here, keep the map */
        return -1;
    }
    *to = node_get(c, hp, hlen, (int)port);
    return *to ? (int)slot : -1;
}

static void sub_push(void *ud, const redisReply *rep)
{
    cnode_t *n = ud;
    sg_rcluster_t *c = n->c;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* an SSUBSCRIBE that reached a node not owning the slot */
        cnode_t *to = NULL;
        int slot = !strncmp(rep->str, "MOVED ", 6) ? parse_redirect(c, rep->str, &to) : -1;
        clog_(c, 2, "subscriber %s:%d: %s", n->host, n->port, rep->str);
        if (slot >= 0) {
            c->slots[slot] = (uint16_t)(node_index(c, to) + 1);
            sg_map_iter_t it = {0};
            while (sg_map_next(c->subs, &it)) {
                csub_t *s = it.val;
                if (s->key[0] == 's' && s->slot == (unsigned)slot && s->on == n)
                    s->on = NULL;
            }
            place_all(c);
        }
        refresh_soon(c);
        return;
    }
    /* A sunsubscribe for a channel we still want here: Redis moved its slot. */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING &&
        !strcmp(rep->element[0]->str, "sunsubscribe") &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        char kbuf[512];
        size_t kl = rep->element[1]->len + 1;
        char *key = kl <= sizeof kbuf ? kbuf : sg_malloc(kl);
        key[0] = 's';
        memcpy(key + 1, rep->element[1]->str, kl - 1);
        csub_t *s = sg_map_get(c->subs, key, kl);
        if (key != kbuf)
            sg_free(key);
        if (s && s->on == n) {
            clog_(c, 2, "%s:%d dropped shard channel %s; asking for the topology", n->host,
                  n->port, rep->element[1]->str);
            s->on = NULL;
            update_state(c);
            refresh_soon(c);
        }
        return;
    }
    if (c->on_push)
        c->on_push(c->ud, rep);
}

static void cmd_push(void *ud, const redisReply *rep)
{
    cnode_t *n = ud;
    if (rep->type == REDIS_REPLY_ERROR)
        clog_(n->c, 1, "%s:%d: %s", n->host, n->port, rep->str);
}

static sg_rlink_t *open_link(cnode_t *n, int is_sub)
{
    sg_rcluster_t *c = n->c;
    sg_rlink_opts_t o = {.host = n->host,
                         .port = n->port,
                         .user = c->url->user,
                         .pass = c->url->pass,
                         .timeout_ms = c->timeout_ms,
                         .reply_limit = c->reply_limit,
                         .on_ready = is_sub ? on_sub_ready : on_cmd_ready,
                         .on_push = is_sub ? sub_push : cmd_push,
                         .on_lost = is_sub ? on_sub_lost : on_cmd_lost,
                         .ud = n};
    return sg_rlink_new(c->loop, &o);
}

static sg_rlink_t *cmd_link(cnode_t *n)
{
    if (!n->cmd)
        n->cmd = open_link(n, 0);
    return n->cmd;
}

/* ---- subscriptions ---- */

static void sub_issue(cnode_t *n, const csub_t *s, int unsub)
{
    static const char *const verbs[3][2] = {
        {"SUBSCRIBE", "UNSUBSCRIBE"}, {"PSUBSCRIBE", "PUNSUBSCRIBE"}, {"SSUBSCRIBE", "SUNSUBSCRIBE"}};
    int k = s->key[0] == 'p' ? 1 : s->key[0] == 's' ? 2 : 0;
    const char *argv[2] = {verbs[k][unsub], s->key + 1};
    size_t lens[2] = {strlen(argv[0]), s->klen - 1};
    sg_rlink_send(n->sub, 2, argv, lens);
}

static cnode_t *sub_target(const sg_rcluster_t *c, const csub_t *s)
{
    return s->key[0] == 's' ? owner(c, s->slot) : c->psnode;
}

/* Move every subscription to where it belongs now. */
static void place_all(sg_rcluster_t *c)
{
    if (c->closing || !c->have_topology)
        return;
    sg_map_iter_t it = {0};
    while (sg_map_next(c->subs, &it)) {
        csub_t *s = it.val;
        cnode_t *to = sub_target(c, s);
        if (s->on == to && to)
            continue;
        if (s->on && s->on->sub_ready)
            sub_issue(s->on, s, 1);
        s->on = NULL;
        if (!to)
            continue;
        if (!to->sub)
            to->sub = open_link(to, 1);
        if (to->sub_ready) {
            sub_issue(to, s, 0);
            s->on = to;
        }
    }
    update_state(c);
}

void sg_rcluster_subscribe(sg_rcluster_t *c, char kind, const char *name, size_t len)
{
    char *key = sg_malloc(len + 2);
    key[0] = kind;
    memcpy(key + 1, name, len);
    key[len + 1] = '\0';
    if (sg_map_get(c->subs, key, len + 1)) {
        sg_free(key);
        return;
    }
    csub_t *s = sg_calloc(1, sizeof(*s));
    s->key = key;
    s->klen = len + 1;
    s->slot = sg_rcluster_slot(name, len);
    sg_map_put(c->subs, s->key, s->klen, s);
    place_all(c);
}

void sg_rcluster_unsubscribe(sg_rcluster_t *c, char kind, const char *name, size_t len)
{
    char kbuf[512];
    char *key = len + 1 <= sizeof kbuf ? kbuf : sg_malloc(len + 1);
    key[0] = kind;
    memcpy(key + 1, name, len);
    csub_t *s = sg_map_del(c->subs, key, len + 1);
    if (key != kbuf)
        sg_free(key);
    if (!s)
        return;
    if (s->on && s->on->sub_ready)
        sub_issue(s->on, s, 1);
    sg_free(s->key);
    sg_free(s);
    update_state(c);
}

/* ---- topology ---- */

static void refresh_next(sg_rcluster_t *c);

/* CLUSTER SLOTS: [[start, end, [host, port, id...], replicas...], ...] */
static int apply_slots(sg_rcluster_t *c, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return SG_EINVAL;
    uint16_t *fresh = sg_calloc(NSLOTS, sizeof(*fresh));
    size_t covered = 0;
    int rc = SG_EINVAL;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            goto out;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const redisReply *h = e->element[2]->element[0];
        long long port = e->element[2]->element[1]->integer;
        if (lo < 0 || hi >= NSLOTS || lo > hi || port < 1 || port > 65535)
            goto out;
        /* an empty or unknown host: the node that answered */
        int asked = h->len == 0 || (h->len == 1 && h->str[0] == '?');
        cnode_t *n = node_get(c, asked ? c->ask_host : h->str,
                              asked ? strlen(c->ask_host) : h->len, (int)port);
        if (!n) {
            rc = SG_ETOOBIG;
            goto out;
        }
        uint16_t idx = (uint16_t)(node_index(c, n) + 1);
        for (long long s = lo; s <= hi; s++) {
            if (!fresh[s])
                covered++;
            fresh[s] = idx;
        }
    }
    memcpy(c->slots, fresh, NSLOTS * sizeof(*fresh));
    c->complete = covered == NSLOTS;
    for (size_t i = 0; i < c->nnodes; i++)
        c->nodes[i]->master = 0;
    for (size_t s = 0; s < NSLOTS; s++)
        if (c->slots[s])
            c->nodes[c->slots[s] - 1]->master = 1;
    c->have_topology = 1;
    rc = 0;
out:
    sg_free(fresh);
    return rc;
}

/* A new map: links to nodes that are no longer masters go, every master
 * gets a command link, subscriptions move. */
static void after_refresh(sg_rcluster_t *c)
{
    for (size_t i = 0; i < c->nnodes; i++) {
        cnode_t *n = c->nodes[i];
        if (n->master) {
            cmd_link(n);
            continue;
        }
        if (n->sub) {
            sg_map_iter_t it = {0};
            while (sg_map_next(c->subs, &it)) {
                csub_t *s = it.val;
                if (s->on == n)
                    s->on = NULL;
            }
            sg_rlink_free(n->sub);
            n->sub = NULL;
            n->sub_ready = 0;
        }
        if (n->cmd) {
            sg_rlink_free(n->cmd); /* a demoted master: its waiting commands fail */
            n->cmd = NULL;
            n->cmd_ready = 0;
        }
    }
    if (!c->psnode || !c->psnode->master) {
        c->psnode = NULL;
        for (size_t i = 0; i < c->nnodes && !c->psnode; i++)
            if (c->nodes[i]->master)
                c->psnode = c->nodes[i];
    }
    place_all(c);
    if (!c->complete) {
        clog_(c, 1, "the cluster's slots are not all served; asking again");
        refresh_soon(c);
    }
}

static void refresh_done(sg_rcluster_t *c)
{
    sg_rlink_free(c->ask);
    c->ask = NULL;
    sg_free(c->ask_host);
    c->ask_host = NULL;
}

static void on_slots(void *ud, const redisReply *rep)
{
    sg_rcluster_t *c = ud;
    if (!rep || c->closing)
        return; /* on_ask_lost goes on */
    int rc = apply_slots(c, rep);
    if (rc != 0) {
        clog_(c, 1, "%s:%d: unusable CLUSTER SLOTS answer%s%s", c->ask_host, c->ask_port,
              rep->type == REDIS_REPLY_ERROR ? ": " : "",
              rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        refresh_done(c);
        refresh_next(c);
        return;
    }
    clog_(c, 3, "topology from %s:%d", c->ask_host, c->ask_port);
    refresh_done(c);
    c->refreshing = 0;
    after_refresh(c);
}

static void on_ask_lost(void *ud, int reason, const char *why)
{
    sg_rcluster_t *c = ud;
    if (reason == SG_RLINK_TIMEOUT)
        c->timeouts++;
    clog_(c, 3, "%s:%d did not give the topology (%s)", c->ask_host, c->ask_port, why);
    refresh_done(c);
    refresh_next(c);
}

/* The next node to ask: masters of the current map, then the other known
 * nodes, then the seeds. */
static int candidate(const sg_rcluster_t *c, size_t i, const char **host, int *port)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < c->nnodes; k++)
            if (c->nodes[k]->master == !pass && i-- == 0) {
                *host = c->nodes[k]->host;
                *port = c->nodes[k]->port;
                return 1;
            }
    if (i < c->url->n) {
        *host = c->url->hosts[i];
        *port = c->url->ports[i];
        return 1;
    }
    return 0;
}

static void refresh_next(sg_rcluster_t *c)
{
    const char *host;
    int port;
    if (c->closing)
        return;
    if (!candidate(c, c->ask_i++, &host, &port)) {
        c->refreshing = 0;
        clog_(c, c->fails == 1 ? 1 : 3, "no node gave the cluster's topology; trying again");
        refresh_soon(c);
        return;
    }
    c->ask_host = sg_strdup(host);
    c->ask_port = port;
    sg_rlink_opts_t o = {.host = host,
                         .port = port,
                         .user = c->url->user,
                         .pass = c->url->pass,
                         .timeout_ms = c->timeout_ms,
                         .reply_limit = c->reply_limit,
                         .on_lost = on_ask_lost,
                         .ud = c};
    c->ask = sg_rlink_new(c->loop, &o);
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    sg_rlink_command(c->ask, on_slots, c, 2, argv, NULL);
}

static void on_timer(uv_timer_t *t)
{
    sg_rcluster_t *c = t->data;
    if (c->refreshing || c->closing)
        return;
    c->refreshing = 1;
    c->ask_i = 0;
    refresh_next(c);
}

/* Ask for the topology: at once the first time after the cluster was
 * ready, then with the back-off while it does not become ready. */
static void refresh_soon(sg_rcluster_t *c)
{
    if (c->closing || c->refreshing || uv_is_active((uv_handle_t *)&c->timer))
        return;
    unsigned delay = 0;
    if (c->fails) {
        delay = c->bmin;
        for (unsigned i = 1; i < c->fails && delay < c->bmax; i++)
            delay *= 2;
        if (delay > c->bmax)
            delay = c->bmax;
    }
    c->fails++;
    uv_timer_start(&c->timer, on_timer, delay, 0);
}

/* ---- commands ---- */

static void creq_send(creq_t *q, cnode_t *n, int asking);

static void on_creq_reply(void *ud, const redisReply *rep)
{
    creq_t *q = ud;
    sg_rcluster_t *c = q->c;
    if (rep && rep->type == REDIS_REPLY_ERROR && !c->closing && q->redirects < MAX_REDIRECTS) {
        int moved = !strncmp(rep->str, "MOVED ", 6), ask = !strncmp(rep->str, "ASK ", 4);
        cnode_t *to = NULL;
        int slot = moved || ask ? parse_redirect(c, rep->str, &to) : -1;
        if (slot >= 0) {
            q->redirects++;
            if (moved) {
                c->slots[slot] = (uint16_t)(node_index(c, to) + 1);
                refresh_soon(c);
            }
            creq_send(q, to, ask);
            return;
        }
    }
    if (rep && rep->type == REDIS_REPLY_ERROR &&
        (!strncmp(rep->str, "CLUSTERDOWN", 11) || !strncmp(rep->str, "TRYAGAIN", 8)))
        refresh_soon(c);
    if (q->cb)
        q->cb(q->ud, rep);
    sg_free(q->resp);
    sg_free(q);
}

static void creq_send(creq_t *q, cnode_t *n, int asking)
{
    sg_rlink_t *l = cmd_link(n);
    if (asking) {
        const char *a = "ASKING";
        sg_rlink_command(l, NULL, NULL, 1, &a, NULL);
    }
    if (sg_rlink_command_raw(l, on_creq_reply, q, q->resp, q->len) != 0)
        on_creq_reply(q, NULL); /* cannot happen: links are replaced when lost */
}

/* The key a command is routed by; 0 when it has none. */
static int command_key(int argc, const char **argv, const size_t *lens, const char **key,
                       size_t *klen)
{
    const char *cmd = argv[0];
    int at = -1;
    if (!strcasecmp(cmd, "EVAL") || !strcasecmp(cmd, "EVALSHA")) {
        if (argc > 3 && strtol(argv[2], NULL, 10) > 0)
            at = 3;
    } else if (!strcasecmp(cmd, "XREAD") || !strcasecmp(cmd, "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (lens[i] == 7 && !strncasecmp(argv[i], "STREAMS", 7)) {
                at = i + 1;
                break;
            }
    } else if (strcasecmp(cmd, "PUBLISH") && strcasecmp(cmd, "PUBSUB") &&
               strcasecmp(cmd, "PING") && strcasecmp(cmd, "CLIENT") &&
               strcasecmp(cmd, "CLUSTER") && strcasecmp(cmd, "INFO") && argc > 1) {
        at = 1; /* SPUBLISH channel, XADD key, XRANGE key, SET key, GET key, DEL key ... */
    }
    if (at < 0 || at >= argc)
        return 0;
    *key = argv[at];
    *klen = lens[at];
    return 1;
}

static cnode_t *any_master(const sg_rcluster_t *c)
{
    if (c->psnode && c->psnode->cmd_ready)
        return c->psnode;
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->master && c->nodes[i]->cmd_ready)
            return c->nodes[i];
    return c->psnode;
}

static void on_fan_part(void *ud, const redisReply *rep)
{
    fan_t *f = ud;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER)
        f->sum += rep->element[1]->integer;
    else
        f->failed = 1;
    if (--f->waiting)
        return;
    if (f->failed) {
        f->cb(f->ud, NULL);
    } else {
        redisReply ch = {.type = REDIS_REPLY_STRING, .str = f->channel, .len = f->chlen};
        redisReply n = {.type = REDIS_REPLY_INTEGER, .integer = f->sum};
        redisReply *el[2] = {&ch, &n};
        redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};
        f->cb(f->ud, &arr);
    }
    sg_free(f->channel);
    sg_free(f);
}

static creq_t *creq_new(sg_rcluster_t *c, sg_rlink_reply_cb cb, void *ud, int argc,
                        const char **argv, const size_t *lens)
{
    creq_t *q = sg_calloc(1, sizeof(*q));
    q->c = c;
    q->cb = cb;
    q->ud = ud;
    q->resp = sg_rlink_format(argc, argv, lens, &q->len);
    return q;
}

int sg_rcluster_command(sg_rcluster_t *c, sg_rlink_reply_cb cb, void *ud, int argc,
                        const char **argv, const size_t *lens)
{
    if (c->closing || !c->have_topology)
        return SG_ESTATE;
    /* A subscriber count of one channel: every master's, summed. */
    if (argc == 3 && !strcasecmp(argv[0], "PUBSUB") &&
        (!strcasecmp(argv[1], "NUMSUB") || !strcasecmp(argv[1], "SHARDNUMSUB")) && cb) {
        size_t masters = 0;
        for (size_t i = 0; i < c->nnodes; i++)
            masters += c->nodes[i]->master;
        fan_t *f = sg_calloc(1, sizeof(*f));
        f->cb = cb;
        f->ud = ud;
        f->waiting = masters;
        f->channel = sg_strndup(argv[2], lens[2]);
        f->chlen = lens[2];
        for (size_t i = 0; i < c->nnodes; i++)
            if (c->nodes[i]->master)
                creq_send(creq_new(c, on_fan_part, f, argc, argv, lens), c->nodes[i], 0);
        return 0;
    }
    const char *key;
    size_t klen;
    cnode_t *n = command_key(argc, argv, lens, &key, &klen)
                     ? owner(c, sg_rcluster_slot(key, klen))
                     : any_master(c);
    if (!n)
        return SG_ESTATE;
    creq_send(creq_new(c, cb, ud, argc, argv, lens), n, 0);
    return 0;
}

int sg_rcluster_can_send(const sg_rcluster_t *c)
{
    return !c->closing && c->have_topology;
}

void sg_rcluster_flush(sg_rcluster_t *c)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->cmd_ready)
            sg_rlink_flush(c->nodes[i]->cmd);
}

void sg_rcluster_counts(const sg_rcluster_t *c, uint64_t *timeouts, uint64_t *reconnects)
{
    *timeouts = c->timeouts;
    *reconnects = c->reconnects;
}

/* ---- life ---- */

sg_rcluster_t *sg_rcluster_new(uv_loop_t *loop, const sg_rcluster_opts_t *o)
{
    sg_rcluster_t *c = sg_calloc(1, sizeof(*c));
    c->loop = loop;
    c->url = o->url;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    c->bmin = o->backoff_min_ms ? o->backoff_min_ms : 100;
    c->bmax = o->backoff_max_ms > c->bmin ? o->backoff_max_ms : c->bmin;
    c->command_only = o->command_only;
    c->reply_limit = o->reply_limit;
    c->on_state = o->on_state;
    c->on_push = o->on_push;
    c->ud = o->ud;
    c->log = o->log;
    c->log_ud = o->log_ud;
    c->subs = sg_map_new();
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    refresh_soon(c);
    return c;
}

static void on_closed(uv_handle_t *h)
{
    sg_free(h->data);
}

void sg_rcluster_free(sg_rcluster_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    refresh_done(c);
    for (size_t i = 0; i < c->nnodes; i++) {
        cnode_t *n = c->nodes[i];
        sg_rlink_free(n->cmd); /* waiting commands get NULL */
        sg_rlink_free(n->sub);
        sg_free(n->host);
        sg_free(n);
    }
    sg_free(c->nodes);
    c->nodes = NULL;
    c->nnodes = 0;
    sg_map_iter_t it = {0};
    while (sg_map_next(c->subs, &it)) {
        csub_t *s = it.val;
        sg_free(s->key);
        sg_free(s);
    }
    sg_map_free(c->subs);
    c->subs = NULL;
    uv_close((uv_handle_t *)&c->timer, on_closed);
}
