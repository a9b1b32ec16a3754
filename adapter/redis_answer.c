/* redis_answer.c - requests from other nodes on the classic request
 * channel (@socket.io/redis-adapter 8.x RequestType, and the older sid
 * forms): applied locally and answered on the response channel. */
#include <stdio.h>
#include <string.h>

#include "bopts.h"
#include "json.h"
#include "redis_pubsub_internal.h"
#include "util.h"

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
    if (sg_bopts_decode(&ro, opts, NULL, 0) != 0) {
        /* Rooms no socket is in: nobody here, and the requester hears so. */
        json_t *msg = json_pack("{s:i,s:s,s:I}", "type", SG_RQ_BROADCAST_CLIENT_COUNT,
                                "requestId", rid, "clientCount", (json_int_t)0);
        sg_rp__publish_json(rp, channel, msg, NULL, 0);
        json_decref(msg);
        return;
    }
    unsigned timeout = ro.timeout ? ro.timeout : 5000;
    sg_sio_packet_t p;
    sg_adapter_event_packet(rp->a, &p, pdata, bins, nbins);
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

void sg_rp__on_request(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_rp_t *rp = ud;
    json_t *req = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_rp__decode(data, len, &req, &bins, &nbins) != 0 || !json_is_object(req) ||
        !json_is_integer(json_object_get(req, "type"))) {
        sg_rp__log(rp, 1, "dropped an undecodable request (%zu bytes)", len);
        goto out;
    }
    json_int_t type = json_integer_value(json_object_get(req, "type"));
    const char *uid = json_string_value(json_object_get(req, "uid"));
    const char *rid = json_string_value(json_object_get(req, "requestId"));
    int own = sg_rp__is_name(json_object_get(req, "uid"), rp->uid, SG_RP_ID_LEN);
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
        int rc;
        if (type == SG_RQ_SOCKETS) {
            json_t *o = json_pack("{s:O?}", "rooms", json_object_get(req, "rooms"));
            rc = sg_bopts_decode(&ro, o, NULL, 0);
            json_decref(o);
        } else {
            rc = sg_bopts_decode(&ro, opts, NULL, 0);
        }
        collect_t c = {rp, json_array(), type == SG_RQ_REMOTE_FETCH};
        if (rc == 0) /* else rooms no socket is in: an empty answer */
            sg_adapter_select(rp->a, &ro.o, collect_one, &c);
        answer(rp, channel, rid, "sockets", c.out);
        if (rc == 0)
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
        if (sg_bopts_decode(&ro, opts, json_object_get(req, "rooms"), 0) != 0) {
            sg_rp__log(rp, 1, "dropped a request of type %d with bad rooms", (int)type);
            break;
        }
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
    sg_bufs_free(bins, nbins);
}


void sg_rp__replies_detach(sg_rp_t *rp)
{
    while (rp->replies)
        reply_unlink(rp->replies);
}
