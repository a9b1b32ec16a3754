/* handshake.h - socket.handshake, captured compactly at session creation.
 *
 * The request's headers are gone once libwebsockets finishes the HTTP part,
 * so they are copied when the session starts. Most sessions never look at
 * them, so they are kept as a compact blob (known headers by their one-byte
 * lws token, strings NUL-terminated, the time as a number) and turned into
 * Node's JSON shape only on demand: per-connection memory is a budget. */
#ifndef SG_HANDSHAKE_H
#define SG_HANDSHAKE_H

#include <jansson.h>
#include <libwebsockets.h>

#include "config.h"

/** Copy what socket.handshake needs from the current request: headers (lws'
 *  known ones plus the handshakeHeaders list), peer address, URL and query,
 *  time. Returns a heap blob for sg_handshake_json (free with sg_free). */
char *sg_handshake_capture(const sg_config_t *cfg, struct lws *wsi);

/** {headers, time, address, xdomain, secure, issued, url, query} as Node
 *  builds it (new reference; auth is added by the caller). */
json_t *sg_handshake_json(const char *blob);

#endif
