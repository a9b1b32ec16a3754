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


static char *strcat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = sg_malloc(la + lb + lc + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
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


static void on_bcast(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    if (chlen < rp->prefix_len || memcmp(ch, rp->prefix, rp->prefix_len) != 0)
        return;
    /* Room channel: skip rooms this node does not host without decoding
     * (with recovery, a disconnected session may be in it: keep them all). */
    if (chlen > rp->prefix_len) {
        size_t rlen = chlen - rp->prefix_len - 1;
        if (ch[chlen - 1] != '#' ||
            (!sg_adapter_recovery(rp->a) &&
             sg_adapter_room_size(rp->a, ch + rp->prefix_len, rlen) == 0))
            return;
    }
    json_t *v = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_jmp_unpack_bytes(data, len, SG_RP_MAX_DEPTH, &v, &bins, &nbins) != 0 || !json_is_array(v) ||
        json_array_size(v) < 3) {
        sg_rp__log(rp, 1, "dropped a message on %.*s that is not a broadcast array (%zu bytes)",
                   (int)chlen, ch, len);
        goto out;
    }
    const json_t *uid = json_array_get(v, 0), *packet = json_array_get(v, 1),
                 *opts = json_array_get(v, 2);
    if (sg_rp__is_name(uid, rp->uid, SG_RP_ID_LEN))
        goto out; /* our own */
    const json_t *nsp = json_object_get(packet, "nsp"), *pdata = json_object_get(packet, "data");
    json_int_t type = json_integer_value(json_object_get(packet, "type"));
    if (!json_is_object(opts) || !json_is_array(pdata) || !json_array_size(pdata) ||
        (type != 2 && type != 5)) {
        sg_rp__log(rp, 1, "dropped a malformed broadcast on %.*s", (int)chlen, ch);
        goto out;
    }
    const char *own_nsp = sg_adapter_nsp(rp->a);
    if (nsp ? !sg_rp__is_name(nsp, own_nsp, strlen(own_nsp)) : strcmp(own_nsp, "/") != 0)
        goto out;
    sg_bopts_t ro;
    if (sg_bopts_decode(&ro, opts, NULL, 0) != 0) {
        sg_rp__log(rp, 1, "dropped a broadcast on %.*s with bad rooms", (int)chlen, ch);
        goto out;
    }
    sg_sio_packet_t p;
    sg_adapter_event_packet(rp->a, &p, pdata, bins, nbins);
    if (sg_adapter_broadcast(rp->a, &p, &ro.o) != 0)
        sg_rp__log(rp, 1, "dropped a broadcast whose data cannot be encoded");
    sg_bopts_clear(&ro);
out:
    json_decref(v);
    sg_bufs_free(bins, nbins);
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

static void on_response(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_rp__decode(data, len, &msg, &bins, &nbins) != 0 || !json_is_object(msg)) {
        sg_rp__log(rp, 1, "dropped an undecodable response (%zu bytes)", len);
        json_decref(msg);
        sg_bufs_free(bins, nbins);
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
    sg_redis_subscribe(rp->r, rp->req_ch, 0, sg_rp__on_request, rp);
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
    sg_rp__replies_detach(rp); /* their owners release them later */
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
