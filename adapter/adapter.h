/* adapter.h - the adapter interface: rooms, local delivery and the seam where
 * cluster backends plug in.
 *
 * One sg_adapter_t exists per namespace. The shared code here owns the room
 * index (room -> sockets, socket -> rooms) and local delivery, so every
 * backend gets identical room semantics; a backend (backend.h, reached only
 * through the functions below) only carries operations to other nodes, and
 * the rules for "no backend" live here, once. The server embeds an
 * sg_asock_t in each of its sockets and receives deliveries through
 * sg_adapter_host_t, so this module never depends on the server. Adapters
 * are created by the registry (registry.h).
 *
 * A socket is always in the room named by its own id; that room is implicit
 * (resolved through the id index) so it costs no memory. */
#ifndef SG_ADAPTER_H
#define SG_ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include "sio.h"

typedef struct sg_adapter sg_adapter_t;
typedef struct sg_amember sg_amember_t;
struct sg_map;

/** A length-counted name (room, socket id): any byte may appear in it, NUL
 *  included, because Socket.IO compares whole strings. */
typedef struct sg_name {
    const char *p;
    size_t len;
} sg_name_t;

/** Adapter-side record of one local socket; embedded in the server's socket. */
typedef struct sg_asock {
    const char *id;        /* socket id, NUL-terminated, stable while registered */
    size_t id_len;
    sg_amember_t *rooms;   /* memberships (explicit rooms only), in join order */
    sg_amember_t *rooms_tail;
    struct sg_map *room_idx; /* room -> membership, once the socket is in many rooms */
    uint32_t nrooms;
    uint32_t mark;         /* dedup stamp of the last selection that matched */
    uint32_t except_mark;  /* stamp of the last selection that excluded it */
} sg_asock_t;

#define SG_BCAST_VOLATILE 1u
#define SG_BCAST_LOCAL 2u
#define SG_BCAST_COMPRESS 4u
/* Connection state recovery: the packet's data already ends with its offset
 * (a backend delivering what it published or received); deliver it as is. */
#define SG_BCAST_HAS_OFFSET 8u

/** Which sockets a broadcast or a remote operation targets: sockets in any of
 *  rooms (all sockets when nrooms == 0), minus sockets in any except room. */
typedef struct sg_bcast_opts {
    const sg_name_t *rooms;
    size_t nrooms;
    const sg_name_t *except;
    size_t nexcept;
    unsigned flags;
} sg_bcast_opts_t;

/** Callbacks into the server. */
typedef struct sg_adapter_host {
    /** Queue an encoded packet to one local socket. */
    void (*deliver)(sg_asock_t *s, const sg_sio_encoded_t *pkt, unsigned flags, void *ud);
    /** Disconnect one local socket (close: also close its connection). */
    void (*disconnect)(sg_asock_t *s, int close, void *ud);
    /** A socket joined (1) or left (0) an explicit room, by any path (its
     *  own join, socketsJoin from any node, leaving at disconnect). NULL:
     *  not told. */
    void (*membership)(sg_asock_t *s, const char *room, size_t len, int joined, void *ud);
} sg_adapter_host_t;

/** An answer path back to another node, implemented by the backend. */
typedef struct sg_adapter_reply sg_adapter_reply_t;
struct sg_adapter_reply {
    /** Send one answer value (placeholders index bins). For a serverSideEmit
     *  ack only the first call counts; for a broadcast it is called once per
     *  client ack. */
    void (*send)(sg_adapter_reply_t *r, const json_t *arg, sg_buf_t *const *bins, size_t nbins);
    /** Exactly once, when no more answers will come. */
    void (*release)(sg_adapter_reply_t *r);
};

