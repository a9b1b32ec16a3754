/* sharded.c - see sharded.h. One namespace: the transport its cluster part
 * (cluster.h) publishes through, the room channels it keeps subscribed, and
 * the adapter ops. */
#include "sharded.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "cluster.h"
#include "cluster_redis.h"
#include "json.h"
#include "json_msgpack.h"
#include "map.h"
#include "redis_conn.h"
#include "util.h"

#define MAX_DEPTH 32 /* msgpack nesting accepted from other nodes */

typedef struct shns {
    sg_adapter_t *a;
    const sg_adapter_env_t *env;
    sg_sharded_mode_t mode;
    sg_cluster_t *c;
    sg_redis_t *r;
    char *main_ch; /* "<prefix>#<nsp>#" */
    size_t main_len;
    char *own_ch;     /* main_ch + uid + "#" */
    sg_map_t *rooms;  /* room channels subscribed: channel -> itself */
} shns_t;

__attribute__((format(printf, 3, 4))) static void shlog(const shns_t *ns, int level,
                                                        const char *fmt, ...)
{
    if (!ns->env->log)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "sharded adapter %s: ", sg_adapter_nsp(ns->a));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    ns->env->log(ns->env->log_ud, level, buf);
}

int sg_sharded_mode(const char *name)
{
    if (!name || !strcmp(name, "dynamic"))
        return SG_SHARDED_DYNAMIC;
    if (!strcmp(name, "static"))
        return SG_SHARDED_STATIC;
    if (!strcmp(name, "dynamic-private"))
        return SG_SHARDED_DYNAMIC_PRIVATE;
    return -1;
}

/* ---- wire ---- */

/* Node encodes the whole message as msgpack only for these types, and only
 * when their data carries binary; JSON otherwise. */
static int msgpack_type(json_int_t t)
{
    return t == SG_CLUSTER_BROADCAST || t == SG_CLUSTER_FETCH_SOCKETS_RESPONSE ||
           t == SG_CLUSTER_SERVER_SIDE_EMIT || t == SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE ||
           t == SG_CLUSTER_BROADCAST_ACK;
}

static int spublish(shns_t *ns, const char *ch, size_t chlen, const json_t *msg,
                    sg_buf_t *const *bins, size_t nbins, sg_cluster_published_cb cb, void *cb_ud)
{
    json_int_t type = json_integer_value(json_object_get(msg, "type"));
    const void *data;
    size_t len;
    sg_sbuf_t sb = {0};
    msgpack_sbuffer mp;
    int packed = nbins > 0 && msgpack_type(type);
    if (packed) {
        msgpack_sbuffer_init(&mp);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &mp, msgpack_sbuffer_write);
        sg_jmp_pack(&pk, msg, bins, nbins);
        data = mp.data;
        len = mp.size;
    } else {
        /* binary outside those types (none in practice) as Node's JSON of a Buffer */
        json_t *conv = nbins ? sg_json_node_buffers(msg, bins, nbins) : json_incref((json_t *)msg);
        sg_sbuf_init(&sb);
        sg_json_dump(&sb, conv, NULL, NULL);
        json_decref(conv);
        data = sg_sbuf_data(&sb);
        len = sb.len;
    }
    int rc = sg_cluster_redis_publish(ns->r, "SPUBLISH", ch, chlen, data, len, cb, cb_ud);
    if (packed)
        msgpack_sbuffer_destroy(&mp);
    else
        sg_sbuf_reset(&sb);
    return rc;
}

/* JavaScript's length of a UTF-8 string: UTF-16 code units. */
static size_t js_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80)
            n += b >= 0xF0 ? 2 : 1;
    }
    return n;
}

/* The room of a broadcast that may go to that room's channel (Node's
 * shouldUseASeparateNamespace): no acks, exactly one room, and a room this
 * mode subscribes to. NULL otherwise. */
