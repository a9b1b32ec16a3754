/* eio.c - Engine.IO v4 packet and polling payload codec, and the table of
 * protocol versions. */
#include "eio.h"

#include <string.h>

#include "base64.h"
#include "json.h"
#include "util.h"

int sg_eio_decode_text(const void *s, size_t len, sg_eio_packet_t *out)
{
    const unsigned char *u = s;
    memset(out, 0, sizeof(*out));
    if (len == 0 || u[0] < '0' || u[0] > '6')
        return SG_EINVAL;
    out->type = (sg_eio_type_t)(u[0] - '0');
    out->data = u + 1;
    out->len = len - 1;
    return 0;
}

/* Validation of one segment without decoding base64 into memory: the first
 * pass must not allocate for packets that a later bad segment throws away. */
static int sg_eio_check_segment(const unsigned char *p, size_t n)
{
    if (n == 0)
        return SG_EINVAL;
    if (p[0] == 'b')
        return 0; /* the base64 itself is checked when decoded */
    sg_eio_packet_t pkt;
    return sg_eio_decode_text(p, n, &pkt);
}

int sg_eio_decode_payload(const void *body, size_t len, size_t max_packets, sg_eio_packet_cb cb,
                          void *ud)
{
    const unsigned char *u = body;
    const unsigned char *end = u + len;
    size_t count = 0;
    int rc;

    if (len == 0)
        return SG_EINVAL;
    /* Pass 1: split and validate every segment, base64 included, so a
     * malformed payload delivers nothing. Base64 is validated by decoding
     * it; the decoded bytes are dropped and decoded again in pass 2, which
     * keeps peak memory at one binary packet. */
    for (const unsigned char *p = u; p <= end;) {
        const unsigned char *sep = memchr(p, SG_EIO_SEPARATOR, (size_t)(end - p));
        const unsigned char *segend = sep ? sep : end;
        size_t n = (size_t)(segend - p);
        if (++count > max_packets && max_packets)
            return SG_ETOOBIG;
        if ((rc = sg_eio_check_segment(p, n)) != 0)
            return rc;
        if (p[0] == 'b') {
            sg_buf_t *b;
            if ((rc = sg_b64_decode((const char *)p + 1, n - 1, &b)) != 0)
                return rc;
            sg_buf_unref(b);
        }
        if (!sep)
            break;
        p = sep + 1;
    }
    /* Pass 2: deliver. */
    for (const unsigned char *p = u; p <= end;) {
        const unsigned char *sep = memchr(p, SG_EIO_SEPARATOR, (size_t)(end - p));
        const unsigned char *segend = sep ? sep : end;
        size_t n = (size_t)(segend - p);
        sg_eio_packet_t pkt;
        if (p[0] == 'b') {
            memset(&pkt, 0, sizeof(pkt));
            pkt.type = SG_EIO_MESSAGE;
            pkt.binary = 1;
            if (sg_b64_decode((const char *)p + 1, n - 1, &pkt.bin) != 0)
                return SG_EINVAL; /* cannot happen: validated in pass 1 */
            pkt.bin->flags |= SG_BUF_BINARY;
            pkt.data = pkt.bin->data;
            pkt.len = pkt.bin->len;
            rc = cb(&pkt, ud);
            sg_buf_unref(pkt.bin);
        } else {
            sg_eio_decode_text(p, n, &pkt);
            rc = cb(&pkt, ud);
        }
        if (rc)
            return rc;
        if (!sep)
            break;
        p = sep + 1;
    }
    return 0;
}

static void sg_eio_sep(sg_sbuf_t *sb)
{
    if (sb->len)
        sg_sbuf_putc(sb, SG_EIO_SEPARATOR);
}

void sg_eio_payload_add_text(sg_sbuf_t *sb, sg_eio_type_t type, const void *data, size_t len)
{
    sg_eio_sep(sb);
    sg_sbuf_putc(sb, (char)('0' + type));
    sg_sbuf_append(sb, data, len);
}

void sg_eio_payload_add_encoded(sg_sbuf_t *sb, const void *pkt, size_t len)
{
    sg_eio_sep(sb);
    sg_sbuf_append(sb, pkt, len);
}

void sg_eio_payload_add_binary(sg_sbuf_t *sb, const void *data, size_t len)
{
    sg_eio_sep(sb);
    sg_sbuf_putc(sb, 'b');
    sg_b64_encode(sb, data, len);
}

