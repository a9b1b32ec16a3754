/* gateway.h - gateway mode: client events handed to workers in any
 * language through a Redis Stream (the bridge, gateway_bridge.c), and
 * connect-time authentication by JSON Web Token or an HTTP endpoint
 * (gateway_auth.c); gateway.c starts and stops them.
 *
 * Both sit on the embedding API like an app: the bridge is a catch-all
 * event handler on each routed namespace (events an app handles itself stay
 * with the app), the authentication a middleware on every namespace. Entry
 * and reply formats: README, "Gateway mode". */
#ifndef SG_GATEWAY_H
#define SG_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "siogate.h"

typedef struct sg_gw sg_gateway_t;

/** Install what the configuration asks for (bridge != off, authJwt != off,
 *  authUrl set) on srv; *out is NULL when nothing is on. 0, or SG_EINVAL
 *  with err filled (a key that does not load, a bad authUrl, a bad Redis
 *  URL). Call after the apps are installed, before sg_server_start. The
 *  gateway stops with the server and is freed with it; its counters are
 *  on /metrics (siogate_bridge_*, siogate_auth_*). */
int sg_gateway_install(sg_server_t *srv, sg_gateway_t **out, char *err, size_t errlen);

#endif
