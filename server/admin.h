/* admin.h - the admin listener (adminHost:adminPort, off by default): a
 * small HTTP/1.1 server on its own socket, outside libwebsockets, so that
 * probes and scrapes answer even when the public port is saturated, and so
 * that nothing of it is reachable through the public port.
 *
 *   GET /metrics  Prometheus text (metrics.h)
 *   GET /health   200 "ok" while the process runs its loop
 *   GET /ready    200 "ready", or 503 with the reason: draining, not
 *                 accepting, or the cluster adapter not connected
 *
 * One request per connection (Connection: close). Requests are bounded: 8 kB
 * of head, 5 s to send it, 64 connections at a time; anything else gets
 * 400/404/405/431 or is closed. */
#ifndef SG_ADMIN_H
#define SG_ADMIN_H

struct sg_server;
typedef struct sg_admin sg_admin_t;

/** Listen on cfg.adminHost:adminPort. 0 with *out, or SG_EIO (logged). */
int sg_admin_start(struct sg_server *srv, sg_admin_t **out);
/** The port bound (adminPort 0 is never started; a test may ask for the
 *  real one when it bound an ephemeral port). */
int sg_admin_port(const sg_admin_t *a);
/** Close the listener and every admin connection; memory goes once the
 *  loop ran the close callbacks. NULL is a no-op. */
void sg_admin_stop(sg_admin_t *a);

#endif
