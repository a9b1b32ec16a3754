/* admin_ui.h - the server side of @socket.io/admin-ui 0.5.1 (adminUi=true):
 * the /admin namespace protocol, in its "development" mode (every socket
 * and event shown), so the official admin UI page works unchanged.
 *
 * Auth: {username, password} checked against adminUiPasswordHash (bcrypt,
 * through libcrypt, on libuv's thread pool so a login never blocks the
 * loop; at most 4 checks at a time, the rest refused), then the "session"
 * event hands out a session id accepted instead of the password
 * afterwards (the last 256 are kept).
 * To the admin namespace (a broadcast, so an admin UI on one node of a
 * cluster sees every node's stats): "config", "all_sockets" (fetchSockets
 * of every namespace, cluster-wide), "server_stats" every 2 s (uptime,
 * clients, polling clients, namespaces, and aggregatedEvents: connections,
 * disconnections by reason, packets and bytes in and out, per second), and
 * while some admin socket is connected to this node: socket_connected,
 * socket_updated (transport upgrades), socket_disconnected, room_joined,
 * room_left, event_received. From it: "emit", "join", "leave",
 * "_disconnect" (all cluster-wide, as Node's socketsJoin etc.).
 * Not sent: event_sent (Node taps every outgoing packet for it; here that
 * would put a per-recipient cost on every broadcast). */
#ifndef SG_ADMIN_UI_H
#define SG_ADMIN_UI_H

#include <stddef.h>

#include "sio_internal.h"

typedef struct sg_admin_ui sg_admin_ui_t;

/** Install on srv (cfg.admin_ui): 0, or SG_EINVAL with err filled (no or a
 *  malformed password hash). */
int sg_admin_ui_new(sg_server_t *srv, sg_admin_ui_t **out, char *err, size_t errlen);
/** Stop the stats timer and forget the sessions (the namespace goes with
 *  the server). NULL is a no-op. */
void sg_admin_ui_free(sg_admin_ui_t *ui);

/* Hooks the server calls while an admin UI is installed. */
void sg_admin_ui__nsp_added(sg_admin_ui_t *ui, sg_nsp_t *nsp);
void sg_admin_ui__membership(sg_admin_ui_t *ui, sg_socket_t *s, const char *room, size_t len,
                             int joined);
void sg_admin_ui__event(sg_admin_ui_t *ui, sg_socket_t *s, const sg_sio_packet_t *pkt);
void sg_admin_ui__upgraded(sg_admin_ui_t *ui, sg_session_t *sess);

#endif
