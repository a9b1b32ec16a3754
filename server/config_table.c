/* config_table.c - the settings table: one row per setting (name,
 * environment variable, type, range, default, help), the lists of choices
 * and the checks of string values. config.c does the parsing, the sources
 * and the help from these rows, so adding a setting means adding a struct
 * field in config.h and one row here (the shape of redis src/config.c,
 * static_configs[]). */
#include "config_internal.h"

#include "util.h"

#include <ctype.h>

/* clientDir and staticDir default to the install prefix's share/siogate (or
 * the build tree's), found at load time: paths.c. */
#include "paths.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const apps[] = {"chat", "testkit", "conformance", "none", NULL};
/* New cluster backends add their name here (and their ops in adapter/). */
static const char *const adapters[] = {"memory", "redis", "sharded", "streams", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const subscription_modes[] = {"static", "dynamic", "dynamic-private", NULL};
static const char *const streams_protocols[] = {"0.3", "0.2", NULL};
static const char *const transport_names[] = {"polling", "websocket", NULL};
static const char *const bridges[] = {"off", "redis-stream", NULL};
static const char *const jwt_algs[] = {"off", "HS256", "RS256", "ES256", NULL};

#define MS_MAX 3600000ULL /* one hour, for every timeout in ms */
#define OFF(f) offsetof(sg_config_t, f)

static const char *check_host(const char *v, char **norm);
static const char *check_path(const char *v, char **norm);
static const char *check_namespaces(const char *v, char **norm);
static const char *check_routes(const char *v, char **norm);

const sg_cfg_row_t sg_config__rows[] = {
    {"host", "SIOGATE_HOST", CT_STRING, ST_STR, OFF(host), 1, 255, "127.0.0.1", NULL, check_host, 0,
     "Address to listen on: an IP address or a host name."},
    {"port", "SIOGATE_PORT", CT_UINT, ST_INT, OFF(port), 1, 65535, "3000", NULL, NULL, 0,
     "TCP port to listen on."},
    {"path", "SIOGATE_PATH", CT_STRING, ST_STR, OFF(path), 1, 255, "/socket.io/", NULL, check_path,
     0, "URL prefix of the Engine.IO endpoint; a missing leading or trailing '/' is added."},
    {"pingInterval", "SIOGATE_PING_INTERVAL", CT_UINT, ST_UINT, OFF(ping_interval), 1, MS_MAX,
     "25000", NULL, NULL, 0, "Milliseconds between two server pings."},
    {"pingTimeout", "SIOGATE_PING_TIMEOUT", CT_UINT, ST_UINT, OFF(ping_timeout), 1, MS_MAX, "20000",
     NULL, NULL, 0, "Milliseconds to wait for a pong before the session is closed."},
    {"upgradeTimeout", "SIOGATE_UPGRADE_TIMEOUT", CT_UINT, ST_UINT, OFF(upgrade_timeout), 1, MS_MAX,
     "10000", NULL, NULL, 0, "Milliseconds a transport upgrade may take."},
    {"maxHttpBufferSize", "SIOGATE_MAX_HTTP_BUFFER_SIZE", CT_SIZE, ST_SIZE,
     OFF(max_http_buffer_size), 1, GB, "1000000", NULL, NULL, 0,
     "Largest message or polling request body accepted, in bytes."},
    {"transports", "SIOGATE_TRANSPORTS", CT_LIST, ST_TRANSPORTS, OFF(transport_polling), 0, 0,
     "polling,websocket", transport_names, NULL, 0,
     "Allowed transports, comma separated (at least one)."},
    {"maxPayloadPackets", "SIOGATE_MAX_PAYLOAD_PACKETS", CT_UINT, ST_SIZE, OFF(max_payload_packets),
     1, 1000000, "1000", NULL, NULL, 0, "Most packets accepted in one polling POST body."},
    {"allowEIO3", "SIOGATE_ALLOW_EIO3", CT_BOOL, ST_INT, OFF(allow_eio3), 0, 1, "false", NULL, NULL,
     0,
     "Also accept Engine.IO v3 / Socket.IO protocol 4 clients (socket.io-client 1.x and 2.x), "
     "as Node's allowEIO3."},
    {"connectTimeout", "SIOGATE_CONNECT_TIMEOUT", CT_UINT, ST_UINT, OFF(connect_timeout), 1, MS_MAX,
     "45000", NULL, NULL, 0,
     "Milliseconds a client may take to join a namespace after the handshake."},
    {"maxAttachments", "SIOGATE_MAX_ATTACHMENTS", CT_UINT, ST_SIZE, OFF(max_attachments), 0, 10000,
     "10", NULL, NULL, 0, "Most binary attachments in one Socket.IO packet."},
    {"maxBinaryPacketSize", "SIOGATE_MAX_BINARY_PACKET_SIZE", CT_SIZE, ST_SIZE,
     OFF(max_binary_packet_size), 0, 64 * GB, "0", NULL, NULL, 0,
     "Bytes a Socket.IO packet with binary attachments may hold in all (text plus "
     "attachments) while it is being received; 0 = twice maxHttpBufferSize."},
    {"attachmentTimeout", "SIOGATE_ATTACHMENT_TIMEOUT", CT_UINT, ST_UINT, OFF(attachment_timeout),
     1, MS_MAX, "30000", NULL, NULL, 0,
     "Milliseconds the binary attachments of a packet may take to arrive; past it the "
     "connection is closed."},
    {"maxPendingAcks", "SIOGATE_MAX_PENDING_ACKS", CT_UINT, ST_SIZE, OFF(max_pending_acks), 1,
     10000000, "1000", NULL, NULL, 0,
     "Acknowledgements the server may await from one socket at a time; an emit with ack "
     "beyond it fails."},
    {"maxRoomsPerSocket", "SIOGATE_MAX_ROOMS_PER_SOCKET", CT_UINT, ST_SIZE,
     OFF(max_rooms_per_socket), 1, 100000000, "10000", NULL, NULL, 0,
     "Rooms one socket may be in (its own id room not counted); a join beyond it fails."},
    {"namespaces", "SIOGATE_NAMESPACES", CT_STRING, ST_STR, OFF(namespaces), 0, 4096, "", NULL,
     check_namespaces, 0,
     "Namespaces accepted besides '/', comma separated, each starting with '/'."},
    {"cors", "SIOGATE_CORS", CT_STRING, ST_STR, OFF(cors_origin), 0, 4096, "", NULL, NULL, 0,
     "Allowed CORS origins: empty = no CORS headers, '*' = any, or a comma-separated list."},
    {"corsCredentials", "SIOGATE_CORS_CREDENTIALS", CT_BOOL, ST_INT, OFF(cors_credentials), 0, 1,
     "false", NULL, NULL, 0,
     "Send Access-Control-Allow-Credentials (browsers need explicit origins)."},
    {"handshakeHeaders", "SIOGATE_HANDSHAKE_HEADERS", CT_STRING, ST_STR, OFF(handshake_headers), 0,
     4096, "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port,x-request-id",
     NULL, NULL, 0,
     "Headers outside libwebsockets' built-in list to keep in socket.handshake, comma separated."},
    {"serveClient", "SIOGATE_SERVE_CLIENT", CT_BOOL, ST_INT, OFF(serve_client), 0, 1, "true", NULL,
     NULL, 0, "Serve the Socket.IO client bundle under the endpoint path."},
    {"clientDir", "SIOGATE_CLIENT_DIR", CT_STRING, ST_STR, OFF(client_dir), 0, 4096,
     sg_paths_client_dir, NULL, NULL, CF_BUILD,
     "Directory holding socket.io.min.js etc.; default: <prefix>/share/siogate/client."},
    {"staticDir", "SIOGATE_STATIC_DIR", CT_STRING, ST_STR, OFF(static_dir), 0, 4096,
     sg_paths_static_dir, NULL, NULL, CF_BUILD,
     "Directory served at '/' (empty = none); default: <prefix>/share/siogate/www."},
    {"outqHardLimit", "SIOGATE_OUTQ_HARD_LIMIT", CT_SIZE, ST_SIZE, OFF(outq_hard_limit), KB,
     64 * GB, "32mb", NULL, NULL, 0, "Bytes queued for one client past which it is closed."},
    {"outqSoftLimit", "SIOGATE_OUTQ_SOFT_LIMIT", CT_SIZE, ST_SIZE, OFF(outq_soft_limit), KB,
     64 * GB, "8mb", NULL, NULL, 0,
     "Bytes queued for one client that may last only outqSoftSeconds (<= outqHardLimit)."},
    {"outqSoftSeconds", "SIOGATE_OUTQ_SOFT_SECONDS", CT_UINT, ST_UINT, OFF(outq_soft_seconds), 1,
     86400, "60", NULL, NULL, 0, "Seconds a client may stay over outqSoftLimit."},
    {"maxConnections", "SIOGATE_MAX_CONNECTIONS", CT_UINT, ST_SIZE, OFF(max_connections), 0,
     10000000, "0", NULL, NULL, 0,
     "Most open client TCP connections; past it new ones are accepted and closed at once. "
     "0 = the process's open-file limit minus a reserve of 64."},
    {"maxSessions", "SIOGATE_MAX_SESSIONS", CT_UINT, ST_SIZE, OFF(max_sessions), 0, 10000000, "0",
     NULL, NULL, 0,
     "Most concurrent Engine.IO sessions; past it a handshake is refused (503 / 400 Server "
     "full). 0 = maxConnections minus 32, so refusals still get an answer."},
    {"wsRxBuffer", "SIOGATE_WS_RX_BUFFER", CT_SIZE, ST_SIZE, OFF(ws_rx_buffer), 128, MB, "256",
     NULL, NULL, 0, "Per-connection WebSocket receive buffer of libwebsockets, in bytes (memory per client vs. fewer reads for big messages)."},
    {"app", "SIOGATE_APP", CT_ENUM, ST_STR, OFF(app), 0, 0, "chat", apps, NULL, 0,
     "Built-in application: chat (the demo page), testkit (handlers for the integration "
     "tests; any client can act on the whole cluster: never expose it), conformance (the "
     "official protocol suites) or none."},
    {"chatMessageRate", "SIOGATE_CHAT_MESSAGE_RATE", CT_UINT, ST_UINT, OFF(chat_message_rate), 1,
     100000, "5", NULL, NULL, 0,
     "app = chat: messages and typing events per second one socket may send; more are dropped."},
    {"chatMessageBurst", "SIOGATE_CHAT_MESSAGE_BURST", CT_UINT, ST_UINT, OFF(chat_message_burst),
     1, 100000, "10", NULL, NULL, 0,
     "app = chat: how many of those events one socket may send at once before the rate applies."},
    {"adapter", "SIOGATE_ADAPTER", CT_ENUM, ST_STR, OFF(adapter), 0, 0, "memory", adapters, NULL, 0,
     "Adapter that carries broadcasts between nodes; memory = single process, redis = Redis "
     "Pub/Sub (compatible with @socket.io/redis-adapter createAdapter), sharded = Redis 7 sharded "
     "Pub/Sub (compatible with @socket.io/redis-adapter createShardedAdapter), streams = Redis "
     "Streams (compatible with @socket.io/redis-streams-adapter)."},
    {"redisUrl", "SIOGATE_REDIS_URL", CT_STRING, ST_STR, OFF(redis_url), 1, 4096,
     "redis://127.0.0.1:6379", NULL, NULL, 0,
     "Redis for adapter = redis, sharded or streams: redis://[user:password@]host[:port][/db], unix:/path or "
     "unix://[[user]:password@]/path[?db=N]."},
    {"redisKey", "SIOGATE_REDIS_KEY", CT_STRING, ST_STR, OFF(redis_key), 1, 255, "socket.io", NULL,
     NULL, 0, "Channel prefix shared by every node of the cluster (the Node adapter's key)."},
    {"requestsTimeout", "SIOGATE_REQUESTS_TIMEOUT", CT_UINT, ST_UINT, OFF(requests_timeout), 1,
     MS_MAX, "5000", NULL, NULL, 0,
     "Milliseconds to wait for the other nodes' answers (fetchSockets, allRooms, serverSideEmit)."},
    {"publishOnSpecificResponseChannel", "SIOGATE_PUBLISH_ON_SPECIFIC_RESPONSE_CHANNEL", CT_BOOL,
     ST_INT, OFF(publish_specific), 0, 1, "false", NULL, NULL, 0,
     "Answer requests on the requester's own response channel instead of the shared one."},
    {"redisReconnectMin", "SIOGATE_REDIS_RECONNECT_MIN", CT_UINT, ST_UINT,
     OFF(redis_reconnect_min), 1, MS_MAX, "100", NULL, NULL, 0,
     "First delay in ms before reconnecting to Redis; doubles on each failure."},
    {"redisReconnectMax", "SIOGATE_REDIS_RECONNECT_MAX", CT_UINT, ST_UINT,
     OFF(redis_reconnect_max), 1, MS_MAX, "1000", NULL, NULL, 0,
     "Longest delay in ms between two Redis reconnection attempts."},
    {"redisConnectTimeout", "SIOGATE_REDIS_CONNECT_TIMEOUT", CT_UINT, ST_UINT,
     OFF(redis_connect_timeout), 1, MS_MAX, "5000", NULL, NULL, 0,
     "Milliseconds a Redis connection attempt may take, handshake included, before it is "
     "abandoned and retried."},
    {"redisOutputLimit", "SIOGATE_REDIS_OUTPUT_LIMIT", CT_SIZE, ST_SIZE, OFF(redis_output_limit),
     64 * KB, 64 * GB, "32mb", NULL, NULL, 0,
     "Bytes of commands sent to Redis and not yet answered; past it publishes are dropped "
     "(counted, logged once per episode) until Redis catches up."},
    {"redisReplyLimit", "SIOGATE_REDIS_REPLY_LIMIT", CT_SIZE, ST_SIZE, OFF(redis_reply_limit),
     1 * KB, 4 * GB, "512mb", NULL, NULL, 0,
     "Largest reply accepted from Redis (bytes buffered for one reply); a larger one, or one "
     "declaring over 1048576 array elements, closes that connection (logged) and it is made "
     "again."},
    {"connectionStateRecovery", "SIOGATE_CONNECTION_STATE_RECOVERY", CT_BOOL, ST_INT,
     OFF(recovery), 0, 1, "false", NULL, NULL, 0,
     "Let a client that lost its connection resume its session (same id, rooms, data) and get "
     "the packets it missed, as Node's connectionStateRecovery; offsets are appended to "
     "broadcasts."},
    {"maxDisconnectionDuration", "SIOGATE_MAX_DISCONNECTION_DURATION", CT_UINT, ST_UINT,
     OFF(max_disconnection), 1, MS_MAX, "120000", NULL, NULL, 0,
     "Milliseconds a disconnected session stays restorable."},
    {"skipMiddlewares", "SIOGATE_SKIP_MIDDLEWARES", CT_BOOL, ST_INT, OFF(skip_middlewares), 0, 1,
     "true", NULL, NULL, 0, "A recovered socket skips the namespace's middleware."},
    {"recoveryMaxPackets", "SIOGATE_RECOVERY_MAX_PACKETS", CT_UINT, ST_UINT,
     OFF(recovery_max_packets), 1, 100000000, "100000", NULL, NULL, 0,
     "Memory and redis adapters: most broadcast packets kept per namespace for recovery "
     "(oldest dropped first)."},
    {"recoveryMaxSessions", "SIOGATE_RECOVERY_MAX_SESSIONS", CT_UINT, ST_UINT,
     OFF(recovery_max_sessions), 1, 100000000, "100000", NULL, NULL, 0,
     "Memory and redis adapters: most disconnected sessions kept per namespace for recovery "
     "(oldest dropped first)."},
    {"streamsProtocol", "SIOGATE_STREAMS_PROTOCOL", CT_ENUM, ST_STR, OFF(streams_protocol), 0, 0,
     "0.3", streams_protocols, NULL, 0,
     "adapter = streams: the @socket.io/redis-streams-adapter version the cluster speaks (0.3 = "
     "0.3.x, requests over Pub/Sub; 0.2 = 0.2.x, everything in the stream, heartbeats)."},
    {"streamName", "SIOGATE_STREAM_NAME", CT_STRING, ST_STR, OFF(stream_name), 1, 255,
     "socket.io", NULL, NULL, 0, "adapter = streams: name of the Redis stream."},
    {"streamCount", "SIOGATE_STREAM_COUNT", CT_UINT, ST_UINT, OFF(stream_count), 1, 1024, "1",
     NULL, NULL, 0,
     "adapter = streams (0.3): number of streams, <streamName>-0 .. -(N-1), namespaces spread "
     "over them by Node's hash."},
    {"maxLen", "SIOGATE_MAX_LEN", CT_UINT, ST_UINT, OFF(max_len), 1, 1000000000, "10000", NULL,
     NULL, 0, "adapter = streams: approximate length the stream is trimmed to (MAXLEN ~)."},
    {"readCount", "SIOGATE_READ_COUNT", CT_UINT, ST_UINT, OFF(read_count), 1, 100000, "100", NULL,
     NULL, 0, "adapter = streams: most entries fetched by one XREAD."},
    {"blockTimeInMs", "SIOGATE_BLOCK_TIME_IN_MS", CT_UINT, ST_UINT, OFF(block_time), 1, MS_MAX,
     "5000", NULL, NULL, 0, "adapter = streams: how long one XREAD waits for new entries."},
    {"channelPrefix", "SIOGATE_CHANNEL_PREFIX", CT_STRING, ST_STR, OFF(channel_prefix), 1, 255,
     "socket.io", NULL, NULL, 0,
     "adapter = sharded: prefix of every channel; adapter = streams (0.3): prefix of the Pub/Sub "
     "channels that carry requests."},
    {"subscriptionMode", "SIOGATE_SUBSCRIPTION_MODE", CT_ENUM, ST_STR, OFF(subscription_mode), 0, 0,
     "dynamic", subscription_modes, NULL, 0,
     "adapter = sharded: static = every message on the namespace's channel; dynamic = also a "
     "channel per room (not socket ids), subscribed while the room has members here; "
     "dynamic-private = the same, socket-id rooms included. Every node must use the same mode."},
    {"sessionKeyPrefix", "SIOGATE_SESSION_KEY_PREFIX", CT_STRING, ST_STR, OFF(session_key_prefix),
     1, 255, "sio:session:", NULL, NULL, 0,
     "adapter = streams: prefix of the Redis keys that hold sessions for recovery."},
    {"onlyPlaintext", "SIOGATE_ONLY_PLAINTEXT", CT_BOOL, ST_INT, OFF(only_plaintext), 0, 1,
     "false", NULL, NULL, 0,
     "adapter = streams: always write entry data as JSON (binary as Node Buffer objects)."},
    {"heartbeatInterval", "SIOGATE_HEARTBEAT_INTERVAL", CT_UINT, ST_UINT,
     OFF(heartbeat_interval), 1, MS_MAX, "5000", NULL, NULL, 0,
     "adapter = streams (0.2): milliseconds after the last message before a heartbeat."},
    {"heartbeatTimeout", "SIOGATE_HEARTBEAT_TIMEOUT", CT_UINT, ST_UINT, OFF(heartbeat_timeout),
     1, MS_MAX, "10000", NULL, NULL, 0,
     "adapter = streams (0.2): milliseconds of silence after which a node is counted gone."},
    {"streamsOutboxEntries", "SIOGATE_STREAMS_OUTBOX_ENTRIES", CT_UINT, ST_UINT,
     OFF(streams_outbox_entries), 1, 100000000, "10000", NULL, NULL, 0,
     "adapter = streams: most stream entries kept while Redis is unreachable (written when it "
     "is back); past it the oldest are dropped."},
    {"streamsOutboxBytes", "SIOGATE_STREAMS_OUTBOX_BYTES", CT_SIZE, ST_SIZE,
     OFF(streams_outbox_bytes), 64 * KB, 64 * GB, "64mb", NULL, NULL, 0,
     "adapter = streams: most bytes of those entries."},
    {"logLevel", "SIOGATE_LOG_LEVEL", CT_ENUM, ST_LOG, OFF(log_level), 0, 0, "info", log_levels,
     NULL, 0, "Log verbosity."},
    {"logFormat", "SIOGATE_LOG_FORMAT", CT_ENUM, ST_STR, OFF(log_format), 0, 0, "text", log_formats,
     NULL, 0,
     "Log lines as text, or as JSON objects {time, level, msg} one per line (json)."},
    /* operations */
    {"adminPort", "SIOGATE_ADMIN_PORT", CT_UINT, ST_INT, OFF(admin_port), 0, 65535, "0", NULL,
     NULL, 0,
     "TCP port of the admin listener (/metrics, /health, /ready); 0 = no admin listener."},
    {"adminHost", "SIOGATE_ADMIN_HOST", CT_STRING, ST_STR, OFF(admin_host), 1, 255, "127.0.0.1",
     NULL, check_host, 0, "Address of the admin listener; keep it off the public network."},
    {"drainSeconds", "SIOGATE_DRAIN_SECONDS", CT_UINT, ST_UINT, OFF(drain_seconds), 0, 3600, "0",
     NULL, NULL, 0,
     "On SIGTERM: seconds over which connected clients are disconnected, spread evenly, "
     "after new sessions are refused and /ready turns 503; 0 = all at once (Node's close())."},
    {"tlsCert", "SIOGATE_TLS_CERT", CT_STRING, ST_STR, OFF(tls_cert), 0, 4096, "", NULL, NULL, 0,
     "PEM certificate (chain) file: with tlsKey, the port serves HTTPS and WSS only."},
    {"tlsKey", "SIOGATE_TLS_KEY", CT_STRING, ST_STR, OFF(tls_key), 0, 4096, "", NULL, NULL, 0,
     "PEM private key file of tlsCert."},
    {"tlsCa", "SIOGATE_TLS_CA", CT_STRING, ST_STR, OFF(tls_ca), 0, 4096, "", NULL, NULL, 0,
     "PEM CA file: when set, clients must present a certificate it signed."},
    {"tlsMinVersion", "SIOGATE_TLS_MIN_VERSION", CT_ENUM, ST_STR, OFF(tls_min_version), 0, 0,
     "1.2", tls_versions, NULL, 0, "Oldest TLS version accepted."},
    {"adminUi", "SIOGATE_ADMIN_UI", CT_BOOL, ST_INT, OFF(admin_ui), 0, 1, "false", NULL, NULL, 0,
     "Serve the /admin namespace of @socket.io/admin-ui (needs adminUiPasswordHash)."},
    {"adminUiUsername", "SIOGATE_ADMIN_UI_USERNAME", CT_STRING, ST_STR, OFF(admin_ui_username), 1,
     255, "admin", NULL, NULL, 0, "adminUi: the user name the admin UI logs in with."},
    {"adminUiPasswordHash", "SIOGATE_ADMIN_UI_PASSWORD_HASH", CT_STRING, ST_STR,
     OFF(admin_ui_password_hash), 0, 255, "", NULL, NULL, 0,
     "adminUi: bcrypt hash ($2a$/$2b$/$2y$) of its password, e.g. from `htpasswd -nbBC 10 '' "
     "PASSWORD` (the part after ':')."},
    /* gateway mode (gateway.c, gateway_auth.c) */
    {"bridge", "SIOGATE_BRIDGE", CT_ENUM, ST_STR, OFF(bridge), 0, 0, "off", bridges, NULL, 0,
     "Gateway mode: redis-stream appends routed client events (and connects/disconnects) to "
     "bridgeStream for workers in any language; off = none."},
    {"bridgeEvents", "SIOGATE_BRIDGE_EVENTS", CT_STRING, ST_STR, OFF(bridge_events), 1, 4096,
     "/:*", NULL, check_routes, 0,
     "Routed events, comma separated, each <namespace>:<event pattern> where * matches any run "
     "of characters (\"/:*\", \"/orders:order.*\"). Events an app handles itself are not routed."},
    {"bridgeStream", "SIOGATE_BRIDGE_STREAM", CT_STRING, ST_STR, OFF(bridge_stream), 1, 255,
     "siogate:events", NULL, NULL, 0, "The Redis Stream routed events are appended to."},
    {"bridgeMaxLen", "SIOGATE_BRIDGE_MAX_LEN", CT_UINT, ST_SIZE, OFF(bridge_max_len), 1,
     1000000000, "100000", NULL, NULL, 0,
     "Approximate bound of bridgeStream's length (XADD MAXLEN ~)."},
    {"bridgeRedisUrl", "SIOGATE_BRIDGE_REDIS_URL", CT_STRING, ST_STR, OFF(bridge_redis_url), 0,
     4096, "", NULL, NULL, 0, "Redis of the bridge; empty = redisUrl."},
    {"bridgeReplyPrefix", "SIOGATE_BRIDGE_REPLY_PREFIX", CT_STRING, ST_STR,
     OFF(bridge_reply_prefix), 1, 255, "siogate:reply:", NULL, NULL, 0,
     "Workers answer a client's ack by publishing to <prefix><node id>."},
    {"bridgeNodeId", "SIOGATE_BRIDGE_NODE_ID", CT_STRING, ST_STR, OFF(bridge_node_id), 0, 64, "",
     NULL, NULL, 0, "This node's id in bridge entries; empty = a random id at start."},
    {"bridgeAckTimeout", "SIOGATE_BRIDGE_ACK_TIMEOUT", CT_UINT, ST_UINT, OFF(bridge_ack_timeout),
     1, MS_MAX, "10000", NULL, NULL, 0,
     "Milliseconds a routed event's ack waits for a worker's reply; then the client's ack gets "
     "{\"error\":\"bridge timeout\"}."},
    {"bridgeMaxPending", "SIOGATE_BRIDGE_MAX_PENDING", CT_UINT, ST_SIZE, OFF(bridge_max_pending), 1,
     10000000, "100000", NULL, NULL, 0,
     "Acks awaiting a worker's reply on this node at once; past it an event with ack is "
     "answered {\"error\":\"bridge busy\"}."},
    {"bridgeMaxPendingPerSocket", "SIOGATE_BRIDGE_MAX_PENDING_PER_SOCKET", CT_UINT, ST_SIZE,
     OFF(bridge_max_pending_socket), 1, 1000000, "100", NULL, NULL, 0,
     "Acks of one socket awaiting a worker at once; past it that socket's events with ack are "
     "answered {\"error\":\"bridge busy\"} (one client cannot take every bridgeMaxPending slot)."},
    {"bridgeMaxEntryBytes", "SIOGATE_BRIDGE_MAX_ENTRY_BYTES", CT_SIZE, ST_SIZE,
     OFF(bridge_max_entry), 256, GB, "65536", NULL, NULL, 0,
     "Largest routed event (name and arguments) appended to bridgeStream; a bigger one is "
     "refused ({\"error\":\"bridge entry too large\"} to its ack) and counted. With "
     "bridgeMaxLen it bounds what clients can make Redis hold."},
    {"bridgeRate", "SIOGATE_BRIDGE_RATE", CT_UINT, ST_UINT, OFF(bridge_rate), 1, 100000000, "1000",
     NULL, NULL, 0,
     "Routed events one socket may send per second (a token bucket of bridgeBurst); past it "
     "they are refused ({\"error\":\"bridge rate limit\"} to an ack) and counted."},
    {"bridgeBurst", "SIOGATE_BRIDGE_BURST", CT_UINT, ST_UINT, OFF(bridge_burst), 1, 100000000,
     "2000", NULL, NULL, 0, "Routed events one socket may send at once before bridgeRate applies."},
    {"bridgeLifecycle", "SIOGATE_BRIDGE_LIFECYCLE", CT_BOOL, ST_INT, OFF(bridge_lifecycle), 0, 1,
     "true", NULL, NULL, 0,
     "Also append a connect and a disconnect entry per socket of a routed namespace."},
    {"authJwt", "SIOGATE_AUTH_JWT", CT_ENUM, ST_STR, OFF(auth_jwt), 0, 0, "off", jwt_algs, NULL, 0,
     "Require a JSON Web Token in the CONNECT auth (auth.token) signed with this algorithm; "
     "its claims become socket.data."},
    {"authJwtKey", "SIOGATE_AUTH_JWT_KEY", CT_STRING, ST_STR, OFF(auth_jwt_key), 0, 16384, "",
     NULL, NULL, 0, "HS256: the shared secret; RS256/ES256: the PEM public key (or use authJwtKeyFile)."},
    {"authJwtKeyFile", "SIOGATE_AUTH_JWT_KEY_FILE", CT_STRING, ST_STR, OFF(auth_jwt_key_file), 0,
     4096, "", NULL, NULL, 0, "File holding authJwtKey (a PEM public key or certificate, or the secret)."},
    {"authJwtIssuer", "SIOGATE_AUTH_JWT_ISSUER", CT_STRING, ST_STR, OFF(auth_jwt_issuer), 0, 1024,
     "", NULL, NULL, 0, "When set, the token's iss must equal it."},
    {"authJwtAudience", "SIOGATE_AUTH_JWT_AUDIENCE", CT_STRING, ST_STR, OFF(auth_jwt_audience), 0,
     1024, "", NULL, NULL, 0, "When set, the token's aud must contain it."},
    {"authJwtLeeway", "SIOGATE_AUTH_JWT_LEEWAY", CT_UINT, ST_UINT, OFF(auth_jwt_leeway), 0, 3600,
     "0", NULL, NULL, 0, "Seconds of clock skew allowed on exp and nbf."},
    {"authUserRoom", "SIOGATE_AUTH_USER_ROOM", CT_BOOL, ST_INT, OFF(auth_user_room), 0, 1, "true",
     NULL, NULL, 0,
     "An authenticated socket joins room user:<sub> (JWT sub, or the auth endpoint's user), so "
     "backends reach a user on every device and node."},
    {"authUrl", "SIOGATE_AUTH_URL", CT_STRING, ST_STR, OFF(auth_url), 0, 2048, "", NULL, NULL, 0,
     "http://host[:port]/path: POST each CONNECT's handshake summary there; 2xx JSON accepts "
     "(its data, user and rooms are applied), 401/403 refuses."},
    {"authMaxPending", "SIOGATE_AUTH_MAX_PENDING", CT_UINT, ST_SIZE, OFF(auth_max_pending), 1,
     100000, "256", NULL, NULL, 0,
     "Requests to authUrl in flight at once (each holds a descriptor); past it a CONNECT is "
     "refused with \"authentication unavailable\"."},
    {"authTimeout", "SIOGATE_AUTH_TIMEOUT", CT_UINT, ST_UINT, OFF(auth_timeout), 1, MS_MAX, "5000",
     NULL, NULL, 0, "Milliseconds authUrl has to answer; then the CONNECT is refused."},
};

const size_t sg_config__nrows = sizeof sg_config__rows / sizeof sg_config__rows[0];

_Static_assert(sizeof sg_config__rows / sizeof sg_config__rows[0] <=
                   8 * sizeof(((sg_config_t *)0)->explicit_set),
               "sg_config_t.explicit_set needs one bit per row");

/* ---- string checks ------------------------------------------------------ */

static int has_space_or_ctl(const char *v)
{
    for (; *v; v++)
        if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v))
            return 1;
    return 0;
}

