/* config.h - siogate settings.
 *
 * Every setting is one row of a declarative table in config_table.c (name, type,
 * range, default, help). Sources apply in this order, later ones winning:
 * built-in defaults, the config file, SIOGATE_* environment variables,
 * command-line flags. A bad value stops start-up with a message naming the
 * setting. */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { SG_LOG_ERROR = 0, SG_LOG_WARN, SG_LOG_INFO, SG_LOG_DEBUG } sg_log_level_t;

typedef struct sg_config {
    /* listener */
    char *host;             /* host: "127.0.0.1" */
    int port;               /* port: 3000 */
    char *path;             /* path: "/socket.io/" (normalised to start and end with '/') */
    /* Engine.IO */
    unsigned ping_interval;   /* pingInterval: 25000 ms */
    unsigned ping_timeout;    /* pingTimeout: 20000 ms */
    unsigned upgrade_timeout; /* upgradeTimeout: 10000 ms */
    size_t max_http_buffer_size; /* maxHttpBufferSize: 1000000 bytes */
    int transport_polling;    /* transports: "polling,websocket" */
    int transport_websocket;
    size_t max_payload_packets; /* maxPayloadPackets: 1000 packets per POST body */
    int allow_eio3;           /* allowEIO3: false (EIO=3 clients refused) */
    /* Socket.IO */
    unsigned connect_timeout; /* connectTimeout: 45000 ms */
    size_t max_attachments;   /* maxAttachments: 10 */
    size_t max_binary_packet_size; /* maxBinaryPacketSize: 0 = 2 x maxHttpBufferSize */
    unsigned attachment_timeout; /* attachmentTimeout: 30000 ms */
    size_t max_pending_acks;  /* maxPendingAcks: 1000 per socket */
    size_t max_rooms_per_socket; /* maxRoomsPerSocket: 10000 */
    char *namespaces;         /* namespaces: "" extra namespaces, comma separated */
    /* HTTP */
    char *cors_origin;        /* cors: "" (no CORS headers), "*" or comma-separated origins */
    int cors_credentials;     /* corsCredentials: false */
    char *handshake_headers;  /* handshakeHeaders: extra header names kept in socket.handshake */
    int serve_client;         /* serveClient: true */
    char *client_dir;         /* clientDir: directory holding socket.io.min.js etc. */
    char *static_dir;         /* staticDir: directory served at "/" ("" = none) */
    /* output queue limits (per client) */
    size_t outq_hard_limit;   /* outqHardLimit: 32 MB */
    size_t outq_soft_limit;   /* outqSoftLimit: 8 MB */
    unsigned outq_soft_seconds; /* outqSoftSeconds: 60 */
    size_t max_connections;   /* maxConnections: 0 = the process file limit minus a reserve */
    size_t max_sessions;      /* maxSessions: 0 = maxConnections minus a reserve */
    size_t ws_rx_buffer;      /* wsRxBuffer: 256 bytes (lws per-connection receive buffer) */
    /* process */
    char *app;                /* app: "chat" | "testkit" | "conformance" | "none" */
    unsigned chat_message_rate;  /* chatMessageRate: 5 chat events per second per socket */
    unsigned chat_message_burst; /* chatMessageBurst: 10 */
    char *adapter;            /* adapter: "memory" | "redis" | "streams" */
    /* cluster (adapter = redis) */
    char *redis_url;          /* redisUrl: "redis://127.0.0.1:6379" */
    char *redis_key;          /* redisKey: "socket.io" channel prefix */
    unsigned requests_timeout; /* requestsTimeout: 5000 ms */
    int publish_specific;     /* publishOnSpecificResponseChannel: false */
    unsigned redis_reconnect_min; /* redisReconnectMin: 100 ms */
    unsigned redis_reconnect_max; /* redisReconnectMax: 1000 ms */
    unsigned redis_connect_timeout; /* redisConnectTimeout: 5000 ms */
    size_t redis_output_limit; /* redisOutputLimit: 32 MB queued towards Redis */
    size_t redis_reply_limit;  /* redisReplyLimit: 512 MB for one reply from Redis */
    /* connection state recovery (Node's connectionStateRecovery options) */
    int recovery;             /* connectionStateRecovery: false */
    unsigned max_disconnection; /* maxDisconnectionDuration: 120000 ms */
    int skip_middlewares;     /* skipMiddlewares: true */
    unsigned recovery_max_packets;  /* recoveryMaxPackets: 100000 per namespace */
    unsigned recovery_max_sessions; /* recoveryMaxSessions: 100000 per namespace */
    /* adapter = streams (@socket.io/redis-streams-adapter option names) */
    char *streams_protocol;   /* streamsProtocol: "0.3" | "0.2" */
    char *stream_name;        /* streamName: "socket.io" */
    unsigned stream_count;    /* streamCount: 1 */
    unsigned max_len;         /* maxLen: 10000 (MAXLEN ~) */
    unsigned read_count;      /* readCount: 100 */
    unsigned block_time;      /* blockTimeInMs: 5000 */
    char *channel_prefix;     /* channelPrefix: "socket.io" */
    char *session_key_prefix; /* sessionKeyPrefix: "sio:session:" */
    int only_plaintext;       /* onlyPlaintext: false */
    unsigned heartbeat_interval; /* heartbeatInterval: 5000 ms (0.2) */
    unsigned heartbeat_timeout;  /* heartbeatTimeout: 10000 ms (0.2) */
    unsigned streams_outbox_entries; /* streamsOutboxEntries: 10000 */
    size_t streams_outbox_bytes;     /* streamsOutboxBytes: 64 MB */
    /* adapter = sharded (createShardedAdapter option names; channelPrefix above) */
    char *subscription_mode; /* subscriptionMode: "dynamic" */
    sg_log_level_t log_level; /* logLevel: "info" */
    char *log_format;         /* logFormat: "text" | "json" */
    /* operations */
    int admin_port;           /* adminPort: 0 = off */
    char *admin_host;         /* adminHost: "127.0.0.1" */
    unsigned drain_seconds;   /* drainSeconds: 0 = all at once */
    char *tls_cert, *tls_key, *tls_ca; /* tlsCert, tlsKey, tlsCa: "" = none */
    char *tls_min_version;    /* tlsMinVersion: "1.2" | "1.3" */
    int admin_ui;             /* adminUi: false */
    char *admin_ui_username;  /* adminUiUsername: "admin" */
    char *admin_ui_password_hash; /* adminUiPasswordHash: "" */
    /* gateway mode */
    char *bridge;             /* bridge: "off" | "redis-stream" */
    char *bridge_events;      /* bridgeEvents: "/:*" */
    char *bridge_stream;      /* bridgeStream: "siogate:events" */
    size_t bridge_max_len;    /* bridgeMaxLen: 100000 */
    char *bridge_redis_url;   /* bridgeRedisUrl: "" = redisUrl */
    char *bridge_reply_prefix; /* bridgeReplyPrefix: "siogate:reply:" */
    char *bridge_node_id;     /* bridgeNodeId: "" = random */
    unsigned bridge_ack_timeout; /* bridgeAckTimeout: 10000 ms */
    size_t bridge_max_pending; /* bridgeMaxPending: 100000 */
    size_t bridge_max_pending_socket; /* bridgeMaxPendingPerSocket: 100 */
    size_t bridge_max_entry;  /* bridgeMaxEntryBytes: 65536 */
    unsigned bridge_rate;     /* bridgeRate: 1000 routed events per second per socket */
    unsigned bridge_burst;    /* bridgeBurst: 2000 */
    int bridge_lifecycle;     /* bridgeLifecycle: true */
    char *auth_jwt;           /* authJwt: "off" | "HS256" | "RS256" | "ES256" */
    char *auth_jwt_key, *auth_jwt_key_file, *auth_jwt_issuer, *auth_jwt_audience;
    unsigned auth_jwt_leeway; /* authJwtLeeway: 0 s */
    int auth_user_room;       /* authUserRoom: true */
    char *auth_url;           /* authUrl: "" = off */
    unsigned auth_timeout;    /* authTimeout: 5000 ms */
    size_t auth_max_pending;  /* authMaxPending: 256 requests to authUrl at once */
    /* which settings were given explicitly (file, environment, flags), one
     * bit per row of the table; see sg_config_is_set */
    unsigned char explicit_set[16];
} sg_config_t;

