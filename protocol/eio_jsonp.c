/* eio_jsonp.c - JSONP polling, which Node's engine.io still serves (for v3
 * and v4 alike) to clients that poll with <script> tags and post with
 * forms: the request carries a `j` index, a response is a call to
 * ___eio[j] with the payload as a string literal, a POST body is the form
 * field d. */
#include <string.h>

#include "eio.h"
#include "form.h"
#include "util.h"

void sg_eio_jsonp_wrap(sg_sbuf_t *out, unsigned index, const void *payload, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = payload;
    sg_sbuf_puts(out, "___eio[");
    sg_sbuf_put_u64(out, index);
    sg_sbuf_puts(out, "](\"");
    /* JSON.stringify's escapes, plus U+2028/U+2029: a JSON string that is
     * valid JSON but not valid JavaScript without them. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            sg_sbuf_puts(out, esc);
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sg_sbuf_append(out, u, 6);
        } else if (c == 0xe2 && i + 2 < len && p[i + 1] == 0x80 &&
                   (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
            sg_sbuf_puts(out, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            i += 2;
        } else {
            sg_sbuf_putc(out, (char)c);
        }
    }
    sg_sbuf_puts(out, "\");");
}

/* 1 when the (encoded) key k of length n decodes to "d". */
static int key_is_d(const unsigned char *k, size_t n)
{
    return (n == 1 && k[0] == 'd') ||
           (n == 3 && k[0] == '%' && k[1] == '6' && k[2] == '4');
}

int sg_eio_jsonp_body(const void *body, size_t len, sg_sbuf_t *out)
{
    const char *val = NULL;
    size_t vlen = 0, pos = 0;
    int found = 0;
    sg_form_pair_t f;
    while (sg_form_next(body, len, &pos, &f)) {
        if (!key_is_d((const unsigned char *)f.key, f.klen))
            continue;
        /* d twice makes an array in Node, which it ignores */
        if (found++)
            return SG_ENOTFOUND;
        val = f.val;
        vlen = f.vlen;
    }
    if (!found)
        return SG_ENOTFOUND;
    sg_sbuf_t dec;
    sg_sbuf_init(&dec);
    sg_form_decode(&dec, val, vlen);
    const unsigned char *s = sg_sbuf_data(&dec);
    size_t n = dec.len;
    /* The client escaped the payload's own "\n" as "\\n" and its newlines
     * as "\n": undo both, in Node's order. First a "\n" not preceded by a
     * backslash becomes a newline... */
    sg_sbuf_t one;
    sg_sbuf_init(&one);
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'n') {
            sg_sbuf_append(&one, s + i, 3);
            i += 3;
        } else if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
            sg_sbuf_putc(&one, '\n');
            i += 2;
        } else {
            sg_sbuf_putc(&one, (char)s[i++]);
        }
    }
    sg_sbuf_reset(&dec);
    /* ...then "\\n" becomes "\n". */
    s = sg_sbuf_data(&one);
    n = one.len;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'n') {
            sg_sbuf_append(out, "\\n", 2);
            i += 3;
        } else {
            sg_sbuf_putc(out, (char)s[i++]);
        }
    }
    sg_sbuf_reset(&one);
    return 0;
}
