/* json_msgpack.c - Socket.IO packet data <-> msgpack, byte-compatible with
 * the notepack.io encoder used by Node's msgpack parser and redis adapter. */
#include "json_msgpack.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define SG_JMP_DEFAULT_DEPTH 32

/* ---- pack ------------------------------------------------------------- */

typedef struct sg_jmp_pack_ctx {
    msgpack_packer *pk;
    sg_buf_t *const *bins;
    size_t nbins;
} sg_jmp_pack_ctx_t;

static void sg_jmp_pack_value(const sg_jmp_pack_ctx_t *ctx, const json_t *v);

/* notepack.io: integral finite numbers are integers in the smallest format
 * (unsigned formats for non-negative values, as msgpack-c also picks),
 * everything else float64. */
static void sg_jmp_pack_double(msgpack_packer *pk, double d)
{
    if (isfinite(d) && d == floor(d)) {
        if (d >= 0 && d < 18446744073709551616.0) {
            msgpack_pack_uint64(pk, (uint64_t)d);
            return;
        }
        if (d < 0 && d >= -9223372036854775808.0) {
            msgpack_pack_int64(pk, (int64_t)d);
            return;
        }
    }
    msgpack_pack_double(pk, d);
}

static void sg_jmp_pack_member(const char *k, size_t klen, json_t *v, void *ud)
{
    const sg_jmp_pack_ctx_t *ctx = ud;
    msgpack_pack_str(ctx->pk, klen);
    msgpack_pack_str_body(ctx->pk, k, klen);
    sg_jmp_pack_value(ctx, v);
}

static void sg_jmp_pack_value(const sg_jmp_pack_ctx_t *ctx, const json_t *v)
{
    msgpack_packer *pk = ctx->pk;
    long num;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (sg_json_is_placeholder(v, &num) && (size_t)num < ctx->nbins) {
            const sg_buf_t *b = ctx->bins[num];
            msgpack_pack_bin(pk, b->len);
            msgpack_pack_bin_body(pk, b->data, b->len);
            return;
        }
        msgpack_pack_map(pk, json_object_size(v));
        sg_json_object_foreach_js(v, sg_jmp_pack_member, (void *)ctx);
        return;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
            sg_jmp_pack_value(ctx, json_array_get(v, i));
        return;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        /* Node holds numbers as doubles: beyond 2^53 the value it packs is
         * the rounded one (json.c prints the same). */
        json_int_t i = json_integer_value(v);
        const json_int_t lim = (json_int_t)1 << 53;
        if (i > lim || i < -lim)
            sg_jmp_pack_double(pk, (double)i);
        else if (i >= 0)
            msgpack_pack_uint64(pk, (uint64_t)i);
        else
            msgpack_pack_int64(pk, i);
        return;
    }
    case JSON_REAL:
        sg_jmp_pack_double(pk, json_real_value(v));
        return;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return;
    }
}

void sg_jmp_pack(msgpack_packer *pk, const json_t *v, sg_buf_t *const *bins, size_t nbins)
{
    sg_jmp_pack_ctx_t ctx = {pk, bins, nbins};
    if (!v) {
        msgpack_pack_nil(pk);
        return;
    }
    sg_jmp_pack_value(&ctx, v);
}

/* ---- Dates (msgpack Timestamp extension) ------------------------------ */

static uint64_t sg_jmp_be(const unsigned char *p, size_t n);

/* Date#toJSON of time value t (ms), as V8 prints it: null for an invalid
 * Date, years outside 0..9999 as +YYYYYY / -YYYYYY. */
