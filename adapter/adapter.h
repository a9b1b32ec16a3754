/* adapter.h - the adapter interface: rooms, local delivery and the seam where
 * cluster backends plug in.
 *
 * One sg_adapter_t exists per namespace. The shared code here owns the room
 * index (room -> sockets, socket -> rooms) and local delivery, so every
 * backend gets identical room semantics; a backend (const sg_adapter_ops_t)
 * only carries operations to other nodes. The server embeds an sg_asock_t in
 * each of its sockets and receives deliveries through sg_adapter_host_t, so
 * this module never depends on the server.
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

/** Adapter-side record of one local socket; embedded in the server's socket. */
typedef struct sg_asock {
    const char *id;        /* socket id, NUL-terminated, stable while registered */
    size_t id_len;
    sg_amember_t *rooms;   /* memberships (explicit rooms only) */
    uint32_t mark;         /* dedup stamp of the last selection that matched */
    uint32_t except_mark;  /* stamp of the last selection that excluded it */
} sg_asock_t;

#define SG_BCAST_VOLATILE 1u
#define SG_BCAST_LOCAL 2u
#define SG_BCAST_COMPRESS 4u

/** Which sockets a broadcast or a remote operation targets: sockets in any of
 *  rooms (all sockets when nrooms == 0), minus sockets in any except room. */
typedef struct sg_bcast_opts {
    const char *const *rooms;
    size_t nrooms;
    const char *const *except;
    size_t nexcept;
    unsigned flags;
} sg_bcast_opts_t;

/** Callbacks into the server. */
typedef struct sg_adapter_host {
    /** Queue an encoded packet to one local socket. */
    void (*deliver)(sg_asock_t *s, const sg_sio_encoded_t *pkt, unsigned flags, void *ud);
    /** Disconnect one local socket (close: also close its connection). */
    void (*disconnect)(sg_asock_t *s, int close, void *ud);
} sg_adapter_host_t;

/** A backend. Every function pointer may be NULL: the operation is then
 *  local only (single node). */
typedef struct sg_adapter_ops {
    unsigned abi; /* SG_ADAPTER_ABI */
    const char *name;
    int (*open)(sg_adapter_t *a);
    void (*close)(sg_adapter_t *a);
    /** Forward a broadcast to the other nodes (after local delivery). */
    int (*broadcast)(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts);
    /** Forward socketsJoin / socketsLeave / disconnectSockets. */
    int (*add_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, const char *const *rooms,
                       size_t n);
    int (*del_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, const char *const *rooms,
                       size_t n);
    int (*disconnect_sockets)(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close);
} sg_adapter_ops_t;

#define SG_ADAPTER_ABI 1u

/** The in-memory backend (single node; the default). */
extern const sg_adapter_ops_t sg_adapter_memory_ops;

/** Create the adapter of namespace nsp. ops and host must outlive it. */
sg_adapter_t *sg_adapter_new(const sg_adapter_ops_t *ops, const char *nsp,
                             const sg_adapter_host_t *host, void *host_ud);
/** Free the room index (sockets must have been removed). NULL is a no-op. */
void sg_adapter_free(sg_adapter_t *a);
const char *sg_adapter_nsp(const sg_adapter_t *a);
/** Backend-private state. */
void *sg_adapter_backend(const sg_adapter_t *a);
void sg_adapter_set_backend(sg_adapter_t *a, void *state);

/** Register / unregister a local socket (remove also leaves every room). */
void sg_adapter_add_socket(sg_adapter_t *a, sg_asock_t *s);
void sg_adapter_remove_socket(sg_adapter_t *a, sg_asock_t *s);
/** Find a local socket by id. */
sg_asock_t *sg_adapter_find(const sg_adapter_t *a, const char *id, size_t len);
size_t sg_adapter_socket_count(const sg_adapter_t *a);

/** Join / leave one room. Joining twice or leaving a room one is not in is a
 *  no-op. Joining the socket's own id room is a no-op (always a member). */
void sg_adapter_join(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len);
void sg_adapter_leave(sg_adapter_t *a, sg_asock_t *s, const char *room, size_t len);
int sg_adapter_in_room(const sg_asock_t *s, const char *room, size_t len);

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
 *  then remote (unless SG_BCAST_LOCAL). */
void sg_adapter_add_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                            const char *const *rooms, size_t n);
void sg_adapter_del_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts,
                            const char *const *rooms, size_t n);
void sg_adapter_disconnect_sockets(sg_adapter_t *a, const sg_bcast_opts_t *opts, int close);

#endif
