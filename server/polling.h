/* polling.h - the Engine.IO long-polling transport (polling.c). */
#ifndef SG_POLLING_H
#define SG_POLLING_H

#include <libwebsockets.h>

#include "engine.h"
#include "http.h"

extern const sg_transport_ops_t sg_polling_ops;

/** An Engine.IO HTTP request (handshake, GET, POST) on the endpoint of the
 *  layer `upper` (0 Socket.IO, 1 echo). Returns what the lws callback should
 *  return. */
int sg_polling_request(sg_engine_t *e, struct lws *wsi, sg_pss_t *pss, int method, unsigned upper);
int sg_polling_body(struct lws *wsi, sg_pss_t *pss, const void *in, size_t len);
int sg_polling_body_done(struct lws *wsi, sg_pss_t *pss);
int sg_polling_writeable(struct lws *wsi, sg_pss_t *pss);
void sg_polling_closed(struct lws *wsi, sg_pss_t *pss);

#endif
