/* siogate.h - the embedding API.
 *
 * A single-threaded Socket.IO v5 server: create it from a configuration,
 * register namespaces and handlers, run the libuv loop. Every call must be
 * made on the loop's thread. Data travels as sg_data_t: a list of JSON values
 * (jansson) in which binary values are placeholders resolved through the
 * sg_data_t (see sg_data_get_binary).
 *
 * Lifetimes: an sg_socket_t is valid inside the callbacks that receive it; to
 * keep it longer take a reference (sg_socket_ref). After its disconnect the
 * calls on it are harmless no-ops returning SG_ESTATE. */
#ifndef SIOGATE_H
#define SIOGATE_H

#include <stddef.h>
#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "util.h"

typedef struct sg_server sg_server_t;
typedef struct sg_nsp sg_nsp_t;
typedef struct sg_socket sg_socket_t;
typedef struct sg_data sg_data_t;
typedef struct sg_ack sg_ack_t;
typedef struct sg_bcast sg_bcast_t;

/** Result of an emit that collects acknowledgements from many clients or
 *  servers: err 0 or SG_ETIMEOUT, and the responses received (borrowed). */
typedef void (*sg_bcast_ack_cb)(int err, sg_data_t **responses, size_t n, void *ud);

/* ---- server ---- */

/** Create a server. cfg is copied. loop may be NULL (the server then owns a
 *  loop). Returns NULL with a message in err on failure. */
sg_server_t *sg_server_new(const sg_config_t *cfg, uv_loop_t *loop, char *err, size_t errlen);
/** Start listening. Returns 0 or SG_EIO. */
int sg_server_start(sg_server_t *srv);
/** Run the loop until sg_server_stop (or SIGINT/SIGTERM when handle_signals). */
int sg_server_run(sg_server_t *srv, int handle_signals);
/** Disconnect everyone ("server shutting down") and stop listening. */
void sg_server_stop(sg_server_t *srv);
void sg_server_free(sg_server_t *srv);
uv_loop_t *sg_server_loop(sg_server_t *srv);
const sg_config_t *sg_server_config(const sg_server_t *srv);
/** The namespace called name, created on first use ("/" always exists). */
sg_nsp_t *sg_server_of(sg_server_t *srv, const char *name);
/** Call cb for every namespace that exists now. */
void sg_server_foreach_nsp(sg_server_t *srv, void (*cb)(sg_nsp_t *nsp, void *ud), void *ud);
/** Bare Engine.IO echo endpoint (conformance testing): every message
 *  received on `path` is sent back. */
void sg_server_enable_eio_echo(sg_server_t *srv, const char *path);
/** Attach application state to the server; free_fn (may be NULL) runs on it
 *  in sg_server_free, after every socket is gone. Replaces earlier data. */
void sg_server_set_app_data(sg_server_t *srv, void *data, void (*free_fn)(void *));
/** A module's two ends: stop runs first thing in sg_server_stop (latest
 *  registered first), while sockets and the loop are still there -- let go
 *  of loop handles and sockets there; the disconnect handlers of every
 *  socket still run after it. release runs in sg_server_free once every
 *  socket is gone, with the app's data: free the module there. Either may
 *  be NULL. */
void sg_server_on_stop(sg_server_t *srv, void (*stop)(void *ud), void (*release)(void *ud),
                       void *ud);
