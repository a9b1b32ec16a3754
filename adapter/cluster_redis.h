/* cluster_redis.h - the Redis side of a cluster-protocol transport
 * (cluster.h), shared by the backends that carry ClusterAdapter messages
 * over Redis Pub/Sub: the sharded backend (SPUBLISH, SHARDNUMSUB) and the
 * Streams backend's 0.3 request channels (PUBLISH, NUMSUB). */
#ifndef SG_CLUSTER_REDIS_H
#define SG_CLUSTER_REDIS_H

#include <stddef.h>

#include "cluster.h"
#include "redis_conn.h"

/** `<verb> channel data` (PUBLISH or SPUBLISH); cb (may be NULL) gets 0 and
 *  the offset "" once Redis answered with a count, SG_EIO otherwise.
 *  Returns sg_redis_command's status (cb not called on error). */
int sg_cluster_redis_publish(sg_redis_t *r, const char *verb, const char *ch, size_t chlen,
                             const void *data, size_t len, sg_cluster_published_cb cb, void *ud);
/** `PUBSUB <sub> channel` (NUMSUB or SHARDNUMSUB): cb gets the subscriber
 *  count, or SG_EIO. Returns sg_redis_command's status. */
int sg_cluster_redis_count(sg_redis_t *r, const char *sub, const char *ch, size_t chlen,
                           sg_cluster_count_cb cb, void *ud);

#endif
