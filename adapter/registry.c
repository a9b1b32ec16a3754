/* registry.c - see registry.h. Each entry knows how to start its backend
 * from the settings it reads and which ops its namespaces run. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "redis_conn.h"
#include "sharded.h"
#include "streams.h"
#include "util.h"

typedef struct sg_backend_def sg_backend_def_t;

struct sg_backend {
    const sg_backend_def_t *def;
    sg_backend_env_t env;
    sg_adapter_env_t aenv; /* what its namespaces are opened with */
    sg_redis_t *redis;
    sg_streams_t *streams;
    sg_sharded_cfg_t sharded;
    char *key;
};

struct sg_backend_def {
    const char *name;
    const sg_adapter_ops_t *ops;
    /** Start what the backend shares between namespaces. */
    int (*start)(sg_backend_t *b, char *err, size_t errlen);
    void (*stop)(sg_backend_t *b);
    const char *(*state)(const sg_backend_t *b);
};

/* The value is valid until the next call. */
static const char *setting(const sg_backend_t *b, const char *name)
{
    const char *v = b->env.setting ? b->env.setting(b->env.setting_ud, name) : NULL;
    return v ? v : "";
}

static unsigned long long number(const sg_backend_t *b, const char *name)
{
    return strtoull(setting(b, name), NULL, 10);
}

static int flag(const sg_backend_t *b, const char *name)
{
    return !strcmp(setting(b, name), "true");
}

/* ---- memory: nothing to start ---- */

static const char *memory_state(const sg_backend_t *b)
{
    return "single";
}

/* ---- redis: one shared pair of connections ---- */

/* The connection settings every Redis backend reads; url is the caller's
 * copy (setting() reuses its buffer). */
static sg_redis_opts_t redis_opts(const sg_backend_t *b, const char *url)
{
    return (sg_redis_opts_t){.url = url,
                             .backoff_min_ms = (unsigned)number(b, "redisReconnectMin"),
                             .backoff_max_ms = (unsigned)number(b, "redisReconnectMax"),
                             .connect_timeout_ms = (unsigned)number(b, "redisConnectTimeout"),
                             .output_limit = (size_t)number(b, "redisOutputLimit"),
                             .reply_limit = (size_t)number(b, "redisReplyLimit"),
                             .log = b->env.log,
                             .log_ud = b->env.log_ud};
}

/* key_setting: the setting that names the channel prefix. */
static int pubsub_start(sg_backend_t *b, const char *key_setting, char *err, size_t errlen)
{
    /* Each setting() may reuse the caller's buffer: keep the copies. */
    char *url = sg_strdup(setting(b, "redisUrl"));
    b->key = sg_strdup(*setting(b, key_setting) ? setting(b, key_setting) : "socket.io");
    sg_redis_opts_t o = redis_opts(b, url);
    int rc = sg_redis_new(b->env.loop, &o, &b->redis, err, errlen);
    sg_free(url);
    if (rc != 0)
        return SG_EINVAL;
    b->aenv = (sg_adapter_env_t){.loop = b->env.loop,
                                 .redis = b->redis,
                                 .key = b->key,
                                 .requests_timeout = (unsigned)number(b, "requestsTimeout"),
                                 .specific_response_channel =
                                     flag(b, "publishOnSpecificResponseChannel"),
                                 .log = b->env.log,
                                 .log_ud = b->env.log_ud};
    return 0;
}

static int redis_start(sg_backend_t *b, char *err, size_t errlen)
{
    return pubsub_start(b, "redisKey", err, errlen);
}

/* ---- sharded: the same connections; channelPrefix and the mode ---- */

static int sharded_start(sg_backend_t *b, char *err, size_t errlen)
{
    int mode = sg_sharded_mode(setting(b, "subscriptionMode"));
    if (mode < 0) {
        snprintf(err, errlen, "subscriptionMode '%s': expected static, dynamic or dynamic-private",
                 setting(b, "subscriptionMode"));
        return SG_EINVAL;
    }
    b->sharded.mode = (sg_sharded_mode_t)mode;
    if (pubsub_start(b, "channelPrefix", err, errlen) != 0)
        return SG_EINVAL;
    b->aenv.shared = &b->sharded;
    return 0;
}

static void redis_stop(sg_backend_t *b)
{
    sg_redis_free(b->redis);
    b->redis = NULL;
}

static const char *redis_state(const sg_backend_t *b)
{
    return b->redis ? sg_redis_state_name(b->redis) : "down";
}

/* ---- streams: connections, readers and outbox shared by the namespaces ---- */