static json_t *sg_jmp_date_json(double t)
{
    /* TimeClip: beyond 8.64e15 ms (or not finite) the Date is invalid. */
    if (!isfinite(t) || fabs(t) > 8.64e15)
        return json_null();
    int64_t ms = (int64_t)t; /* ToIntegerOrInfinity truncates toward zero */
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    /* Civil date from days since 1970-01-01 (proleptic Gregorian), after
     * Howard Hinnant's days_from_civil inverse. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    /* Every field is bounded by the Date range: years fit in 6 digits. */
    char ybuf[24], out[64];
    if (year >= 0 && year <= 9999)
        snprintf(ybuf, sizeof ybuf, "%04d", (int)year);
    else
        snprintf(ybuf, sizeof ybuf, "%c%06d", year < 0 ? '-' : '+', (int)(year < 0 ? -year : year));
    snprintf(out, sizeof out, "%.8s-%02u-%02uT%02u:%02u:%02u.%03uZ", ybuf, (unsigned)month % 100,
             (unsigned)day % 100, (unsigned)(rem / 3600000) % 100, (unsigned)(rem / 60000 % 60),
             (unsigned)(rem / 1000 % 60), (unsigned)(rem % 1000));
    return json_string(out);
}

/* An ext value as notepack 3 decodes it, then JSON-serialised: a Timestamp
 * (type -1: 32, 64 and 96-bit forms) becomes a Date, hence an ISO string;
 * every other ext (undefined = fixext 1 type 0 included) becomes null. The
 * time value is computed in doubles with the same operations as notepack's
 * decoder, so the rounding matches. */
static json_t *sg_jmp_ext_json(const msgpack_object_ext *e)
{
    const unsigned char *p = (const unsigned char *)e->ptr;
    if (e->type == -1 && e->size == 4)
        return sg_jmp_date_json((double)sg_jmp_be(p, 4) * 1e3);
    if (e->type == -1 && e->size == 8) {
        uint32_t hi = (uint32_t)sg_jmp_be(p, 4), lo = (uint32_t)sg_jmp_be(p + 4, 4);
        double sec = (double)(hi & 0x3) * 4294967296.0 + (double)lo;
        return sg_jmp_date_json(sec * 1e3 + (double)(hi >> 2) / 1e6);
    }
    if (e->type == -1 && e->size == 12) {
        uint32_t ns = (uint32_t)sg_jmp_be(p, 4), lo = (uint32_t)sg_jmp_be(p + 8, 4);
        int32_t hi = (int32_t)(uint32_t)sg_jmp_be(p + 4, 4);
        double sec = (double)hi * 4294967296.0 + (double)lo;
        return sg_jmp_date_json(sec * 1e3 + (double)ns / 1e6);
    }
    return json_null();
}

/* ---- unpack ----------------------------------------------------------- */

typedef struct sg_jmp_unpack_ctx {
    size_t max_depth;
    sg_buf_t ***bins;
    size_t *nbins;
} sg_jmp_unpack_ctx_t;

static int sg_jmp_conv(sg_jmp_unpack_ctx_t *ctx, const msgpack_object *o, size_t depth,
                       json_t **out)
{
    json_t *v = NULL;
    int rc = SG_EINVAL;

    *out = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v = json_null();
        break;
    case MSGPACK_OBJECT_EXT:
        v = sg_jmp_ext_json(&o->via.ext);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        v = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            v = json_real((double)o->via.u64);
        else
            v = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* NaN and infinities: JSON.stringify writes them as null. */
        v = isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
        break;
    case MSGPACK_OBJECT_STR:
        v = json_stringn(o->via.str.ptr ? o->via.str.ptr : "", o->via.str.size);
        if (!v)
            goto fail; /* not UTF-8 */
        break;
    case MSGPACK_OBJECT_BIN: {
        sg_buf_t *b = sg_buf_new_copy(o->via.bin.ptr, o->via.bin.size);
        b->flags |= SG_BUF_BINARY;
        *ctx->bins = sg_realloc(*ctx->bins, (*ctx->nbins + 1) * sizeof(**ctx->bins));
        (*ctx->bins)[*ctx->nbins] = b;
        v = sg_json_placeholder((long)(*ctx->nbins)++);
        break;
    }
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= ctx->max_depth) {
            rc = SG_ETOOBIG;
            goto fail;
        }
        v = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *e;
            if ((rc = sg_jmp_conv(ctx, &o->via.array.ptr[i], depth + 1, &e)) != 0)
                goto fail;
            json_array_append_new(v, e);
        }
        break;
    case MSGPACK_OBJECT_MAP:
        if (depth >= ctx->max_depth) {
            rc = SG_ETOOBIG;
            goto fail;
        }
        v = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            json_t *e;
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                rc = SG_EINVAL;
                goto fail;
            }
            if ((rc = sg_jmp_conv(ctx, &kv->val, depth + 1, &e)) != 0)
                goto fail;
            const char *k = kv->key.via.str.ptr ? kv->key.via.str.ptr : "";
            /* Fails only for a key that is not UTF-8. */
            if (json_object_setn_new(v, k, kv->key.via.str.size, e) != 0) {
                rc = SG_EINVAL;
                goto fail;
            }
        }
        break;
    default:
        goto fail;
    }
    if (!v)
        goto fail;
    *out = v;
    return 0;
