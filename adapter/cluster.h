/* cluster.h - the ClusterAdapter protocol of socket.io-adapter 2.5.x (the
 * sharded Redis adapter, the Redis Streams adapter and the other non-classic
 * Node adapters speak it), for one namespace, as sender and receiver,
 * independent of the transport.
 *
 * A backend supplies a transport (publish to every node, publish a response
 * to one node, count the servers), creates an sg_cluster_t in its open
 * function, points its sg_adapter_ops_t entries at the sg_cluster_*
 * functions below (they have the ops' signatures), and feeds every decoded
 * message to sg_cluster_on_message. The cluster registers itself as the
 * adapter's backend state (sg_adapter_set_backend); the backend finds its
 * own state through sg_cluster_transport_ud.
 *
 * Messages cross the seam as jansson objects {type, data?, uid, nsp} (keys in
 * the order Node writes them) whose binary values are sio placeholders
 * ({"_placeholder":true,"num":N}) indexing a sg_buf_t * array, as everywhere
 * in siogate; the backend picks the wire encoding (JSON, msgpack, stream
 * fields).
 *
 * Without heartbeats (ClusterAdapter) the server count comes from the
 * transport and requests complete on a number of responses. With heartbeats
 * (ClusterAdapterWithHeartbeat) the node announces itself (INITIAL_HEARTBEAT),
 * publishes a HEARTBEAT heartbeat_interval after its last publish, forgets
 * peers silent for heartbeat_timeout (checked every second) or that sent
 * ADAPTER_CLOSE, counts 1 + peers, and requests complete when every peer
 * known at their start has answered or is gone.
 *
 * allRooms has no message in this protocol, and Node's ClusterAdapter has no
 * allRooms method: a backend leaves sg_adapter_ops_t.all_rooms NULL, so
 * siogate answers with this node's rooms only. */
#ifndef SG_CLUSTER_H
#define SG_CLUSTER_H

#include <stddef.h>
#include <jansson.h>

#include "backend.h"

typedef struct sg_cluster sg_cluster_t;

/** MessageType of socket.io-adapter 2.5 (not the classic RequestType). */
typedef enum {
    SG_CLUSTER_INITIAL_HEARTBEAT = 1,
    SG_CLUSTER_HEARTBEAT = 2,
    SG_CLUSTER_BROADCAST = 3,
    SG_CLUSTER_SOCKETS_JOIN = 4,
    SG_CLUSTER_SOCKETS_LEAVE = 5,
    SG_CLUSTER_DISCONNECT_SOCKETS = 6,
    SG_CLUSTER_FETCH_SOCKETS = 7,
    SG_CLUSTER_FETCH_SOCKETS_RESPONSE = 8,
    SG_CLUSTER_SERVER_SIDE_EMIT = 9,
    SG_CLUSTER_SERVER_SIDE_EMIT_RESPONSE = 10,
    SG_CLUSTER_BROADCAST_CLIENT_COUNT = 11,
    SG_CLUSTER_BROADCAST_ACK = 12,
    SG_CLUSTER_ADAPTER_CLOSE = 13,
} sg_cluster_type_t;

/** uids and requestIds: 8 random bytes in lowercase hex. */
#define SG_CLUSTER_ID_LEN 16

/** Result of a publish: status 0 and the offset the transport gave the
 *  message ("" when it has none, e.g. sharded Pub/Sub; a stream entry id
 *  for Streams), or an error status (offset NULL). */
typedef void (*sg_cluster_published_cb)(void *ud, int status, const char *offset);
/** Result of a server count: status 0 and the number of servers (this one
 *  included), or an error status. */
typedef void (*sg_cluster_count_cb)(void *ud, int status, size_t count);

/** What the backend provides. msg, bins are borrowed for the call: encode
 *  them before returning. A callback is called exactly once and never from
 *  inside the call that got it (later, from the loop), unless the call
 *  returns an error, in which case it is never called. Callbacks may come
 *  after sg_cluster_free (the cluster copes). */
typedef struct sg_cluster_transport {
    /** Send msg to every node of the namespace (this one may get it back: it
     *  is dropped by uid). cb may be NULL (nobody waits for the result). */
    int (*publish)(void *tp, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                   sg_cluster_published_cb cb, void *cb_ud);
    /** Send a response (types 8, 10, 11, 12) to the node whose uid is
     *  requester_uid (a NUL-free string of 1..SG_CLUSTER_MAX_UID bytes; the
     *  emitter's is "emitter"). */
    int (*publish_response)(void *tp, const char *requester_uid, const json_t *msg,
                            sg_buf_t *const *bins, size_t nbins);
    /** Count the servers of the namespace (without heartbeats only). */
    int (*server_count)(void *tp, sg_cluster_count_cb cb, void *cb_ud);
} sg_cluster_transport_t;

/** Hook for connection state recovery (Node's addOffsetIfNecessary).
 *  remote = 1: an EVENT broadcast with no ack id, not volatile, received
 *  with sg_cluster_on_message with a non-empty offset, before it is
 *  delivered locally; pkt is the cluster's own copy, so the hook appends the
 *  offset to pkt->data as Node does (the delivery then carries
 *  SG_BCAST_HAS_OFFSET). remote = 0: a broadcast of this node sent with
 *  sg_cluster_broadcast_deferred, once its publish reported the offset
 *  (NULL when the publish failed); the hook delivers it locally, pkt being
 *  the cluster's copy. */
