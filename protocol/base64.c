/* base64.c - RFC 4648 base64 for "b<base64>" polling packets. */
#include "base64.h"

#include <stdint.h>

#include "util.h"

static const char sg_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 64 for '=', 255 for anything else. */
static const unsigned char sg_b64_rev[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,
    ['H'] = 7,  ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13,
    ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20,
    ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27,
    ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34,
    ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41,
    ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48,
    ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62,
    ['/'] = 63,
};

size_t sg_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void sg_b64_encode(sg_sbuf_t *sb, const void *p, size_t n)
{
    const unsigned char *s = p;
    if (n == 0)
        return; /* an empty builder has no storage to point into */
    sg_sbuf_reserve(sb, sg_b64_encoded_len(n));
    unsigned char *o = sg_sbuf_data(sb) + sb->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = (unsigned char)sg_b64_alphabet[v >> 18];
        *o++ = (unsigned char)sg_b64_alphabet[(v >> 12) & 63];
        *o++ = (unsigned char)sg_b64_alphabet[(v >> 6) & 63];
        *o++ = (unsigned char)sg_b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = (unsigned char)sg_b64_alphabet[v >> 18];
        *o++ = (unsigned char)sg_b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *o++ = (unsigned char)sg_b64_alphabet[v >> 18];
        *o++ = (unsigned char)sg_b64_alphabet[(v >> 12) & 63];
        *o++ = (unsigned char)sg_b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    sb->len += sg_b64_encoded_len(n);
}

/* The table above leaves unlisted bytes at 0, which is also 'A'. A second
 * check tells the two apart without a 256-entry table of 255s. */
static int sg_b64_val(unsigned char c)
{
    if (c == 'A')
        return 0;
    return sg_b64_rev[c] ? sg_b64_rev[c] : -1;
}

int sg_b64_decode(const char *s, size_t len, sg_buf_t **out)
{
    const unsigned char *u = (const unsigned char *)s;
    *out = NULL;
    /* Up to two '=' may end the input, and only a padded-out quantum;
     * '=' anywhere else fails the alphabet check below. */
    size_t n = len, pads = 0;
    while (n > 0 && pads < 2 && u[n - 1] == '=') {
        n--;
        pads++;
    }
    if (pads && len % 4 != 0)
        return SG_EINVAL;
    if (n % 4 == 1)
        return SG_EINVAL; /* a single leftover character carries < 8 bits */
    /* Output size comes from the input we already hold, never from a
     * declared length. */
    size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    sg_buf_t *b = sg_buf_new(olen);
    unsigned char *o = b->data;
    uint32_t acc = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sg_b64_val(u[i]);
        if (v < 0)
            goto fail;
        acc = acc << 6 | (uint32_t)v;
        if (++k == 4) {
            *o++ = (unsigned char)(acc >> 16);
            *o++ = (unsigned char)(acc >> 8);
            *o++ = (unsigned char)acc;
            acc = 0;
            k = 0;
        }
    }
    if (k == 2) {
        *o++ = (unsigned char)(acc >> 4);
    } else if (k == 3) {
        *o++ = (unsigned char)(acc >> 10);
        *o++ = (unsigned char)(acc >> 2);
    }
    *out = b;
    return 0;
fail:
    sg_buf_unref(b);
    return SG_EINVAL;
}
