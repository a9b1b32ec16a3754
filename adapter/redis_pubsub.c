/* redis_pubsub.c - the classic Redis Pub/Sub backend (adapter = redis),
 * wire-compatible with @socket.io/redis-adapter 8.3 createAdapter() and
 * @socket.io/redis-emitter 5: channels, broadcasts, and the answers this
 * node owes to requests of other nodes. Room semantics stay in adapter.c:
 * whatever arrives is applied through the SG_BCAST_LOCAL entry points. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "bopts.h"
#include "json.h"
#include "json_msgpack.h"
#include "redis_pubsub_internal.h"
#include "requests.h"
#include "util.h"

#define MAX_DEPTH 32

struct sg_rp_reply {
    sg_adapter_reply_t base; /* must stay first */
    sg_rp_t *rp;             /* NULL once the adapter closed */
    sg_rp_reply_t *prev, *next;
    int broadcast; /* 0: serverSideEmit ack (once), 1: broadcast acks (many) */
    int sent;
    unsigned refs;
    char *rid;
    char *channel;
};

void sg_rp__log(const sg_rp_t *rp, int level, const char *fmt, ...)
{
    if (!rp->env->log)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "redis adapter %s: ", sg_adapter_nsp(rp->a));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    rp->env->log(rp->env->log_ud, level, buf);
}

void sg_rp__random_id(char out[SG_RP_ID_LEN + 1])
{
    sg_random_id(out, SG_RP_ID_LEN);
}

static char *strcat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = sg_malloc(la + lb + lc + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* ---- encoding ---- */

int sg_rp__publish_json(sg_rp_t *rp, const char *channel, const json_t *obj,
                        sg_buf_t *const *bins, size_t nbins)
{
    json_t *conv = nbins ? sg_json_node_buffers(obj, bins, nbins) : json_incref((json_t *)obj);
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_json_dump(&sb, conv, NULL, NULL);
    int rc = sg_redis_publish(rp->r, channel, strlen(channel), sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
    json_decref(conv);
    return rc;
}

int sg_rp__publish_msgpack(sg_rp_t *rp, const char *channel, size_t chlen, const json_t *v,
                           sg_buf_t *const *bins, size_t nbins)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sg_jmp_pack(&pk, v, bins, nbins);
    int rc = sg_redis_publish(rp->r, channel, chlen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- decoding ---- */

/* The first-byte rule of the Node adapter: '{' is JSON, anything else msgpack. */
static int decode_any(const char *data, size_t len, json_t **out, sg_buf_t ***bins,
                      size_t *nbins)
{
    if (len && data[0] == '{')
        return sg_json_parse(data, len, out);
    return sg_jmp_unpack_bytes(data, len, MAX_DEPTH, out, bins, nbins);
}

static void free_bins(sg_buf_t **bins, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
}

/* 1 when the JSON string v is exactly the len bytes at s. */
static int json_is_name(const json_t *v, const char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), s, len) == 0;
}

/* ---- broadcasts ---- */

static int rp_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    json_t *packet = json_pack("{s:i,s:O,s:s}", "type", 2, "data", pkt->data, "nsp",
                               sg_adapter_nsp(a));
    json_t *msg = json_pack("[s,o,o]", rp->uid, packet, sg_bopts_json(opts, 1, 0));
    /* One room: its own channel, "<prefix><room>#" (room bytes as they are). */
    sg_sbuf_t ch;
    sg_sbuf_init(&ch);
    sg_sbuf_puts(&ch, rp->prefix);
    if (opts->nrooms == 1) {
        sg_sbuf_append(&ch, opts->rooms[0].p, opts->rooms[0].len);
        sg_sbuf_putc(&ch, '#');
    }
    int rc = sg_rp__publish_msgpack(rp, (const char *)sg_sbuf_data(&ch), ch.len, msg, pkt->bins,
                                    pkt->nbins);
    sg_sbuf_reset(&ch);
    json_decref(msg);
    return rc == 0 ? 0 : SG_EIO;
}

/* A received broadcast as a packet of this namespace (borrows everything). */
static void event_packet(sg_rp_t *rp, sg_sio_packet_t *p, const json_t *pdata,
                         sg_buf_t *const *bins, size_t nbins)
{
    sg_sio_packet_init(p);
    p->type = SG_SIO_EVENT;
    p->nsp = (char *)sg_adapter_nsp(rp->a);
    p->data = (json_t *)pdata;
    p->bins = (sg_buf_t **)bins;
    p->nbins = nbins;
}

