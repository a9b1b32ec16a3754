/* streams_wire.h - the stream entries and Pub/Sub payloads of
 * @socket.io/redis-streams-adapter 0.2.x / 0.3.x, and its stream choice by
 * namespace. Pure: no I/O, no Redis; used by streams.c and unit-tested on
 * its own.
 *
 * A cluster message (cluster.h: {type, data?, uid, nsp}, binary values as
 * placeholders indexing bins) becomes the four fields of one XADD entry,
 * `uid`, `nsp`, `type` (decimal) and `data`: the JSON text of data alone, or
 * base64 of msgpack(data) when data carries binary and its type may (3, 8,
 * 9, 10, 12) unless plaintext is forced. Reading applies the first-byte rule
 * of the Node adapter: '{' is JSON, anything else base64 msgpack. */
#ifndef SG_STREAMS_WIRE_H
#define SG_STREAMS_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "buf.h"

/** Nesting accepted in data read from the stream or a channel. */
#define SG_STREAMS_MAX_DEPTH 32

/** The fields of one entry, in the order Node writes them. data is NULL for
 *  messages without data (types 1, 2, 13). */
typedef struct sg_streams_entry {
    const char *uid, *nsp;
    size_t uid_len, nsp_len;
    char type[8];
    char *data; /* owned (sg_free) */
    size_t data_len;
} sg_streams_entry_t;

/** Fill e from msg (borrowed; e->uid and e->nsp point into it, so msg must
 *  outlive e). 0, or SG_EINVAL when msg is not a cluster message. */
int sg_streams_entry_encode(sg_streams_entry_t *e, const json_t *msg, sg_buf_t *const *bins,
                            size_t nbins, int only_plaintext);
void sg_streams_entry_clear(sg_streams_entry_t *e);

/** Rebuild a cluster message from an entry's fields. data may be NULL.
 *  type is parsed as Node's parseInt does with decimal digits. 0 with *out
 *  (and *bins, *nbins, which the caller frees) or SG_EINVAL. */
int sg_streams_entry_decode(const char *uid, size_t uid_len, const char *nsp, size_t nsp_len,
                            const char *type, size_t type_len, const char *data, size_t data_len,
                            json_t **out, sg_buf_t ***bins, size_t *nbins);

/** msgpack of the whole envelope, as the 0.3 Pub/Sub channels carry it. */
void sg_streams_pack(sg_sbuf_t *sb, const json_t *msg, sg_buf_t *const *bins, size_t nbins);
/** The reverse (any msgpack map; the cluster checks the fields). */
int sg_streams_unpack(const char *data, size_t len, json_t **out, sg_buf_t ***bins,
                      size_t *nbins);

/** Node's hashCode(): h = h * 31 + c over the UTF-16 code units of the
 *  name, wrapped to a signed 32-bit integer. name is UTF-8; an invalid byte
 *  counts as U+FFFD, as when JavaScript decodes it. */
int32_t sg_streams_hash(const char *name, size_t len);

/** The stream Node 0.3.x writes namespace nsp to: `base` when count is 1,
 *  else `base-i` with i = hash % count, sign kept as in JavaScript (a
 *  negative i names a stream Node's readers never poll). *mirror (may be
 *  NULL) gets `base-|i|` for such a negative i, else NULL: the stream a Node
 *  reader does poll. Both new strings (sg_free). */
char *sg_streams_name(const char *base, unsigned count, const char *nsp, size_t nsp_len,
                      char **mirror);

/** 1 when s[0..len) is a stream entry id ("<ms>-<seq>", digits only), the
 *  only offsets Node accepts from a client. */
int sg_streams_is_id(const char *s, size_t len);

/** The id right after id ("T-S" -> "T-(S+1)"), for an exclusive range on
 *  a Redis without them (< 6.2). id must satisfy sg_streams_is_id. */
void sg_streams_next_id(const char *id, char *out, size_t n);

#endif
