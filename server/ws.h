/* ws.h - the WebSocket transport: lws callbacks and the upgrade probe
 * (ws.c), and when and how frames are written (ws_out.c). */
#ifndef SG_WS_H
#define SG_WS_H

#include <libwebsockets.h>

#include "engine.h"

/* When the WebSocket transport writes: frames queued during one loop
 * iteration go out together, after the iteration's input was read. */
typedef struct sg_ws_out {
    sg_session_t *flush_list; /* sessions with frames to write this iteration */
    uv_idle_t flusher;
    int flusher_on;
    int rx_fd;                /* the socket that sent the biggest message since the last flush, or -1 */
    size_t rx_fd_len;         /* that message's length */
    unsigned flush_deferred;  /* consecutive iterations the flush waited */
    size_t rx_since_flush;    /* input bytes read since the last flush */
    sg_sbuf_t wbuf;           /* scratch: a frame's unsent tail; a polling answer's headers */
    sg_sbuf_t pbody;          /* scratch: a polling answer's payload (polling.c) */
} sg_ws_out_t;

extern const sg_transport_ops_t sg_ws_ops;

/** lws callbacks of our protocol for WebSocket connections. */
int sg_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

void sg_ws_out_init(sg_ws_out_t *w, uv_loop_t *loop);
void sg_ws_out_close(sg_ws_out_t *w);
void sg_ws_out_free(sg_ws_out_t *w);
/** len bytes were read from wsi: note whether more input is waiting (the
 *  flush then waits for it, bounded). */
void sg_ws_out_input(sg_ws_out_t *w, struct lws *wsi, size_t len);
/* Write s's queue at the end of this loop iteration (polling: answer its
 * held GET then); dequeue before s is freed. */
void sg_ws_out_enqueue(sg_ws_out_t *w, sg_session_t *s);
void sg_ws_out_dequeue(sg_ws_out_t *w, sg_session_t *s);
/** lws says wsi is writable: write s's frames (-1: close the connection). */
int sg_ws_out_writeable(sg_session_t *s, struct lws *wsi);
/** Close a WebSocket from its own writeable callback (lws closes a wsi
 *  safely only from inside its service). */
void sg_ws_kill(struct lws *wsi);

#endif
