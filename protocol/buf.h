/* buf.h - refcounted immutable byte buffers and a growable builder.
 *
 * An sg_buf_t is encoded once and then shared by every recipient of a
 * broadcast: each output queue entry holds one reference. Every buffer
 * reserves SG_BUF_HEADROOM bytes in front of its data so libwebsockets can
 * write a WebSocket frame header in place (LWS_PRE must not exceed it; the
 * server checks that at compile time). Once built, the bytes never change. */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stddef.h>
#include <stdint.h>

#define SG_BUF_HEADROOM 32

typedef struct sg_buf {
    uint32_t refs;
    uint32_t flags; /* SG_BUF_* below; set by the creator before sharing */
    size_t len;
    unsigned char *data; /* points SG_BUF_HEADROOM bytes into the allocation */
} sg_buf_t;

#define SG_BUF_BINARY 1u /* raw binary Engine.IO message (no type digit) */

/** New buffer of len bytes (contents uninitialised), refs = 1. */
sg_buf_t *sg_buf_new(size_t len);
/** New buffer holding a copy of data[0..len), refs = 1. */
sg_buf_t *sg_buf_new_copy(const void *data, size_t len);
/** Add a reference; returns b. */
sg_buf_t *sg_buf_ref(sg_buf_t *b);
/** Drop a reference; frees at zero. NULL is a no-op. */
void sg_buf_unref(sg_buf_t *b);
/** Drop one reference on each of v[0..n) and free the array (the binaries
 *  a decoder hands out). NULL is a no-op. */
void sg_bufs_free(sg_buf_t **v, size_t n);

/** Growable byte string used by encoders. Zero-initialise or use sg_sbuf_init. */
typedef struct sg_sbuf {
    unsigned char *base; /* allocation; data starts at base + SG_BUF_HEADROOM */
    size_t len;          /* bytes of data */
    size_t cap;          /* data capacity */
} sg_sbuf_t;

void sg_sbuf_init(sg_sbuf_t *sb);
/** Release the storage (not needed after sg_sbuf_finish). */
void sg_sbuf_reset(sg_sbuf_t *sb);
void sg_sbuf_reserve(sg_sbuf_t *sb, size_t extra);
void sg_sbuf_append(sg_sbuf_t *sb, const void *p, size_t n);
void sg_sbuf_putc(sg_sbuf_t *sb, char c);
void sg_sbuf_puts(sg_sbuf_t *sb, const char *s);
/** Append decimal representation of v. */
void sg_sbuf_put_u64(sg_sbuf_t *sb, uint64_t v);
static inline unsigned char *sg_sbuf_data(const sg_sbuf_t *sb)
{
    return sb->base ? sb->base + SG_BUF_HEADROOM : NULL;
}
/** Turn the builder's bytes into a buffer (refs = 1) without copying;
 *  the builder is left empty and reusable. */
sg_buf_t *sg_sbuf_finish(sg_sbuf_t *sb);

#endif
