/* cluster_recv.c - what this node does with the messages of the other nodes
 * (Node's ClusterAdapter.onMessage / onResponse), and the answers it owes
 * them. Every message is treated as hostile: anything malformed is dropped
 * with one log line. */
#include <string.h>

#include "bopts.h"
#include "cluster_internal.h"
#include "json.h"
#include "util.h"

/* ---- receiver ---- */

/* A uid or requestId we are willing to handle: a NUL-free string of
 * 1..SG_CLUSTER_MAX_UID bytes. */
static const char *id_value(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    return len && len <= SG_CLUSTER_MAX_UID && strlen(s) == len ? s : NULL;
}


static void broadcast_with_ack(sg_cluster_t *c, const char *from, const char *rid,
                               sg_sio_packet_t *p, const sg_bopts_t *bo)
{
    const sg_adapter_chost_t *h = sg_adapter_chost(c->a);
    size_t n = 0;
    if (h && h->broadcast_ack) {
        /* The host owns the reply from here (it may release it at once). */
        sg_adapter_reply_t *r = sg_cluster__reply_new(c, from, rid, SG_CLUSTER_BROADCAST_ACK);
        n = h->broadcast_ack(sg_adapter_host_ud(c->a), p, &bo->o,
                             bo->timeout ? bo->timeout : SG_CLUSTER__DEFAULT_TIMEOUT, r);
    }
    if (c->closing)
        return; /* the host closed the adapter from its callback */
    /* Always one count, even 0: the requester waits for one per node. */
    sg_cluster__respond(c, from, SG_CLUSTER_BROADCAST_CLIENT_COUNT,
                        json_pack("{s:s,s:I}", "requestId", rid, "clientCount", (json_int_t)n),
                        NULL, 0);
}

static void on_broadcast(sg_cluster_t *c, const char *from, const json_t *data,
                         sg_buf_t *const *bins, size_t nbins, const char *offset)
{
    const json_t *packet = json_object_get(data, "packet"), *opts = json_object_get(data, "opts");
    const json_t *pdata = json_object_get(packet, "data"),
                 *jrid = json_object_get(data, "requestId");
    const json_t *ptype = json_object_get(packet, "type");
    const char *rid = id_value(jrid);
    /* The cluster protocol only carries EVENT packets of v4 servers. */
    if (!json_is_integer(ptype) || json_integer_value(ptype) != SG_SIO_EVENT ||
        !json_is_array(pdata) || !json_is_string(json_array_get(pdata, 0)) ||
        !json_is_object(opts) || (jrid && !rid)) {
        sg_cluster__log(c, 1, "dropped a malformed broadcast from %s", from);
        return;
    }
    sg_bopts_t bo;
    if (sg_bopts_decode(&bo, opts, NULL, SG_CLUSTER_MAX_NAMES) != 0) {
        sg_cluster__log(c, 1, "dropped a broadcast from %s with bad or too many rooms", from);
        return;
    }
    sg_sio_packet_t p;
    if (rid) {
        sg_adapter_event_packet(c->a, &p, (json_t *)pdata, bins, nbins);
        broadcast_with_ack(c, from, rid, &p, &bo);
        sg_bopts_clear(&bo);
        return;
    }
    /* Node's addOffsetIfNecessary: EVENT, no ack id, no volatile flag. */
    json_t *copy = NULL;
    if (c->o.on_offset && !json_object_get(packet, "id") &&
        !json_object_get(json_object_get(opts, "flags"), "volatile"))
        copy = json_deep_copy(pdata);
    sg_adapter_event_packet(c->a, &p, copy ? copy : (json_t *)pdata, bins, nbins);
    if (copy && offset && *offset) {
        c->o.on_offset(c->o.offset_ud, &p, &bo.o, offset, 1);
        bo.o.flags |= SG_BCAST_HAS_OFFSET; /* numbered by the transport */
    }
    if (sg_adapter_broadcast(c->a, &p, &bo.o) != 0)
        sg_cluster__log(c, 1, "dropped a broadcast from %s whose data cannot be encoded", from);
    json_decref(copy);
    sg_bopts_clear(&bo);
}