static void on_bcast(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    if (chlen < rp->prefix_len || memcmp(ch, rp->prefix, rp->prefix_len) != 0)
        return;
    /* Room channel: skip rooms this node does not host without decoding. */
    if (chlen > rp->prefix_len) {
        size_t rlen = chlen - rp->prefix_len - 1;
        if (ch[chlen - 1] != '#' ||
            sg_adapter_room_size(rp->a, ch + rp->prefix_len, rlen) == 0)
            return;
    }
    json_t *v = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_jmp_unpack_bytes(data, len, MAX_DEPTH, &v, &bins, &nbins) != 0 || !json_is_array(v) ||
        json_array_size(v) < 3) {
        sg_rp__log(rp, 1, "dropped a message on %.*s that is not a broadcast array (%zu bytes)",
                   (int)chlen, ch, len);
        goto out;
    }
    const json_t *uid = json_array_get(v, 0), *packet = json_array_get(v, 1),
                 *opts = json_array_get(v, 2);
    if (json_is_name(uid, rp->uid, SG_RP_ID_LEN))
        goto out; /* our own */
    const json_t *nsp = json_object_get(packet, "nsp"), *pdata = json_object_get(packet, "data");
    json_int_t type = json_integer_value(json_object_get(packet, "type"));
    if (!json_is_object(opts) || !json_is_array(pdata) || !json_array_size(pdata) ||
        (type != 2 && type != 5)) {
        sg_rp__log(rp, 1, "dropped a malformed broadcast on %.*s", (int)chlen, ch);
        goto out;
    }
    const char *own_nsp = sg_adapter_nsp(rp->a);
    if (nsp ? !json_is_name(nsp, own_nsp, strlen(own_nsp)) : strcmp(own_nsp, "/") != 0)
        goto out;
    sg_bopts_t ro;
    sg_bopts_decode(&ro, opts, NULL, 0);
    sg_sio_packet_t p;
    event_packet(rp, &p, pdata, bins, nbins);
    if (sg_adapter_broadcast(rp->a, &p, &ro.o) != 0)
        sg_rp__log(rp, 1, "dropped a broadcast whose data cannot be encoded");
    sg_bopts_clear(&ro);
out:
    json_decref(v);
    free_bins(bins, nbins);
}

static int rp_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                          size_t n, int type)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    json_t *req = json_pack("{s:s,s:i,s:o,s:o}", "uid", rp->uid, "type", type, "opts",
                            sg_bopts_json(opts, 0, 0), "rooms", sg_bopts_names_json(rooms, n));
    int rc = sg_rp__publish_json(rp, rp->req_ch, req, NULL, 0);
    json_decref(req);
    return rc == 0 ? 0 : SG_EIO;
}

static int rp_join(sg_adapter_t *a, const sg_bcast_opts_t *o, const sg_name_t *r, size_t n)
{
    return rp_add_sockets(a, o, r, n, SG_RQ_REMOTE_JOIN);
}

static int rp_leave(sg_adapter_t *a, const sg_bcast_opts_t *o, const sg_name_t *r, size_t n)
{
    return rp_add_sockets(a, o, r, n, SG_RQ_REMOTE_LEAVE);
}

static int rp_disconnect(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    json_t *req = json_pack("{s:s,s:i,s:o,s:b}", "uid", rp->uid, "type", SG_RQ_REMOTE_DISCONNECT,
                            "opts", sg_bopts_json(opts, 0, 0), "close", close);
    int rc = sg_rp__publish_json(rp, rp->req_ch, req, NULL, 0);
    json_decref(req);
    return rc == 0 ? 0 : SG_EIO;
}

/* ---- answers owed to other nodes ---- */

static void reply_unlink(sg_rp_reply_t *r)
{
    if (!r->rp)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        r->rp->replies = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->rp = NULL;
}

static void reply_unref(sg_rp_reply_t *r)
{
    if (--r->refs)
        return;
    reply_unlink(r);
    sg_free(r->rid);
    sg_free(r->channel);
    sg_free(r);
}

