/* registry.h - cluster backends by name ("memory", "redis", "sharded",
 * "streams"). The server names a backend only
 * through its `adapter` setting: it opens the backend here, asks it for one
 * adapter per namespace, and never sees what is behind it.
 *
 * A backend reads its own settings (redisUrl, redisKey, ...) as text
 * through env->setting, so the settings table stays the server's and no
 * backend depends on the server's configuration type. */
#ifndef SG_REGISTRY_H
#define SG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "adapter.h"

typedef struct sg_backend sg_backend_t;

typedef struct sg_backend_env {
    uv_loop_t *loop;
    /** The current value of setting `name` as text (sizes in bytes), or NULL. */
    const char *(*setting)(void *ud, const char *name);
    void *setting_ud;
    void (*log)(void *ud, int level, const char *msg); /* 0 error .. 3 debug */
    void *log_ud;
} sg_backend_env_t;

/** 1 when a backend of that name exists. */
int sg_backend_known(const char *name);
/** Start backend `name` (its connections, if any). Returns 0 with *out, or
 *  SG_EINVAL / SG_ENOTFOUND with err filled (bad setting, unknown name). */
int sg_backend_open(const char *name, const sg_backend_env_t *env, sg_backend_t **out, char *err,
                    size_t errlen);
/** The adapter of namespace nsp on this backend: registered with host
 *  (local delivery) and chost (requests from other nodes). NULL when the
 *  backend's ops do not match this build's SG_ADAPTER_ABI. If the backend
 *  cannot open the namespace it logs why and the adapter works
 *  single-node. */
sg_adapter_t *sg_backend_adapter(sg_backend_t *b, const char *nsp, const sg_adapter_host_t *host,
                                 const sg_adapter_chost_t *chost, void *host_ud);
/** "single" (no cluster), or the backend's connection state ("connecting",
 *  "ready", "down"). */
const char *sg_backend_state(const sg_backend_t *b);
/** What the backend's Redis connections have counted (zeros without
 *  Redis). */
typedef struct sg_backend_stats {
    int has_redis;
    uint64_t reconnects, timeouts, dropped; /* since start */
    size_t pending_bytes, pending_cmds;     /* commands sent, not yet answered */
    int has_outbox;                          /* Streams */
    size_t outbox_entries, outbox_bytes;
    uint64_t outbox_dropped, written, read, skipped;
} sg_backend_stats_t;

void sg_backend_stats(const sg_backend_t *b, sg_backend_stats_t *out);

/** Stop the backend's connections (while the loop still runs, after every
 *  adapter was closed); memory goes once the loop ran the close callbacks.
 *  NULL is a no-op. */
void sg_backend_close(sg_backend_t *b);

#endif