static void on_sockets_op(sg_cluster_t *c, const char *from, json_int_t type, const json_t *data)
{
    const json_t *opts = json_object_get(data, "opts"), *rooms = json_object_get(data, "rooms");
    sg_bopts_t bo;
    if (!json_is_object(opts) || (type != SG_CLUSTER_DISCONNECT_SOCKETS && !json_is_array(rooms))) {
        sg_cluster__log(c, 1, "dropped a malformed message of type %d from %s", (int)type, from);
        return;
    }
    if (sg_bopts_decode(&bo, opts, type != SG_CLUSTER_DISCONNECT_SOCKETS ? rooms : NULL,
                        SG_CLUSTER_MAX_NAMES) != 0) {
        sg_cluster__log(c, 1, "dropped a message of type %d from %s with bad or too many rooms",
                        (int)type, from);
        return;
    }
    if (type == SG_CLUSTER_SOCKETS_JOIN)
        sg_adapter_add_sockets(c->a, &bo.o, bo.list, bo.nlist);
    else if (type == SG_CLUSTER_SOCKETS_LEAVE)
        sg_adapter_del_sockets(c->a, &bo.o, bo.list, bo.nlist);
    else
        sg_adapter_disconnect_sockets(c->a, &bo.o, json_is_true(json_object_get(data, "close")));
    sg_bopts_clear(&bo);
}

typedef struct {
    sg_cluster_t *c;
    json_t *out;
} describe_t;

static void describe_one(sg_asock_t *s, void *ud)
{
    describe_t *d = ud;
    const sg_adapter_chost_t *h = sg_adapter_chost(d->c->a);
    json_t *v = h && h->describe ? h->describe(s, sg_adapter_host_ud(d->c->a)) : NULL;
    if (v)
        json_array_append_new(d->out, v);
}

static void on_fetch(sg_cluster_t *c, const char *from, const json_t *data)
{
    const json_t *opts = json_object_get(data, "opts");
    const char *rid = id_value(json_object_get(data, "requestId"));
    sg_bopts_t bo;
    if (!rid || !json_is_object(opts)) {
        sg_cluster__log(c, 1, "dropped a malformed fetchSockets request from %s", from);
        return;
    }
    describe_t d = {c, json_array()};
    /* Rooms no socket can be in (or too many to look at): an empty answer,
     * as Node gives, so the requester does not wait for its timeout. */
    if (sg_bopts_decode(&bo, opts, NULL, SG_CLUSTER_MAX_NAMES) != 0) {
        sg_cluster__log(c, 1, "fetchSockets request from %s with bad or too many rooms", from);
    } else {
        sg_adapter_select(c->a, &bo.o, describe_one, &d);
        sg_bopts_clear(&bo);
    }
    sg_cluster__respond(c, from, SG_CLUSTER_FETCH_SOCKETS_RESPONSE,
                        json_pack("{s:s,s:o}", "requestId", rid, "sockets", d.out), NULL, 0);
}

static void on_server_side_emit(sg_cluster_t *c, const char *from, const json_t *data,
                                sg_buf_t *const *bins, size_t nbins)
{
    const json_t *packet = json_object_get(data, "packet"),
                 *jrid = json_object_get(data, "requestId");
    const char *rid = id_value(jrid);
    if (!json_is_array(packet) || !json_is_string(json_array_get(packet, 0)) || (jrid && !rid)) {
        sg_cluster__log(c, 1, "dropped a malformed serverSideEmit from %s", from);
        return;
    }
    const sg_adapter_chost_t *h = sg_adapter_chost(c->a);
    if (!h || !h->server_event)
        return; /* no handler: no answer, as in Node */
    sg_adapter_reply_t *r =
        rid ? sg_cluster__reply_new(c, from, rid, SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE) : NULL;
    h->server_event(sg_adapter_host_ud(c->a), packet, bins, nbins, r);
}

/* Responses (types 8, 10, 11, 12): matched by requestId alone; a response to
 * an unknown or finished request is ignored. */