static void reply_send(sg_adapter_reply_t *base, const json_t *arg, sg_buf_t *const *bins,
                       size_t nbins)
{
    sg_rp_reply_t *r = (sg_rp_reply_t *)base;
    if (!r->rp || (r->sent && !r->broadcast))
        return;
    r->sent = 1;
    json_t *msg = json_pack("{s:i,s:s,s:O}", "type",
                            r->broadcast ? SG_RQ_BROADCAST_ACK : SG_RQ_SERVER_SIDE_EMIT,
                            "requestId", r->rid, r->broadcast ? "packet" : "data",
                            arg ? arg : json_null());
    if (r->broadcast)
        sg_rp__publish_msgpack(r->rp, r->channel, strlen(r->channel), msg, bins, nbins);
    else
        sg_rp__publish_json(r->rp, r->channel, msg, bins, nbins);
    json_decref(msg);
}

static void reply_release(sg_adapter_reply_t *base)
{
    reply_unref((sg_rp_reply_t *)base);
}

static sg_rp_reply_t *reply_new(sg_rp_t *rp, const char *rid, const char *channel, int broadcast)
{
    sg_rp_reply_t *r = sg_calloc(1, sizeof(*r));
    r->base.send = reply_send;
    r->base.release = reply_release;
    r->rp = rp;
    r->broadcast = broadcast;
    r->refs = 1;
    r->rid = sg_strdup(rid);
    r->channel = sg_strdup(channel);
    r->next = rp->replies;
    if (rp->replies)
        rp->replies->prev = r;
    rp->replies = r;
    return r;
}

typedef struct {
    sg_rp_t *rp;
    json_t *out;
    int describe;
} collect_t;

static void collect_one(sg_asock_t *s, void *ud)
{
    collect_t *c = ud;
    const sg_adapter_chost_t *h = sg_adapter_chost(c->rp->a);
    if (!c->describe)
        json_array_append_new(c->out, json_stringn(s->id, s->id_len));
    else if (h && h->describe)
        json_array_append_new(c->out, h->describe(s, sg_adapter_host_ud(c->rp->a)));
}

static void add_room(const char *room, size_t len, void *ud)
{
    json_array_append_new(ud, json_stringn(room, len));
}

static void answer(sg_rp_t *rp, const char *channel, const char *rid, const char *key,
                   json_t *val)
{
    json_t *msg = json_pack("{s:s}", "requestId", rid);
    if (key)
        json_object_set_new(msg, key, val);
    sg_rp__publish_json(rp, channel, msg, NULL, 0);
    json_decref(msg);
}

/* The legacy sid forms (6.x / 7.x senders): only the owner acts and answers. */
static void legacy_request(sg_rp_t *rp, json_int_t type, const json_t *req, const char *rid,
                           const char *channel)
{
    const json_t *jsid = json_object_get(req, "sid");
    sg_name_t sid = {json_string_value(jsid), json_string_length(jsid)};
    sg_asock_t *s = sid.p ? sg_adapter_find(rp->a, sid.p, sid.len) : NULL;
    if (!s)
        return;
    if (type == SG_RQ_REMOTE_DISCONNECT) {
        sg_bcast_opts_t o = {&sid, 1, NULL, 0, SG_BCAST_LOCAL};
        sg_adapter_disconnect_sockets(rp->a, &o, json_is_true(json_object_get(req, "close")));
    } else {
        sg_name_t room;
        if (sg_bopts_room_name(json_object_get(req, "room"), &room) == 0) {
            if (type == SG_RQ_REMOTE_JOIN)
                (void)sg_adapter_join(rp->a, s, room.p, room.len);
            else
                sg_adapter_leave(rp->a, s, room.p, room.len);
            sg_free((char *)room.p);
        }
    }
    if (rid)
        answer(rp, channel, rid, NULL, NULL);
}

