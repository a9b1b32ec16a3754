/* drain.h - a graceful exit (drainSeconds > 0): new sessions are refused
 * ("Server draining", 503 for polling, 400 before the WebSocket 101),
 * /ready turns 503, and the sessions open when the drain began are closed
 * a few at a time, evenly over drainSeconds, so that they reconnect to the
 * other nodes in a trickle instead of a herd. Each is closed as a server
 * shutdown ("server shutting down"): the clients reconnect on their own, and
 * with connection state recovery their sessions are kept for it. When none
 * is left (or drainSeconds + 1 s have passed) the server stops as usual.
 * A second signal stops at once. */
#ifndef SG_DRAIN_H
#define SG_DRAIN_H

struct sg_server;

/** A signal arrived: begin draining, or call stop(srv) now when there is
 *  nothing to drain, drainSeconds is 0, or a drain is already under way;
 *  a drain calls stop(srv) when it ends. */
void sg_drain_signal(struct sg_server *srv, const char *name, void (*stop)(struct sg_server *));

#endif
