/* redis_req.c - requests this node sends to the others (fetchSockets,
 * allRooms, serverSideEmit with ack, broadcast with acks): server count by
 * PUBSUB NUMSUB, correlation by requestId and timeouts through the shared
 * request table (requests.c), with Node's error texts. */
#include <string.h>

#include "bopts.h"
#include "json.h"
#include "redis_pubsub_internal.h"
#include "requests.h"
#include "util.h"

typedef enum { RQ_FETCH, RQ_ROOMS, RQ_SSE, RQ_BACK } rq_kind_t;

/* What the classic protocol needs besides the table's bookkeeping. */
typedef struct rq {
    sg_rp_t *rp;
    rq_kind_t kind;
    json_t *payload; /* published once the server count is known */
    sg_adapter_result_cb cb;
    void *ud;
    const sg_adapter_ack_sink_t *sink;
    void *sink_ud;
} rq_t;

int sg_rp__is_own_request(const sg_rp_t *rp, const char *request_id)
{
    return rp->reqs && sg_requests_find(rp->reqs, request_id, strlen(request_id)) != NULL;
}

static void rq_free(rq_t *r)
{
    json_decref(r->payload);
    sg_free(r);
}

/* The table's one callback per request. */
static void rq_done(void *ud, int err, const char *msg, const json_t *results)
{
    rq_t *r = ud;
    if (r->kind == RQ_BACK)
        r->sink->gone(r->sink_ud); /* only the adapter closing ends one */
    else if (r->cb)
        r->cb(r->ud, err, msg, results);
    rq_free(r);
}

static sg_request_t *rq_new(sg_rp_t *rp, rq_kind_t kind, sg_adapter_result_cb cb, void *ud)
{
    rq_t *r = sg_calloc(1, sizeof(*r));
    r->rp = rp;
    r->kind = kind;
    r->cb = cb;
    r->ud = ud;
    char id[SG_RP_ID_LEN + 1];
    do
        sg_rp__random_id(id);
    while (sg_requests_find(rp->reqs, id, SG_RP_ID_LEN));
    sg_request_params_t p = {
        .id = id,
        .id_len = SG_RP_ID_LEN,
        .kind = kind,
        .mode = kind == RQ_BACK ? SG_REQUEST_OPEN : SG_REQUEST_COUNT,
        /* A broadcast with acks is ended by its caller (cancel). */
        .timeout_ms = kind == RQ_BACK ? 0 : rp->env->requests_timeout,
        /* NULL: "timeout reached: only X responses received out of Y" */
        .timeout_text = kind == RQ_FETCH ? "timeout reached while waiting for fetchSockets response"
                        : kind == RQ_ROOMS ? "timeout reached while waiting for allRooms response"
                                           : NULL,
        .keep_partial = kind == RQ_SSE,
        .cb = rq_done,
        .ud = r,
    };
    sg_request_t *q = NULL;
    if (sg_requests_start(rp->reqs, &p, &q) != 0) {
        rq_free(r);
        return NULL;
    }
    return q;
}

static void numsub_result(sg_request_t *q, const redisReply *reply)
{
    rq_t *r = sg_request_ud(q);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        if (r->kind == RQ_BACK)
            r->sink->servers(r->sink_ud, 0);
        else
            sg_request_finish(q, SG_EIO, "Redis did not answer PUBSUB NUMSUB");
        return;
    }
    long long others = reply->element[1]->integer - 1;
    if (others < 0)
        others = 0;
    if (r->kind == RQ_BACK) {
        r->sink->servers(r->sink_ud, (size_t)others); /* may cancel q */
        return;
    }
    if (others == 0) {
        sg_request_finish(q, 0, NULL);
        return;
    }
    sg_request_set_expected(q, (size_t)others);
    if (sg_rp__publish_json(r->rp, r->rp->req_ch, r->payload, NULL, 0) != 0)
        sg_request_finish(q, SG_EIO, "Redis is unreachable");
}

static void on_numsub(void *ud, const redisReply *reply)
{
    sg_request_t *q = ud;
    if (sg_request_pending(q))
        numsub_result(q, reply);
    sg_request_unref(q);
}

/* Ask NUMSUB; the answer arrives later, and q may be over by then. */
static int ask_numsub(sg_rp_t *rp, sg_request_t *q)
{
    const char *argv[3] = {"PUBSUB", "NUMSUB", rp->req_ch};
    size_t lens[3] = {6, 6, strlen(rp->req_ch)};
    sg_request_ref(q);
    if (sg_redis_command(rp->r, on_numsub, q, 3, argv, lens) != 0) {
        sg_request_unref(q);
        return SG_EIO;
    }
    return 0;
}

/* Forget q without calling anyone back (the caller gets an error instead). */
static void rq_drop(sg_request_t *q)
{
    rq_t *r = sg_request_ud(q);
    sg_request_cancel(q);
    rq_free(r);
}

