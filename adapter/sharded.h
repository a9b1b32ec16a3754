/* sharded.h - the sharded Redis Pub/Sub backend (adapter = sharded),
 * wire-compatible with createShardedAdapter of @socket.io/redis-adapter
 * 8.3.0: the ClusterAdapter protocol (cluster.h) over SPUBLISH / SSUBSCRIBE,
 * Redis 7 or later.
 *
 * Channels of namespace nsp, with prefix channelPrefix: `<prefix>#<nsp>#`
 * (every node), `<prefix>#<nsp>#<uid>#` (answers to this node) and, by
 * subscription mode, one channel per room `<prefix>#<nsp>#<room>#`:
 *   static           no room channels;
 *   dynamic          a channel per room that is not a socket id, subscribed
 *                    while the room has local members (Node's default);
 *   dynamic-private  a channel per room, socket-id rooms included.
 * A broadcast without acks to exactly one room goes to that room's channel
 * when the mode subscribes to it (in dynamic mode, a room name of 20 UTF-16
 * code units is taken for a socket id, as Node does); everything else to
 * `<prefix>#<nsp>#`. Messages are JSON, or msgpack when they carry binary
 * and their type may (3, 8, 9, 10, 12). The server count is PUBSUB
 * SHARDNUMSUB of `<prefix>#<nsp>#`.
 *
 * Every (un)subscription is one channel per command. There is no allRooms
 * message in this protocol: allRooms answers with this node's rooms. */
#ifndef SG_SHARDED_H
#define SG_SHARDED_H

#include "backend.h"

typedef enum {
    SG_SHARDED_STATIC = 0,
    SG_SHARDED_DYNAMIC,
    SG_SHARDED_DYNAMIC_PRIVATE,
} sg_sharded_mode_t;

/** What the namespaces of one process share; env->shared points at it,
 *  env->redis and env->key (the channel prefix) are set. */
typedef struct sg_sharded_cfg {
    sg_sharded_mode_t mode;
} sg_sharded_cfg_t;

/** "static", "dynamic" or "dynamic-private" -> mode; -1 for anything else. */
int sg_sharded_mode(const char *name);

extern const sg_adapter_ops_t sg_adapter_sharded_ops;

#endif
