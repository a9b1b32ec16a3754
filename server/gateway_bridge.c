/* gateway_bridge.c - the bridge of gateway mode: each routed client event becomes
 * one entry of a Redis Stream (bridgeStream) that workers in any language
 * read with consumer groups; a worker answers the client's ack by
 * publishing to this node's reply channel. See gateway.h and the README's
 * "Gateway mode" for the entry and reply formats (version 1).
 *
 * Failures are never silent: with Redis down an event with an ack is
 * answered {"error":"bridge unavailable"} at once, one without is counted
 * (st.failed); an ack no worker answers in bridgeAckTimeout gets
 * {"error":"bridge timeout"}. Nothing is queued here while Redis is away:
 * the Redis layer's output limit bounds what is in flight. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "gw_internal.h"
#include "json.h"
#include "json_msgpack.h"
#include "log.h"
#include "sio_internal.h"
#include "util.h"

#define SG_GW_VERSION "1"
/* Nesting accepted in a reply's msgpack (as for cluster messages). */
#define SG_GW_MAX_DEPTH 32

/* ---- routes ------------------------------------------------------------ */

static int glob_match(const char *p, const char *s)
{
    /* '*' only; iterative with one backtrack point, so no pattern can make
     * it exponential */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static int routed(const sg_gw_t *g, const char *nsp, const char *event)
{
    for (const sg_gw_route_t *r = g->routes; r; r = r->next)
        if (!strcmp(r->nsp, nsp) && glob_match(r->pattern, event))
            return 1;
    return 0;
}

static void parse_routes(sg_gw_t *g)
{
    const char *p = g->cfg->bridge_events; /* checked by the settings table */
    sg_gw_route_t **tail = &g->routes;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        sg_gw_route_t *r = sg_calloc(1, sizeof(*r));
        r->nsp = sg_strndup(p, (size_t)(colon - p));
        r->pattern = sg_strndup(colon + 1, n - (size_t)(colon - p) - 1);
        *tail = r;
        tail = &r->next;
        p += n + (end ? 1 : 0);
    }
}

/* ---- pending acks -------------------------------------------------------- */

static uint64_t now_ms(const sg_gw_t *g)
{
    return uv_now(g->loop);
}

static void on_timer(uv_timer_t *t);

/* The timer follows the earliest deadline, the head of the list. */
static void arm(sg_gw_t *g)
{
    if (!g->head) {
        uv_timer_stop(&g->timer);
        return;
    }
    uint64_t now = now_ms(g);
    uv_timer_start(&g->timer, on_timer, g->head->deadline > now ? g->head->deadline - now : 0, 0);
}

static void unlink_pending(sg_gw_t *g, sg_gw_pending_t *p)
{
    sg_map_del(g->pending, p->token, strlen(p->token));
    if (p->prev)
        p->prev->next = p->next;
    else
        g->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        g->tail = p->prev;
    g->st.pending--;
    sg_gw_sock_t *r = p->sock;
    if (--r->pending == 0 && r->gone)
        sg_free(r); /* the socket left before its last ack was settled */
}

/* Answer a client's ack with {"error": msg}. */
static void ack_error(sg_ack_t *ack, const char *msg)
{
    sg_data_t *d = sg_data_new();
    sg_data_push(d, json_pack("{ss}", "error", msg));
    sg_ack_send(ack, d);
    sg_data_free(d);
}

/* Resolve pending p: with args (a worker's reply) or with an error. */
static void settle(sg_gw_t *g, sg_gw_pending_t *p, const sg_data_t *args, const char *error)
{
    unlink_pending(g, p);
    if (error)
        ack_error(p->ack, error);
    else
        sg_ack_send(p->ack, args);
    sg_free(p);
    arm(g);
}

static void on_timer(uv_timer_t *t)
{
    sg_gw_t *g = t->data;
    uint64_t now = now_ms(g);
    while (g->head && g->head->deadline <= now) {
        g->st.ack_timeouts++;
        sg_gw_pending_t *p = g->head;
        unlink_pending(g, p);
        ack_error(p->ack, "bridge timeout");
        sg_free(p);
    }
    arm(g);
}

