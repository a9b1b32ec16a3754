/* eio3.c - Engine.IO protocol v3, the protocol of socket.io-client 1.x/2.x
 * (served when allowEIO3 is on), as the v3 entry of the version table.
 *
 * Where v3 differs from v4 on the wire:
 *  - a polling payload is "<length>:<packet>" repeated, the length counting
 *    UTF-16 code units of the packet as JavaScript sees the string, not bytes;
 *  - binary goes over polling either as text "b4<base64>" (clients that
 *    asked for b64) or as the XHR2 binary payload: per packet a byte 0
 *    (text) or 1 (binary), the length as one byte per decimal digit, 0xff,
 *    then the packet -- here lengths count bytes and a binary packet starts
 *    with its type byte 4;
 *  - binary WebSocket frames start with the type byte 4 too. */
#include <string.h>

#include "base64.h"
#include "eio.h"
#include "util.h"

/* Digits of a length, at most: 10^10 bytes is far over any body we accept. */
#define SG_EIO3_LEN_DIGITS 10

/* UTF-16 code units of text we produced (valid UTF-8): one per sequence,
 * two for the 4-byte ones (a surrogate pair in JavaScript). */
static size_t utf16_units(const unsigned char *p, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            units++;
        if (p[i] >= 0xf0)
            units++;
    }
    return units;
}

/* Bytes of the first `units` UTF-16 code units of p, validating the UTF-8
 * on the way; SG_EINVAL when p is shorter, not UTF-8, or the count ends
 * inside a surrogate pair. */
static int utf16_span(const unsigned char *p, size_t n, size_t units, size_t *bytes)
{
    size_t i = 0;
    while (units > 0) {
        if (i >= n)
            return SG_EINVAL;
        size_t l = sg_utf8_seq(p + i, n - i);
        size_t u = l == 4 ? 2 : 1;
        if (l == 0 || u > units)
            return SG_EINVAL;
        i += l;
        units -= u;
    }
    *bytes = i;
    return 0;
}

/* One text packet; "b4<base64>" is a binary message (out->bin then holds
 * the bytes, a new reference). */
static int decode_text3(const unsigned char *p, size_t n, sg_eio_packet_t *out)
{
    if (n == 0 || p[0] != 'b')
        return sg_eio_decode_text(p, n, out);
    memset(out, 0, sizeof(*out));
    /* Only a message may carry binary: "b2..." (a ping with data) means
     * nothing to a server. */
    if (n < 2 || p[1] != '0' + SG_EIO_MESSAGE)
        return SG_EINVAL;
    sg_buf_t *b;
    int rc = sg_b64_decode((const char *)p + 2, n - 2, &b);
    if (rc)
        return rc;
    b->flags |= SG_BUF_BINARY;
    out->type = SG_EIO_MESSAGE;
    out->binary = 1;
    out->bin = b;
    out->data = b->data;
    out->len = b->len;
    return 0;
}

static int decode_frame3(const void *d, size_t len, int binary, sg_eio_packet_t *out)
{
    const unsigned char *u = d;
    if (!binary)
        return decode_text3(u, len, out);
    memset(out, 0, sizeof(*out));
    if (len == 0 || u[0] != SG_EIO_MESSAGE)
        return SG_EINVAL;
    out->type = SG_EIO_MESSAGE;
    out->binary = 1;
    out->bin = sg_buf_new_copy(u + 1, len - 1);
    out->bin->flags |= SG_BUF_BINARY;
    out->data = out->bin->data;
    out->len = len - 1;
    return 0;
}

/* A segment of a payload: text (maybe "b4..."), or raw binary whose first
 * byte is the type. */
typedef struct seg {
    const unsigned char *p;
    size_t n;
    int binary;
} seg_t;

/* The next segment of a string payload at *pos, advancing it. */
static int next_text_seg(const unsigned char *u, size_t len, size_t *pos, seg_t *s)
{
    size_t i = *pos, digits = 0, units = 0;
    while (i < len && u[i] != ':') {
        if (u[i] < '0' || u[i] > '9' || ++digits > SG_EIO3_LEN_DIGITS)
            return SG_EINVAL;
        units = units * 10 + (size_t)(u[i] - '0');
        i++;
    }
    if (i >= len || digits == 0)
        return SG_EINVAL;
    i++; /* ':' */
    size_t bytes;
    if (utf16_span(u + i, len - i, units, &bytes))
        return SG_EINVAL;
    *s = (seg_t){u + i, bytes, 0};
    *pos = i + bytes;
    return 0;
}