/** Write one line to the server's log (stderr), if lvl passes logLevel. */
void sg_server_log(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- data ---- */

sg_data_t *sg_data_new(void);
void sg_data_free(sg_data_t *d);
size_t sg_data_count(const sg_data_t *d);
/** Argument i (borrowed), or NULL past the end. A binary argument is a
 *  placeholder object; resolve it with sg_data_get_binary. */
json_t *sg_data_get(const sg_data_t *d, size_t i);
/** Resolve a placeholder value v (argument or nested) to its bytes: 0, or
 *  SG_EINVAL when v is not a binary value. */
int sg_data_binary(const sg_data_t *d, const json_t *v, const void **p, size_t *len);
/** Append a JSON value (reference stolen). */
void sg_data_push(sg_data_t *d, json_t *v);
/** Append a binary value (bytes copied). */
void sg_data_push_binary(sg_data_t *d, const void *p, size_t len);
/** Append src's arguments from index `from` on (binary values shared). */
void sg_data_push_from(sg_data_t *d, const sg_data_t *src, size_t from);
/** Copy value v of src (an argument or part of one) for use in d: binary
 *  values are re-pointed at buffers shared into d. Returns a new reference
 *  to place anywhere inside d's arguments. */
json_t *sg_data_import(sg_data_t *d, const sg_data_t *src, const json_t *v);
/** Convenience: data from a JSON array (reference stolen). */
sg_data_t *sg_data_from_json(json_t *array);

/* ---- namespaces ---- */

typedef void (*sg_connection_cb)(sg_socket_t *s, void *ud);
typedef void (*sg_disconnect_cb)(sg_socket_t *s, const char *reason, void *ud);
/** args is borrowed for the call; ack is non-NULL when the client asked for an
 *  acknowledgement (see sg_ack_*). */
typedef void (*sg_event_cb)(sg_socket_t *s, const char *event, sg_data_t *args, sg_ack_t *ack,
                            void *ud);
/** Connection middleware: call sg_socket_next(s, NULL, NULL) to accept, or
 *  with an error message (and optional data, stolen) to refuse, now or later. */
typedef void (*sg_middleware_cb)(sg_socket_t *s, const json_t *auth, void *ud);

const char *sg_nsp_name(const sg_nsp_t *nsp);
sg_server_t *sg_nsp_server(const sg_nsp_t *nsp);
void sg_nsp_use(sg_nsp_t *nsp, sg_middleware_cb cb, void *ud);
void sg_nsp_on_connection(sg_nsp_t *nsp, sg_connection_cb cb, void *ud);
void sg_nsp_on_disconnect(sg_nsp_t *nsp, sg_disconnect_cb cb, void *ud);
/** Handler for one event name; event "*" catches events with no handler. */
void sg_nsp_on(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud);
size_t sg_nsp_socket_count(const sg_nsp_t *nsp);
/** Every room of the namespace (on this node: rooms with a local socket,
 *  socket ids included) as a new JSON array of strings. */
json_t *sg_nsp_all_rooms(const sg_nsp_t *nsp);
/** Handler for events sent by other servers of the cluster (serverSideEmit).
 *  ack is non-NULL when the sender expects an answer. */
void sg_nsp_on_server_event(sg_nsp_t *nsp, const char *event, sg_event_cb cb, void *ud);
/** Emit an event to the other servers of the cluster (Node's
 *  serverSideEmit). With cb, each other server's first ack argument is
 *  collected: cb(0, responses) once every server answered, or
 *  cb(SG_ETIMEOUT, partial responses) after requestsTimeout. With the
 *  in-memory adapter there are no other servers: nothing is sent, and cb
 *  runs at once with no responses. Returns SG_EIO (cb not called) when the
 *  cluster is unreachable. */
int sg_nsp_server_side_emit(sg_nsp_t *nsp, const char *event, const sg_data_t *args,
                            sg_bcast_ack_cb cb, void *ud);
/** Number of local sockets in room. */
size_t sg_nsp_room_size(const sg_nsp_t *nsp, const char *room);
/** The same for a room name of len bytes (names may hold any byte, NUL
 *  included: Socket.IO compares whole strings). */
size_t sg_nsp_room_size_n(const sg_nsp_t *nsp, const char *room, size_t len);

/** Result of a cluster-wide request. err: 0, SG_ETIMEOUT (msg holds Node's
 *  text) or SG_ESTATE (server stopping); result (borrowed) holds this node's
 *  part first, then the other nodes' (only this node's on error). */
typedef void (*sg_cluster_cb)(int err, const char *msg, json_t *result, void *ud);
/** Every room of the namespace across the cluster (Node's adapter.allRooms(),
 *  also the legacy allRooms of socket.io-redis 5.x):
 *  result is an array of room names without duplicates. Returns 0 (cb runs
 *  once, maybe at once) or SG_EIO when the cluster is unreachable (cb not
 *  called). */
int sg_nsp_all_rooms_cluster(sg_nsp_t *nsp, sg_cluster_cb cb, void *ud);

/* ---- legacy names (socket.io-redis 5.x adapter API) ----
 *
 * Thin calls onto the requests above, for code written against the seed
 * API. Legacy name -> siogate call:
 *   allRooms            sg_nsp_all_rooms_cluster (above)
 *   remoteJoin          sg_nsp_remote_join        socketsJoin  on room <id>
 *   remoteLeave         sg_nsp_remote_leave       socketsLeave on room <id>
 *   remoteDisconnect    sg_nsp_remote_disconnect  disconnectSockets on room <id>
 *   clientRooms         sg_nsp_client_rooms       fetchSockets on room <id>
 *   customRequest       sg_nsp_custom_request     serverSideEmit with ack of
 *   customHook          sg_nsp_custom_hook        the event SG_CUSTOM_EVENT */

/** Completion of a legacy remote operation (see sg_nsp_remote_join). */
typedef void (*sg_legacy_cb)(int err, void *ud);

/** remoteJoin: make the socket called socket_id, on whichever node holds it,
 *  join room. A local socket joins at once; otherwise socketsJoin targeted
 *  at the room named by the id goes to every node (a REMOTE_JOIN request
 *  Node peers and the 8.x adapter understand). Those requests carry no
 *  answer, so cb (may be NULL) runs once, before the call returns, with the
 *  same value the call returns: 0 (applied here, or sent to the cluster),
 *  SG_ENOTFOUND (no cluster and no such local socket), SG_EIO (cluster
 *  unreachable) or SG_EINVAL. */
int sg_nsp_remote_join(sg_nsp_t *nsp, const char *socket_id, const char *room, sg_legacy_cb cb,
                       void *ud);
/** remoteLeave: as sg_nsp_remote_join, with socketsLeave. */
int sg_nsp_remote_leave(sg_nsp_t *nsp, const char *socket_id, const char *room,
                        sg_legacy_cb cb, void *ud);
/** remoteDisconnect: as sg_nsp_remote_join, with disconnectSockets(close). */
int sg_nsp_remote_disconnect(sg_nsp_t *nsp, const char *socket_id, int close, sg_legacy_cb cb,
                             void *ud);
/** clientRooms: the rooms of one socket wherever it is in the cluster (a
 *  local socket answers at once, otherwise fetchSockets targeted at its id).
 *  cb gets result = the array of its rooms (own id first), or err
 *  SG_ENOTFOUND with result NULL when no node holds it; other errors as
 *  sg_nsp_all_rooms_cluster. Returns 0 (cb runs once) or SG_EIO / SG_EINVAL
 *  (cb not called). */
int sg_nsp_client_rooms(sg_nsp_t *nsp, const char *socket_id, sg_cluster_cb cb, void *ud);

/** Server-side event name that carries customRequest / customHook. The 8.x
 *  redis adapter has no CUSTOM request type, so they ride on serverSideEmit
 *  with an ack under this name (Node peers answer it by listening with
 *  io.on("siogate:custom", (data, cb) => cb(reply)) on serverSideEmit). */
#define SG_CUSTOM_EVENT "siogate:custom"
/** customHook: the handler that answers customRequest from other nodes. It
 *  runs with s == NULL, args = the request's data, and an ack: answer with
 *  sg_ack_send (the first argument is the reply), now or later. Request and
 *  reply travel as JSON, as every serverSideEmit does: a binary value
 *  arrives as {"type":"Buffer","data":[...]}, like Node's. Replaces any
 *  hook registered before on nsp. A node with no hook does not answer (the
 *  requester then times out with the answers it got). */
void sg_nsp_custom_hook(sg_nsp_t *nsp, sg_event_cb cb, void *ud);
/** customRequest: send data (may be NULL; not consumed) to the hook of every
 *  other node and collect their replies: cb(0, replies) once each node
 *  answered, or cb(SG_ETIMEOUT, the replies received) after requestsTimeout.
 *  Unlike socket.io-redis 5.x, this node's own hook is not asked. Single
 *  node: cb(0, none) at once. Returns as sg_nsp_server_side_emit. */
int sg_nsp_custom_request(sg_nsp_t *nsp, const sg_data_t *data, sg_bcast_ack_cb cb, void *ud);

/** Cluster state: "single" (in-memory adapter), or the Redis connection's
 *  "connecting", "ready" or "down". */
const char *sg_server_cluster_state(const sg_server_t *srv);

/* ---- sockets ---- */

/** 1 when connection state recovery restored this socket's session (same
 *  id, rooms and socket.data JSON; the packets it missed were sent ahead of
 *  its CONNECT). Data set with sg_socket_set_data is not restored. */
int sg_socket_recovered(const sg_socket_t *s);
const char *sg_socket_id(const sg_socket_t *s);
sg_nsp_t *sg_socket_nsp(const sg_socket_t *s);
int sg_socket_connected(const sg_socket_t *s);
sg_socket_t *sg_socket_ref(sg_socket_t *s);
void sg_socket_unref(sg_socket_t *s);
void sg_socket_next(sg_socket_t *s, const char *err_message, json_t *err_data);
/** socket.handshake as in Node: {headers, time, address, xdomain, secure,
 *  issued, url, query, auth} (borrowed; built on first use). */
json_t *sg_socket_handshake(sg_socket_t *s);
/** Join / leave a room: 0, SG_ESTATE (socket gone) or, for a join past
 *  maxRoomsPerSocket, SG_ETOOBIG. */
int sg_socket_join(sg_socket_t *s, const char *room);
int sg_socket_leave(sg_socket_t *s, const char *room);
/** The same for a room name of len bytes (any byte, NUL included). */
int sg_socket_join_n(sg_socket_t *s, const char *room, size_t len);
int sg_socket_leave_n(sg_socket_t *s, const char *room, size_t len);
int sg_socket_in_room(const sg_socket_t *s, const char *room);
/** Rooms of the socket (own id first) as a new JSON array of strings. */
json_t *sg_socket_rooms(const sg_socket_t *s);
/** Emit to this socket. args may be NULL; it is not consumed. */
int sg_socket_emit(sg_socket_t *s, const char *event, const sg_data_t *args);
/** err: 0, SG_ETIMEOUT, or SG_ESTATE (socket gone before answering). */
typedef void (*sg_ack_cb)(sg_socket_t *s, int err, sg_data_t *args, void *ud);
/** Emit expecting an acknowledgement within timeout_ms (0 = no timeout). */
int sg_socket_emit_ack(sg_socket_t *s, const char *event, const sg_data_t *args,
                       unsigned timeout_ms, sg_ack_cb cb, void *ud);
/** Volatile emit: dropped when the transport cannot take it right now. */
int sg_socket_emit_volatile(sg_socket_t *s, const char *event, const sg_data_t *args);
/** Disconnect from this namespace ("server namespace disconnect"); with
 *  close, close the whole connection. */
void sg_socket_disconnect(sg_socket_t *s, int close);
void sg_socket_set_data(sg_socket_t *s, void *data, void (*free_fn)(void *));
/** socket.data as the other nodes see it in fetchSockets (a JSON object,
 *  borrowed, created empty on first use; modify it in place). */
json_t *sg_socket_data_json(sg_socket_t *s);
void *sg_socket_get_data(const sg_socket_t *s);

/* ---- acknowledgements received from clients ---- */

/** Keep ack beyond the event callback; then sg_ack_send or sg_ack_free must
 *  follow. Without it the ack is released when the callback returns. */
sg_ack_t *sg_ack_keep(sg_ack_t *ack);
/** Answer (args may be NULL; not consumed). Once only. */
int sg_ack_send(sg_ack_t *ack, const sg_data_t *args);
void sg_ack_free(sg_ack_t *ack);

/* ---- broadcast operator (io.to(...).except(...)...) ---- */

/** All sockets of nsp. */
sg_bcast_t *sg_bcast_new(sg_nsp_t *nsp);
/** All sockets of s's namespace except s itself (socket.broadcast). */
sg_bcast_t *sg_bcast_from(sg_socket_t *s);
sg_bcast_t *sg_bcast_to(sg_bcast_t *b, const char *room);
sg_bcast_t *sg_bcast_except(sg_bcast_t *b, const char *room);
/** The same for a room name of len bytes (any byte, NUL included). */
sg_bcast_t *sg_bcast_to_n(sg_bcast_t *b, const char *room, size_t len);
sg_bcast_t *sg_bcast_except_n(sg_bcast_t *b, const char *room, size_t len);
sg_bcast_t *sg_bcast_volatile(sg_bcast_t *b);
sg_bcast_t *sg_bcast_local(sg_bcast_t *b);
sg_bcast_t *sg_bcast_compress(sg_bcast_t *b, int on);
sg_bcast_t *sg_bcast_timeout(sg_bcast_t *b, unsigned ms);
void sg_bcast_free(sg_bcast_t *b);
/** Each of these consumes b. */
int sg_bcast_emit(sg_bcast_t *b, const char *event, const sg_data_t *args);
/** Broadcast expecting one ack per client within the timeout (default 5000
 *  ms when none was set), on every node of the cluster: cb gets every
 *  client's ack, or SG_ETIMEOUT with those that came. When the cluster
 *  part could not be sent, local clients still get it and cb reports
 *  SG_EIO with their answers. */
int sg_bcast_emit_ack(sg_bcast_t *b, const char *event, const sg_data_t *args,
                      sg_bcast_ack_cb cb, void *ud);
void sg_bcast_sockets_join(sg_bcast_t *b, const char *room);
void sg_bcast_sockets_leave(sg_bcast_t *b, const char *room);
void sg_bcast_sockets_join_n(sg_bcast_t *b, const char *room, size_t len);
void sg_bcast_sockets_leave_n(sg_bcast_t *b, const char *room, size_t len);
void sg_bcast_disconnect_sockets(sg_bcast_t *b, int close);
/** Matching local sockets (fetchSockets); cb runs once per socket, synchronously. */
size_t sg_bcast_fetch_sockets(sg_bcast_t *b, void (*cb)(sg_socket_t *s, void *ud), void *ud);
/** fetchSockets across the cluster: result is an array of RemoteSocket
 *  objects {id, handshake, rooms, data}. Consumes b; returns as
 *  sg_nsp_all_rooms_cluster. socketsJoin / socketsLeave / disconnectSockets
 *  above already reach every node. */
int sg_bcast_fetch_sockets_cluster(sg_bcast_t *b, sg_cluster_cb cb, void *ud);

/* ---- @socket.io/admin-ui (server/admin_ui.c) ---- */

/** When srv's configuration has adminUi set (no-op otherwise), serve the
 *  /admin namespace of @socket.io/admin-ui 0.5.1 (see admin_ui.h). Call once,
 *  after the application installed its handlers (so that one applied to
 *  every namespace does not land on /admin) and before sg_server_start. 0, or
 *  SG_EINVAL with err filled (adminUiPasswordHash missing or not a bcrypt
 *  hash). */
int sg_admin_ui_install(sg_server_t *srv, char *err, size_t errlen);

/* ---- built-in applications (server/apps) ---- */

/** Apply the defaults of the application cfg->app names to the settings
 *  the user did not set (call before sg_server_new). */
void sg_apps_defaults(sg_config_t *cfg);
/** Install an application by name ("chat", "testkit", "conformance",
 *  "none"): 0, or SG_EINVAL for an unknown name. */
int sg_apps_install(sg_server_t *srv, const char *name);

#endif
