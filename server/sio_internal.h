/* sio_internal.h - the Socket.IO layer's structures and the functions its
 * files share. The layer sits on the engine (engine.h) as its upper layer
 * and on the adapter (adapter.h) for rooms and the cluster:
 *
 *   client.c      the upper layer of a session: packets in, CONNECT with
 *                 middleware, events, dispatch (sg_client_upper)
 *   socket.c      sockets: lifetime, delivery, rooms, emits, disconnect
 *   reply.c       acknowledgements this server owes (to a client, or to
 *                 another node for a serverSideEmit)
 *   acks.c        acknowledgements awaited from clients
 *   ackgroup.c    broadcasts with acknowledgements
 *   partial.c     packets awaiting their binary attachments
 *   nsp.c         the namespace registry and handler lists
 *   bcast.c       the broadcast operator (io.to(...).emit)
 *   cluster_api.c fetchSockets / allRooms / serverSideEmit across the cluster
 *   cluster_host.c what the adapter asks of us for other nodes
 *   legacy.c      the socket.io-redis 5.x names
 *   data.c        sg_data_t */
#ifndef SG_SIO_INTERNAL_H
#define SG_SIO_INTERNAL_H

#include <stdint.h>

#include "adapter.h"
#include "engine.h"
#include "server_internal.h"
#include "siogate.h"

_Static_assert(SG_BCAST_VOLATILE == 1u, "the engine's volatile flag is bit 0");

typedef struct sg_handler {
    char *event; /* NULL for connection/disconnect lists */
    union {
        sg_event_cb ev;
        sg_connection_cb conn;
        sg_disconnect_cb disc;
        sg_middleware_cb mw;
    } cb;
    void *ud;
    struct sg_handler *next;
} sg_handler_t;

struct sg_nsp {
    char *name;
    sg_server_t *srv;
    sg_adapter_t *adapter;
    sg_handler_t *middleware, *on_connection, *on_disconnect, *events, *server_events;
    sg_map_t *event_map; /* event name -> sg_handler_t */
    sg_handler_t *any;
    int64_t next_ack_id; /* shared by every socket of the namespace, as in Node */
    sg_nsp_t *next;
};

typedef struct sg_pending_ack sg_pending_ack_t;

/* What connection state recovery keeps per socket (allocated only when it
 * is on, so sockets without it pay one pointer). */
typedef struct sg_socket_rec {
    char pid[SG_ID_LEN + 1]; /* private session id */
    json_t *restore_rooms;   /* rooms to join back once connected, or NULL */
    sg_buf_t **held;         /* the missed packets, encoded, sent ahead of CONNECT */
    size_t nheld;
} sg_socket_rec_t;

/* The small fields sit together and the flags just before the id, so that
 * no padding is paid per client. */
struct sg_socket {
    sg_asock_t a; /* must stay first: the adapter hands this pointer back */
    uint32_t refs;
    uint32_t nacks;
    struct sg_socket_rec *rec; /* recovery state, only when recovery is on */
    sg_handler_t *mw_next;
    sg_nsp_t *nsp;
    sg_session_t *sess;
    sg_socket_t *next_in_session;
    json_t *auth;
    json_t *handshake;
    json_t *jdata;      /* socket.data as other nodes see it (RemoteSocket), or NULL */
    sg_pending_ack_t *acks; /* acknowledgements awaited from the client (acks.c) */
    void *data;
    void (*data_free)(void *);
    uint8_t connected;  /* CONNECT accepted */
    uint8_t gone;       /* disconnected (or refused) */
    uint8_t recovered;  /* its session was restored */
    /* a.id_len bytes and a NUL; room for at least SG_ID_LEN (a restored
     * id), more for "<nsp>#<sid>" of a protocol 4 client. */
    char id[];
};

/* An acknowledgement this server owes. */
struct sg_ack {
    sg_socket_t *s;               /* NULL for an ack owed to another node */
    sg_adapter_reply_t *remote;   /* that node's answer path */
    int64_t id;
    uint8_t kept, sent;
    uint8_t in_cb; /* the event callback is running: its caller frees it */
};

