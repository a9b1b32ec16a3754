/* form.c - see form.h. */
#include "form.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void sg_form_decode(sg_sbuf_t *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (p[i] == '+')
            sg_sbuf_putc(out, ' ');
        else if (p[i] == '%' && i + 2 < n && (h = hexval((unsigned char)p[i + 1])) >= 0 &&
                 (l = hexval((unsigned char)p[i + 2])) >= 0) {
            sg_sbuf_putc(out, (char)(h << 4 | l));
            i += 2;
        } else
            sg_sbuf_putc(out, p[i]);
    }
}

int sg_form_next(const char *form, size_t len, size_t *pos, sg_form_pair_t *out)
{
    size_t i = *pos;
    if (i >= len)
        return 0;
    const char *amp = memchr(form + i, '&', len - i);
    size_t end = amp ? (size_t)(amp - form) : len;
    const char *eq = memchr(form + i, '=', end - i);
    size_t kend = eq ? (size_t)(eq - form) : end;
    out->key = form + i;
    out->klen = kend - i;
    out->has_eq = eq != NULL;
    out->val = eq ? eq + 1 : form + end;
    out->vlen = eq ? end - kend - 1 : 0;
    *pos = end + 1;
    return 1;
}