static void on_response(sg_cluster_t *c, const char *from, json_int_t type, const json_t *data,
                        sg_buf_t *const *bins, size_t nbins)
{
    const char *rid = id_value(json_object_get(data, "requestId"));
    sg_request_t *q = rid ? sg_requests_find(c->reqs, rid, strlen(rid)) : NULL;
    static const int kinds[] = {[SG_CLUSTER_FETCH_SOCKETS_RESPONSE] = SG_CLUSTER__KIND_FETCH,
                                [SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE] = SG_CLUSTER__KIND_SSE,
                                [SG_CLUSTER_BROADCAST_CLIENT_COUNT] = SG_CLUSTER__KIND_BACK,
                                [SG_CLUSTER_BROADCAST_ACK] = SG_CLUSTER__KIND_BACK};
    if (!q || sg_request_kind(q) != kinds[type]) {
        sg_cluster__log(c, 3, "ignored a response of type %d from %s to no request of ours",
                        (int)type, from);
        return;
    }
    const json_t *v =
        json_object_get(data, type == SG_CLUSTER_FETCH_SOCKETS_RESPONSE   ? "sockets"
                              : type == SG_CLUSTER_BROADCAST_CLIENT_COUNT ? "clientCount"
                                                                          : "packet");
    size_t flen = strlen(from);
    int ok = 1;
    if (type == SG_CLUSTER_FETCH_SOCKETS_RESPONSE || type == SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE) {
        int fetch = type == SG_CLUSTER_FETCH_SOCKETS_RESPONSE;
        if (fetch && !json_is_array(v)) {
            sg_cluster__log(c, 1, "dropped a fetchSockets response from %s without sockets", from);
            return;
        }
        /* Results are JSON only: binary goes the way JSON.stringify writes it. */
        json_t *conv = v && nbins ? sg_json_node_buffers(v, bins, nbins) : json_incref((json_t *)v);
        ok = sg_request_respond(q, from, flen, conv, fetch ? SG_REQUEST_EXTEND : SG_REQUEST_APPEND);
        json_decref(conv);
    } else {
        sg_cluster_back_t *b = sg_request_ud(q);
        if (type == SG_CLUSTER_BROADCAST_CLIENT_COUNT) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                sg_cluster__log(c, 1, "dropped a client count from %s that is not a count", from);
                return;
            }
            /* One count per node: a second one would make the caller wait
             * for acks that never come. */
            ok = sg_request_respond(q, from, flen, NULL, SG_REQUEST_COUNT_ONLY);
            if (ok)
                b->sink->count(b->sink_ud, (size_t)json_integer_value(v));
        } else {
            b->sink->ack(b->sink_ud, v ? v : json_null(), bins, nbins);
        }
    }
    if (!ok)
        sg_cluster__log(c, 3, "ignored a second response of type %d from %s", (int)type, from);
}

void sg_cluster_on_message(sg_cluster_t *c, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                           const char *offset)
{
    if (!c || c->closing)
        return;
    const json_t *jtype = json_object_get(msg, "type"), *nsp = json_object_get(msg, "nsp");
    const char *uid = id_value(json_object_get(msg, "uid"));
    if (!json_is_object(msg) || !uid || !json_is_string(nsp) || !json_is_integer(jtype)) {
        sg_cluster__log(c, 1, "dropped a message without a valid uid, nsp and type");
        return;
    }
    size_t ulen = strlen(uid);
    if (ulen == SG_CLUSTER_ID_LEN && memcmp(uid, c->uid, ulen) == 0)
        return; /* our own, back from the transport */
    const char *own_nsp = sg_adapter_nsp(c->a);
    if (!sg_cluster__is_name(nsp, own_nsp, strlen(own_nsp))) {
        sg_cluster__log(c, 3, "ignored a message from %s for another namespace", uid);
        return;
    }
    json_int_t type = json_integer_value(jtype);
    if (c->o.heartbeat && sg_cluster__hb_on_message(c, uid, ulen, type))
        return;
    const json_t *data = json_object_get(msg, "data");
    if (type >= SG_CLUSTER_BROADCAST && type <= SG_CLUSTER_BROADCAST_ACK && !json_is_object(data)) {
        sg_cluster__log(c, 1, "dropped a message of type %d from %s without data", (int)type, uid);
        return;
    }
    switch (type) {
    case SG_CLUSTER_BROADCAST:
        on_broadcast(c, uid, data, bins, nbins, offset);
        break;
    case SG_CLUSTER_SOCKETS_JOIN:
    case SG_CLUSTER_SOCKETS_LEAVE:
    case SG_CLUSTER_DISCONNECT_SOCKETS:
        on_sockets_op(c, uid, type, data);
        break;
    case SG_CLUSTER_FETCH_SOCKETS:
        on_fetch(c, uid, data);
        break;
    case SG_CLUSTER_SERVER_SIDE_EMIT:
        on_server_side_emit(c, uid, data, bins, nbins);
        break;
    case SG_CLUSTER_FETCH_SOCKETS_RESPONSE:
    case SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
    case SG_CLUSTER_BROADCAST_CLIENT_COUNT:
    case SG_CLUSTER_BROADCAST_ACK:
        on_response(c, uid, type, data, bins, nbins);
        break;
    default:
        /* Heartbeat types without heartbeats, or unknown: Node only logs. */
        sg_cluster__log(c, 3, "ignored a message of type %lld from %s", (long long)type, uid);
        break;
    }
}