fail:
    json_decref(v);
    return rc;
}

/* Bins are numbered as they are read, in the map's own order. Two things
 * break the placeholder numbering the rest of siogate relies on (in order of
 * appearance, every attachment referenced): a duplicate map key drops a
 * value that may hold a bin, and JavaScript enumerates index-like keys ("1")
 * first, so the writer (and any other node) numbers them differently. So
 * number them once more in the order the writer meets them, keeping only
 * the referenced bins. */
typedef struct {
    sg_buf_t **old;
    size_t base, nold;
    sg_buf_t **keep;
    size_t nkeep;
} sg_jmp_renum_t;

static void sg_jmp_renum_value(sg_jmp_renum_t *r, json_t *v);

static void sg_jmp_renum_member(const char *k, size_t klen, json_t *v, void *ud)
{
    sg_jmp_renum_value(ud, v);
}

static void sg_jmp_renum_value(sg_jmp_renum_t *r, json_t *v)
{
    long num;
    if (sg_json_is_placeholder(v, &num)) {
        if (num >= (long)r->base && (size_t)num - r->base < r->nold &&
            r->old[num - (long)r->base]) {
            r->keep[r->nkeep] = r->old[num - (long)r->base];
            r->old[num - (long)r->base] = NULL; /* each bin is referenced once */
            json_object_set_new(v, "num", json_integer((json_int_t)(r->base + r->nkeep++)));
        }
        return;
    }
    if (json_is_object(v))
        sg_json_object_foreach_js(v, sg_jmp_renum_member, r);
    else if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++)
            sg_jmp_renum_value(r, json_array_get(v, i));
}

static void sg_jmp_renumber(json_t *v, sg_buf_t **bins, size_t base, size_t *nbins)
{
    sg_jmp_renum_t r = {NULL, base, *nbins - base, NULL, 0};
    if (r.nold == 0)
        return;
    r.old = sg_malloc(r.nold * sizeof(*r.old));
    memcpy(r.old, bins + base, r.nold * sizeof(*r.old));
    r.keep = bins + base; /* rewritten in place, never ahead of the walk */
    sg_jmp_renum_value(&r, v);
    for (size_t i = 0; i < r.nold; i++)
        sg_buf_unref(r.old[i]); /* orphans: their value was overwritten */
    sg_free(r.old);
    *nbins = base + r.nkeep;
}

int sg_jmp_unpack(const msgpack_object *o, size_t max_depth, json_t **out, sg_buf_t ***bins,
                  size_t *nbins)
{
    sg_jmp_unpack_ctx_t ctx = {max_depth ? max_depth : SG_JMP_DEFAULT_DEPTH, bins, nbins};
    size_t nbins0 = *nbins;
    int rc = sg_jmp_conv(&ctx, o, 0, out);
    if (rc == 0)
        sg_jmp_renumber(*out, *bins, nbins0, nbins);
    if (rc) {
        /* Leave the caller's attachment list as it was. */
        for (size_t i = nbins0; i < *nbins; i++)
            sg_buf_unref((*bins)[i]);
        *nbins = nbins0;
    }
    return rc;
}

