/* handshake.h - socket.handshake, captured compactly at session creation.
 *
 * The request's headers are gone once libwebsockets finishes the HTTP part,
 * so they are copied when the session starts. Most sessions never look at
 * them, so they are kept as a compact blob (known headers by their one-byte
 * lws token, strings NUL-terminated) and turned into Node's JSON shape only
 * on demand: per-connection memory is a budget.
 *
 * What differs from one client to the next -- the time, the peer's IPv4
 * address, the Sec-WebSocket-Key -- stays in the session, in binary form;
 * the rest (URL, query, the other headers) is usually the same for every
 * client of an application, so that blob is interned: sessions whose
 * requests looked alike share one reference-counted copy. */
#ifndef SG_HANDSHAKE_H
#define SG_HANDSHAKE_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "map.h"

struct lws;
typedef struct sg_hs_shared sg_hs_shared_t;

#define SG_HS_ADDR 1u /* addr holds the peer's address */
#define SG_HS_KEY 2u  /* key holds the Sec-WebSocket-Key */

/** What a session keeps of the request that opened it (zero: nothing). */
typedef struct sg_handshake {
    sg_hs_shared_t *shared; /* the interned rest; NULL when nothing was captured */
    uint64_t issued;        /* ms since the epoch */
    uint32_t addr;          /* IPv4, network order */
    uint8_t key[16];        /* the 24 base64 characters, decoded */
    uint8_t have;           /* SG_HS_* */
} sg_handshake_t;

/** Copy what socket.handshake needs from the current request of wsi into
 *  hs: headers (lws' known ones plus the handshakeHeaders list), peer
 *  address, URL and query, time. The shared part is interned in table (a map
 *  that must outlive every capture in it; sg_handshake_release empties it). */
void sg_handshake_capture(sg_handshake_t *hs, sg_map_t *table, const sg_config_t *cfg,
                          struct lws *wsi);
/** Drop hs's reference to its shared part (hs reads as empty afterwards). */
void sg_handshake_release(sg_handshake_t *hs);

/** {headers, time, address, xdomain, secure, issued, url, query} as Node
 *  builds it (new reference; auth is added by the caller). hs may be NULL. */
json_t *sg_handshake_json(const sg_handshake_t *hs);

#endif
