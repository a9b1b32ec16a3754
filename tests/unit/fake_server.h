/* fake_server.h - a siogate server that is never started, whose sessions
 * run on a fake transport keeping what is queued: the test plays the
 * clients (packets in with fake_deliver, packets out with fake_next). */
#ifndef SG_FAKE_SERVER_H
#define SG_FAKE_SERVER_H

#include "sio_internal.h"

typedef struct {
    sg_server_t *srv;
    sg_config_t cfg;
} env_t;

/** A server with maxPendingAcks = max_pending ("/" and "/custom" exist). */
env_t *env_new(size_t max_pending);
void env_free(env_t *v);
/** One Engine.IO text packet from the client of session s. */
void fake_deliver(sg_session_t *s, const char *text);
/** The next packet queued for the client (heap copy, NUL-terminated). */
char *fake_next(sg_session_t *s);
/** A WebSocket session whose client joined "/" (its CONNECT answered). */
sg_session_t *fake_client(env_t *v);

#endif
