/* recovery.h - the in-process store of connection state recovery (Node's
 * SessionAwareAdapter), for the backends that have no store of their own
 * (memory, classic Pub/Sub): the recoverable packets broadcast in the last
 * maxDisconnectionDuration + 60 s, each with its offset (the 60 s let a
 * client idle before its disconnection restore from its last packet, as
 * Node's purge every 60 s does), and the sessions of the sockets that went
 * away in the last maxDisconnectionDuration. Both are bounded in count as well
 * (oldest dropped first), since a busy namespace can broadcast millions of
 * packets in two minutes. Used by adapter.c; no I/O. */
#ifndef SG_RECOVERY_H
#define SG_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

typedef struct sg_rstore sg_rstore_t;

#define SG_RSTORE_OFFSET_MAX 48

sg_rstore_t *sg_rstore_new(unsigned max_ms, size_t max_packets, size_t max_sessions);
void sg_rstore_free(sg_rstore_t *st);

/** The offset for the next packet ("<ms>-<seq>", unique in this store). */
void sg_rstore_next_offset(sg_rstore_t *st, uint64_t now, char out[SG_RSTORE_OFFSET_MAX]);
/** Keep a packet (data already ends with offset; a reference is taken on
 *  data and bins; opts copied). */
void sg_rstore_add_packet(sg_rstore_t *st, uint64_t now, const char *offset, json_t *data,
                          sg_buf_t *const *bins, size_t nbins, const sg_bcast_opts_t *opts);
/** Keep a session (copies). */
void sg_rstore_add_session(sg_rstore_t *st, uint64_t now, const char *sid, const char *pid,
                           const json_t *rooms, const json_t *data);
/** Remove session pid and call cb with it and the packets after offset
 *  that match its rooms (Node's shouldIncludePacket), or with NULL. */
void sg_rstore_restore(sg_rstore_t *st, uint64_t now, const char *pid, const char *offset,
                       sg_adapter_restore_cb cb, void *ud);

size_t sg_rstore_packets(const sg_rstore_t *st);
size_t sg_rstore_sessions(const sg_rstore_t *st);

/** Node's shouldIncludePacket: (no rooms, or one of the session's rooms is
 *  among them) and none of the session's rooms is excepted. rooms is an
 *  array of strings. */
int sg_rstore_include(const json_t *rooms, const sg_bcast_opts_t *opts);

#endif
