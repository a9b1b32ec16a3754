/* json.c - JSON parsing (jansson) and serialisation identical to V8's
 * JSON.stringify, so that clients comparing strings see what Node sends. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int sg_json_parse(const void *text, size_t len, json_t **out)
{
    json_error_t err;
    *out = NULL;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    /* JavaScript has no integer overflow: 1e30 written as digits is just a
     * number. Retrying with reals only for that error keeps every int64 exact
     * in the common case. */
    if (!v && json_error_code(&err) == json_error_numeric_overflow)
        v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!v)
        return SG_EINVAL;
    *out = v;
    return 0;
}

/* ---- numbers ---------------------------------------------------------- */

/* Shortest digits that read back as d: the first precision at which printf's
 * correctly rounded output round-trips. Returns the digit count and stores
 * the decimal exponent n such that d = 0.DIGITS * 10^n. */
static int sg_json_shortest(double d, char digits[20], int *n)
{
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
        if (strtod(tmp, NULL) == d || prec == 16)
            break;
    }
    /* tmp is "D[.DDDD]e[+-]XX" for a positive finite d. */
    int k = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    int e = atoi(p + 1);
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    *n = e + 1;
    return k;
}

void sg_json_put_number(sg_sbuf_t *sb, double d)
{
    if (isnan(d)) {
        sg_sbuf_puts(sb, "NaN");
        return;
    }
    if (isinf(d)) {
        sg_sbuf_puts(sb, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        sg_sbuf_putc(sb, '0'); /* -0 too, as in JavaScript */
        return;
    }
    if (d < 0) {
        sg_sbuf_putc(sb, '-');
        d = -d;
    }
    char digits[20];
    int n;
    int k = sg_json_shortest(d, digits, &n);
    /* ECMA-262 Number::toString, steps for k digits and exponent n. */
    if (k <= n && n <= 21) {
        sg_sbuf_append(sb, digits, (size_t)k);
        for (int i = k; i < n; i++)
            sg_sbuf_putc(sb, '0');
    } else if (0 < n && n <= 21) {
        sg_sbuf_append(sb, digits, (size_t)n);
        sg_sbuf_putc(sb, '.');
        sg_sbuf_append(sb, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        sg_sbuf_puts(sb, "0.");
        for (int i = n; i < 0; i++)
            sg_sbuf_putc(sb, '0');
        sg_sbuf_append(sb, digits, (size_t)k);
    } else {
        sg_sbuf_putc(sb, digits[0]);
        if (k > 1) {
            sg_sbuf_putc(sb, '.');
            sg_sbuf_append(sb, digits + 1, (size_t)(k - 1));
        }
        sg_sbuf_putc(sb, 'e');
        sg_sbuf_putc(sb, n - 1 < 0 ? '-' : '+');
        sg_sbuf_put_u64(sb, (uint64_t)(n - 1 < 0 ? 1 - n : n - 1));
    }
}

/* JavaScript numbers are doubles: an int64 beyond 2^53 is printed by Node as
 * the double it rounds to, so we do the same. */
static void sg_json_put_integer(sg_sbuf_t *sb, json_int_t i)
{
    const json_int_t lim = (json_int_t)1 << 53;
    if (i > lim || i < -lim) {
        sg_json_put_number(sb, (double)i);
        return;
    }
    if (i < 0) {
        sg_sbuf_putc(sb, '-');
        sg_sbuf_put_u64(sb, (uint64_t)(-i));
    } else {
        sg_sbuf_put_u64(sb, (uint64_t)i);
    }
}

/* ---- strings ---------------------------------------------------------- */

static void sg_json_put_string(sg_sbuf_t *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;
    sg_sbuf_reserve(sb, len + 2);
    sg_sbuf_putc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* Flush the verbatim run before this character. */
        sg_sbuf_append(sb, u + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            sg_sbuf_append(sb, esc, 6);
            continue;
        }
        sg_sbuf_append(sb, esc, 2);
    }
    sg_sbuf_append(sb, u + run, len - run);
    sg_sbuf_putc(sb, '"');
}

/* ---- placeholders ----------------------------------------------------- */

int sg_json_is_placeholder(const json_t *v, long *num)
{
    if (!json_is_object(v) || json_object_get(v, "_placeholder") != json_true())
        return 0;
    const json_t *n = json_object_get(v, "num");
    long val;
    if (json_is_integer(n)) {
        json_int_t i = json_integer_value(n);
        if (i < 0 || i > (json_int_t)INT32_MAX)
            return 0;
        val = (long)i;
    } else if (json_is_real(n)) {
        /* Parsed with JSON_DECODE_INT_AS_REAL, or written as 0.0 by a client:
         * JavaScript does not tell these apart from integers. */
        double d = json_real_value(n);
        if (!(d >= 0 && d <= INT32_MAX) || d != floor(d))
            return 0;
        val = (long)d;
    } else {
        return 0;
    }
    if (num)
        *num = val;
    return 1;
}

json_t *sg_json_placeholder(long num)
{
    json_t *o = json_object();
    json_object_set_new(o, "_placeholder", json_true());
    json_object_set_new(o, "num", json_integer(num));
    return o;
}

json_t *sg_json_map_placeholders(const json_t *v, json_t *(*fn)(long num, void *ud), void *ud)
{
    long num;
    if (sg_json_is_placeholder(v, &num)) {
        json_t *r = fn(num, ud);
        if (r)
            return r;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(a, sg_json_map_placeholders(e, fn, ud));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        size_t klen;
        /* Keys are length-counted: one with a NUL byte is copied whole. */
        json_object_keylen_foreach((json_t *)v, k, klen, e)
            json_object_setn_new_nocheck(o, k, klen, sg_json_map_placeholders(e, fn, ud));
        return o;
    }
    return json_incref((json_t *)v);
}

typedef struct {
    sg_buf_t *const *bins;
    size_t nbins;
} sg_json_bins_t;

static json_t *sg_json_node_buffer(long num, void *ud)
{
    const sg_json_bins_t *nb = ud;
    if (num < 0 || (size_t)num >= nb->nbins)
        return NULL;
    json_t *bytes = json_array();
    for (size_t i = 0; i < nb->bins[num]->len; i++)
        json_array_append_new(bytes, json_integer(nb->bins[num]->data[i]));
    return json_pack("{s:s,s:o}", "type", "Buffer", "data", bytes);
}

json_t *sg_json_node_buffers(const json_t *v, sg_buf_t *const *bins, size_t nbins)
{
    sg_json_bins_t nb = {bins, nbins};
    return sg_json_map_placeholders(v, sg_json_node_buffer, &nb);
}

/* ---- objects ---------------------------------------------------------- */

/* V8 keeps "array index" keys (canonical decimal integers below 2^32 - 1)
 * in ascending numeric order ahead of all other keys, whatever the insertion
 * order; JSON.stringify follows that order. */
static int sg_json_index_key(const char *k, size_t len, uint32_t *idx)
{
    if (len == 0 || len > 10 || (k[0] == '0' && len > 1))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v >= UINT32_MAX)
        return 0;
    *idx = (uint32_t)v;
    return 1;
}

