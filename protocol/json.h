/* json.h - JSON parsing and JavaScript-identical serialisation.
 *
 * Output must be byte-identical to JSON.stringify in Node for the same value:
 * compact, object keys in insertion order, numbers in JavaScript's shortest
 * round-trip form (1, 1.5, 0.1, 1e+21, 1.5e-7, -0 -> 0), strings escaped the
 * way V8 does it (\" \\ \b \f \n \r \t, other controls as \u00XX, lone
 * surrogates cannot occur because input is valid UTF-8, everything else
 * verbatim). */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <stddef.h>
#include <jansson.h>
#include "buf.h"

/** Parse text[0..len) as any JSON value (not only objects/arrays). Integers
 *  that do not fit in int64 become reals (as in JavaScript). Embedded NUL in
 *  strings is allowed. Nesting is bounded by jansson's built-in limit
 *  (JSON_PARSER_MAX_DEPTH, 2048); deeper input is SG_EINVAL.
 *  Returns 0 with *out (new reference) or SG_EINVAL. */
int sg_json_parse(const void *text, size_t len, json_t **out);

/** Called for every object that is a binary placeholder
 *  {"_placeholder":true,"num":N} with 0 <= N; returns the number to write
 *  instead of N, or -1 to write the object unchanged. */
typedef long (*sg_json_ph_cb)(long num, void *ud);

/** Append the serialisation of v to sb. ph may be NULL. */
void sg_json_dump(sg_sbuf_t *sb, const json_t *v, sg_json_ph_cb ph, void *ud);

/** Serialise a double the way JavaScript's Number.prototype.toString does. */
void sg_json_put_number(sg_sbuf_t *sb, double d);

/** Called by sg_json_object_foreach_js for each member. */
typedef void (*sg_json_member_cb)(const char *key, size_t klen, json_t *val, void *ud);

/** Visit o's members in the order JavaScript enumerates them (and so
 *  JSON.stringify and notepack.io write them): keys that are array indices
 *  ("0".."4294967294", canonical form) in ascending numeric order first, then
 *  the other keys in insertion order. o must not change during the visit. */
void sg_json_object_foreach_js(const json_t *o, sg_json_member_cb cb, void *ud);

/** 1 when v is a placeholder object as defined above; *num gets N. */
int sg_json_is_placeholder(const json_t *v, long *num);

/** New placeholder object {"_placeholder":true,"num":num}. */
json_t *sg_json_placeholder(long num);

/** Deep copy of v in which every placeholder for which fn returns non-NULL
 *  is replaced by that (new) value; fn returning NULL keeps the placeholder.
 *  Returns a new reference. */
json_t *sg_json_map_placeholders(const json_t *v, json_t *(*fn)(long num, void *ud), void *ud);

/** Deep copy of v in which every placeholder indexing bins[0..nbins) is
 *  what JSON.stringify makes of a Node Buffer: {"type":"Buffer","data":[...]}
 *  (other placeholders stay). Returns a new reference. */
json_t *sg_json_node_buffers(const json_t *v, sg_buf_t *const *bins, size_t nbins);

#endif
