/* cluster_internal.h - shared by cluster.c (envelope, publishing, ids, log,
 * answers owed), cluster_hb.c (the heartbeat variant), cluster_recv.c
 * (receiver) and cluster_send.c (life, sender, requests). */
#ifndef SG_CLUSTER_INTERNAL_H
#define SG_CLUSTER_INTERNAL_H

#include <uv.h>

#include "cluster.h"
#include "map.h"
#include "requests.h"

/* Node's DEFAULT_TIMEOUT (fetchSockets, serverSideEmit with ack; also a
 * broadcast with ack that names no timeout) */
#define SG_CLUSTER__DEFAULT_TIMEOUT 5000

/* Request kinds (sg_request_kind) */
enum { SG_CLUSTER__KIND_FETCH = 1, SG_CLUSTER__KIND_SSE = 2, SG_CLUSTER__KIND_BACK = 3 };

typedef struct sg_cluster_reply sg_cluster_reply_t;
typedef struct sg_cluster_pub sg_cluster_pub_t;
typedef struct sg_cluster_back sg_cluster_back_t;

/* Intrusive doubly linked lists of the cluster (replies, pubs, backs). */
#define SG_CLUSTER__LIST_ADD(head, x)                                                              \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if (head)                                                                                  \
            (head)->prev = (x);                                                                    \
        (head) = (x);                                                                              \
    } while (0)
#define SG_CLUSTER__LIST_DEL(head, x)                                                              \
    do {                                                                                           \
        if ((x)->prev)                                                                             \
            (x)->prev->next = (x)->next;                                                           \
        else                                                                                       \
            (head) = (x)->next;                                                                    \
        if ((x)->next)                                                                             \
            (x)->next->prev = (x)->prev;                                                           \
        (x)->prev = (x)->next = NULL;                                                              \
    } while (0)

/* A broadcast with acks this node made (the handle its caller holds). */
struct sg_cluster_back {
    sg_cluster_t *c;
    sg_request_t *q; /* COUNT mode, never given an expected count: it only
                        keeps one BROADCAST_CLIENT_COUNT per node */
    const sg_adapter_ack_sink_t *sink;
    void *sink_ud;
    int servers_due;
    size_t servers;
    sg_cluster_back_t *prev, *next;
};

struct sg_cluster {
    sg_adapter_t *a;
    const sg_adapter_env_t *env;
    sg_cluster_transport_t tp;
    void *tp_ud;
    sg_cluster_opts_t o; /* defaults applied */
    char uid[SG_CLUSTER_ID_LEN + 1];
    sg_requests_t *reqs;
    sg_cluster_reply_t *replies; /* answers still owed to other nodes */
    sg_cluster_pub_t *pubs;      /* broadcasts whose offset the hook awaits */
    sg_cluster_back_t *backs;    /* broadcasts with acks in progress */
    uv_timer_t soon;             /* reports that must not run inside the call */
    /* Heartbeats (cluster_hb.c). */
    sg_map_t *peers; /* uid -> last time heard from */
    uv_timer_t hb_timer, sweep;
    int peers_full_logged;
    int open_handles;
    int closing;
    void (*touch)(sg_cluster_t *c); /* every publish to all: heartbeats postponed */
};

__attribute__((format(printf, 3, 4))) void sg_cluster__log(const sg_cluster_t *c, int level,
                                                           const char *fmt, ...);
/** Publish {type, data?, uid, nsp} to every node (data is stolen; NULL for
 *  none). With heartbeats, this also postpones the next HEARTBEAT. Returns 0
 *  or SG_EIO (cb never called then). */
int sg_cluster__publish(sg_cluster_t *c, int type, json_t *data, sg_buf_t *const *bins,
                        size_t nbins, sg_cluster_published_cb cb, void *ud);
/** Publish a response (data stolen) to the node uid `to`; failures are only
 *  logged, as in Node. */
void sg_cluster__respond(sg_cluster_t *c, const char *to, int type, json_t *data,
                         sg_buf_t *const *bins, size_t nbins);
/** An answer owed to node `to` for request `rid` (type 10: the first send
 *  only; 12: one per client ack). The host releases it; it goes nowhere once
 *  the cluster is freed. */
sg_adapter_reply_t *sg_cluster__reply_new(sg_cluster_t *c, const char *to, const char *rid,
                                          int type);
/** The cluster is going: answers still owed go nowhere. */
void sg_cluster__replies_detach(sg_cluster_t *c);
/** 16 lowercase hex characters from 8 random bytes (Node's uid and
 *  requestId: randomBytes(8).toString("hex")). */
void sg_cluster__random_id(char out[SG_CLUSTER_ID_LEN + 1]);
/** 1 when the JSON string v is exactly the len bytes at s. */
int sg_cluster__is_name(const json_t *v, const char *s, size_t len);

/* cluster_hb.c */
void sg_cluster__hb_init(sg_cluster_t *c);
int sg_cluster__hb_start(sg_cluster_t *c);
/** Publish ADAPTER_CLOSE and stop the timers (handles stay open). */
void sg_cluster__hb_stop(sg_cluster_t *c);
void sg_cluster__hb_free(sg_cluster_t *c);
/** Any publish to every node: the next HEARTBEAT is heartbeat_interval away. */
void sg_cluster__hb_touch(sg_cluster_t *c);
/** A message from another node of this namespace: remember the sender and
 *  handle types 1, 2 and 13 (returns 1 then: nothing more to do). */
int sg_cluster__hb_on_message(sg_cluster_t *c, const char *uid, size_t len, json_int_t type);
size_t sg_cluster__hb_peer_count(const sg_cluster_t *c);
/** The peers' uids (pointing into the peer table: use at once). Free the
 *  array with sg_free. */
sg_name_t *sg_cluster__hb_peers(const sg_cluster_t *c, size_t *n);
void sg_cluster__handle_closed(uv_handle_t *h);

#endif