/* The broadcast operator: rooms as owned, length-counted copies. */
struct sg_bcast {
    sg_nsp_t *nsp;
    sg_name_t *rooms;
    size_t nrooms;
    sg_name_t *except;
    size_t nexcept;
    unsigned flags;
    unsigned timeout;
};

typedef struct sg_partial sg_partial_t;

/* What the Socket.IO layer keeps in each session (its upper area). */
typedef struct sg_client {
    sg_socket_t *sockets;  /* one per joined namespace */
    sg_partial_t *partial; /* packet waiting for binary attachments */
    /* (a namespace was joined once, for connectTimeout: the session's
     * upper_mark, which costs no padding) */
} sg_client_t;

static inline sg_client_t *sg_client_of(sg_session_t *s)
{
    return sg_session_upper(s);
}

/* proto4.c: Socket.IO protocol 4 */
/** Cut the query off pkt->nsp ("/admin?token=abc" -> "/admin"); for a
 *  CONNECT, the query pairs as the auth object (new reference, {} when none),
 *  else NULL. */
json_t *sg_proto4__split_nsp(sg_sio_packet_t *pkt);
/** The object of a query string's pairs (values strings; the last of a
 *  repeated key wins). */
json_t *sg_proto4__query_auth(const char *q, size_t n);
/** A middleware refusal's CONNECT_ERROR payload: its data, or else its
 *  message as a string (takes data's reference). */
json_t *sg_proto4__error_payload(const char *message, json_t *data);

/** 1 when the session speaks Socket.IO protocol 4 (an Engine.IO v3
 *  client: implicit "/", CONNECT without payload, query instead of auth). */
static inline int sg_client_legacy(const sg_session_t *s)
{
    return s->eio == 3;
}

/** Longest timeout the API accepts, in ms (one hour); longer ones are cut
 *  to it, so an unsigned that wrapped from a negative number cannot set a
 *  timer for 49 days. */
#define SG_TIMEOUT_MAX 3600000u
static inline unsigned sg_timeout_cap(unsigned ms)
{
    return ms > SG_TIMEOUT_MAX ? SG_TIMEOUT_MAX : ms;
}

/* ---- client.c ---- */
extern const sg_eio_upper_t sg_client_upper;

/* ---- socket.c ---- */
/** What the adapter calls to deliver to, or disconnect, a local socket. */
extern const sg_adapter_host_t sg_socket_adapter_host;
/** A new socket of nsp on sess (not yet connected); the session's list
 *  holds the returned reference. */
sg_socket_t *sg_socket__new(sg_nsp_t *nsp, sg_session_t *sess, json_t *auth);
/** Deliver an encoded packet to one socket's session. Returns 0, or
 *  SG_EAGAIN when a volatile packet was dropped, or SG_ESTATE. */
int sg_socket__deliver(sg_socket_t *s, const sg_sio_encoded_t *enc, unsigned flags);
/** Encode and queue p to s. */
int sg_socket__send(sg_socket_t *s, sg_sio_packet_t *p, unsigned flags);
/** Node's _onclose: leave every room, forget the socket, tell the app. */
void sg_socket__onclose(sg_socket_t *s, const char *reason);
/** Mark s connected (CONNECT accepted) and registered with its adapter. */
void sg_socket__connected(sg_socket_t *s);
/** RemoteSocket {id, handshake, rooms, data} of s (new reference). */
json_t *sg_socket__describe(sg_socket_t *s);
/** Connection state recovery: the session found for s (NULL: none) is
 *  applied (id, pid, data, rooms to join) and the packets it missed are
 *  encoded and held, to go ahead of the CONNECT reply (Node's wire order)
 *  once the middleware let the socket in. */
void sg_socket__restore(sg_socket_t *s, const sg_adapter_session_t *sess);
/** Send the held packets (the socket is being accepted). */
void sg_socket__send_held(sg_socket_t *s);
/** The middleware refused a restored socket: its session is saved again,
 *  so a later attempt (a renewed token) can still restore it. */