/** What the server provides for requests that come from other nodes. */
typedef struct sg_adapter_chost {
    /** RemoteSocket {id, handshake, rooms, data} of a local socket (new ref). */
    json_t *(*describe)(sg_asock_t *s, void *ud);
    /** serverSideEmit from another node: data = [event, ...args]. reply is
     *  NULL when the sender wants no ack; otherwise the host must release it. */
    void (*server_event)(void *ud, const json_t *data, sg_buf_t *const *bins, size_t nbins,
                         sg_adapter_reply_t *reply);
    /** Broadcast pkt locally expecting one ack per client within timeout_ms;
     *  each ack goes to fwd->send, then fwd->release (possibly before this
     *  returns). Returns the number of clients it was sent to. */
    size_t (*broadcast_ack)(void *ud, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                            unsigned timeout_ms, sg_adapter_reply_t *fwd);
} sg_adapter_chost_t;

/** Result of a cluster request: err 0, SG_ETIMEOUT (msg: Node's text),
 *  SG_EIO (cluster unreachable) or SG_ESTATE (adapter closed). results is the
 *  array of remote answers (borrowed; partial on a serverSideEmit timeout,
 *  empty otherwise on error). */
typedef void (*sg_adapter_result_cb)(void *ud, int err, const char *msg, const json_t *results);

/** Remote side of a broadcast with acks. */
typedef struct sg_adapter_ack_sink {
    void (*servers)(void *ud, size_t n); /* other servers that will report a count */
    void (*count)(void *ud, size_t n);   /* one server's number of clients */
    void (*ack)(void *ud, const json_t *arg, sg_buf_t *const *bins, size_t nbins);
    void (*gone)(void *ud);              /* backend forgot the request: no more calls */
} sg_adapter_ack_sink_t;

/** Free the room index (sockets must have been removed). NULL is a no-op. */
void sg_adapter_free(sg_adapter_t *a);
const char *sg_adapter_nsp(const sg_adapter_t *a);
/** Stop the backend; the adapter then works single-node. Must run while
 *  the loop still runs (backends close uv handles). */
void sg_adapter_close(sg_adapter_t *a);
/** 1 when a backend carries operations to other nodes. */
int sg_adapter_clustered(const sg_adapter_t *a);

/** Register / unregister a local socket (remove also leaves every room). */
void sg_adapter_add_socket(sg_adapter_t *a, sg_asock_t *s);
void sg_adapter_remove_socket(sg_adapter_t *a, sg_asock_t *s);
/** Find a local socket by id. */
sg_asock_t *sg_adapter_find(const sg_adapter_t *a, const char *id, size_t len);
size_t sg_adapter_socket_count(const sg_adapter_t *a);
/** Rooms with local members, socket-id rooms not counted. */
size_t sg_adapter_room_count(const sg_adapter_t *a);

/** Most explicit rooms one socket may be in (0: no limit, the default). */
void sg_adapter_set_max_rooms(sg_adapter_t *a, size_t max);
/** Join / leave one room, in O(1). Joining twice or leaving a room one is
 *  not in is a no-op. Joining the socket's own id room is a no-op (always a
 *  member). Join returns 0, or SG_ETOOBIG past the max_rooms limit. */
int sg_adapter_join(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len);
void sg_adapter_leave(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len);
int sg_adapter_in_room(const sg_adapter_t *a, const sg_asock_t *s, const char *room, size_t len);

/** Rooms of a socket, its own id first; cb is called once per room. */
void sg_adapter_socket_rooms(const sg_asock_t *s, void (*cb)(const char *room, size_t len,
                                                               void *ud), void *ud);
/** Every room with at least one local socket (own-id rooms included). */
void sg_adapter_all_rooms(const sg_adapter_t *a, void (*cb)(const char *room, size_t len,
                                                            void *ud), void *ud);
/** Number of local sockets in a room (own-id rooms count 1). */
size_t sg_adapter_room_size(const sg_adapter_t *a, const char *room, size_t len);

/** Call cb once for every local socket matching opts. cb must not free or
 *  unregister sockets (flag them and act later); it may join/leave rooms
 *  other than those being iterated. Returns the number of matches. */
size_t sg_adapter_select(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                         void (*cb)(sg_asock_t *s, void *ud), void *ud);

/** Broadcast: encode pkt once, deliver the shared bytes to every matching
 *  local socket, then hand it to the backend unless SG_BCAST_LOCAL.
 *  Returns 0 or the encoder's/backend's error. */