/* The next segment of a binary payload at *pos, advancing it. */
static int next_bin_seg(const unsigned char *u, size_t len, size_t *pos, seg_t *s)
{
    size_t i = *pos, digits = 0, n = 0;
    if (u[i] > 1)
        return SG_EINVAL;
    int binary = u[i++] == 1;
    while (i < len && u[i] != 0xff) {
        if (u[i] > 9 || ++digits > SG_EIO3_LEN_DIGITS)
            return SG_EINVAL;
        n = n * 10 + u[i];
        i++;
    }
    if (i >= len || digits == 0 || n > len - i - 1)
        return SG_EINVAL;
    i++; /* 0xff */
    *s = (seg_t){u + i, n, binary};
    *pos = i + n;
    return 0;
}

/* Decode one segment into pkt (pkt->bin may hold a new reference). */
static int decode_seg(const seg_t *s, sg_eio_packet_t *pkt)
{
    if (s->binary)
        return decode_frame3(s->p, s->n, 1, pkt);
    /* Text inside a binary payload is UTF-8 bytes, checked like the rest. */
    for (size_t i = 0, l; i < s->n; i += l)
        if ((l = sg_utf8_seq(s->p + i, s->n - i)) == 0)
            return SG_EINVAL;
    return decode_text3(s->p, s->n, pkt);
}

static int decode_payload3(const void *body, size_t len, int binary, size_t max_packets,
                           sg_eio_packet_cb cb, void *ud)
{
    const unsigned char *u = body;
    int (*next)(const unsigned char *, size_t, size_t *, seg_t *) =
        binary ? next_bin_seg : next_text_seg;
    if (len == 0 && !binary)
        return SG_EINVAL; /* Node: an empty string payload is a parse error */
    /* Pass 1: split and validate everything (base64 decoded and dropped),
     * so a malformed payload delivers nothing; pass 2 delivers. */
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0, count = 0;
        while (pos < len) {
            seg_t s;
            sg_eio_packet_t pkt;
            int rc = next(u, len, &pos, &s);
            if (rc)
                return rc;
            if (s.n == 0)
                continue; /* "0:" carries no packet (Node skips it) */
            if (++count > max_packets && max_packets)
                return SG_ETOOBIG;
            if ((rc = decode_seg(&s, &pkt)) != 0)
                return pass ? SG_EINVAL : rc;
            if (pass == 1)
                rc = cb(&pkt, ud);
            sg_buf_unref(pkt.bin);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static void put_bin_len(sg_sbuf_t *sb, size_t n)
{
    char d[24];
    size_t k = 0;
    do {
        d[k++] = (char)(n % 10);
        n /= 10;
    } while (n);
    while (k)
        sg_sbuf_putc(sb, d[--k]);
    sg_sbuf_putc(sb, (char)0xff);
}

static void payload_add3(sg_sbuf_t *sb, const sg_buf_t *pkt, sg_eio_form_t form)
{
    int bin = (pkt->flags & SG_BUF_BINARY) != 0;
    if (form == SG_EIO_FORM_BINARY) {
        sg_sbuf_putc(sb, (char)(bin ? 1 : 0));
        put_bin_len(sb, pkt->len + (size_t)bin);
        if (bin)
            sg_sbuf_putc(sb, SG_EIO_MESSAGE);
        sg_sbuf_append(sb, pkt->data, pkt->len);
        return;
    }
    if (bin) {
        sg_sbuf_put_u64(sb, 2 + sg_b64_encoded_len(pkt->len));
        sg_sbuf_puts(sb, ":b4");
        sg_b64_encode(sb, pkt->data, pkt->len);
        return;
    }
    sg_sbuf_put_u64(sb, utf16_units(pkt->data, pkt->len));
    sg_sbuf_putc(sb, ':');
    sg_sbuf_append(sb, pkt->data, pkt->len);
}

const sg_eio_version_t sg_eio_v3 = {
    .version = 3,
    .server_pings = 0,
    .binary_posts = 1,
    .ws_type_byte = 1,
    .bad_post_ok = 1,
    .open_packet = sg_eio_encode_open, /* Node sends v3 clients the same JSON */
    .decode_payload = decode_payload3,
    .decode_frame = decode_frame3,
    .payload_add = payload_add3,
};