void sg_socket__refused(sg_socket_t *s);
/** Register the safe-point hook that frees disconnected sockets. */
void sg_socket__init(sg_server_t *srv);
/** Free the disconnected sockets now (shutdown). */
void sg_socket__free_dead(sg_server_t *srv);

/* ---- reply.c ---- */
/** An ack owed to the client for its packet id (the reference to s taken). */
sg_ack_t *sg_reply__new(sg_socket_t *s, int64_t id);
/** serverSideEmit from another node: run the server-side handlers; reply
 *  (may be NULL) is where the first handler's ack goes. */
void sg_reply__server_event(sg_nsp_t *nsp, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_reply_t *reply);

/* ---- acks.c ---- */
/** 1 when s may await one more acknowledgement (maxPendingAcks). */
int sg_acks__room(const sg_socket_t *s);
/** Await the client's ACK <id>: cb(s, 0, args) when it comes, SG_ETIMEOUT
 *  after timeout_ms (0: none), SG_ESTATE when the socket goes first.
 *  Returns 0, or SG_ETOOBIG (cb never runs) past maxPendingAcks. */
int sg_acks__expect(sg_socket_t *s, int64_t id, unsigned timeout_ms, sg_ack_cb cb, void *ud);
/** An ACK packet from the client (unknown ids are dropped). */
void sg_acks__answer(sg_socket_t *s, sg_sio_packet_t *pkt);
/** Fail every pending ack of s with err. */
void sg_acks__fail_all(sg_socket_t *s, int err);

/* ---- ackgroup.c ---- */
/** Another node's broadcast with acks: deliver locally, forward each ack to
 *  fwd; returns the number of clients reached. */
size_t sg_ackgroup__remote(sg_nsp_t *nsp, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                           unsigned timeout_ms, sg_adapter_reply_t *fwd);
/** Shutdown: finish every live group now (callbacks get SG_ESTATE). */
void sg_ackgroups__shutdown(sg_server_t *srv);

/* ---- partial.c ---- */
/** A packet of len bytes of text announcing `attachments` binary messages
 *  (already validated): keep the text until they come. 0, SG_ETOOBIG over
 *  maxBinaryPacketSize, SG_ESTATE when one is already pending. */
int sg_partial__start(sg_session_t *sess, const unsigned char *text, size_t len,
                      size_t attachments);
/** One binary message: 0 more expected, 1 complete (*out holds the packet
 *  with its attachments), or SG_ESTATE (none expected) / SG_ETOOBIG /
 *  SG_EINVAL (bad placeholders); the caller closes the session on error. */
int sg_partial__add(sg_session_t *sess, sg_buf_t *bin, sg_sio_packet_t *out);
void sg_partial__free(sg_session_t *sess);

/* ---- nsp.c ---- */
/** The namespace called name (len bytes), or NULL. */
sg_nsp_t *sg_nsp__find(sg_server_t *srv, const char *name, size_t len);
/** A new namespace in the registry (its adapter is set by the caller). */
sg_nsp_t *sg_nsp__new(sg_server_t *srv, const char *name);
/** Free every namespace (handlers, adapters). */
void sg_nsp__free_all(sg_server_t *srv);

/* ---- bcast.c ---- */
sg_bcast_opts_t sg_bcast__opts(const sg_bcast_t *b);
/** An EVENT packet of nsp: [event, ...args]; release with sg_data__unfill. */
void sg_nsp__fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
                        const sg_data_t *args, int64_t id);

/* ---- cluster_host.c ---- */
/** What the adapter asks of this server for requests from other nodes. */
extern const sg_adapter_chost_t sg_cluster_host;

/* ---- data.c ---- */
sg_data_t *sg_data__from_packet(sg_sio_packet_t *p, size_t from);
/** Arguments data[from..] sharing the attachments bins (references taken). */
sg_data_t *sg_data__share(const json_t *data, sg_buf_t *const *bins, size_t nbins, size_t from);
void sg_data__fill(sg_sio_packet_t *p, const char *event, const sg_data_t *d);
void sg_data__unfill(sg_sio_packet_t *p);

#endif
