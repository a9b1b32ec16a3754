/* bopts.h - broadcast options as every Node adapter writes them on the wire
 * ({rooms: [...], except: [...], flags: {...}}), decoded into the
 * sg_bcast_opts_t of the local entry points, and written back. Shared by the
 * classic Redis backend and the cluster protocol. */
#ifndef SG_BOPTS_H
#define SG_BOPTS_H

#include <jansson.h>

#include "adapter.h"

/** Decoded options; every name is an owned copy. */
typedef struct sg_bopts {
    sg_name_t *rooms, *except, *list;
    size_t nrooms, nexcept, nlist;
    /** Points into the lists above; flags: SG_BCAST_LOCAL plus volatile and
     *  compress when the wire flags say true. */
    sg_bcast_opts_t o;
    /** flags.timeout when it is an integer in 1..3599999, else 0. */
    unsigned timeout;
} sg_bopts_t;

/** A room name from the wire: a string (whole, NUL bytes included) or a
 *  number (JavaScript keeps numeric rooms; written as JavaScript prints it).
 *  out->p is an owned copy. Returns 0 or SG_EINVAL (not a name). */
int sg_bopts_room_name(const json_t *v, sg_name_t *out);

/** Decode opts (rooms and except may be missing or null: empty) and, when
 *  list is not NULL, that array of room names too (socketsJoin's rooms). A
 *  list that is not an array, or holds anything but names, is SG_EINVAL:
 *  read as "no rooms" it would reach every socket. max bounds each list
 *  (0: no bound): longer lists give SG_ETOOBIG. Returns 0 (bo to be cleared
 *  with sg_bopts_clear) or an error (bo owns nothing). */
int sg_bopts_decode(sg_bopts_t *bo, const json_t *opts, const json_t *list, size_t max);
void sg_bopts_clear(sg_bopts_t *bo);

/** Array of names as JSON strings. */
json_t *sg_bopts_names_json(const sg_name_t *v, size_t n);
/** {rooms, except[, flags]} as the Node adapters write them; flags holds
 *  volatile, compress and (unless 0) timeout, in that order. */
json_t *sg_bopts_json(const sg_bcast_opts_t *o, int with_flags, unsigned timeout);

#endif
