/* http.h - what the HTTP side shares: the per-connection state lws keeps
 * for our protocol, responses, query parameters and headers, CORS. No
 * routing here (http_route.c) and no Engine.IO (polling.c). */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

struct sg_session;

/* Per-wsi state (lws allocates it for every connection of our protocol). */
typedef struct sg_pss {
    struct sg_session *sess;
    uint8_t kind;        /* SG_PSS_* */
    uint8_t probing;     /* websocket: upgrade probe not finished */
    uint8_t closing;     /* websocket: close on next writeable */
    uint8_t conn_close;  /* http: the client asked for Connection: close */
    uint8_t too_big;     /* http: POST body over maxHttpBufferSize */
    uint8_t post_binary; /* http: the POST body is a binary payload (v3) */
    uint8_t resp_binary; /* http: resp is a binary payload (v3) */
    uint8_t ws_b64;      /* websocket: the request asked for base64 binary (v3) */
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

/** Send a complete HTTP response now (status line, headers, body). Returns
 *  what the lws callback should return. */
int sg_http_respond(struct lws *wsi, int status, const char *ctype, const char *extra,
                    const void *body, size_t len);
/** The status line and headers of a response with a body of len bytes
 *  (the request's CORS lines and Connection: close included) into sb. */
void sg_http_put_head(sg_sbuf_t *sb, struct lws *wsi, int status, const char *ctype,
                      const char *extra, size_t len);
/** Send head (from sg_http_put_head) and body now and end the transaction.
 *  direct: straight to the socket in one writev, for a connection without
 *  TLS -- no copy of the body; else head gets the body appended and goes
 *  through lws. Returns what the lws callback should return. */
int sg_http_send(struct lws *wsi, sg_sbuf_t *head, const void *body, size_t len, int direct);
/** 400 with Node's JSON error body for Engine.IO error code. */
int sg_http_eio_error(struct lws *wsi, int status, int code, const char *extra);
/** Query parameter `name` of the current request into buf; its length, or
 *  -1 when absent or longer than len - 1. */
int sg_http_query(struct lws *wsi, const char *name, char *buf, size_t len);
/** Header t of the current request into buf: its length, or -1 when
 *  absent or longer than len - 1. */
int sg_http_header(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len);
/** The HTTP callbacks of our protocol (http_route.c): requests routed to
 *  long-polling, the client bundle or the static files. */
int sg_http_route_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len);
/** CORS header lines for this request under cfg (heap string), or NULL. */
char *sg_http_cors(const sg_config_t *cfg, struct lws *wsi, int preflight);

#endif