static sg_gw_pending_t *add_pending(sg_gw_t *g, sg_ack_t *ack, sg_gw_sock_t *r)
{
    sg_gw_pending_t *p = sg_calloc(1, sizeof(*p));
    p->sock = r;
    r->pending++;
    snprintf(p->token, sizeof(p->token), "%" PRIu64, ++g->next_token);
    p->ack = sg_ack_keep(ack);
    p->deadline = now_ms(g) + g->cfg->bridge_ack_timeout;
    p->prev = g->tail;
    if (g->tail)
        g->tail->next = p;
    else
        g->head = p;
    g->tail = p;
    sg_map_put(g->pending, p->token, strlen(p->token), p);
    g->st.pending++;
    if (p == g->head)
        arm(g);
    return p;
}

/* ---- entries ------------------------------------------------------------- */

typedef struct entry {
    const char *argv[32];
    size_t lens[32];
    int argc;
    sg_sbuf_t owned[4]; /* bytes of values built here */
    int nowned;
} entry_t;

static void put(entry_t *e, const char *field, const char *v, size_t len)
{
    e->argv[e->argc] = field;
    e->lens[e->argc++] = strlen(field);
    e->argv[e->argc] = v;
    e->lens[e->argc++] = len;
}

static void put_json(entry_t *e, const char *field, const json_t *v)
{
    sg_sbuf_t *sb = &e->owned[e->nowned++];
    sg_sbuf_init(sb);
    sg_json_dump(sb, v, NULL, NULL);
    put(e, field, (const char *)sg_sbuf_data(sb), sb->len);
}

static void entry_begin(sg_gw_t *g, entry_t *e, const char *type, sg_socket_t *s)
{
    memset(e, 0, sizeof(*e));
    static const char *const head[] = {"XADD", NULL, "MAXLEN", "~", NULL, "*"};
    for (int i = 0; i < 6; i++) {
        e->argv[i] = i == 1 ? g->cfg->bridge_stream : i == 4 ? g->maxlen : head[i];
        e->lens[i] = strlen(e->argv[i]);
    }
    e->argc = 6;
    put(e, "v", SG_GW_VERSION, 1);
    put(e, "type", type, strlen(type));
    put(e, "node", g->node, strlen(g->node));
    const char *nsp = sg_nsp_name(sg_socket_nsp(s));
    put(e, "nsp", nsp, strlen(nsp));
    const char *id = sg_socket_id(s);
    put(e, "sid", id, strlen(id));
}

static void entry_free(entry_t *e)
{
    for (int i = 0; i < e->nowned; i++)
        sg_sbuf_reset(&e->owned[i]);
}

/* XADD's answer: only an ack waits on it (an error answers it now). */
static void on_xadd(void *ud, const redisReply *reply)
{
    sg_gw_t *g = ((void **)ud)[0];
    char *token = ((char **)ud)[1];
    int ok = reply && reply->type != REDIS_REPLY_ERROR;
    if (!ok) {
        g->st.failed++;
        g->st.entries--;
    }
    if (token) {
        sg_gw_pending_t *p = sg_map_get(g->pending, token, strlen(token));
        if (p && !ok) {
            g->st.ack_errors++;
            settle(g, p, NULL, "bridge unavailable");
        }
    }
    if (reply && reply->type == REDIS_REPLY_ERROR)
        SG_WARN(g->cfg, "bridge: XADD to %s refused: %.*s", g->cfg->bridge_stream,
                (int)reply->len, reply->str);
    sg_free(token);
    sg_free(ud);
}

/* Send the entry; 0 once queued. */
static int entry_send(sg_gw_t *g, entry_t *e, const char *token)
{
    void **ud = sg_malloc(2 * sizeof(void *));
    ud[0] = g;
    ud[1] = token ? sg_strdup(token) : NULL;
    int rc = sg_redis_command(g->redis, on_xadd, ud, e->argc, e->argv, e->lens);
    if (rc != 0) {
        sg_free(ud[1]);
        sg_free(ud);
        g->st.failed++;
        return rc;
    }
    g->st.entries++;
    return 0;
}

