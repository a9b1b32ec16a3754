/* engine.h - the Engine.IO layer: sessions (ids, heartbeat, upgrade,
 * graceful close) and the one output queue both transports drain.
 *
 * The engine knows neither libwebsockets' callbacks nor Socket.IO. It talks
 * down to a transport through sg_transport_ops_t (polling.c, ws.c register
 * theirs) and up through sg_eio_upper_t (Socket.IO in client.c, or the bare
 * echo of the conformance app in echo.c), chosen per session. So a new
 * transport or a new layer on top is a new file, and the engine can be
 * driven by a unit test with fakes on both sides.
 *
 * Whatever the layer above keeps per session lives in the same allocation,
 * right after the session (sg_session_upper): no second malloc per client. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "defer.h"
#include "eio.h"
#include "handshake.h"
#include "map.h"
#include "outq.h"
#include "stats.h"
#include "timers.h"

#define SG_ID_LEN 20

struct lws;
typedef struct sg_session sg_session_t;
typedef struct sg_engine sg_engine_t;

typedef enum { SG_TR_POLLING = 0, SG_TR_WEBSOCKET = 1, SG_TR_COUNT } sg_transport_t;
typedef enum { SG_SESS_OPEN = 0, SG_SESS_CLOSING, SG_SESS_CLOSED } sg_sess_state_t;

/** What a transport does for its sessions. */
typedef struct sg_transport_ops {
    /** Packets were queued: write them when the transport can. */
    void (*flush)(sg_session_t *s);
    /** 1 when a packet could go out at once (volatile packets do not wait). */
    int (*writable)(const sg_session_t *s);
    /** A graceful close: let what is queued reach the client. Returns 1 when
     *  the transport finishes later (it calls sg_session_close(s, .., 0)
     *  then, or the 30 s close deadline does), 0 to close at once. */
    int (*drain)(sg_session_t *s);
    /** The session closed: let go of its connections now. */
    void (*release)(sg_session_t *s);
    /** An upgrade probe succeeded on the other transport: go idle (a held
     *  polling GET is answered with noop). */
    void (*pause)(sg_session_t *s);
    /** Close one connection of this transport that no longer serves s (an
     *  upgrade probe that timed out). */
    void (*drop)(sg_session_t *s, struct lws *wsi);
    /** The end of the loop turn, for a session that flush queued with the
     *  writer (ws_out.c): write what is queued now. */
    void (*write)(sg_session_t *s);
} sg_transport_ops_t;

/** The layer above Engine.IO. */
typedef struct sg_eio_upper {
    /** One message from the client: text (data/len) or binary (bin). */
    void (*message)(sg_session_t *s, const unsigned char *data, size_t len, sg_buf_t *bin);
    /** The session is closing with reason ("transport close", ...). */
    void (*close)(sg_session_t *s, const char *reason);
    /** The session is about to be freed: release the upper area. */
    void (*release)(sg_session_t *s);
    /** connectTimeout passed: 1 when the client joined something (else the
     *  session is closed); NULL when the layer has nothing to join. */
    int (*joined)(sg_session_t *s);
    /** Bytes of per-session state it keeps in the upper area. */
    size_t size;
    /** The session moved to WebSocket (may be NULL). */
    void (*upgraded)(sg_session_t *s);
    /** The open packet is on its way (may be NULL): a layer that speaks
     *  first (Socket.IO protocol 4 joins "/" at once) does it here. */
    void (*opened)(sg_session_t *s);
} sg_eio_upper_t;

/** The engine of one server (embedded in it). */
struct sg_engine {
    const sg_config_t *cfg;
    uv_loop_t *loop;
    sg_timers_t *timers;
    sg_defer_t *defer;
    sg_stats_t *stats;
    void *owner;        /* the server, for the transports and layers above */
    int live;           /* 0 once shutdown began: transports are going away */
    int stopping;       /* sg_engine_stop is closing every session */
    int tls;            /* every connection is TLS (one vhost, no plain-text fallback) */
    sg_map_t *sessions; /* sid -> session */
    const sg_transport_ops_t *transports[SG_TR_COUNT];
    void *tr_state[SG_TR_COUNT]; /* each transport's own state (ws: its writer) */
    const sg_eio_upper_t *uppers[2]; /* [0] Socket.IO, [1] bare Engine.IO echo */
    size_t upper_size;  /* the largest upper area */
    int reap_hook;
    sg_session_t *reap_list, *close_list;
    sg_map_t *handshakes; /* the shared parts of the sessions' handshakes (handshake.h) */
    /* Session memory: the server points these at its slab (slab.h) and has
     * session_free release the handshake too; NULL: calloc and free. */
    void *(*session_alloc)(size_t size);
    void (*session_free)(sg_session_t *s);
    sg_buf_t *ping_buf, *pong_buf, *noop_buf, *close_buf, *probe_buf;
    unsigned long long full_refused; /* handshakes refused at maxSessions, this episode */
    int draining;       /* refuse every new session (drain.c) */
};

/* sg_session_t.b64: per transport, from the b64 query parameter of the
 * request that opened it (Engine.IO v3 clients without XHR2 set it). */
#define SG_B64_POLLING 1u
#define SG_B64_WEBSOCKET 2u

/* A session. Transport state (held GET, WebSocket, probe) is kept here too,
 * read and written by the transport files only; flags are packed next to
 * the id, and fields that are never needed at the same time share space
 * (per-connection memory is a budget: an idle WebSocket client costs this
 * struct, the upper area and what libwebsockets keeps). */
