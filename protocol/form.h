/* form.h - application/x-www-form-urlencoded values, decoded as Node's
 * querystring and URLSearchParams do: '+' is a space, %XX a byte, and a '%'
 * not followed by two hex digits stays as it is. */
#ifndef SG_FORM_H
#define SG_FORM_H

#include <stddef.h>
#include "buf.h"

/** Append the decoding of p[0..n) to out. */
void sg_form_decode(sg_sbuf_t *out, const char *p, size_t n);

/** One "key[=value]" of a form, both still encoded (value empty when the
 *  pair has no '='). */
typedef struct sg_form_pair {
    const char *key, *val;
    size_t klen, vlen;
    int has_eq;
} sg_form_pair_t;

/** The pair of form[0..len) at *pos, *pos then past it and its '&'.
 *  1 with *out, 0 at the end. Empty pairs ("a&&b") are returned too. */
int sg_form_next(const char *form, size_t len, size_t *pos, sg_form_pair_t *out);

#endif
