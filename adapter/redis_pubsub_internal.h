/* redis_pubsub_internal.h - shared by redis_pubsub.c (channels, broadcasts,
 * answering requests) and redis_req.c (requests this node makes). */
#ifndef SG_REDIS_PUBSUB_INTERNAL_H
#define SG_REDIS_PUBSUB_INTERNAL_H

#include "backend.h"
#include "map.h"
#include "redis_conn.h"

/* RequestType of @socket.io/redis-adapter 8.x */
enum {
    SG_RQ_SOCKETS = 0,
    SG_RQ_ALL_ROOMS = 1,
    SG_RQ_REMOTE_JOIN = 2,
    SG_RQ_REMOTE_LEAVE = 3,
    SG_RQ_REMOTE_DISCONNECT = 4,
    SG_RQ_REMOTE_FETCH = 5,
    SG_RQ_SERVER_SIDE_EMIT = 6,
    SG_RQ_BROADCAST = 7,
    SG_RQ_BROADCAST_CLIENT_COUNT = 8,
    SG_RQ_BROADCAST_ACK = 9,
};

#define SG_RP_ID_LEN 6

typedef struct sg_rp_reply sg_rp_reply_t;

/* Backend state of one namespace. */
typedef struct sg_rp {
    sg_adapter_t *a;
    const sg_adapter_env_t *env;
    sg_redis_t *r;
    char uid[SG_RP_ID_LEN + 1];
    char *prefix; /* "<key>#<nsp>#": broadcast channels start with it */
    size_t prefix_len;
    char *pattern;     /* prefix + "*" */
    char *req_ch;      /* "<key>-request#<nsp>#" */
    char *resp_ch;     /* "<key>-response#<nsp>#" */
    char *resp_own_ch; /* "<key>-response#<nsp>#<uid>#" */
    struct sg_requests *reqs; /* requests this node made (requests.h) */
    sg_rp_reply_t *replies; /* answers still owed to other nodes */
} sg_rp_t;

__attribute__((format(printf, 3, 4))) void sg_rp__log(const sg_rp_t *rp, int level,
                                                      const char *fmt, ...);
/** 6 characters of [A-Za-z0-9_-], as uid2 draws them. */
void sg_rp__random_id(char out[SG_RP_ID_LEN + 1]);
/** Publish obj as JSON text; binary placeholders become Node's
 *  {"type":"Buffer","data":[...]} (what JSON.stringify makes of a Buffer). */
int sg_rp__publish_json(sg_rp_t *rp, const char *channel, const json_t *obj,
                        sg_buf_t *const *bins, size_t nbins);
/** Publish v as msgpack (placeholders as bin). */
int sg_rp__publish_msgpack(sg_rp_t *rp, const char *channel, size_t chlen, const json_t *v,
                           sg_buf_t *const *bins, size_t nbins);

/* redis_wire.c */
#define SG_RP_MAX_DEPTH 32 /* msgpack nesting accepted from other nodes */
/** The first-byte rule of the Node adapter: '{' is JSON, anything else
 *  msgpack. 0, or an error (nothing to free then but *bins). */
int sg_rp__decode(const char *data, size_t len, json_t **out, sg_buf_t ***bins, size_t *nbins);
/** 1 when the JSON string v is exactly the len bytes at s. */
int sg_rp__is_name(const json_t *v, const char *s, size_t len);

/* redis_answer.c */
/** A message on the request channel from another node. */
void sg_rp__on_request(void *ud, const char *ch, size_t chlen, const char *data, size_t len);
/** The adapter is closing: answers still owed go nowhere. */
void sg_rp__replies_detach(sg_rp_t *rp);

/* redis_req.c */
void sg_rp__on_response(sg_rp_t *rp, json_t *msg, sg_buf_t **bins, size_t nbins);
int sg_rp__is_own_request(const sg_rp_t *rp, const char *request_id);
/** Adapter closing: fail or forget every pending request. */
void sg_rp__reqs_close(sg_rp_t *rp);
int sg_rp__fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                         void *ud);
int sg_rp__all_rooms(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud);
int sg_rp__server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_result_cb cb, void *ud);
int sg_rp__broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                         unsigned timeout_ms, const sg_adapter_ack_sink_t *sink, void *ud,
                         void **handle);
void sg_rp__cancel(sg_adapter_t *a, void *handle);

#endif