int sg_adapter_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts);

/** socketsJoin / socketsLeave / disconnectSockets on matching sockets, local
 *  then remote (unless SG_BCAST_LOCAL). Return 0, or the backend's error
 *  for the remote part (the local part is done either way). */
int sg_adapter_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n);
int sg_adapter_del_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                           size_t n);
int sg_adapter_disconnect_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close);

/* Requests answered by the other nodes. Single-node (no backend, or
 * SG_BCAST_LOCAL in opts), each answers at once: cb runs before the call
 * returns, with no remote results. Otherwise 0 means cb runs later, exactly
 * once; an error (SG_EIO: cluster unreachable) means it never runs. */

/** fetchSockets: the RemoteSockets of the other nodes matching opts. */
int sg_adapter_fetch_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                             sg_adapter_result_cb cb, void *ud);
/** allRooms: the rooms of the other nodes. */
int sg_adapter_all_rooms_remote(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud);
/** serverSideEmit: data = [event, ...args]; cb NULL: no ack wanted. */
int sg_adapter_server_side_emit(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                                size_t nbins, sg_adapter_result_cb cb, void *ud);
/** The remote part of a broadcast with acks: *handle is NULL when there is
 *  none (single node, or local), else the request to cancel once done.
 *  Returns 0, or SG_EIO when it could not be sent. */
int sg_adapter_broadcast_ack(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                             const sg_bcast_opts_t *opts, unsigned timeout_ms,
                             const sg_adapter_ack_sink_t *sink, void *ud, void **handle);
/** Forget a remote broadcast-with-acks request (no sink call follows). */
void sg_adapter_cancel(sg_adapter_t *a, void *handle);

/* ---- connection state recovery (connectionStateRecovery) ----
 *
 * On when the adapter was opened with env->recovery_ms > 0 (the server's
 * maxDisconnectionDuration). Then every broadcast of an EVENT without ack id
 * that is not volatile carries an offset as its last argument (the client
 * keeps the last one it saw), and sessions of sockets that went away for a
 * recoverable reason can be restored once, with the packets they missed.
 * Backends with their own store (Streams: Redis) provide offsets and
 * sessions; for the others (memory, classic Pub/Sub) an in-process log
 * does, so recovery works on the node the client returns to (recovery.c). */

/** 1 when recovery is on. */
int sg_adapter_recovery(const sg_adapter_t *a);
/** 1 when the backend keeps packets and sessions where every node sees
 *  them (Streams), 0 when this process does (memory, classic). */
int sg_adapter_recovery_shared(const sg_adapter_t *a);

/** A packet a restored session missed: data = [event, ...args, offset],
 *  placeholders indexing bins. */
typedef struct sg_adapter_missed {
    json_t *data;
    sg_buf_t **bins;
    size_t nbins;
} sg_adapter_missed_t;

/** A session to restore: the socket's sid, pid, rooms (own id included),
 *  data (socket.data, JSON) and the packets it missed, in order. */
typedef struct sg_adapter_session {
    const char *sid, *pid;
    const json_t *rooms;
    const json_t *data;
    const sg_adapter_missed_t *missed;
    size_t nmissed;
} sg_adapter_session_t;

/** Result of a restore: sess (borrowed for the call) or NULL when there is
 *  nothing to restore (unknown or expired pid, offset no longer known, the
 *  store unreachable). */
typedef void (*sg_adapter_restore_cb)(void *ud, const sg_adapter_session_t *sess);

/** Keep the session of a socket that went away (rooms: array of names, own
 *  id included; data: JSON, may be NULL). Both borrowed. */
void sg_adapter_persist_session(sg_adapter_t *a, const char *sid, const char *pid,
                                const json_t *rooms, const json_t *data);
/** Find and remove session pid, with the packets after offset that it
 *  would have received. cb runs exactly once, possibly before this returns
 *  (in-process store) or later (Redis). */
void sg_adapter_restore_session(sg_adapter_t *a, const char *pid, const char *offset,
                                sg_adapter_restore_cb cb, void *ud);

#endif