static int streams_start(sg_backend_t *b, char *err, size_t errlen)
{
    char *url = sg_strdup(setting(b, "redisUrl"));
    char *stream = sg_strdup(setting(b, "streamName"));
    char *session = sg_strdup(setting(b, "sessionKeyPrefix"));
    b->key = sg_strdup(*setting(b, "channelPrefix") ? setting(b, "channelPrefix") : "socket.io");
    sg_streams_opts_t o = {.redis = redis_opts(b, url),
                           .protocol = !strcmp(setting(b, "streamsProtocol"), "0.2") ? 2 : 3,
                           .stream_name = stream,
                           .stream_count = (unsigned)number(b, "streamCount"),
                           .max_len = (unsigned)number(b, "maxLen"),
                           .read_count = (unsigned)number(b, "readCount"),
                           .block_ms = (unsigned)number(b, "blockTimeInMs"),
                           .channel_prefix = b->key,
                           .session_prefix = session,
                           .only_plaintext = flag(b, "onlyPlaintext"),
                           .heartbeat_interval = (unsigned)number(b, "heartbeatInterval"),
                           .heartbeat_timeout = (unsigned)number(b, "heartbeatTimeout"),
                           .requests_timeout = (unsigned)number(b, "requestsTimeout"),
                           .outbox_entries = (size_t)number(b, "streamsOutboxEntries"),
                           .outbox_bytes = (size_t)number(b, "streamsOutboxBytes")};
    if (o.protocol == 2 && o.stream_count > 1) {
        snprintf(err, errlen, "streamCount > 1 needs streamsProtocol 0.3 (0.2 has one stream)");
        sg_free(url);
        sg_free(stream);
        sg_free(session);
        return SG_EINVAL;
    }
    int rc = sg_streams_new(b->env.loop, &o, &b->streams, err, errlen);
    sg_free(url);
    sg_free(stream);
    sg_free(session);
    if (rc != 0)
        return SG_EINVAL;
    b->aenv = (sg_adapter_env_t){.loop = b->env.loop,
                                 .key = b->key,
                                 .requests_timeout = o.requests_timeout,
                                 .log = b->env.log,
                                 .log_ud = b->env.log_ud,
                                 .shared = b->streams};
    return 0;
}

static void streams_stop(sg_backend_t *b)
{
    sg_streams_free(b->streams);
    b->streams = NULL;
}

static const char *streams_state(const sg_backend_t *b)
{
    return b->streams ? sg_streams_state(b->streams) : "down";
}

static const sg_backend_def_t backends[] = {
    {"memory", &sg_adapter_memory_ops, NULL, NULL, memory_state},
    {"redis", &sg_adapter_redis_ops, redis_start, redis_stop, redis_state},
    {"sharded", &sg_adapter_sharded_ops, sharded_start, redis_stop, redis_state},
    {"streams", &sg_adapter_streams_ops, streams_start, streams_stop, streams_state},
};

static const sg_backend_def_t *find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
        if (!strcmp(backends[i].name, name))
            return &backends[i];
    return NULL;
}

int sg_backend_known(const char *name)
{
    return find(name) != NULL;
}

int sg_backend_open(const char *name, const sg_backend_env_t *env, sg_backend_t **out, char *err,
                    size_t errlen)
{
    const sg_backend_def_t *def = find(name);
    if (!def) {
        snprintf(err, errlen, "unknown adapter '%s'", name ? name : "");
        return SG_ENOTFOUND;
    }
    sg_backend_t *b = sg_calloc(1, sizeof(*b));
    b->def = def;
    b->env = *env;
    if (def->start && def->start(b, err, errlen) != 0) {
        sg_free(b->key);
        sg_free(b);
        return SG_EINVAL;
    }
    /* What every backend's namespaces share. */
    b->aenv.loop = env->loop;
    b->aenv.log = env->log;
    b->aenv.log_ud = env->log_ud;
    if (flag(b, "connectionStateRecovery")) {
        b->aenv.recovery_ms = (unsigned)number(b, "maxDisconnectionDuration");
        b->aenv.recovery_max_packets = (size_t)number(b, "recoveryMaxPackets");
        b->aenv.recovery_max_sessions = (size_t)number(b, "recoveryMaxSessions");
    }
    *out = b;
    return 0;
}

static void log_line(const sg_backend_t *b, int level, const char *fmt, const char *a)
{
    char line[256];
    if (!b->env.log)
        return;
    snprintf(line, sizeof line, fmt, a);
    b->env.log(b->env.log_ud, level, line);
}

sg_adapter_t *sg_backend_adapter(sg_backend_t *b, const char *nsp, const sg_adapter_host_t *host,
                                 const sg_adapter_chost_t *chost, void *host_ud)
{
    sg_adapter_t *a = sg_adapter_new(b->def->ops, nsp, host, host_ud);
    if (!a) {
        log_line(b, 0, "namespace %s: the adapter backend was built for another interface "
                       "version; it stays single-node", nsp);
        a = sg_adapter_new(&sg_adapter_memory_ops, nsp, host, host_ud);
    }
    if (sg_adapter_open(a, &b->aenv, chost) != 0) {
        log_line(b, 0, "namespace %s: the cluster adapter did not open; it stays single-node", nsp);
        sg_adapter_close(a);
    }
    return a;
}

const char *sg_backend_state(const sg_backend_t *b)
{
    return b->def->state(b);
}

void sg_backend_stats(const sg_backend_t *b, sg_backend_stats_t *out)
{
    *out = (sg_backend_stats_t){0};
    if (b && b->redis) {
        sg_redis_stats_t rs;
        sg_redis_stats(b->redis, &rs);
        out->has_redis = 1;
        out->reconnects = rs.reconnects;
        out->timeouts = rs.timeouts;
        out->dropped = rs.dropped;
        out->pending_bytes = rs.pending_bytes;
        out->pending_cmds = rs.pending_cmds;
    }
    if (b && b->streams) {
        sg_streams_stats_t ss;
        sg_streams_stats(b->streams, &ss);
        out->has_outbox = 1;
        out->outbox_entries = ss.outbox_entries;
        out->outbox_bytes = ss.outbox_bytes;
        out->outbox_dropped = ss.outbox_dropped;
        out->written = ss.written;
        out->read = ss.read;
        out->skipped = ss.skipped;
    }
}

void sg_backend_close(sg_backend_t *b)
{
    if (!b)
        return;
    if (b->def->stop)
        b->def->stop(b);
    sg_free(b->key);
    sg_free(b);
}
