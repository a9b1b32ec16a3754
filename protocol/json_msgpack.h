/* json_msgpack.h - conversion between Socket.IO packet data (jansson values
 * with binary placeholders, see sio.h) and msgpack, as the Node notepack.io
 * encoder does it: integral numbers as msgpack integers, other numbers as
 * float64, Buffers as bin, undefined (fixext 0) as nil. Decoding turns a
 * Timestamp ext (type -1; what notepack 3 writes for a Date) into the
 * string Date#toJSON gives ("2023-11-14T22:13:20.123Z"; null when out of
 * the Date range), as the Node side would deliver it to JSON clients; other
 * ext types decode as null. */
#ifndef SG_JSON_MSGPACK_H
#define SG_JSON_MSGPACK_H

#include <stddef.h>
#include <jansson.h>
#include <msgpack.h>
#include "buf.h"

/** Pack v; placeholders whose num indexes bins[0..nbins) are written as bin. */
void sg_jmp_pack(msgpack_packer *pk, const json_t *v, sg_buf_t *const *bins, size_t nbins);

/** Convert o to a new jansson value; each bin becomes a placeholder whose num
 *  is its index in *bins (the array is grown with sg_realloc; each entry is a
 *  new buffer with SG_BUF_BINARY set). Map keys must be strings. Nesting
 *  deeper than max_depth -> SG_ETOOBIG. Returns 0 or SG_EINVAL. */
int sg_jmp_unpack(const msgpack_object *o, size_t max_depth, json_t **out, sg_buf_t ***bins,
                  size_t *nbins);
/* max_depth counts nested arrays/maps (a top-level array is level 1);
 * 0 means 32, which is also the deepest msgpack-c's unpacker accepts. On
 * failure *out is NULL and *bins, *nbins hold only what they held before. */

/** Check that data[0..len) starts with one well-formed msgpack object whose
 *  declared array, map, str, bin and ext lengths fit in the bytes present (so
 *  msgpack-c cannot be made to allocate from a lying header) and whose
 *  nesting is within max_depth (as above). *used (may be NULL) gets the
 *  object's size. Returns 0, SG_EINVAL or SG_ETOOBIG. */
int sg_jmp_check(const void *data, size_t len, size_t max_depth, size_t *used);

/** sg_jmp_check, msgpack_unpack_next and sg_jmp_unpack in one: data must be
 *  exactly one object (trailing bytes -> SG_EINVAL). */
int sg_jmp_unpack_bytes(const void *data, size_t len, size_t max_depth, json_t **out,
                        sg_buf_t ***bins, size_t *nbins);

#endif