sg_buf_t *sg_eio_encode_text(sg_eio_type_t type, const void *data, size_t len)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_reserve(&sb, len + 1);
    sg_sbuf_putc(&sb, (char)('0' + type));
    sg_sbuf_append(&sb, data, len);
    return sg_sbuf_finish(&sb);
}

sg_buf_t *sg_eio_encode_open(const char *sid, int upgrades_websocket, unsigned ping_interval,
                             unsigned ping_timeout, size_t max_payload)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_puts(&sb, "0{\"sid\":");
    /* The sid is ours (URL-safe base64), but escaping it through the JSON
     * writer keeps the output valid whatever a caller passes. */
    json_t *s = json_string(sid);
    if (!s)
        s = json_stringn("", 0);
    sg_json_dump(&sb, s, NULL, NULL);
    json_decref(s);
    sg_sbuf_puts(&sb, upgrades_websocket ? ",\"upgrades\":[\"websocket\"]" : ",\"upgrades\":[]");
    sg_sbuf_puts(&sb, ",\"pingInterval\":");
    sg_sbuf_put_u64(&sb, ping_interval);
    sg_sbuf_puts(&sb, ",\"pingTimeout\":");
    sg_sbuf_put_u64(&sb, ping_timeout);
    sg_sbuf_puts(&sb, ",\"maxPayload\":");
    sg_sbuf_put_u64(&sb, max_payload);
    sg_sbuf_putc(&sb, '}');
    return sg_sbuf_finish(&sb);
}

/* ---- versions --------------------------------------------------------- */

static void sg_eio_v4_payload_add(sg_sbuf_t *sb, const sg_buf_t *pkt, sg_eio_form_t form)
{
    (void)form; /* v4 payloads are always text */
    if (pkt->flags & SG_BUF_BINARY)
        sg_eio_payload_add_binary(sb, pkt->data, pkt->len);
    else
        sg_eio_payload_add_encoded(sb, pkt->data, pkt->len);
}

static int sg_eio_v4_decode_payload(const void *body, size_t len, int binary, size_t max_packets,
                                    sg_eio_packet_cb cb, void *ud)
{
    if (binary)
        return SG_EINVAL; /* v4 carries binary as base64 text over polling */
    return sg_eio_decode_payload(body, len, max_packets, cb, ud);
}

/* A v4 binary frame is the message's bytes, with no type byte. */
static int sg_eio_v4_decode_frame(const void *d, size_t len, int binary, sg_eio_packet_t *out)
{
    if (!binary)
        return sg_eio_decode_text(d, len, out);
    memset(out, 0, sizeof(*out));
    out->type = SG_EIO_MESSAGE;
    out->binary = 1;
    out->bin = sg_buf_new_copy(d, len);
    out->bin->flags |= SG_BUF_BINARY;
    out->data = out->bin->data;
    out->len = len;
    return 0;
}

const sg_eio_version_t sg_eio_v4 = {
    .version = 4,
    .server_pings = 1,
    .binary_posts = 0,
    .ws_type_byte = 0,
    .bad_post_ok = 0,
    .open_packet = sg_eio_encode_open,
    .decode_payload = sg_eio_v4_decode_payload,
    .decode_frame = sg_eio_v4_decode_frame,
    .payload_add = sg_eio_v4_payload_add,
};

static const sg_eio_version_t *const sg_eio_versions[] = {&sg_eio_v4, &sg_eio_v3};

const sg_eio_version_t *sg_eio_version_get(unsigned v)
{
    for (size_t i = 0; i < sizeof(sg_eio_versions) / sizeof(sg_eio_versions[0]); i++)
        if (sg_eio_versions[i]->version == v)
            return sg_eio_versions[i];
    return NULL;
}

const sg_eio_version_t *sg_eio_version_find(const char *eio, size_t len, int allow_v3)
{
    /* Exactly "3" or "4": Node takes any other value for 3 when allowEIO3
     * is on, which would let "EIO=abc" in. */
    if (len != 1 || (eio[0] != '4' && eio[0] != '3'))
        return NULL;
    if (eio[0] == '3' && !allow_v3)
        return NULL;
    return sg_eio_version_get((unsigned)(eio[0] - '0'));
}
