/* streams_internal.h - shared by streams.c (connections, readers, outbox)
 * and streams_ns.c (one namespace: its cluster and transport). */
#ifndef SG_STREAMS_INTERNAL_H
#define SG_STREAMS_INTERNAL_H

#include "cluster.h"
#include "map.h"
#include "streams.h"
#include "streams_wire.h"

typedef struct sg_sout sg_sout_t;

/* One namespace on this backend. */
typedef struct sg_sns {
    sg_streams_t *s;
    sg_adapter_t *a;
    sg_cluster_t *c;
    char *nsp;
    size_t nsp_len;
    char *stream; /* where Node writes this namespace */
    char *mirror; /* Node's readers' stream for a negative index, or NULL */
    char *pub_ch; /* "<prefix>#<nsp>#" (protocol 3) */
    char *own_ch; /* "<prefix>#<nsp>#<uid>#" */
} sg_sns_t;

struct sg_streams {
    uv_loop_t *loop;
    sg_streams_opts_t o; /* strings below are our copies */
    char *url, *stream_name, *channel_prefix, *session_prefix;
    sg_redis_t *redis;
    sg_map_t *readers; /* stream name -> sg_sreader_t * */
    sg_map_t *nsps;    /* namespace name -> sg_sns_t * */
    sg_map_t *acked;   /* stream name -> last id Redis gave one of our XADDs */
    struct {
        sg_sout_t *head, *tail;
        sg_sout_t *requeued; /* last entry put back in this loss, or NULL */
        size_t n, bytes;
        int verifying; /* XRANGEs out to find requeued entries Redis did store */
        uint64_t dropped, episode_dropped;
        int over;
    } out;
    uint64_t written, read, skipped, deduplicated;
    uint64_t xadd_errors;
    uint64_t skip_logged_at; /* uv_now of the last "skipped" line */
    uint64_t skip_unlogged;
    int closing;
};

__attribute__((format(printf, 3, 4))) void sg_streams__log(const sg_streams_t *s, int level,
                                                           const char *fmt, ...);
/** Append one entry to stream (cb may be NULL; see sg_cluster_transport_t).
 *  Queued in the outbox while Redis cannot take it. 0, or SG_EAGAIN when
 *  the Redis output limit refused it (dropped and counted there). */
int sg_streams__xadd(sg_streams_t *s, const char *stream, const sg_streams_entry_t *e,
                     sg_cluster_published_cb cb, void *cb_ud);
/** The value of field `name` of a stream entry (the flat [f1, v1, ...]
 *  array of an XREAD/XRANGE reply), or NULL; the last one wins, as when
 *  Node reads the fields into an object; only string fields count. */
const redisReply *sg_streams__field(const redisReply *fields, const char *name);
/** 1 when an entry written now goes straight to Redis (nothing waiting in
 *  the outbox, connection up). */
int sg_streams__can_publish(const sg_streams_t *s);
/** Connection state recovery on a namespace (streams_recover.c): the
 *  adapter ops, and the cluster's offset hook. */
int sg_streams__broadcast_offset(sg_adapter_t *a, const sg_sio_packet_t *pkt,
                                 const sg_bcast_opts_t *opts);
void sg_streams__persist(sg_adapter_t *a, const char *sid, const char *pid, const json_t *rooms,
                         const json_t *data);
void sg_streams__restore(sg_adapter_t *a, const char *pid, const char *offset,
                         sg_adapter_restore_cb cb, void *ud);
void sg_streams__on_offset(void *ud, sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts,
                           const char *offset, int remote);
/** Make sure a reader polls stream (the regular ones exist from the start;
 *  a namespace with a negative stream index asks for its own). */
int sg_streams__want_reader(sg_streams_t *s, const char *stream);

#endif
