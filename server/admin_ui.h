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

/* The entry point, sg_admin_ui_install, is public: see siogate.h. The admin
 * UI registers itself as the server's observer (observe.h), so nothing in
 * the Socket.IO layer calls it by name. */

#endif