/** Fill cfg with the built-in defaults (strings are heap copies). */
void sg_config_init(sg_config_t *cfg);
/** Release the strings held by cfg (and NULL them, so a second call or a call
 *  on a zeroed struct is a no-op). */
void sg_config_free(sg_config_t *cfg);

/** Deep copy: dst gets src's values and explicit-set bits, with its own heap
 *  copy of every string setting (a NULL string stays NULL), so either may be
 *  changed or freed without the other noticing. dst's previous contents are
 *  overwritten, not freed (as sg_config_init does); release the copy with
 *  sg_config_free. Returns 0, or SG_EINVAL (nothing written) when dst or src
 *  is NULL or both are the same struct. */
int sg_config_copy(sg_config_t *dst, const sg_config_t *src);

/** Set one setting by its name (the Node-style name, e.g. "pingInterval")
 *  from text. Returns 0, or SG_EINVAL / SG_ENOTFOUND with a message naming
 *  the setting written to err. */
int sg_config_set(sg_config_t *cfg, const char *name, const char *value, char *err, size_t errlen);

/** 1 when setting `name` was given explicitly (not left at its default). */
int sg_config_is_set(const sg_config_t *cfg, const char *name);

/** Read a file of "name = value" lines ('#' comments, blank lines). */
int sg_config_load_file(sg_config_t *cfg, const char *file, char *err, size_t errlen);