static void remote_broadcast_ack(sg_rp_t *rp, const json_t *req, const char *rid,
                                 const char *channel, sg_buf_t **bins, size_t nbins)
{
    const sg_adapter_chost_t *h = sg_adapter_chost(rp->a);
    const json_t *packet = json_object_get(req, "packet"), *opts = json_object_get(req, "opts");
    const json_t *pdata = json_object_get(packet, "data");
    if (!rid || !json_is_array(pdata) || !json_array_size(pdata) || !h || !h->broadcast_ack)
        return;
    sg_bopts_t ro;
    sg_bopts_decode(&ro, opts, NULL, 0);
    unsigned timeout = ro.timeout ? ro.timeout : 5000;
    sg_sio_packet_t p;
    event_packet(rp, &p, pdata, bins, nbins);
    sg_rp_reply_t *r = reply_new(rp, rid, channel, 1);
    r->refs++; /* ours, until the count is out: acks must follow it */
    size_t n = h->broadcast_ack(sg_adapter_host_ud(rp->a), &p, &ro.o, timeout, &r->base);
    json_t *msg = json_pack("{s:i,s:s,s:I}", "type", SG_RQ_BROADCAST_CLIENT_COUNT, "requestId",
                            rid, "clientCount", (json_int_t)n);
    sg_rp__publish_json(rp, channel, msg, NULL, 0);
    json_decref(msg);
    reply_unref(r);
    sg_bopts_clear(&ro);
}

static void on_request(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    json_t *req = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (decode_any(data, len, &req, &bins, &nbins) != 0 || !json_is_object(req) ||
        !json_is_integer(json_object_get(req, "type"))) {
        sg_rp__log(rp, 1, "dropped an undecodable request (%zu bytes)", len);
        goto out;
    }
    json_int_t type = json_integer_value(json_object_get(req, "type"));
    const char *uid = json_string_value(json_object_get(req, "uid"));
    const char *rid = json_string_value(json_object_get(req, "requestId"));
    int own = json_is_name(json_object_get(req, "uid"), rp->uid, SG_RP_ID_LEN);
    const json_t *opts = json_object_get(req, "opts");
    char *own_resp = NULL;
    const char *channel = rp->resp_ch;
    if (rp->env->specific_response_channel && uid) {
        own_resp = sg_malloc(strlen(rp->resp_ch) + strlen(uid) + 2);
        sprintf(own_resp, "%s%s#", rp->resp_ch, uid);
        channel = own_resp;
    }
    switch (type) {
    case SG_RQ_SOCKETS:
    case SG_RQ_REMOTE_FETCH: {
        if (!rid || sg_rp__is_own_request(rp, rid))
            break;
        sg_bopts_t ro;
        if (type == SG_RQ_SOCKETS) {
            json_t *o = json_pack("{s:O?}", "rooms", json_object_get(req, "rooms"));
            sg_bopts_decode(&ro, o, NULL, 0);
            json_decref(o);
        } else {
            sg_bopts_decode(&ro, opts, NULL, 0);
        }
        collect_t c = {rp, json_array(), type == SG_RQ_REMOTE_FETCH};
        sg_adapter_select(rp->a, &ro.o, collect_one, &c);
        answer(rp, channel, rid, "sockets", c.out);
        sg_bopts_clear(&ro);
        break;
    }
    case SG_RQ_ALL_ROOMS: {
        if (!rid || sg_rp__is_own_request(rp, rid))
            break;
        json_t *rooms = json_array();
        sg_adapter_all_rooms(rp->a, add_room, rooms);
        answer(rp, channel, rid, "rooms", rooms);
        break;
    }
    case SG_RQ_REMOTE_JOIN:
    case SG_RQ_REMOTE_LEAVE:
    case SG_RQ_REMOTE_DISCONNECT: {
        if (!json_is_object(opts)) {
            legacy_request(rp, type, req, rid, channel);
            break;
        }
        if (own)
            break; /* applied locally when it was sent */
        sg_bopts_t ro;
        sg_bopts_decode(&ro, opts, json_object_get(req, "rooms"), 0);
        if (type == SG_RQ_REMOTE_DISCONNECT)
            sg_adapter_disconnect_sockets(rp->a, &ro.o,
                                          json_is_true(json_object_get(req, "close")));
        else if (type == SG_RQ_REMOTE_JOIN)
            sg_adapter_add_sockets(rp->a, &ro.o, ro.list, ro.nlist);
        else
            sg_adapter_del_sockets(rp->a, &ro.o, ro.list, ro.nlist);
        sg_bopts_clear(&ro);
        break;
    }
    case SG_RQ_SERVER_SIDE_EMIT: {
        const sg_adapter_chost_t *h = sg_adapter_chost(rp->a);
        const json_t *d = json_object_get(req, "data");
        if (own || !json_is_array(d) || !json_array_size(d) || !h || !h->server_event)
            break;
        /* Node answers serverSideEmit acks on the shared channel whatever
         * publishOnSpecificResponseChannel says. */
        sg_rp_reply_t *r = rid ? reply_new(rp, rid, rp->resp_ch, 0) : NULL;
        h->server_event(sg_adapter_host_ud(rp->a), d, bins, nbins, r ? &r->base : NULL);
        break;
    }
    case SG_RQ_BROADCAST:
        if (rid && !sg_rp__is_own_request(rp, rid))
            remote_broadcast_ack(rp, req, rid, channel, bins, nbins);
        break;
    default:
        break;
    }
    sg_free(own_resp);
out:
    json_decref(req);
    free_bins(bins, nbins);
}

