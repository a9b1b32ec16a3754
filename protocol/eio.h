/* eio.h - Engine.IO packets and long-polling payloads: protocol v4 here,
 * v3 (eio3.c) and JSONP (eio_jsonp.c) behind the same version table.
 *
 * Pure codec: no I/O, no state. Text packets are "<type digit><data>"; a
 * binary message packet is raw bytes (WebSocket) or "b<base64>" inside a
 * polling payload. Payloads join packets with the record separator 0x1e. */
#ifndef SG_EIO_H
#define SG_EIO_H

#include <stddef.h>
#include "buf.h"

typedef enum {
    SG_EIO_OPEN = 0,
    SG_EIO_CLOSE = 1,
    SG_EIO_PING = 2,
    SG_EIO_PONG = 3,
    SG_EIO_MESSAGE = 4,
    SG_EIO_UPGRADE = 5,
    SG_EIO_NOOP = 6,
} sg_eio_type_t;

#define SG_EIO_SEPARATOR 0x1e

/** A decoded packet. data/len borrow from the input for text packets; for a
 *  binary packet decoded from base64, bin holds the bytes (owned by the
 *  decoder's caller only during the callback; take a reference to keep it). */
typedef struct sg_eio_packet {
    sg_eio_type_t type;
    int binary;               /* 1: binary message (type is MESSAGE) */
    const unsigned char *data; /* payload after the type digit / raw bytes */
    size_t len;
    sg_buf_t *bin;            /* binary decoded from base64, else NULL */
} sg_eio_packet_t;

/** Decode one text packet (a WebSocket text frame, or one payload segment that
 *  does not start with 'b'). Empty input, an unknown type digit -> SG_EINVAL. */
int sg_eio_decode_text(const void *s, size_t len, sg_eio_packet_t *out);

/** Called once per packet of a payload. Return non-zero to stop decoding
 *  (sg_eio_decode_payload then returns that value). */
typedef int (*sg_eio_packet_cb)(const sg_eio_packet_t *pkt, void *ud);

/** Decode a polling payload (POST body), calling cb for each packet in order.
 *  max_packets bounds the number of segments (0 = no bound). Every segment is
 *  validated before the first callback runs, so a malformed payload delivers
 *  nothing. Returns 0, SG_EINVAL (malformed), SG_ETOOBIG (too many packets)
 *  or the callback's non-zero value. */
int sg_eio_decode_payload(const void *body, size_t len, size_t max_packets, sg_eio_packet_cb cb,
                          void *ud);

/** Append a text packet "<type><data>" to a payload under construction,
 *  preceded by 0x1e unless sb is empty. */
void sg_eio_payload_add_text(sg_sbuf_t *sb, sg_eio_type_t type, const void *data, size_t len);
/** Append an already encoded text packet (type digit included). */
void sg_eio_payload_add_encoded(sg_sbuf_t *sb, const void *pkt, size_t len);
/** Append a binary message packet as "b<base64>", preceded by 0x1e unless sb is empty. */
void sg_eio_payload_add_binary(sg_sbuf_t *sb, const void *data, size_t len);

/** Encode a single text packet into a new buffer (refs = 1). */
sg_buf_t *sg_eio_encode_text(sg_eio_type_t type, const void *data, size_t len);

/** Build the open packet JSON body:
 *  0{"sid":"..","upgrades":[..],"pingInterval":N,"pingTimeout":N,"maxPayload":N}
 *  upgrades_websocket: 1 -> ["websocket"], 0 -> []. */
sg_buf_t *sg_eio_encode_open(const char *sid, int upgrades_websocket, unsigned ping_interval,
                             unsigned ping_timeout, size_t max_payload);

/** How a polling response body is framed (chosen per response by the
 *  transport; v4 has one form and ignores it). */
typedef enum {
    SG_EIO_FORM_TEXT = 0,   /* a string: binary packets as base64 text */
    SG_EIO_FORM_BINARY = 1, /* v3 only: the XHR2 binary payload */
} sg_eio_form_t;

/** What differs between Engine.IO protocol versions (the EIO query
 *  parameter): the server reaches these through the session's version, so a
 *  version is one more instance (eio3.c), not edits across the server. */
typedef struct sg_eio_version {
    unsigned version;      /* the EIO query value it answers to */
    unsigned server_pings; /* 1: the server pings, the client answers (v4);
                              0: the client pings and the server answers (v3) */
    unsigned binary_posts; /* 1: a POST may carry a binary payload
                              (Content-Type application/octet-stream) */
    unsigned ws_type_byte; /* 1: binary WebSocket frames start with the type byte 4 */
    unsigned bad_post_ok;  /* 1: a malformed POST is still answered 200 "ok" (Node
                              does so for v3; the session is closed either way) */
    /** The handshake's open packet (type digit included). */
    sg_buf_t *(*open_packet)(const char *sid, int upgrades_websocket, unsigned ping_interval,
                             unsigned ping_timeout, size_t max_payload);
    /** Decode a polling POST body (binary: sent as application/octet-stream),
     *  with the contract of sg_eio_decode_payload. */
    int (*decode_payload)(const void *body, size_t len, int binary, size_t max_packets,
                          sg_eio_packet_cb cb, void *ud);
    /** Decode one WebSocket message. On success out->bin may hold a new
     *  reference (binary data) that the caller releases. */
    int (*decode_frame)(const void *d, size_t len, int binary, sg_eio_packet_t *out);
    /** Append one queued packet (text with its type digit, or binary when
     *  SG_BUF_BINARY is set) to a polling response body of the given form. */
    void (*payload_add)(sg_sbuf_t *sb, const sg_buf_t *pkt, sg_eio_form_t form);
} sg_eio_version_t;

extern const sg_eio_version_t sg_eio_v4;
extern const sg_eio_version_t sg_eio_v3;

/** The version an EIO query value names ("4"; "3" only when allow_v3), or
 *  NULL when unsupported. */
const sg_eio_version_t *sg_eio_version_find(const char *eio, size_t len, int allow_v3);
/** The version numbered v (as stored by a session), or NULL. */
const sg_eio_version_t *sg_eio_version_get(unsigned v);

/** Wrap a text payload for JSONP polling: ___eio[index]("<payload as a
 *  JavaScript string literal>"); (eio_jsonp.c). */
void sg_eio_jsonp_wrap(sg_sbuf_t *out, unsigned index, const void *payload, size_t len);
/** The payload of a JSONP POST body (form-encoded, field d, newlines
 *  escaped by the client) into out. Returns 0, or SG_ENOTFOUND when the body
 *  has no single d field (Node then delivers nothing). */
int sg_eio_jsonp_body(const void *body, size_t len, sg_sbuf_t *out);

#endif