/** Apply SIOGATE_<NAME> variables (NAME = the setting name in upper snake
 *  case, e.g. SIOGATE_PING_INTERVAL) from environ. */
int sg_config_load_env(sg_config_t *cfg, char *err, size_t errlen);

/** Defaults, then --config FILE (or SIOGATE_CONFIG), then environment, then the
 *  other flags (--host, --port, --app, --adapter, --log-level, --path,
 *  --static-dir, --client-dir, --set name=value, --help). Returns 0, 1 when
 *  --help (or --write-defaults) was printed to stdout (caller exits 0), or a
 *  negative code with err filled. cfg need not be initialised (it is
 *  overwritten). When it returns non-zero cfg holds nothing to free; calling
 *  sg_config_free on it anyway is safe. */
int sg_config_from_args(sg_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/** Print the usage text and every setting with type, range and default. */
void sg_config_print_help(FILE *out);

/** Write the table as a config file (every setting, commented with its help);
 *  used to keep conf/siogate.conf in sync (a test compares them). */
void sg_config_write_defaults(FILE *out);

/** Check relations between settings (outqSoftLimit <= outqHardLimit).
 *  sg_config_from_args calls it last. Returns 0 or SG_EINVAL with err filled. */
int sg_config_check(const sg_config_t *cfg, char *err, size_t errlen);

/** Format the current value of setting `name` as text that sg_config_set
 *  accepts (sizes in plain bytes). Returns 0, SG_ENOTFOUND, or SG_ETOOBIG if
 *  buf was too small (buf then holds a truncated, terminated copy). */
int sg_config_get(const sg_config_t *cfg, const char *name, char *buf, size_t len);

/** The settings table, for tests and tools: number of rows, and row i's
 *  setting name and environment variable (NULL when i is out of range). */
size_t sg_config_count(void);
const char *sg_config_name(size_t i);
const char *sg_config_env_name(size_t i);

/** Seconds an HTTP request may take in libwebsockets (its content timeout):
 *  a held polling GET is answered by the next ping at the latest, so this
 *  outlasts pingInterval + pingTimeout. */
static inline int sg_config_http_timeout(const sg_config_t *cfg)
{
    return (int)((cfg->ping_interval + cfg->ping_timeout) / 1000 + 30);
}

#endif
