/* redis_req.c - requests this node sends to the others (fetchSockets,
 * allRooms, serverSideEmit with ack, broadcast with acks): server count by
 * PUBSUB NUMSUB, correlation by requestId, requestsTimeout with Node's error
 * texts. */
#include <stdio.h>
#include <string.h>

#include "redis_pubsub_internal.h"
#include "util.h"

typedef enum { RQ_FETCH, RQ_ROOMS, RQ_SSE, RQ_BACK } rq_kind_t;

typedef struct req {
    sg_rp_t *rp; /* NULL once finished while the NUMSUB answer is still due */
    rq_kind_t kind;
    char id[SG_RP_ID_LEN + 1];
    uv_timer_t *timer;
    int numsub_pending;
    long expected, got;
    json_t *results;
    json_t *payload; /* published once the server count is known */
    sg_adapter_result_cb cb;
    void *ud;
    const sg_adapter_ack_sink_t *sink;
    void *sink_ud;
} req_t;

int sg_rp__is_own_request(const sg_rp_t *rp, const char *request_id)
{
    return sg_map_get(rp->reqs, request_id, strlen(request_id)) != NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    sg_free(h);
}

static void req_free(req_t *q)
{
    if (q->timer) {
        uv_timer_stop(q->timer);
        uv_close((uv_handle_t *)q->timer, on_timer_closed);
    }
    json_decref(q->results);
    json_decref(q->payload);
    sg_free(q);
}

/* Detach from the adapter; free now unless the NUMSUB callback still holds it. */
static void req_drop(req_t *q)
{
    if (q->rp) {
        sg_map_del(q->rp->reqs, q->id, strlen(q->id));
        q->rp = NULL;
    }
    if (q->timer) {
        uv_timer_stop(q->timer);
        uv_close((uv_handle_t *)q->timer, on_timer_closed);
        q->timer = NULL;
    }
    if (!q->numsub_pending)
        req_free(q);
}

static void req_finish(req_t *q, int err, const char *msg)
{
    sg_adapter_result_cb cb = q->cb;
    void *ud = q->ud;
    json_t *res = err && q->kind != RQ_SSE ? json_array() : json_incref(q->results);
    req_drop(q);
    if (cb)
        cb(ud, err, msg, res);
    json_decref(res);
}

static void on_timeout(uv_timer_t *t)
{
    req_t *q = t->data;
    char msg[128];
    if (q->kind == RQ_FETCH)
        snprintf(msg, sizeof msg, "timeout reached while waiting for fetchSockets response");
    else if (q->kind == RQ_ROOMS)
        snprintf(msg, sizeof msg, "timeout reached while waiting for allRooms response");
    else
        snprintf(msg, sizeof msg, "timeout reached: only %ld responses received out of %ld",
                 q->got, q->expected < 0 ? 0 : q->expected);
    req_finish(q, SG_ETIMEOUT, msg);
}

static void on_numsub(void *ud, const redisReply *reply)
{
    req_t *q = ud;
    q->numsub_pending = 0;
    if (!q->rp) {
        req_free(q);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        if (q->kind == RQ_BACK) {
            q->sink->servers(q->sink_ud, 0);
            return;
        }
        req_finish(q, SG_EIO, "Redis did not answer PUBSUB NUMSUB");
        return;
    }
    long others = (long)reply->element[1]->integer - 1;
    if (others < 0)
        others = 0;
    if (q->kind == RQ_BACK) {
        q->sink->servers(q->sink_ud, (size_t)others); /* may cancel q */
        return;
    }
    q->expected = others;
    if (others == 0) {
        req_finish(q, 0, NULL);
        return;
    }
    if (sg_rp__publish_json(q->rp, q->rp->req_ch, q->payload, NULL, 0) != 0)
        req_finish(q, SG_EIO, "Redis is unreachable");
}

static req_t *req_new(sg_rp_t *rp, rq_kind_t kind)
{
    req_t *q = sg_calloc(1, sizeof(*q));
    q->rp = rp;
    q->kind = kind;
    q->expected = -1;
    q->results = json_array();
    do
        sg_rp__random_id(q->id);
    while (sg_map_get(rp->reqs, q->id, SG_RP_ID_LEN));
    sg_map_put(rp->reqs, q->id, SG_RP_ID_LEN, q);
    return q;
}

/* NUMSUB first; the request goes out once the count says someone listens. */
static int req_start(req_t *q, json_t *payload)
{
    sg_rp_t *rp = q->rp;
    json_object_set_new(payload, "requestId", json_string(q->id));
    q->payload = payload;
    const char *argv[3] = {"PUBSUB", "NUMSUB", rp->req_ch};
    size_t lens[3] = {6, 6, strlen(rp->req_ch)};
    if (sg_redis_command(rp->r, on_numsub, q, 3, argv, lens) != 0) {
        req_drop(q);
        return SG_EIO;
    }
    q->numsub_pending = 1;
    q->timer = sg_malloc(sizeof(*q->timer));
    uv_timer_init(rp->env->loop, q->timer);
    q->timer->data = q;
    uv_timer_start(q->timer, on_timeout, rp->env->requests_timeout, 0);
    return 0;
}