/* args as the entry carries them: JSON text, or msgpack (binary as bin)
 * when an argument holds binary. */
static void put_args(entry_t *e, const sg_data_t *args)
{
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    sg_data__fill(&p, NULL, args);
    if (p.nbins == 0) {
        put(e, "enc", "json", 4);
        put_json(e, "args", p.data);
    } else {
        msgpack_sbuffer mb;
        msgpack_sbuffer_init(&mb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &mb, msgpack_sbuffer_write);
        sg_jmp_pack(&pk, p.data, p.bins, p.nbins);
        sg_sbuf_t *sb = &e->owned[e->nowned++];
        sg_sbuf_init(sb);
        sg_sbuf_append(sb, mb.data, mb.size);
        msgpack_sbuffer_destroy(&mb);
        put(e, "enc", "msgpack", 7);
        put(e, "args", (const char *)sg_sbuf_data(sb), sb->len);
    }
    sg_data__unfill(&p);
}

/* What the bridge keeps per socket, made at its first entry and dropped
 * when it disconnects (or, when acks of it are still pending then, when
 * the last is settled). */
static sg_gw_sock_t *sock_of(sg_gw_t *g, sg_socket_t *s)
{
    const char *id = sg_socket_id(s); /* the key lives in the socket, which outlives the entry */
    sg_gw_sock_t *r = sg_map_get(g->socks, id, strlen(id));
    if (!r) {
        r = sg_calloc(1, sizeof(*r));
        r->tokens = g->cfg->bridge_burst;
        r->refill = now_ms(g);
        sg_map_put(g->socks, id, strlen(id), r);
    }
    return r;
}

/* One token of the socket's bucket, or 0 when it is empty. */
static int take_token(sg_gw_t *g, sg_gw_sock_t *r)
{
    uint64_t now = now_ms(g);
    r->tokens += (double)(now - r->refill) * g->cfg->bridge_rate / 1000.0;
    r->refill = now;
    if (r->tokens > g->cfg->bridge_burst)
        r->tokens = g->cfg->bridge_burst;
    if (r->tokens < 1.0)
        return 0;
    r->tokens -= 1.0;
    return 1;
}

/* The summary as JSON text, serialised once per socket: building it for
 * every event was a sixth of the CPU of a bridged event. What it holds is
 * settled by the first entry (the handshake, and socket.data as the
 * authentication left it). */
static const sg_buf_t *summary_of(sg_gw_sock_t *r, sg_socket_t *s)
{
    if (!r->summary) {
        json_t *sum = sg_gw__summary(s);
        sg_sbuf_t sb;
        sg_sbuf_init(&sb);
        sg_json_dump(&sb, sum, NULL, NULL);
        json_decref(sum);
        r->summary = sg_sbuf_finish(&sb);
    }
    return r->summary;
}

static void forget_sock(sg_gw_t *g, sg_socket_t *s)
{
    const char *id = sg_socket_id(s);
    sg_gw_sock_t *r = sg_map_del(g->socks, id, strlen(id));
    if (!r)
        return;
    sg_buf_unref(r->summary);
    r->summary = NULL;
    if (r->pending)
        r->gone = 1;
    else
        sg_free(r);
}

