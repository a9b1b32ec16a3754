/* form.h - application/x-www-form-urlencoded values, decoded as Node's
 * querystring and URLSearchParams do: '+' is a space, %XX a byte, and a '%'
 * not followed by two hex digits stays as it is. */
#ifndef SG_FORM_H
#define SG_FORM_H

#include <stddef.h>
#include "buf.h"

/** Append the decoding of p[0..n) to out. */
void sg_form_decode(sg_sbuf_t *out, const char *p, size_t n);

#endif
