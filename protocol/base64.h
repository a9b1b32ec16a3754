/* base64.h - standard base64 (RFC 4648, '+' '/', '=' padding), used for
 * binary Engine.IO packets over long-polling ("b" + base64). */
#ifndef SG_BASE64_H
#define SG_BASE64_H

#include <stddef.h>
#include "buf.h"

/** Length of the encoding of n bytes. */
size_t sg_b64_encoded_len(size_t n);
/** Append the encoding of p[0..n) to sb. */
void sg_b64_encode(sg_sbuf_t *sb, const void *p, size_t n);
/** Decode s[0..len) into a new buffer (*out, refs = 1). Padding is required
 *  when len is not a multiple of 4 in the canonical form, but like Node we
 *  accept missing padding. Returns 0 or SG_EINVAL (bad character/length). */
int sg_b64_decode(const char *s, size_t len, sg_buf_t **out);

#endif