static void on_event(sg_socket_t *s, const char *event, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_gw_t *g = ud;
    if (g->stopped)
        return;
    if (!routed(g, sg_nsp_name(sg_socket_nsp(s)), event))
        return; /* as an event nobody handles */
    sg_gw_sock_t *r = sock_of(g, s);
    /* What a client can make Redis hold is bounded: entries by
     * bridgeMaxLen, their size here, their rate per socket. */
    if (!take_token(g, r)) {
        g->st.rate_limited++;
        if (ack)
            ack_error(ack, "bridge rate limit");
        return;
    }
    /* bounded per socket too, so one client cannot take every slot */
    if (ack && (g->st.pending >= g->cfg->bridge_max_pending ||
                r->pending >= g->cfg->bridge_max_pending_socket)) {
        g->st.ack_busy++;
        ack_error(ack, "bridge busy");
        return;
    }
    if (!sg_redis_can_send(g->redis)) {
        g->st.failed++;
        if (ack) {
            g->st.ack_errors++;
            ack_error(ack, "bridge unavailable");
        }
        return;
    }
    entry_t e;
    entry_begin(g, &e, "event", s);
    put(&e, "event", event, strlen(event));
    put_args(&e, args);
    if (strlen(event) + e.lens[e.argc - 1] > g->cfg->bridge_max_entry) {
        g->st.too_large++;
        if (ack)
            ack_error(ack, "bridge entry too large");
        entry_free(&e);
        return;
    }
    sg_gw_pending_t *p = ack ? add_pending(g, ack, r) : NULL;
    if (p)
        put(&e, "ack", p->token, strlen(p->token));
    const sg_buf_t *hs = summary_of(r, s);
    put(&e, "hs", (const char *)hs->data, hs->len);
    if (entry_send(g, &e, p ? p->token : NULL) != 0 && p) {
        g->st.ack_errors++;
        settle(g, p, NULL, "bridge unavailable");
    }
    entry_free(&e);
}

static void on_connection(sg_socket_t *s, void *ud)
{
    sg_gw_t *g = ud;
    if (g->stopped)
        return;
    if (!sg_redis_can_send(g->redis)) {
        g->st.failed++;
        return;
    }
    entry_t e;
    entry_begin(g, &e, "connect", s);
    const sg_buf_t *hs = summary_of(sock_of(g, s), s);
    put(&e, "hs", (const char *)hs->data, hs->len);
    entry_send(g, &e, NULL);
    entry_free(&e);
}

static void on_disconnect(sg_socket_t *s, const char *reason, void *ud)
{
    sg_gw_t *g = ud;
    if (g->stopped)
        return; /* the per-socket records went with the bridge */
    forget_sock(g, s);
    if (!g->cfg->bridge_lifecycle)
        return;
    if (!sg_redis_can_send(g->redis)) {
        g->st.failed++;
        return;
    }
    entry_t e;
    entry_begin(g, &e, "disconnect", s);
    put(&e, "reason", reason, strlen(reason));
    entry_send(g, &e, NULL);
    entry_free(&e);
}

/* ---- replies --------------------------------------------------------------- */

/* {"ack":"<token>","args":[...]} as JSON, or the same map in msgpack (bin
 * values for binary arguments). */
static void on_reply(void *ud, const char *channel, size_t chlen, const char *data, size_t len)
{
    sg_gw_t *g = ud;
    (void)channel;
    (void)chlen;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    int rc = len && data[0] == '{' ? sg_json_parse(data, len, &msg)
                                   : sg_jmp_unpack_bytes(data, len, SG_GW_MAX_DEPTH, &msg, &bins,
                                                         &nbins);
    const json_t *tok = json_object_get(msg, "ack");
    json_t *args = json_object_get(msg, "args");
    char num[24];
    const char *token = json_string_value(tok);
    if (json_is_integer(tok)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(tok));
        token = num;
    }
    sg_gw_pending_t *p = rc == 0 && token && (!args || json_is_array(args))
                             ? sg_map_get(g->pending, token, strlen(token))
                             : NULL;
    if (!p) {
        g->st.stray_replies++;
        SG_DEBUG(g->cfg, "bridge: a reply for no pending ack (%zu bytes)", len);
    } else {
        sg_sio_packet_t pk;
        sg_sio_packet_init(&pk);
        pk.data = args ? json_incref(args) : json_array();
        pk.bins = bins;
        pk.nbins = nbins;
        bins = NULL;
        nbins = 0;
        sg_data_t *d = sg_data__from_packet(&pk, 0);
        g->st.replies++;
        settle(g, p, d, NULL);
        sg_data_free(d);
        sg_sio_packet_clear(&pk);
    }
    sg_bufs_free(bins, nbins);
    json_decref(msg);
}

