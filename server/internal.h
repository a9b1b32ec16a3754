/* internal.h - structures shared by the server's files. Not installed. */
#ifndef SG_SERVER_INTERNAL_H
#define SG_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "adapter.h"
#include "buf.h"
#include "eio.h"
#include "config.h"
#include "map.h"
#include "outq.h"
#include "sio.h"
#include "siogate.h"
#include "timers.h"

_Static_assert(LWS_PRE <= SG_BUF_HEADROOM, "buffer headroom must fit the lws frame header");

#define SG_ID_LEN 20

/* ---- logging ---- */
void sg_log(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SG_ERR(srv, ...) sg_log(srv, SG_LOG_ERROR, __VA_ARGS__)
#define SG_WARN(srv, ...) sg_log(srv, SG_LOG_WARN, __VA_ARGS__)
#define SG_INFO(srv, ...) sg_log(srv, SG_LOG_INFO, __VA_ARGS__)
#define SG_DEBUG(srv, ...) sg_log(srv, SG_LOG_DEBUG, __VA_ARGS__)

typedef struct sg_session sg_session_t;

typedef enum { SG_TR_POLLING = 0, SG_TR_WEBSOCKET = 1 } sg_transport_t;
typedef enum { SG_SESS_OPEN = 0, SG_SESS_CLOSING, SG_SESS_CLOSED } sg_sess_state_t;

/* Per-wsi state (lws allocates it for every connection of our protocol). */
typedef struct sg_pss {
    sg_session_t *sess;
    uint8_t kind;        /* SG_PSS_* */
    uint8_t probing;     /* websocket: upgrade probe not finished */
    uint8_t closing;     /* websocket: close on next writeable */
    uint8_t echo;        /* bare Engine.IO endpoint */
    uint8_t conn_close;  /* http: the client asked for Connection: close */
    uint8_t too_big;     /* http: POST body over maxHttpBufferSize */
    sg_sbuf_t in;        /* POST body / fragmented websocket message */
    /* lws allocates this for every connection: HTTP-only and
     * WebSocket-only state share the space (per-connection memory). */
    union {
        struct {
            sg_buf_t *resp; /* http: response to write */
            char *cors;     /* http: CORS header lines for the response, or NULL */
        };
        sg_buf_t *probe_out; /* websocket probe: "3probe" waiting to be written */
    };
} sg_pss_t;

enum { SG_PSS_NONE = 0, SG_PSS_GET, SG_PSS_POST, SG_PSS_RESP, SG_PSS_WS };

struct sg_session {
    char sid[SG_ID_LEN + 1];
    /* flags packed next to the id (per-connection memory) */
    uint8_t transport;
    uint8_t state;
    uint8_t upgrading;   /* probe received on a websocket */
    uint8_t awaiting_pong;
    uint8_t pong_extended;
    uint8_t client_close; /* closed by the client: pending GET gets noop */
    uint8_t echo;        /* bare Engine.IO echo session */
    uint8_t flush_queued; /* on the server's flush list */
    uint8_t ws_parked;   /* lws holds unsent bytes of ours: wait for writeable */
    int fd;              /* socket of ws, for direct sendmsg */
    sg_server_t *srv;
    struct lws *ws;      /* active websocket */
    struct lws *probe;   /* websocket being probed for upgrade */
    struct lws *get;     /* pending polling GET */
    struct lws *post;    /* POST being received */
    sg_outq_t q;
    sg_timer_t timer;    /* earliest of the deadlines below, in srv->timers */
    uint64_t hb_due;     /* next ping, or the pong deadline while awaiting_pong */
    uint64_t upgrade_deadline;
    uint64_t connect_deadline;
    uint64_t close_deadline;
    sg_socket_t *sockets; /* one per joined namespace */
    struct sg_partial *partial; /* packet waiting for binary attachments (partial.c) */
    char *handshake;     /* compact capture, see handshake.h */
    const char *pending_close; /* close requested from inside a delivery loop */
    sg_session_t *flush_next;
    sg_session_t *reap_next;
    sg_session_t *close_next;
};

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

struct sg_socket {
    sg_asock_t a; /* must stay first: the adapter hands this pointer back */
    char id[SG_ID_LEN + 1];
    uint8_t connected;  /* CONNECT accepted */
    uint8_t gone;       /* disconnected (or refused) */
    uint32_t refs;
    sg_handler_t *mw_next;
    sg_nsp_t *nsp;
    sg_session_t *sess;
    sg_socket_t *next_in_session;
    json_t *auth;
    json_t *handshake;
    json_t *jdata;      /* socket.data as other nodes see it (RemoteSocket), or NULL */
    sg_pending_ack_t *acks; /* acknowledgements awaited from the client (acks.c) */
    uint32_t nacks;
    void *data;
    void (*data_free)(void *);
};

/* The broadcast operator (nsp.c): rooms as owned, length-counted copies. */
struct sg_bcast {
    sg_nsp_t *nsp;
    sg_name_t *rooms;
    size_t nrooms;
    sg_name_t *except;
    size_t nexcept;
    unsigned flags;
    unsigned timeout;
};

typedef struct sg_ackgroup sg_ackgroup_t;

/* The listening socket (listen.c). */
typedef struct sg_listener {
    sg_server_t *srv;
    int fd;                 /* listening socket, -1 when closed */
    int reserve;            /* spare descriptor for accept-and-close when out of them */
    int port;               /* actual port (port 0 picks one) */
    uv_poll_t poll;
    uv_timer_t pause;       /* accepting paused after running out of descriptors */
    size_t conns;           /* client connections lws holds */
    unsigned long long refused_fds, refused_full; /* in the current episode */
    uint8_t on, closing, fd_episode, full_episode;
} sg_listener_t;

struct sg_server {
    sg_config_t cfg;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    int owns_loop;
    struct lws_context *ctx;      /* NULL once shutdown began */
    struct lws_context *ctx_live; /* NULLed by lws when the context is fully gone */
    struct lws_vhost *vhost;
    sg_listener_t listener;
    struct lws_protocols protocols[2];
    sg_map_t *sessions;
    unsigned long long full_refused; /* handshakes refused at maxSessions, this episode */
    sg_map_t *acks;           /* (socket, id) -> pending ack (acks.c) */
    sg_ackgroup_t *groups;    /* live broadcasts with acks (ackgroup.c) */
    sg_nsp_t *nsps;
    sg_map_t *nsp_map;
    char *eio_echo_path;
    uv_signal_t sig_int, sig_term;
    int signals_on;
    uv_idle_t reaper;
    int reaper_on;
    sg_session_t *reap_list;
    sg_session_t *close_list;
    sg_session_t *flush_list; /* WebSocket sessions with frames to write */
    sg_timers_t timers;       /* every deadline of the server */
    uv_idle_t flusher;
    int flusher_on;
    int rx_more;              /* a WebSocket had more input waiting (ws.c) */
    unsigned flush_deferred;  /* consecutive iterations the flush waited */
    size_t rx_since_flush;    /* input bytes read since the last flush */
    sg_sbuf_t wbuf;           /* scratch for coalesced WebSocket frames */
    sg_socket_t **dead_sockets;
    size_t ndead, capdead;
    sg_buf_t *ping_buf, *noop_buf, *close_buf, *probe_buf;
    int stopping;
    int started;
    void *app;
    void (*app_free)(void *);
    struct sg_redis *redis;       /* adapter = redis: the shared connections */
    sg_adapter_env_t adapter_env; /* what cluster backends are opened with */
};

/* ---- loop.c ---- */
void sg_server__finish_lws(sg_server_t *srv);

/* ---- listen.c ---- */
/** Derive maxConnections / maxSessions left at 0 from the fd limit. */
void sg_listen__limits(sg_server_t *srv);
/** Bind and listen (fails cleanly when the port is taken): 0 or SG_EIO. */
int sg_listen__open(sg_server_t *srv);
/** Start accepting into srv->vhost. */
void sg_listen__start(sg_server_t *srv);
/** lws created (1) or destroyed (0) a connection. */
void sg_listen__note(sg_server_t *srv, int created);
void sg_listen__close(sg_server_t *srv);

/* ---- util.c ---- */
uint64_t sg_now_ms(const sg_server_t *srv);

/* ---- session.c ---- */
sg_session_t *sg_session_new(sg_server_t *srv, sg_transport_t tr, int echo);
sg_session_t *sg_session_find(sg_server_t *srv, const char *sid, size_t len);
/** 1 when maxSessions is reached (a handshake must be refused); logs once
 *  when that starts and once when it ends. */
int sg_session_full(sg_server_t *srv);
/** Queue an Engine.IO packet (buffer reference taken). flags: SG_BCAST_*. */
int sg_session_send(sg_session_t *s, sg_buf_t *pkt, unsigned flags);
/** Hand queued packets to the transport (asks for a writeable callback). */
void sg_session_flush(sg_session_t *s);
/** Close: reason as reported to sockets ("transport close", ...). graceful:
 *  let queued packets and the close packet reach a polling client. */
void sg_session_close(sg_session_t *s, const char *reason, int graceful);
/** Process one received Engine.IO packet. */
void sg_session_on_packet(sg_session_t *s, const sg_eio_packet_t *p);
/** Check heartbeat deadline now (returns 1 if the session was closed). */
int sg_session_check_deadline(sg_session_t *s);
void sg_session_reap(sg_server_t *srv);
void sg_session_on_upgrade_probe(sg_session_t *s);
void sg_session_on_upgrade_done(sg_session_t *s, struct lws *wsi);
void sg_session_schedule(sg_session_t *s);
/** wsi no longer serves s (closed, refused, detached): clear every
 *  reference s holds to it. If it was the session's transport (WebSocket or
 *  held GET) the session closes with reason; a probe aborts the upgrade. */
void sg_session_forget_wsi(sg_session_t *s, struct lws *wsi, const char *reason);
/** The WebSocket transport wrote everything queued: a graceful close that
 *  waited for it completes. */
void sg_session_drained(sg_session_t *s);
void sg_server_want_reap(sg_server_t *srv);
void sg_server_want_flush(sg_server_t *srv);

/* ---- ws.c ---- */
/** Write every queued frame of a WebSocket session in one lws_write. */
int sg_ws_flush(sg_session_t *s, struct lws *wsi);
/** Run the deferred flushes (the loop calls it once per iteration). */
void sg_ws_flush_all(sg_server_t *srv);

/* ---- http.c / ws.c ---- */
int sg_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
int sg_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
/** Build a polling response from the session's queue into pss->resp. */
void sg_polling_answer(sg_session_t *s, struct lws *wsi, sg_buf_t *only);
/** Query parameter name of the current request into buf; length or -1. */
int sg_http_query(struct lws *wsi, const char *name, char *buf, size_t len);
/** Send a complete HTTP response now (status line, headers, body). Returns
 *  what the lws callback should return. */
int sg_http_respond(struct lws *wsi, int status, const char *ctype, const char *extra,
                    const void *body, size_t len);
/** 400 with Node's JSON error body for Engine.IO error code. */
int sg_http_eio_error(struct lws *wsi, int status, int code, const char *extra);

/* ---- socket.c / nsp.c ---- */
void sg_sio_on_message(sg_session_t *sess, const unsigned char *data, size_t len, sg_buf_t *bin);
/** Session closing: disconnect every socket with reason. */
void sg_sio_on_close(sg_session_t *sess, const char *reason);
void sg_sio_connect_timeout(sg_session_t *sess);
sg_nsp_t *sg_nsp_find(sg_server_t *srv, const char *name);
void sg_nsp_free_all(sg_server_t *srv);
void sg_socket_free_dead(sg_server_t *srv);
extern const sg_adapter_host_t sg_socket_adapter_host;
/** Deliver an encoded packet to one socket's session. Returns 0, or
 *  SG_EAGAIN when a volatile packet was dropped, or SG_ESTATE. */
int sg_socket__deliver(sg_socket_t *s, const sg_sio_encoded_t *enc, unsigned flags);
/** Run the server-side event handlers of nsp for a serverSideEmit that came
 *  from another node (reply is non-NULL when that node wants an ack). */
void sg_socket__server_event(sg_nsp_t *nsp, const json_t *data, sg_buf_t *const *bins,
                             size_t nbins, sg_adapter_reply_t *reply);
sg_bcast_opts_t sg_bcast__opts(const sg_bcast_t *b);
/** An EVENT packet of nsp: [event, ...args]; release with sg_data__unfill. */
void sg_nsp__fill_event(sg_sio_packet_t *p, const sg_nsp_t *nsp, const char *event,
                        const sg_data_t *args, int64_t id);

/* ---- partial.c ---- */
typedef struct sg_partial sg_partial_t;
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

/* ---- ackgroup.c ---- */
/** Another node's broadcast with acks: deliver locally, forward each ack to
 *  fwd; returns the number of clients reached. */
size_t sg_ackgroup__remote(sg_nsp_t *nsp, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                           unsigned timeout_ms, sg_adapter_reply_t *fwd);
/** Shutdown: finish every live group now (callbacks get SG_ESTATE). */
void sg_ackgroups__shutdown(sg_server_t *srv);

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

/** Longest timeout the API accepts, in ms (one hour); longer ones are cut
 *  to it, so an unsigned that wrapped from a negative number cannot set a
 *  timer for 49 days. */
#define SG_TIMEOUT_MAX 3600000u
static inline unsigned sg_timeout_cap(unsigned ms)
{
    return ms > SG_TIMEOUT_MAX ? SG_TIMEOUT_MAX : ms;
}

/* ---- data.c ---- */
sg_data_t *sg_data__from_packet(sg_sio_packet_t *p, size_t from);
void sg_data__fill(sg_sio_packet_t *p, const char *event, const sg_data_t *d);
void sg_data__unfill(sg_sio_packet_t *p);

#endif