int sg_rp__fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                         void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    req_t *q = req_new(rp, RQ_FETCH);
    q->cb = cb;
    q->ud = ud;
    return req_start(q, json_pack("{s:s,s:i,s:o}", "uid", rp->uid, "type", SG_RQ_REMOTE_FETCH,
                                  "opts", sg_rp__opts_json(opts, 0, 0)));
}

int sg_rp__all_rooms(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    req_t *q = req_new(rp, RQ_ROOMS);
    q->cb = cb;
    q->ud = ud;
    return req_start(q, json_pack("{s:s,s:i}", "uid", rp->uid, "type", SG_RQ_ALL_ROOMS));
}

int sg_rp__server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_result_cb cb, void *ud)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    json_t *msg = json_pack("{s:s,s:i,s:O}", "uid", rp->uid, "type", SG_RQ_SERVER_SIDE_EMIT,
                            "data", data);
    if (!cb) {
        int rc = sg_rp__publish_json(rp, rp->req_ch, msg, bins, nbins);
        json_decref(msg);
        return rc == 0 ? 0 : SG_EIO;
    }
    if (nbins) {
        /* The request is JSON: Buffers travel the way JSON.stringify writes them. */
        json_t *conv = sg_rp__node_json(msg, bins, nbins);
        json_decref(msg);
        msg = conv;
    }
    req_t *q = req_new(rp, RQ_SSE);
    q->cb = cb;
    q->ud = ud;
    return req_start(q, msg);
}

int sg_rp__broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                         unsigned timeout_ms, const sg_adapter_ack_sink_t *sink, void *ud,
                         void **handle)
{
    sg_rp_t *rp = sg_adapter_backend(a);
    if (!sg_redis_can_send(rp->r))
        return SG_EIO;
    req_t *q = req_new(rp, RQ_BACK);
    q->sink = sink;
    q->sink_ud = ud;
    json_t *packet = json_pack("{s:i,s:O,s:s}", "type", 2, "data", pkt->data, "nsp",
                               sg_adapter_nsp(a));
    json_t *msg = json_pack("{s:s,s:s,s:i,s:o,s:o}", "uid", rp->uid, "requestId", q->id, "type",
                            SG_RQ_BROADCAST, "packet", packet, "opts",
                            sg_rp__opts_json(opts, 1, timeout_ms));
    int rc = sg_rp__publish_msgpack(rp, rp->req_ch, strlen(rp->req_ch), msg, pkt->bins, pkt->nbins);
    json_decref(msg);
    const char *argv[3] = {"PUBSUB", "NUMSUB", rp->req_ch};
    size_t lens[3] = {6, 6, strlen(rp->req_ch)};
    if (rc != 0 || sg_redis_command(rp->r, on_numsub, q, 3, argv, lens) != 0) {
        req_drop(q);
        return SG_EIO;
    }
    q->numsub_pending = 1;
    *handle = q;
    return 0;
}

void sg_rp__cancel(sg_adapter_t *a, void *handle)
{
    req_drop(handle);
}

void sg_rp__on_response(sg_rp_t *rp, json_t *msg, sg_buf_t **bins, size_t nbins)
{
    const char *rid = json_string_value(json_object_get(msg, "requestId"));
    req_t *q = rid ? sg_map_get(rp->reqs, rid, strlen(rid)) : NULL;
    if (!q)
        goto out;
    json_int_t type = json_integer_value(json_object_get(msg, "type"));
    switch (q->kind) {
    case RQ_FETCH:
    case RQ_ROOMS: {
        /* An answer without a valid list still counts, as in Node. */
        json_t *list = json_object_get(msg, q->kind == RQ_FETCH ? "sockets" : "rooms");
        if (json_is_array(list))
            json_array_extend(q->results, list);
        if (++q->got >= q->expected)
            req_finish(q, 0, NULL);
        break;
    }
    case RQ_SSE: {
        if (type != SG_RQ_SERVER_SIDE_EMIT)
            break;
        json_t *d = json_object_get(msg, "data");
        json_array_append(q->results, d ? d : json_null());
        if (++q->got >= q->expected)
            req_finish(q, 0, NULL);
        break;
    }
    case RQ_BACK:
        if (type == SG_RQ_BROADCAST_CLIENT_COUNT) {
            json_int_t n = json_integer_value(json_object_get(msg, "clientCount"));
            q->sink->count(q->sink_ud, n > 0 ? (size_t)n : 0);
        } else if (type == SG_RQ_BROADCAST_ACK) {
            json_t *p = json_object_get(msg, "packet");
            q->sink->ack(q->sink_ud, p ? p : json_null(), bins, nbins);
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
    sg_map_iter_t it = {0};
    while (sg_map_next(rp->reqs, &it)) {
        req_t *q = it.val;
        if (q->kind == RQ_BACK) {
            const sg_adapter_ack_sink_t *sink = q->sink;
            void *ud = q->sink_ud;
            req_drop(q);
            sink->gone(ud);
        } else {
            req_finish(q, SG_ESTATE, "adapter closed");
        }
    }
}