typedef void (*sg_cluster_offset_cb)(void *ud, sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                                     const char *offset, int remote);

typedef struct sg_cluster_opts {
    int heartbeat;               /* 1: ClusterAdapterWithHeartbeat */
    unsigned heartbeat_interval; /* ms; 0: 5000 */
    unsigned heartbeat_timeout;  /* ms; 0: 10000 */
    /** fetchSockets and serverSideEmit-with-ack timeout, ms; 0: 5000
     *  (Node's DEFAULT_TIMEOUT; its fetchSockets takes flags.timeout, which
     *  sg_adapter_ops_t.fetch_sockets does not carry). */
    unsigned requests_timeout;
    size_t max_peers;               /* heartbeat peers remembered; 0: 1000 */
    sg_cluster_offset_cb on_offset; /* NULL: no recovery offsets */
    void *offset_ud;
} sg_cluster_opts_t;

/** Longest uid accepted from a peer. */
#define SG_CLUSTER_MAX_UID 128
/** Most names in one list of a received message (rooms, except, rooms to
 *  join); a longer list drops the message. */
#define SG_CLUSTER_MAX_NAMES 10000

/** Create the cluster part of adapter a, whose env (sg_adapter_env: loop,
 *  log) and chost are set, i.e. from the backend's open function. tp and
 *  opts are copied; tp_ud is the backend's. Registers itself as a's backend
 *  state. Nothing is published before sg_cluster_start. */
sg_cluster_t *sg_cluster_new(sg_adapter_t *a, const sg_cluster_transport_t *tp, void *tp_ud,
                             const sg_cluster_opts_t *opts);
/** Node's init(): with heartbeats, publish INITIAL_HEARTBEAT and start the
 *  peer sweep. Call once the transport can receive. Returns 0 or the
 *  publish error. */
int sg_cluster_start(sg_cluster_t *c);
/** Node's close(), then release: with heartbeats, publish ADAPTER_CLOSE;
 *  stop the timers; fail every pending request (SG_ESTATE; broadcasts with
 *  acks get gone()); answers still owed to other nodes are dropped. Memory
 *  goes once the loop has run the timers' close callbacks. Call from the
 *  backend's close, before the transport stops; take the backend's own
 *  state (sg_cluster_transport_ud) first, as the adapter's backend state is
 *  reset. The entry points called from the failing callbacks return
 *  SG_ESTATE. NULL is a no-op. */
void sg_cluster_free(sg_cluster_t *c);

/** The cluster registered on a, or NULL. */
sg_cluster_t *sg_cluster_of(const sg_adapter_t *a);
/** This node's uid (SG_CLUSTER_ID_LEN hex characters). */
const char *sg_cluster_uid(const sg_cluster_t *c);
void *sg_cluster_transport_ud(const sg_cluster_t *c);
/** Servers in the cluster as heartbeats see them (1 + peers); 0 without
 *  heartbeats (ask the transport). */
size_t sg_cluster_server_count(const sg_cluster_t *c);

/** A message from the transport, decoded (borrowed: msg and bins are only
 *  read; nothing is kept past the call). offset: the transport's id of the
 *  message (Streams entry id), or NULL. Anything malformed is dropped with
 *  one log line. */
void sg_cluster_on_message(sg_cluster_t *c, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                           const char *offset);

/* The sg_adapter_ops_t entries (see adapter.h for each contract). The local
 * effect is adapter.c's: these only publish, and run requests. A failed
 * publish returns SG_EIO (the local part has happened). All return
 * SG_ESTATE once the cluster is being freed. */
int sg_cluster_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts);
/** Publish first, deliver later: the broadcast is published and handed to
 *  the on_offset hook (remote = 0) with its offset once the transport
 *  reports it, for the hook to deliver locally (Node's order with
 *  recovery). SG_ESTATE without a hook; a publish that fails at once
 *  returns SG_EIO and the hook is not called. */
int sg_cluster_broadcast_deferred(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                                  const sg_bcast_opts_t *opts);
int sg_cluster_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n);
int sg_cluster_del_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n);
int sg_cluster_disconnect_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close);
/** Results: the RemoteSocket objects of the other nodes (binary values as
 *  {"type":"Buffer","data":[...]}). Timeout: requests_timeout; errors
 *  "timeout reached: only X responses received out of Y" (count) or
 *  "timeout reached: missing N responses" (heartbeats), no results. */
int sg_cluster_fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                             void *ud);
/** cb NULL: no ack, nothing awaited. Otherwise one result per answering
 *  node (the first ack argument, binary as above; null when the handler
 *  acked with no argument); on timeout the same texts, with the answers
 *  received so far. */
int sg_cluster_server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                                size_t nbins, sg_adapter_result_cb cb, void *ud);
/** sink->servers(n) comes later with the number of other servers (the
 *  transport's count - 1, or the peers); then count() per answering node
 *  (one per node) and ack() per client ack. The request is kept until
 *  cancel, sg_cluster_free (gone()), or timeout_ms + 1 s (gone()). */
int sg_cluster_broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                             const sg_bcast_opts_t *opts, unsigned timeout_ms,
                             const sg_adapter_ack_sink_t *sink, void *ud, void **handle);
void sg_cluster_cancel(sg_adapter_t *a, void *handle);

#endif
