/* sio.h - Socket.IO protocol v5 packets, binary attachments included.
 *
 * Data model: a packet's data is a jansson value in which every binary value
 * is a placeholder object {"_placeholder":true,"num":N} whose N indexes the
 * packet's bins[] array. Decoding keeps the client's placeholders and collects
 * the binary messages that follow; encoding renumbers the placeholders in
 * order of appearance, so a handler may reorder or drop arguments and still
 * send the data back unchanged. */
#ifndef SG_SIO_H
#define SG_SIO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "buf.h"

typedef enum {
    SG_SIO_CONNECT = 0,
    SG_SIO_DISCONNECT = 1,
    SG_SIO_EVENT = 2,
    SG_SIO_ACK = 3,
    SG_SIO_CONNECT_ERROR = 4,
    SG_SIO_BINARY_EVENT = 5,
    SG_SIO_BINARY_ACK = 6,
} sg_sio_type_t;

typedef struct sg_sio_packet {
    sg_sio_type_t type;
    char *nsp;          /* owned; "/" when absent */
    int64_t id;         /* ack id, -1 when absent */
    json_t *data;       /* owned reference; NULL when the packet has none */
    size_t attachments; /* binary messages still expected (decoder) */
    sg_buf_t **bins;    /* owned references */
    size_t nbins;
} sg_sio_packet_t;

typedef struct sg_sio_limits {
    size_t max_attachments; /* socket.io-parser's default is 10 */
} sg_sio_limits_t;

/** Zero-initialise p (id = -1). */
void sg_sio_packet_init(sg_sio_packet_t *p);
/** Release everything p owns and re-initialise it. */
void sg_sio_packet_clear(sg_sio_packet_t *p);

/** Decode the text of a Socket.IO packet (the Engine.IO message data, without
 *  the leading '4'). Applies socket.io-parser's validity rules: known type;
 *  for types 5/6 an attachment count >= 1 and <= limits->max_attachments
 *  followed by '-'; namespace from '/' up to ',' or end; ack id digits only
 *  (at most 15 digits); payload JSON valid for the type (CONNECT: object or
 *  none; DISCONNECT: none; EVENT: array with a string or number first element
 *  that is not a reserved name; ACK: array; CONNECT_ERROR: object or string).
 *  On success p->attachments says how many binary messages must follow
 *  (0 for a complete packet). Returns 0 or SG_EINVAL / SG_ETOOBIG.
 *  p is overwritten without being released first (it need not be
 *  initialised); on failure it owns nothing. limits may be NULL (10). */
int sg_sio_decode(const void *s, size_t len, const sg_sio_limits_t *limits, sg_sio_packet_t *p);

/** Feed one binary message to a packet awaiting attachments (takes a new
 *  reference to b). Returns 1 when the packet is complete (then every
 *  placeholder has been checked to index an attachment), 0 when more are
 *  expected, SG_ESTATE when none was expected, SG_EINVAL when a placeholder is
 *  invalid once complete. */
int sg_sio_add_attachment(sg_sio_packet_t *p, sg_buf_t *b);

/** An encoded packet: the Engine.IO message text ("4" + Socket.IO text) with
 *  SG_BUF_HEADROOM, plus the binary messages to send right after it. */
typedef struct sg_sio_encoded {
    sg_buf_t *text;
    sg_buf_t **bins; /* each with SG_BUF_BINARY set */
    size_t nbins;
} sg_sio_encoded_t;

/** Encode p. EVENT/ACK become BINARY_EVENT/BINARY_ACK when the data holds
 *  placeholders that index p->bins (renumbered in order of appearance).
 *  p->nsp may be NULL for "/". Returns 0 or SG_EINVAL (event data not an
 *  array, etc.). The result holds new references; free with
 *  sg_sio_encoded_clear. */
int sg_sio_encode(const sg_sio_packet_t *p, sg_sio_encoded_t *out);
void sg_sio_encoded_clear(sg_sio_encoded_t *e);

/** 1 when name is reserved (connect, connect_error, disconnect,
 *  disconnecting, newListener, removeListener). */
int sg_sio_is_reserved_event(const char *name);

#endif
