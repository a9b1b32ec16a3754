/* redis_cluster.h - a Redis Cluster client for the connection layer
 * (internal to it: redis_conn.c is its only user).
 *
 * Topology: CLUSTER SLOTS asked of the known masters, then of the seeds,
 * until one answers; slot owners are masters. It is asked again (with the
 * connection layer's back-off while nothing works) after a MOVED, after any
 * connection to a node is lost and after a `sunsubscribe` that Redis sent
 * unasked (a slot moved away). A failover is therefore followed without a
 * restart: the links to the dead master fail, the topology is asked again
 * until a replica owns its slots, and everything is placed anew.
 *
 * Commands: routed by the slot of their key (CRC16 of the key or of its
 * {hash tag}); commands without a key go to any master. MOVED updates the
 * slot and resends to the named node, ASK resends once there after ASKING
 * (at most 5 redirects per command). PUBSUB NUMSUB / SHARDNUMSUB of one
 * channel are sent to every master and answered with the sum, as
 * node-redis counts a cluster's subscribers.
 *
 * Subscriptions: channels and patterns on one master's subscriber link,
 * shard channels (SSUBSCRIBE) on their slot owner's, one channel per
 * command; re-placed whenever the topology changes or a subscriber link is
 * lost. Every push of every subscriber link goes to on_push.
 *
 * Ready: the topology covers every slot, every master's command link is up
 * and every subscription is placed on an up subscriber link. */
#ifndef SG_REDIS_CLUSTER_H
#define SG_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "redis_link.h"
#include "redis_url.h"

typedef struct sg_rcluster sg_rcluster_t;

typedef struct sg_rcluster_opts {
    const sg_rurl_t *url; /* seeds and credentials; borrowed for the cluster's life */
    unsigned timeout_ms;  /* per connection attempt */
    unsigned backoff_min_ms, backoff_max_ms;
    size_t reply_limit; /* per link (redis_link.h) */
    int command_only; /* no subscriptions will be made */
    void (*on_state)(void *ud, int ready);
    void (*on_push)(void *ud, const redisReply *reply);
    void *ud;
    void (*log)(void *ud, int level, const char *msg);
    void *log_ud;
} sg_rcluster_opts_t;

sg_rcluster_t *sg_rcluster_new(uv_loop_t *loop, const sg_rcluster_opts_t *o);
/** Waiting commands get NULL now; memory goes once the loop ran the close
 *  callbacks. NULL is a no-op. */
void sg_rcluster_free(sg_rcluster_t *c);
/** 1 when commands can be routed (a topology is known). */
int sg_rcluster_can_send(const sg_rcluster_t *c);
/** As sg_rlink_command, routed. 0, or SG_ESTATE (no topology yet). */
int sg_rcluster_command(sg_rcluster_t *c, sg_rlink_reply_cb cb, void *ud, int argc,
                        const char **argv, const size_t *lens);
/** kind: 'c' channel, 'p' pattern, 's' shard channel. */
void sg_rcluster_subscribe(sg_rcluster_t *c, char kind, const char *name, size_t len);
void sg_rcluster_unsubscribe(sg_rcluster_t *c, char kind, const char *name, size_t len);
/** Write what the command links have queued (at shutdown). */
void sg_rcluster_flush(sg_rcluster_t *c);
/** Links lost with SG_RLINK_TIMEOUT, and times the cluster became ready
 *  again after it was not. */
void sg_rcluster_counts(const sg_rcluster_t *c, uint64_t *timeouts, uint64_t *reconnects);

/** The hash slot of a key (CRC16/XMODEM of the key, or of the first
 *  non-empty {tag}, mod 16384). */
unsigned sg_rcluster_slot(const char *key, size_t len);

#endif
