/* metrics.h - the server's counters as Prometheus text (exposition format
 * 0.0.4), for the admin listener's /metrics.
 *
 * Families: engineio_* (sessions by transport, opened/closed by reason,
 * upgrades, packets and bytes each way, output queues, slow consumers),
 * socketio_* (sockets and rooms by namespace, connects, disconnects,
 * events, broadcasts and deliveries, acks), siogate_* (connections,
 * draining, the adapter and its Redis connections) and the standard
 * process_* (resident memory, descriptors, CPU, start time). Every value
 * is read from the stats seam (stats.h) and the modules' own counters at
 * scrape time; nothing on the hot paths changes. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include "buf.h"

struct sg_server;

/** Append the whole exposition to out. */
void sg_metrics_render(struct sg_server *srv, sg_sbuf_t *out);

/** A module's own families, appended at each scrape (registered with
 *  sg_server__add_metrics), so this file needs to know no module. */
typedef void (*sg_metrics_writer)(void *ud, sg_sbuf_t *out);
/** The HELP and TYPE lines of a family. */
void sg_metrics_head(sg_sbuf_t *o, const char *name, const char *type, const char *help);
/** A family of one unlabelled sample. */
void sg_metrics_one(sg_sbuf_t *o, const char *name, const char *type, const char *help,
                    unsigned long long v);
/** One sample "name{label="value"} v" (value escaped). */
void sg_metrics_labelled(sg_sbuf_t *o, const char *name, const char *label, const char *value,
                         unsigned long long v);

#endif
