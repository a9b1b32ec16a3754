/* backend.h - what a cluster backend implements and may use; for backends
 * (and the registry) only: the server reaches a backend solely through the
 * adapter's functions (adapter.h), which apply the single-node rules. */
#ifndef SG_ADAPTER_BACKEND_H
#define SG_ADAPTER_BACKEND_H

#include "adapter.h"

/** Where a cluster backend finds its connection and settings; given to
 *  sg_adapter_open and borrowed for the adapter's life. */
typedef struct sg_adapter_env {
    struct uv_loop_s *loop;
    struct sg_redis *redis;          /* shared Redis connections (redis_conn.h) */
    const char *key;                 /* channel prefix, "socket.io" */
    unsigned requests_timeout;       /* ms, for fetch / allRooms / serverSideEmit */
    int specific_response_channel;   /* publishOnSpecificResponseChannel */
    void (*log)(void *ud, int level, const char *msg); /* 0 error .. 3 debug */
    void *log_ud;
    void *shared; /* what the backend shares between its namespaces, or NULL */
    /** Connection state recovery: maxDisconnectionDuration in ms, 0 = off;
     *  and the bounds of the in-process store (recovery.c). */
    unsigned recovery_ms;
    size_t recovery_max_packets;
    size_t recovery_max_sessions;
} sg_adapter_env_t;

/** A backend. Every function pointer may be NULL: the operation is then
 *  local only (single node). Request functions return 0 (cb runs later,
 *  exactly once) or an error (cb never runs). */
typedef struct sg_adapter_ops {
    unsigned abi; /* SG_ADAPTER_ABI */
    const char *name;
    int (*open)(sg_adapter_t *a);
    void (*close)(sg_adapter_t *a);
    /** Forward a broadcast to the other nodes (after local delivery). */
    int (*broadcast)(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts);
    /** Forward socketsJoin / socketsLeave / disconnectSockets. */
    int (*add_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                       size_t n);
    int (*del_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, const sg_name_t *rooms,
                       size_t n);
    int (*disconnect_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close);
    /** Requests answered by the other nodes (local results are the caller's). */
    int (*fetch_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, sg_adapter_result_cb cb,
                         void *ud);
    int (*all_rooms)(sg_adapter_t *a, sg_adapter_result_cb cb, void *ud);
    /** data = [event, ...args]; cb NULL: no ack wanted (returns at once). */
    int (*server_side_emit)(sg_adapter_t *a, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_result_cb cb, void *ud);
    /** Forward a broadcast with acks; *handle identifies it for cancel. */
    int (*broadcast_ack)(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                         unsigned timeout_ms, const sg_adapter_ack_sink_t *sink, void *ud,
                         void **handle);
    /** Forget a broadcast_ack request (no sink call follows, not even gone). */
    void (*cancel)(sg_adapter_t *a, void *handle);

    /* Connection state recovery with the backend's own store; all three or
     * none (then recovery.c keeps sessions and packets in this process). */
    /** Publish a recoverable broadcast first and deliver it locally once its
     *  offset is known (sg_adapter_broadcast with SG_BCAST_LOCAL |
     *  SG_BCAST_HAS_OFFSET), or without offset if the publish fails later.
     *  Returns 0 (the backend delivers), or SG_EAGAIN when it cannot publish
     *  now (the caller delivers without offset and forwards as usual). */
    int (*broadcast_offset)(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                            const sg_bcast_opts_t *opts);
    void (*persist_session)(sg_adapter_t *a, const char *sid, const char *pid,
                            const json_t *rooms, const json_t *data);
    void (*restore_session)(sg_adapter_t *a, const char *pid, const char *offset,
                            sg_adapter_restore_cb cb, void *ud);

    /** For backends that subscribe per room: a room got its first local
     *  member (created = 1) or lost its last (created = 0). is_sid: the
     *  room is the id of a local socket (a socket's own room is reported
     *  when the socket is added and removed). NULL: not told. */
    void (*room_changed)(sg_adapter_t *a, const char *room, size_t len, int created, int is_sid);
} sg_adapter_ops_t;

#define SG_ADAPTER_ABI 4u

/** The in-memory backend (single node; the default). */
extern const sg_adapter_ops_t sg_adapter_memory_ops;
/** Classic Redis Pub/Sub, wire-compatible with @socket.io/redis-adapter 8.3
 *  createAdapter() and @socket.io/redis-emitter 5 (needs env->redis). */
extern const sg_adapter_ops_t sg_adapter_redis_ops;

/** Create the adapter of namespace nsp. ops and host must outlive it.
 *  NULL when ops->abi is not SG_ADAPTER_ABI (a backend built against
 *  another version of this interface). */
sg_adapter_t *sg_adapter_new(const sg_adapter_ops_t *ops, const char *nsp,
                             const sg_adapter_host_t *host, void *host_ud);
/** Start the backend (ops->open) with env (borrowed). 0 or its error. */
int sg_adapter_open(sg_adapter_t *a, const sg_adapter_env_t *env,
                    const sg_adapter_chost_t *chost);
const sg_adapter_env_t *sg_adapter_env(const sg_adapter_t *a);
const sg_adapter_chost_t *sg_adapter_chost(const sg_adapter_t *a);
void *sg_adapter_host_ud(const sg_adapter_t *a);
/** Backend-private state. */
void *sg_adapter_backend(const sg_adapter_t *a);
void sg_adapter_set_backend(sg_adapter_t *a, void *state);

/** A broadcast received from another node as an EVENT packet of this
 *  namespace: p borrows data and bins (do not clear it). */
void sg_adapter_event_packet(const sg_adapter_t *a, sg_sio_packet_t *p, const json_t *data,
                             sg_buf_t *const *bins, size_t nbins);

#endif