/* ---- raw msgpack check ------------------------------------------------ */

static uint64_t sg_jmp_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Walk one object at *pos. Every element needs at least one byte, so a
 * container count above the bytes left is a lie we refuse before msgpack-c
 * sizes an allocation from it. */
static int sg_jmp_walk(const unsigned char *p, size_t len, size_t *pos, size_t depth,
                       size_t max_depth)
{
    if (*pos >= len)
        return SG_EINVAL;
    unsigned char c = p[(*pos)++];
    size_t left = len - *pos;
    uint64_t n = 0;  /* bytes to skip */
    uint64_t items = 0; /* nested objects */
    size_t hdr = 0;
    int container = 0;

    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c >= 0x80 && c <= 0x8f) {
        items = 2 * (uint64_t)(c & 0x0f);
        container = 1;
    } else if (c >= 0x90 && c <= 0x9f) {
        items = c & 0x0f;
        container = 1;
    }
    else if (c >= 0xa0 && c <= 0xbf)
        n = c & 0x1f;
    else {
        switch (c) {
        case 0xc4: case 0xd9: hdr = 1; break; /* bin8 str8 */
        case 0xc5: case 0xda: hdr = 2; break;
        case 0xc6: case 0xdb: hdr = 4; break;
        case 0xc7: hdr = 1; break; /* ext: length, then the type byte */
        case 0xc8: hdr = 2; break;
        case 0xc9: hdr = 4; break;
        case 0xca: n = 4; break;
        case 0xcb: n = 8; break;
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: n = 4; break;
        case 0xcf: case 0xd3: n = 8; break;
        case 0xd4: n = 2; break; /* fixext: type byte + data */
        case 0xd5: n = 3; break;
        case 0xd6: n = 5; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xdc: case 0xde: hdr = 2; break;
        case 0xdd: case 0xdf: hdr = 4; break;
        default: return SG_EINVAL; /* 0xc1 */
        }
        if (hdr) {
            if (left < hdr)
                return SG_EINVAL;
            uint64_t cnt = sg_jmp_be(p + *pos, hdr);
            *pos += hdr;
            left -= hdr;
            if (c >= 0xdc && c <= 0xdd) {
                items = cnt;
                container = 1;
            } else if (c >= 0xde) {
                items = 2 * cnt;
                container = 1;
            } else {
                n = cnt + (c >= 0xc7 && c <= 0xc9); /* ext type byte */
            }
        }
    }
    if (n) {
        if (n > left)
            return SG_EINVAL;
        *pos += n;
        return 0;
    }
    if (!container)
        return 0;
    if (items > left)
        return SG_EINVAL;
    if (depth >= max_depth)
        return SG_ETOOBIG;
    for (uint64_t i = 0; i < items; i++) {
        int rc = sg_jmp_walk(p, len, pos, depth + 1, max_depth);
        if (rc)
            return rc;
    }
    return 0;
}

int sg_jmp_check(const void *data, size_t len, size_t max_depth, size_t *used)
{
    size_t pos = 0;
    int rc = sg_jmp_walk(data, len, &pos, 0, max_depth ? max_depth : SG_JMP_DEFAULT_DEPTH);
    if (rc == 0 && used)
        *used = pos;
    return rc;
}

int sg_jmp_unpack_bytes(const void *data, size_t len, size_t max_depth, json_t **out,
                        sg_buf_t ***bins, size_t *nbins)
{
    msgpack_unpacked u;
    size_t used = 0, off = 0;
    int rc;

    *out = NULL;
    if ((rc = sg_jmp_check(data, len, max_depth, &used)) != 0)
        return rc;
    if (used != len)
        return SG_EINVAL;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = SG_EINVAL;
        goto fail;
    }
    rc = sg_jmp_unpack(&u.data, max_depth, out, bins, nbins);
fail:
    msgpack_unpacked_destroy(&u);
    return rc;
}