static void on_response(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (decode_any(data, len, &msg, &bins, &nbins) != 0 || !json_is_object(msg)) {
        sg_rp__log(rp, 1, "dropped an undecodable response (%zu bytes)", len);
        json_decref(msg);
        free_bins(bins, nbins);
        return;
    }
    sg_rp__on_response(rp, msg, bins, nbins); /* takes both */
}

/* ---- open / close ---- */

static int rp_open(sg_adapter_t *a)
{
    const sg_adapter_env_t *env = sg_adapter_env(a);
    if (!env || !env->redis)
        return SG_ESTATE;
    sg_rp_t *rp = sg_calloc(1, sizeof(*rp));
    rp->a = a;
    rp->env = env;
    rp->r = env->redis;
    sg_rp__random_id(rp->uid);
    const char *nsp = sg_adapter_nsp(a);
    char *k = strcat3(env->key, "#", nsp);
    rp->prefix = strcat3(k, "#", "");
    rp->prefix_len = strlen(rp->prefix);
    rp->pattern = strcat3(rp->prefix, "*", "");
    sg_free(k);
    k = strcat3(env->key, "-request#", nsp);
    rp->req_ch = strcat3(k, "#", "");
    sg_free(k);
    k = strcat3(env->key, "-response#", nsp);
    rp->resp_ch = strcat3(k, "#", "");
    sg_free(k);
    rp->resp_own_ch = strcat3(rp->resp_ch, rp->uid, "#");
    rp->reqs = sg_requests_new(env->loop);
    sg_adapter_set_backend(a, rp);
    sg_redis_subscribe(rp->r, rp->pattern, 1, on_bcast, rp);
    sg_redis_subscribe(rp->r, rp->req_ch, 0, on_request, rp);
    sg_redis_subscribe(rp->r, rp->resp_ch, 0, on_response, rp);
    sg_redis_subscribe(rp->r, rp->resp_own_ch, 0, on_response, rp);
    sg_rp__log(rp, 3, "uid %s, channels %s* %s", rp->uid, rp->prefix, rp->req_ch);
    return 0;
}

static void rp_close(sg_adapter_t *a)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!rp)
        return;
    sg_rp__reqs_close(rp);
    sg_redis_unsubscribe(rp->r, rp->pattern, 1);
    sg_redis_unsubscribe(rp->r, rp->req_ch, 0);
    sg_redis_unsubscribe(rp->r, rp->resp_ch, 0);
    sg_redis_unsubscribe(rp->r, rp->resp_own_ch, 0);
    while (rp->replies)
        reply_unlink(rp->replies); /* their owners release them later */
    sg_free(rp->prefix);
    sg_free(rp->pattern);
    sg_free(rp->req_ch);
    sg_free(rp->resp_ch);
    sg_free(rp->resp_own_ch);
    sg_free(rp);
}

const sg_adapter_ops_t sg_adapter_redis_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "redis",
    .open = rp_open,
    .close = rp_close,
    .broadcast = rp_broadcast,
    .add_sockets = rp_join,
    .del_sockets = rp_leave,
    .disconnect_sockets = rp_disconnect,
    .fetch_sockets = sg_rp__fetch_sockets,
    .all_rooms = sg_rp__all_rooms,
    .server_side_emit = sg_rp__server_side_emit,
    .broadcast_ack = sg_rp__broadcast_ack,
    .cancel = sg_rp__cancel,
};
