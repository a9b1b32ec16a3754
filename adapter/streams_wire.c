/* streams_wire.c - see streams_wire.h. */
#include "streams_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "base64.h"
#include "json.h"
#include "json_msgpack.h"
#include "util.h"

/* The types whose data Node checks for binary before choosing JSON. */
static int may_carry_binary(json_int_t type)
{
    return type == 3 || type == 8 || type == 9 || type == 10 || type == 12;
}

int sg_streams_entry_encode(sg_streams_entry_t *e, const json_t *msg, sg_buf_t *const *bins,
                            size_t nbins, int only_plaintext)
{
    memset(e, 0, sizeof(*e));
    const json_t *uid = json_object_get(msg, "uid"), *nsp = json_object_get(msg, "nsp"),
                 *type = json_object_get(msg, "type"), *data = json_object_get(msg, "data");
    if (!json_is_string(uid) || !json_is_string(nsp) || !json_is_integer(type))
        return SG_EINVAL;
    e->uid = json_string_value(uid);
    e->uid_len = json_string_length(uid);
    e->nsp = json_string_value(nsp);
    e->nsp_len = json_string_length(nsp);
    json_int_t t = json_integer_value(type);
    snprintf(e->type, sizeof e->type, "%d", (int)t);
    if (!data)
        return 0;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    if (nbins && !only_plaintext && may_carry_binary(t)) {
        msgpack_sbuffer mb;
        msgpack_sbuffer_init(&mb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &mb, msgpack_sbuffer_write);
        sg_jmp_pack(&pk, data, bins, nbins);
        sg_b64_encode(&sb, mb.data, mb.size);
        msgpack_sbuffer_destroy(&mb);
    } else {
        /* JSON.stringify writes a Buffer as {"type":"Buffer","data":[...]}. */
        json_t *conv = nbins ? sg_json_node_buffers(data, bins, nbins) : json_incref((json_t *)data);
        sg_json_dump(&sb, conv, NULL, NULL);
        json_decref(conv);
    }
    e->data_len = sb.len;
    e->data = sg_malloc(sb.len + 1);
    memcpy(e->data, sg_sbuf_data(&sb), sb.len);
    e->data[sb.len] = '\0';
    sg_sbuf_reset(&sb);
    return 0;
}

void sg_streams_entry_clear(sg_streams_entry_t *e)
{
    sg_free(e->data);
    memset(e, 0, sizeof(*e));
}

int sg_streams_entry_decode(const char *uid, size_t uid_len, const char *nsp, size_t nsp_len,
                            const char *type, size_t type_len, const char *data, size_t data_len,
                            json_t **out, sg_buf_t ***bins, size_t *nbins)
{
    *out = NULL;
    /* parseInt: leading decimal digits; nothing else is a message type. */
    json_int_t t = 0;
    size_t i = 0;
    while (i < type_len && i < 4 && type[i] >= '0' && type[i] <= '9')
        t = t * 10 + (type[i++] - '0');
    if (i == 0 || !uid || !nsp)
        return SG_EINVAL;
    json_t *d = NULL;
    if (data && data_len) {
        int rc;
        if (data[0] == '{') {
            rc = sg_json_parse(data, data_len, &d);
        } else {
            sg_buf_t *raw = NULL;
            rc = sg_b64_decode(data, data_len, &raw);
            if (rc == 0)
                rc = sg_jmp_unpack_bytes(raw->data, raw->len, SG_STREAMS_MAX_DEPTH, &d, bins,
                                         nbins);
            sg_buf_unref(raw);
        }
        if (rc != 0)
            return SG_EINVAL;
    }
    json_t *m = json_object();
    json_object_set_new(m, "type", json_integer(t));
    if (d)
        json_object_set_new(m, "data", d);
    json_object_set_new(m, "uid", json_stringn(uid, uid_len));
    json_object_set_new(m, "nsp", json_stringn(nsp, nsp_len));
    /* json_stringn refuses invalid UTF-8: such a uid or nsp is no message. */
    if (!json_object_get(m, "uid") || !json_object_get(m, "nsp")) {
        json_decref(m);
        return SG_EINVAL;
    }
    *out = m;
    return 0;
}

void sg_streams_pack(sg_sbuf_t *sb, const json_t *msg, sg_buf_t *const *bins, size_t nbins)
{
    msgpack_sbuffer mb;
    msgpack_sbuffer_init(&mb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &mb, msgpack_sbuffer_write);
    sg_jmp_pack(&pk, msg, bins, nbins);
    sg_sbuf_append(sb, mb.data, mb.size);
    msgpack_sbuffer_destroy(&mb);
}

int sg_streams_unpack(const char *data, size_t len, json_t **out, sg_buf_t ***bins,
                      size_t *nbins)
{
    return sg_jmp_unpack_bytes(data, len, SG_STREAMS_MAX_DEPTH, out, bins, nbins);
}

/* One code point of UTF-8 at s[*i..len), advancing *i; U+FFFD for a byte
 * that does not start a valid sequence (one byte consumed). */
static uint32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return 0xfffd;
    }
    if (*i + n >= len) { /* truncated */
        (*i)++;
        return 0xfffd;
    }
    for (size_t k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            (*i)++;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*i)++;
        return 0xfffd;
    }
    *i += n + 1;
    return cp;
}

int32_t sg_streams_hash(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;
    uint32_t h = 0; /* unsigned: wraps like `hash |= 0` */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = next_cp(s, len, &i);
        if (cp >= 0x10000) { /* a surrogate pair: two code units */
            cp -= 0x10000;
            h = h * 31u + (0xd800u + (cp >> 10));
            h = h * 31u + (0xdc00u + (cp & 0x3ff));
        } else {
            h = h * 31u + cp;
        }
    }
    return (int32_t)h;
}

char *sg_streams_name(const char *base, unsigned count, const char *nsp, size_t nsp_len,
                      char **mirror)
{
    if (mirror)
        *mirror = NULL;
    if (count <= 1)
        return sg_strdup(base);
    /* C's % keeps the dividend's sign, as JavaScript's does. */
    long long idx = (long long)sg_streams_hash(nsp, nsp_len) % (long long)count;
    size_t n = strlen(base) + 24;
    char *s = sg_malloc(n);
    snprintf(s, n, "%s-%lld", base, idx);
    if (idx < 0 && mirror) {
        *mirror = sg_malloc(n);
        snprintf(*mirror, n, "%s-%lld", base, -idx);
    }
    return s;
}

int sg_streams_is_id(const char *s, size_t len)
{
    size_t i = 0, a = 0, b = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, a++;
    if (!a || i >= len || s[i] != '-')
        return 0;
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, b++;
    return b && i == len && a <= 20 && b <= 20;
}

void sg_streams_next_id(const char *id, char *out, size_t n)
{
    const char *dash = strchr(id, '-');
    unsigned long long seq = strtoull(dash + 1, NULL, 10);
    snprintf(out, n, "%.*s-%llu", (int)(dash - id), id, seq + 1);
}