typedef struct sg_json_ikey {
    uint32_t idx;
    void *iter;
} sg_json_ikey_t;

static int sg_json_ikey_cmp(const void *a, const void *b)
{
    uint32_t x = ((const sg_json_ikey_t *)a)->idx, y = ((const sg_json_ikey_t *)b)->idx;
    return x < y ? -1 : x > y;
}

void sg_json_object_foreach_js(const json_t *cv, sg_json_member_cb cb, void *ud)
{
    /* jansson's iteration API takes a non-const object but does not modify. */
    json_t *o = (json_t *)cv;
    size_t nidx = 0, n = json_object_size(o);
    uint32_t idx;

    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it))
        if (sg_json_index_key(json_object_iter_key(it), json_object_iter_key_len(it), &idx))
            nidx++;
    if (nidx) {
        sg_json_ikey_t *ik = sg_malloc(nidx * sizeof(*ik));
        size_t j = 0;
        for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it))
            if (sg_json_index_key(json_object_iter_key(it), json_object_iter_key_len(it), &idx))
                ik[j++] = (sg_json_ikey_t){idx, it};
        qsort(ik, nidx, sizeof(*ik), sg_json_ikey_cmp);
        for (j = 0; j < nidx; j++)
            cb(json_object_iter_key(ik[j].iter), json_object_iter_key_len(ik[j].iter),
               json_object_iter_value(ik[j].iter), ud);
        sg_free(ik);
    }
    if (nidx == n)
        return;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (!nidx || !sg_json_index_key(k, klen, &idx))
            cb(k, klen, json_object_iter_value(it), ud);
    }
}

