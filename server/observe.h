/* observe.h - one watcher of the Socket.IO layer (the admin UI is one).
 *
 * The layer calls these where things happen, through the server, without
 * knowing who listens: a module that watches registers itself here instead
 * of being called by name, so the socket, client and server files do not
 * depend on it. Every function may be NULL. */
#ifndef SG_OBSERVE_H
#define SG_OBSERVE_H

#include <stddef.h>

#include "engine.h"
#include "sio.h"

struct sg_nsp;
struct sg_socket;

typedef struct sg_observer {
    /** A namespace was created (the ones before registration are not told). */
    void (*nsp_added)(void *ud, struct sg_nsp *nsp);
    /** A socket joined (1) or left (0) an explicit room, by any path. */
    void (*membership)(void *ud, struct sg_socket *s, const char *room, size_t len, int joined);
    /** An EVENT packet from a client, before its handler runs. */
    void (*event)(void *ud, struct sg_socket *s, const sg_sio_packet_t *pkt);
    /** A session moved to WebSocket. */
    void (*upgraded)(void *ud, sg_session_t *sess);
    /** The server is stopping: release what was registered (the observer is
     *  forgotten right after). */
    void (*stop)(void *ud);
    void *ud;
} sg_observer_t;

#endif
