/* buf.c - refcounted byte buffers and the growable builder. */
#include "buf.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The struct and its bytes share one allocation: a broadcast buffer is
 * created once and freed once, so two allocations would only add cost. The
 * headroom sits right in front of the data as lws requires. */
typedef struct sg_buf_block {
    sg_buf_t hdr;
    unsigned char mem[];
} sg_buf_block_t;

sg_buf_t *sg_buf_new(size_t len)
{
    if (len > SIZE_MAX - sizeof(sg_buf_block_t) - SG_BUF_HEADROOM)
        abort();
    sg_buf_block_t *blk = sg_malloc(sizeof(*blk) + SG_BUF_HEADROOM + len);
    blk->hdr.refs = 1;
    blk->hdr.flags = 0;
    blk->hdr.len = len;
    blk->hdr.data = blk->mem + SG_BUF_HEADROOM;
    return &blk->hdr;
}

sg_buf_t *sg_buf_new_copy(const void *data, size_t len)
{
    sg_buf_t *b = sg_buf_new(len);
    if (len)
        memcpy(b->data, data, len);
    return b;
}

sg_buf_t *sg_buf_ref(sg_buf_t *b)
{
    assert(b->refs > 0 && b->refs < UINT32_MAX);
    b->refs++;
    return b;
}

/* A builder's storage becomes a buffer without a copy: its allocation starts
 * with room for the header, so sg_sbuf_finish only fills it in. The builder
 * layout therefore reserves sizeof(sg_buf_block_t) in front of the headroom;
 * sg_sbuf_data() hides this because base points past that header. */
#define SG_SBUF_PREFIX offsetof(sg_buf_block_t, mem)

void sg_buf_unref(sg_buf_t *b)
{
    if (!b)
        return;
    assert(b->refs > 0);
    if (--b->refs == 0) {
        /* data always points SG_BUF_HEADROOM bytes after the header's end,
         * whether the buffer came from sg_buf_new or sg_sbuf_finish. */
        free(b);
    }
}

void sg_bufs_free(sg_buf_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_buf_unref(v[i]);
    sg_free(v);
}

void sg_sbuf_init(sg_sbuf_t *sb)
{
    sb->base = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void sg_sbuf_reset(sg_sbuf_t *sb)
{
    if (sb->base)
        free(sb->base - SG_SBUF_PREFIX);
    sg_sbuf_init(sb);
}

void sg_sbuf_reserve(sg_sbuf_t *sb, size_t extra)
{
    if (extra <= sb->cap - sb->len)
        return;
    if (extra > SIZE_MAX / 2 - sb->len - SG_SBUF_PREFIX - SG_BUF_HEADROOM)
        abort();
    size_t need = sb->len + extra;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    unsigned char *old = sb->base ? sb->base - SG_SBUF_PREFIX : NULL;
    unsigned char *mem = sg_realloc(old, SG_SBUF_PREFIX + SG_BUF_HEADROOM + cap);
    sb->base = mem + SG_SBUF_PREFIX;
    sb->cap = cap;
}

void sg_sbuf_append(sg_sbuf_t *sb, const void *p, size_t n)
{
    if (!n)
        return;
    sg_sbuf_reserve(sb, n);
    memcpy(sb->base + SG_BUF_HEADROOM + sb->len, p, n);
    sb->len += n;
}

void sg_sbuf_putc(sg_sbuf_t *sb, char c)
{
    sg_sbuf_reserve(sb, 1);
    sb->base[SG_BUF_HEADROOM + sb->len++] = (unsigned char)c;
}

void sg_sbuf_puts(sg_sbuf_t *sb, const char *s)
{
    sg_sbuf_append(sb, s, strlen(s));
}

void sg_sbuf_put_u64(sg_sbuf_t *sb, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sg_sbuf_append(sb, tmp + i, sizeof(tmp) - i);
}

sg_buf_t *sg_sbuf_finish(sg_sbuf_t *sb)
{
    if (!sb->base)
        return sg_buf_new(0);
    sg_buf_block_t *blk = (sg_buf_block_t *)(void *)(sb->base - SG_SBUF_PREFIX);
    blk->hdr.refs = 1;
    blk->hdr.flags = 0;
    blk->hdr.len = sb->len;
    blk->hdr.data = blk->mem + SG_BUF_HEADROOM;
    sg_sbuf_init(sb);
    return &blk->hdr;
}