static const json_t *room_target(const shns_t *ns, const json_t *msg)
{
    if (ns->mode == SG_SHARDED_STATIC ||
        json_integer_value(json_object_get(msg, "type")) != SG_CLUSTER_BROADCAST)
        return NULL;
    const json_t *data = json_object_get(msg, "data");
    if (json_object_get(data, "requestId"))
        return NULL;
    const json_t *rooms = json_object_get(json_object_get(data, "opts"), "rooms");
    if (json_array_size(rooms) != 1)
        return NULL;
    const json_t *room = json_array_get(rooms, 0);
    if (!json_is_string(room))
        return NULL;
    if (ns->mode == SG_SHARDED_DYNAMIC &&
        js_length(json_string_value(room), json_string_length(room)) == 20)
        return NULL; /* looks like a socket id: Node keeps those off room channels */
    return room;
}

static int tp_publish(void *tp, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                      sg_cluster_published_cb cb, void *cb_ud)
{
    shns_t *ns = tp;
    const json_t *room = room_target(ns, msg);
    if (!room)
        return spublish(ns, ns->main_ch, ns->main_len, msg, bins, nbins, cb, cb_ud);
    sg_sbuf_t ch;
    sg_sbuf_init(&ch);
    sg_sbuf_append(&ch, ns->main_ch, ns->main_len);
    sg_sbuf_append(&ch, json_string_value(room), json_string_length(room));
    sg_sbuf_putc(&ch, '#');
    int rc = spublish(ns, (const char *)sg_sbuf_data(&ch), ch.len, msg, bins, nbins, cb, cb_ud);
    sg_sbuf_reset(&ch);
    return rc;
}

static int tp_publish_response(void *tp, const char *requester_uid, const json_t *msg,
                               sg_buf_t *const *bins, size_t nbins)
{
    shns_t *ns = tp;
    sg_sbuf_t ch;
    sg_sbuf_init(&ch);
    sg_sbuf_append(&ch, ns->main_ch, ns->main_len);
    sg_sbuf_puts(&ch, requester_uid);
    sg_sbuf_putc(&ch, '#');
    int rc = spublish(ns, (const char *)sg_sbuf_data(&ch), ch.len, msg, bins, nbins, NULL, NULL);
    sg_sbuf_reset(&ch);
    return rc;
}

static int tp_server_count(void *tp, sg_cluster_count_cb cb, void *cb_ud)
{
    shns_t *ns = tp;
    return sg_cluster_redis_count(ns->r, "SHARDNUMSUB", ns->main_ch, ns->main_len, cb, cb_ud);
}

/* Every channel of the namespace: Node's first-byte rule ('{' is JSON,
 * anything else msgpack), then the cluster protocol's receiver rules. */
static void on_message(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    shns_t *ns = ud;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    int rc = len && data[0] == '{' ? sg_json_parse(data, len, &msg)
                                   : sg_jmp_unpack_bytes(data, len, MAX_DEPTH, &msg, &bins, &nbins);
    if (rc != 0 || !json_is_object(msg))
        shlog(ns, 1, "dropped an undecodable message on %.*s (%zu bytes)", (int)chlen, ch, len);
    else
        sg_cluster_on_message(ns->c, msg, bins, nbins, NULL);
    json_decref(msg);
    sg_bufs_free(bins, nbins);
}

/* ---- room channels ---- */

/* Whether the mode wants room's channel now: a room with local members,
 * socket-id rooms only in dynamic-private (a socket id is the id of a
 * local socket, as Node checks). Recomputed on every change, so the
 * subscriptions follow the room index whatever the order of events. */
static void sh_room_changed(sg_adapter_t *a, const char *room, size_t len, int created,
                            int is_sid)
{
    (void)created;
    (void)is_sid;
    sg_cluster_t *c = sg_cluster_of(a);
    shns_t *ns = c ? sg_cluster_transport_ud(c) : NULL;
    if (!ns || ns->mode == SG_SHARDED_STATIC)
        return;
    if (memchr(room, '\0', len))
        return; /* a channel name is a C string here; such a room stays on the main channel */
    int want = sg_adapter_room_size(a, room, len) > 0 &&
               (ns->mode == SG_SHARDED_DYNAMIC_PRIVATE || !sg_adapter_find(a, room, len));
    sg_sbuf_t ch;
    sg_sbuf_init(&ch);
    sg_sbuf_append(&ch, ns->main_ch, ns->main_len);
    sg_sbuf_append(&ch, room, len);
    sg_sbuf_putc(&ch, '#');
    const char *name = (const char *)sg_sbuf_data(&ch); /* NUL-terminated */
    char *have = sg_map_get(ns->rooms, name, ch.len);
    if (want && !have) {
        char *key = sg_strndup(name, ch.len);
        sg_map_put(ns->rooms, key, ch.len, key);
        sg_redis_subscribe(ns->r, key, SG_REDIS_SHARD, on_message, ns);
    } else if (!want && have) {
        sg_map_del(ns->rooms, name, ch.len);
        sg_redis_unsubscribe(ns->r, have, SG_REDIS_SHARD);
        sg_free(have);
    }
    sg_sbuf_reset(&ch);
}