struct sg_session {
    char sid[SG_ID_LEN + 1];
    uint8_t transport;     /* sg_transport_t */
    uint8_t state;         /* sg_sess_state_t */
    uint8_t upper;         /* index into engine->uppers */
    uint8_t eio;           /* Engine.IO protocol version (sg_eio_version_get) */
    uint8_t upgrading;     /* probe answered; polling must stay idle */
    uint8_t awaiting_pong;
    uint8_t pong_extended;
    uint8_t client_close;  /* closed by the client: a held GET gets noop */
    uint8_t flush_queued;  /* websocket: on the deferred flush list */
    uint8_t ws_parked;     /* websocket: lws holds unsent bytes of ours */
    uint8_t b64;           /* SG_B64_*: the client asked for binary as base64 (v3) */
    uint8_t upper_mark;    /* one flag of the layer above (Socket.IO: a namespace was joined) */
    uint16_t jsonp;        /* polling over JSONP: the j index + 1, else 0 */
    int fd;                /* websocket: socket, for sendmsg */
    sg_engine_t *eng;
    struct lws *ws;        /* active websocket */
    struct lws *probe;     /* websocket being probed for upgrade */
    struct lws *get;       /* pending polling GET */
    struct lws *post;      /* POST being received */
    sg_outq_t q;
    sg_timer_t timer;      /* earliest of the deadlines below */
    /* next ping, or the pong deadline while awaiting_pong; in CLOSING the
     * close deadline (the heartbeat is over then) */
    uint64_t hb_due;
    uint64_t upgrade_deadline;
    uint64_t connect_deadline;
    sg_handshake_t hs;     /* the request that opened it (handshake.h) */
    const char *pending_close; /* close requested from inside a delivery loop */
    sg_session_t *flush_next;
    /* the engine's close_list while pending_close is set, then its
     * reap_list once closed (sg_session_close does not queue a session for
     * reaping while it waits on the close list: reap() does) */
    sg_session_t *later_next;
};

void sg_engine_init(sg_engine_t *e);
/** Shutdown: close every session with reason, then free what is queued. */
void sg_engine_stop(sg_engine_t *e, const char *reason);
void sg_engine_free(sg_engine_t *e);

/** New open session on transport tr, for upper layer `upper` (0 Socket.IO,
 *  1 echo), speaking Engine.IO version eio. */
sg_session_t *sg_session_new(sg_engine_t *e, sg_transport_t tr, unsigned upper, unsigned eio);
sg_session_t *sg_session_find(sg_engine_t *e, const char *sid, size_t len);
/** Why a handshake must be refused now ("Server full" at maxSessions, which
 *  logs once when that starts and once when it ends; "Server draining"),
 *  or NULL. */
const char *sg_session_refusal(sg_engine_t *e);
/** The open packet of s (new reference). */
sg_buf_t *sg_session_open_packet(const sg_session_t *s, int upgrades);
/** The transport sent (or queued) the open packet: the layer above may
 *  speak now. */
void sg_session_opened(sg_session_t *s);
/** The Engine.IO version s speaks. */
static inline const sg_eio_version_t *sg_session_version(const sg_session_t *s)
{
    return sg_eio_version_get(s->eio); /* set from the table at sg_session_new */
}
/** The upper layer's area of s. */
static inline void *sg_session_upper(sg_session_t *s)
{
    return s + 1;
}
/** The session whose upper area is p. */
static inline sg_session_t *sg_session_of_upper(void *p)
{
    return (sg_session_t *)p - 1;
}

/** Queue an Engine.IO packet (reference taken). flags: SG_BCAST_VOLATILE.
 *  Returns 0, SG_EAGAIN (volatile dropped), SG_ESTATE (not open) or
 *  SG_ETOOBIG (queue limit: the session closes at a safe point). */
int sg_session_send(sg_session_t *s, sg_buf_t *pkt, unsigned flags);
/** Let the transport write what is queued. */
void sg_session_flush(sg_session_t *s);
/** Close with reason as reported to the layer above ("transport close",
 *  ...). graceful: what is queued reaches the client first. */
void sg_session_close(sg_session_t *s, const char *reason, int graceful);
/** Close at the next safe point (from inside a loop over recipients). */
void sg_session_close_later(sg_session_t *s, const char *reason);
/** One Engine.IO packet from the client. */
void sg_session_on_packet(sg_session_t *s, const sg_eio_packet_t *p);
/** Check the heartbeat deadline now (returns 1 if the session closed). */
int sg_session_check_deadline(sg_session_t *s);
/** (Re)arm the session's deadline at the earliest of its deadlines. */
void sg_session_schedule(sg_session_t *s);
/** An upgrade probe started on a WebSocket for this polling session. */
void sg_session_probe_started(sg_session_t *s, struct lws *probe);
/** "2probe" answered: the polling side must go idle. */
void sg_session_probe_answered(sg_session_t *s);
/** "5" received: the session continues on the WebSocket. */
void sg_session_upgraded(sg_session_t *s, struct lws *ws, int fd);
/** wsi no longer serves s (closed, refused): clear every reference s holds
 *  to it. If it was the session's transport (WebSocket or held GET) the
 *  session closes with reason; a probe aborts the upgrade. */
void sg_session_forget_wsi(sg_session_t *s, struct lws *wsi, const char *reason);
/** The transport wrote everything queued: a graceful close that waited for
 *  it completes. */
void sg_session_drained(sg_session_t *s);
uint64_t sg_session_now(const sg_session_t *s);

#endif