/* NUMSUB first; the request goes out once the count says someone listens. */
static int req_start(sg_rp_t *rp, rq_kind_t kind, json_t *payload, sg_adapter_result_cb cb,
                     void *ud)
{
    sg_request_t *q = rq_new(rp, kind, cb, ud);
    if (!q) {
        json_decref(payload);
        return SG_ESTATE;
    }
    rq_t *r = sg_request_ud(q);
    json_object_set_new(payload, "requestId", json_string(sg_request_id(q)));
    r->payload = payload;
    if (ask_numsub(rp, q) != 0) {
        rq_drop(q);
        return SG_EIO;
    }
    return 0;
}

int sg_rp__fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                         void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    return req_start(rp, RQ_FETCH,
                     json_pack("{s:s,s:i,s:o}", "uid", rp->uid, "type", SG_RQ_REMOTE_FETCH, "opts",
                               sg_bopts_json(opts, 0, 0)),
                     cb, ud);
}

int sg_rp__all_rooms(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    return req_start(rp, RQ_ROOMS, json_pack("{s:s,s:i}", "uid", rp->uid, "type", SG_RQ_ALL_ROOMS),
                     cb, ud);
}

int sg_rp__server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_result_cb cb, void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    json_t *msg =
        json_pack("{s:s,s:i,s:O}", "uid", rp->uid, "type", SG_RQ_SERVER_SIDE_EMIT, "data", data);
    if (!cb) {
        int rc = sg_rp__publish_json(rp, rp->req_ch, msg, bins, nbins);
        json_decref(msg);
        return rc == 0 ? 0 : SG_EIO;
    }
    if (nbins) {
        /* The request is JSON: Buffers travel the way JSON.stringify writes them. */
        json_t *conv = sg_json_node_buffers(msg, bins, nbins);
        json_decref(msg);
        msg = conv;
    }
    return req_start(rp, RQ_SSE, msg, cb, ud);
}

int sg_rp__broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                         unsigned timeout_ms, const sg_adapter_ack_sink_t *sink, void *ud,
                         void **handle)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    sg_request_t *q = rq_new(rp, RQ_BACK, NULL, NULL);
    if (!q)
        return SG_ESTATE;
    rq_t *r = sg_request_ud(q);
    r->sink = sink;
    r->sink_ud = ud;
    json_t *packet =
        json_pack("{s:i,s:O,s:s}", "type", 2, "data", pkt->data, "nsp", sg_adapter_nsp(a));
    json_t *msg =
        json_pack("{s:s,s:s,s:i,s:o,s:o}", "uid", rp->uid, "requestId", sg_request_id(q), "type",
                  SG_RQ_BROADCAST, "packet", packet, "opts", sg_bopts_json(opts, 1, timeout_ms));
    int rc = sg_rp__publish_msgpack(rp, rp->req_ch, strlen(rp->req_ch), msg, pkt->bins, pkt->nbins);
    json_decref(msg);
    if (rc != 0 || ask_numsub(rp, q) != 0) {
        rq_drop(q);
        return SG_EIO;
    }
    *handle = q;
    return 0;
}

void sg_rp__cancel(sg_adapter_t *a, void *handle)
{
    sg_request_t *q = handle;
    if (sg_request_pending(q))
        rq_drop(q);
}

void sg_rp__on_response(sg_rp_t *rp, json_t *msg, sg_buf_t **bins, size_t nbins)
{
    const char *rid = json_string_value(json_object_get(msg, "requestId"));
    sg_request_t *q = rid && rp->reqs ? sg_requests_find(rp->reqs, rid, strlen(rid)) : NULL;
    if (!q)
        goto out;
    rq_t *r = sg_request_ud(q);
    json_int_t type = json_integer_value(json_object_get(msg, "type"));
    switch (r->kind) {
    case RQ_FETCH:
    case RQ_ROOMS: {
        /* An answer without a valid list still counts, as in Node. */
        json_t *list = json_object_get(msg, r->kind == RQ_FETCH ? "sockets" : "rooms");
        sg_request_respond(q, NULL, 0, list,
                           json_is_array(list) ? SG_REQUEST_EXTEND : SG_REQUEST_COUNT_ONLY);
        break;
    }
    case RQ_SSE:
        if (type == SG_RQ_SERVER_SIDE_EMIT)
            sg_request_respond(q, NULL, 0, json_object_get(msg, "data"), SG_REQUEST_APPEND);
        break;
    case RQ_BACK:
        if (type == SG_RQ_BROADCAST_CLIENT_COUNT) {
            json_int_t n = json_integer_value(json_object_get(msg, "clientCount"));
            r->sink->count(r->sink_ud, n > 0 ? (size_t)n : 0);
        } else if (type == SG_RQ_BROADCAST_ACK) {
            json_t *p = json_object_get(msg, "packet");
            r->sink->ack(r->sink_ud, p ? p : json_null(), bins, nbins);
        }
        break;
    }
out:
    json_decref(msg);
    for (size_t i = 0; i < nbins; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
}

void sg_rp__reqs_close(sg_rp_t *rp)
{
    sg_requests_free(rp->reqs); /* each gets SG_ESTATE, or gone() */
    rp->reqs = NULL;
}