/* ---- open / close ---- */

static void ns_free(shns_t *ns)
{
    sg_map_iter_t it = {0};
    while (sg_map_next(ns->rooms, &it)) {
        sg_redis_unsubscribe(ns->r, it.val, SG_REDIS_SHARD);
        sg_free(it.val);
    }
    sg_map_free(ns->rooms);
    sg_free(ns->main_ch);
    sg_free(ns->own_ch);
    sg_free(ns);
}

static int sh_open(sg_adapter_t *a)
{
    const sg_adapter_env_t *env = sg_adapter_env(a);
    const sg_sharded_cfg_t *cfg = env ? env->shared : NULL;
    if (!cfg || !env->redis)
        return SG_ESTATE;
    shns_t *ns = sg_calloc(1, sizeof(*ns));
    ns->a = a;
    ns->env = env;
    ns->mode = cfg->mode;
    ns->r = env->redis;
    ns->rooms = sg_map_new();
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_puts(&sb, env->key ? env->key : "socket.io");
    sg_sbuf_putc(&sb, '#');
    sg_sbuf_puts(&sb, sg_adapter_nsp(a));
    sg_sbuf_putc(&sb, '#');
    ns->main_len = sb.len;
    ns->main_ch = sg_strndup((const char *)sg_sbuf_data(&sb), sb.len);
    sg_cluster_transport_t tp = {tp_publish, tp_publish_response, tp_server_count};
    sg_cluster_opts_t co = {.requests_timeout = env->requests_timeout};
    ns->c = sg_cluster_new(a, &tp, ns, &co);
    sg_sbuf_puts(&sb, sg_cluster_uid(ns->c));
    sg_sbuf_putc(&sb, '#');
    ns->own_ch = sg_strndup((const char *)sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
    sg_redis_subscribe(ns->r, ns->main_ch, SG_REDIS_SHARD, on_message, ns);
    sg_redis_subscribe(ns->r, ns->own_ch, SG_REDIS_SHARD, on_message, ns);
    sg_cluster_start(ns->c);
    shlog(ns, 3, "uid %s, channel %s", sg_cluster_uid(ns->c), ns->main_ch);
    return 0;
}

static void sh_close(sg_adapter_t *a)
{
    sg_cluster_t *c = sg_cluster_of(a);
    if (!c)
        return;
    shns_t *ns = sg_cluster_transport_ud(c);
    sg_cluster_free(c);
    sg_redis_unsubscribe(ns->r, ns->main_ch, SG_REDIS_SHARD);
    sg_redis_unsubscribe(ns->r, ns->own_ch, SG_REDIS_SHARD);
    ns_free(ns);
}

const sg_adapter_ops_t sg_adapter_sharded_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "sharded",
    .open = sh_open,
    .close = sh_close,
    .broadcast = sg_cluster_broadcast,
    .add_sockets = sg_cluster_add_sockets,
    .del_sockets = sg_cluster_del_sockets,
    .disconnect_sockets = sg_cluster_disconnect_sockets,
    .fetch_sockets = sg_cluster_fetch_sockets,
    .all_rooms = NULL, /* no such message in this protocol: this node's rooms */
    .server_side_emit = sg_cluster_server_side_emit,
    .broadcast_ack = sg_cluster_broadcast_ack,
    .cancel = sg_cluster_cancel,
    .room_changed = sh_room_changed,
};