static void sg_json_dump_value(sg_sbuf_t *sb, const json_t *v, sg_json_ph_cb ph, void *ud);

typedef struct sg_json_dump_ctx {
    sg_sbuf_t *sb;
    sg_json_ph_cb ph;
    void *ud;
    int first;
} sg_json_dump_ctx_t;

static void sg_json_dump_member(const char *k, size_t klen, json_t *v, void *ud)
{
    sg_json_dump_ctx_t *ctx = ud;
    if (!ctx->first)
        sg_sbuf_putc(ctx->sb, ',');
    ctx->first = 0;
    sg_json_put_string(ctx->sb, k, klen);
    sg_sbuf_putc(ctx->sb, ':');
    sg_json_dump_value(ctx->sb, v, ctx->ph, ctx->ud);
}

static void sg_json_dump_object(sg_sbuf_t *sb, const json_t *o, sg_json_ph_cb ph, void *ud)
{
    sg_json_dump_ctx_t ctx = {sb, ph, ud, 1};
    sg_sbuf_putc(sb, '{');
    sg_json_object_foreach_js(o, sg_json_dump_member, &ctx);
    sg_sbuf_putc(sb, '}');
}

static void sg_json_dump_value(sg_sbuf_t *sb, const json_t *v, sg_json_ph_cb ph, void *ud)
{
    long num;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (ph && sg_json_is_placeholder(v, &num)) {
            long m = ph(num, ud);
            if (m >= 0) {
                sg_sbuf_puts(sb, "{\"_placeholder\":true,\"num\":");
                sg_sbuf_put_u64(sb, (uint64_t)m);
                sg_sbuf_putc(sb, '}');
                return;
            }
        }
        sg_json_dump_object(sb, v, ph, ud);
        return;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        sg_sbuf_putc(sb, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                sg_sbuf_putc(sb, ',');
            sg_json_dump_value(sb, json_array_get(v, i), ph, ud);
        }
        sg_sbuf_putc(sb, ']');
        return;
    }
    case JSON_STRING:
        sg_json_put_string(sb, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        sg_json_put_integer(sb, json_integer_value(v));
        return;
    case JSON_REAL: {
        double d = json_real_value(v);
        /* jansson refuses non-finite reals, but JSON.stringify's answer for
         * them is null, not Number#toString's "NaN". */
        if (!isfinite(d))
            sg_sbuf_puts(sb, "null");
        else
            sg_json_put_number(sb, d);
        return;
    }
    case JSON_TRUE:
        sg_sbuf_puts(sb, "true");
        return;
    case JSON_FALSE:
        sg_sbuf_puts(sb, "false");
        return;
    case JSON_NULL:
        sg_sbuf_puts(sb, "null");
        return;
    }
}

void sg_json_dump(sg_sbuf_t *sb, const json_t *v, sg_json_ph_cb ph, void *ud)
{
    if (!v) {
        sg_sbuf_puts(sb, "null");
        return;
    }
    sg_json_dump_value(sb, v, ph, ud);
}