static const char *check_host(const char *v, char **norm)
{
    (void)norm;
    return has_space_or_ctl(v) ? "must not contain spaces" : NULL;
}

static const char *check_path(const char *v, char **norm)
{
    if (has_space_or_ctl(v) || strpbrk(v, "?#"))
        return "must not contain spaces, '?' or '#'";
    size_t n = strlen(v);
    char *p = sg_malloc(n + 3);
    size_t k = 0;
    if (v[0] != '/')
        p[k++] = '/';
    memcpy(p + k, v, n);
    k += n;
    if (p[k - 1] != '/')
        p[k++] = '/';
    p[k] = '\0';
    *norm = p;
    return NULL;
}

/* Drops the blanks people put after commas, so consumers can split on ','. */
/* bridgeEvents: "<nsp>:<pattern>" items; the namespace starts with '/'
 * and holds no ':' (the first ':' ends it), the pattern is not empty. */
static const char *check_routes(const char *v, char **norm)
{
    (void)norm;
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (p[0] != '/' || !colon || colon == p + n - 1)
            return "each route is <namespace>:<event pattern>, e.g. /:* or /orders:order.*";
        p += n + (end ? 1 : 0);
    }
    return NULL;
}

static const char *check_namespaces(const char *v, char **norm)
{
    const char *item, *why = NULL;
    size_t len, k = 0;
    if (!*v)
        return NULL;
    char *out = sg_malloc(strlen(v) + 1);
    for (const char *p = v; !why && sg_config__next_item(&p, &item, &len);) {
        if (len == 0)
            why = "empty entry in the list";
        else if (*item != '/')
            why = "each namespace must start with '/'";
        else if (strcspn(item, " \t") < len)
            why = "namespaces must not contain spaces";
        if (k)
            out[k++] = ',';
        memcpy(out + k, item, len);
        k += len;
    }
    out[k] = '\0';
    if (why)
        sg_free(out);
    else
        *norm = out;
    return why;
}