/* ---- start / stop ------------------------------------------------------------ */

static void redis_log(void *ud, int level, const char *msg)
{
    sg_gw_t *g = ud;
    sg_log(g->cfg, (sg_log_level_t)level, "bridge: %s", msg);
}

static void install_nsp(sg_gw_t *g, const sg_gw_route_t *route)
{
    for (const sg_gw_route_t *r = g->routes; r != route; r = r->next)
        if (!strcmp(r->nsp, route->nsp))
            return; /* installed for an earlier route of the same namespace */
    sg_nsp_t *nsp = sg_server_of(g->srv, route->nsp);
    sg_nsp_on(nsp, "*", on_event, g);
    if (g->cfg->bridge_lifecycle)
        sg_nsp_on_connection(nsp, on_connection, g);
    sg_nsp_on_disconnect(nsp, on_disconnect, g); /* also drops the socket's record */
}

int sg_gw__bridge_start(sg_gw_t *g, char *err, size_t errlen)
{
    const sg_config_t *cfg = g->cfg;
    if (cfg->bridge_node_id && cfg->bridge_node_id[0]) {
        snprintf(g->node, sizeof(g->node), "%s", cfg->bridge_node_id);
    } else {
        sg_random_id(g->node, 16);
        g->node[16] = '\0';
    }
    size_t n = strlen(cfg->bridge_reply_prefix) + strlen(g->node) + 1;
    g->reply_channel = sg_malloc(n);
    snprintf(g->reply_channel, n, "%s%s", cfg->bridge_reply_prefix, g->node);
    snprintf(g->maxlen, sizeof(g->maxlen), "%zu", cfg->bridge_max_len);
    g->pending = sg_map_new();
    g->socks = sg_map_new();
    uv_timer_init(g->loop, &g->timer);
    g->timer.data = g;
    parse_routes(g);
    sg_redis_opts_t o = {
        .url = cfg->bridge_redis_url && cfg->bridge_redis_url[0] ? cfg->bridge_redis_url
                                                                 : cfg->redis_url,
        .backoff_min_ms = cfg->redis_reconnect_min,
        .backoff_max_ms = cfg->redis_reconnect_max,
        .connect_timeout_ms = cfg->redis_connect_timeout,
        .output_limit = cfg->redis_output_limit,
        .reply_limit = cfg->redis_reply_limit,
        .log = redis_log,
        .log_ud = g,
        .role = "bridge",
    };
    if (sg_redis_new(g->loop, &o, &g->redis, err, errlen) != 0)
        return SG_EINVAL;
    sg_redis_subscribe(g->redis, g->reply_channel, SG_REDIS_CHANNEL, on_reply, g);
    for (const sg_gw_route_t *r = g->routes; r; r = r->next)
        install_nsp(g, r);
    SG_INFO(cfg, "bridge: node %s, events to stream %s, replies on %s", g->node, cfg->bridge_stream,
            g->reply_channel);
    return 0;
}

void sg_gw__bridge_stop(sg_gw_t *g)
{
    while (g->head) {
        sg_gw_pending_t *p = g->head;
        unlink_pending(g, p);
        ack_error(p->ack, "bridge unavailable");
        sg_free(p);
    }
    sg_redis_free(g->redis); /* XADD callbacks run now, with no reply */
    g->redis = NULL;
    sg_map_free(g->pending);
    g->pending = NULL;
    /* every pending ack is settled above: no record is `gone` any more */
    sg_map_iter_t it = {0};
    while (sg_map_next(g->socks, &it)) {
        sg_gw_sock_t *r = it.val;
        sg_buf_unref(r->summary);
        sg_free(r);
    }
    sg_map_free(g->socks);
    g->socks = NULL;
    while (g->routes) {
        sg_gw_route_t *r = g->routes;
        g->routes = r->next;
        sg_free(r->nsp);
        sg_free(r->pattern);
        sg_free(r);
    }
    sg_free(g->reply_channel);
    g->reply_channel = NULL;
    uv_close((uv_handle_t *)&g->timer, NULL); /* g outlives the loop's close callback */
}
