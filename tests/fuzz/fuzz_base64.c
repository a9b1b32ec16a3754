/* Fuzz sg_b64_decode; what decodes must re-encode to an equivalent string. */
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_buf_t *b;
    if (sg_b64_decode((const char *)data, size, &b) == 0) {
        sg_sbuf_t sb = {0};
        sg_b64_encode(&sb, b->data, b->len);
        sg_buf_t *c;
        /* Canonical re-encoding decodes to the same bytes. */
        if (sg_b64_decode((const char *)sg_sbuf_data(&sb), sb.len, &c) != 0 || c->len != b->len ||
            (b->len && memcmp(c->data, b->data, b->len) != 0))
            __builtin_trap();
        sg_buf_unref(c);
        sg_sbuf_reset(&sb);
        sg_buf_unref(b);
    }
    /* Encoding arbitrary bytes round-trips. */
    sg_sbuf_t sb = {0};
    sg_b64_encode(&sb, data, size);
    if (sb.len != sg_b64_encoded_len(size))
        __builtin_trap();
    if (sg_b64_decode((const char *)sg_sbuf_data(&sb), sb.len, &b) != 0 || b->len != size ||
        (size && memcmp(b->data, data, size) != 0))
        __builtin_trap();
    sg_buf_unref(b);
    sg_sbuf_reset(&sb);
    return 0;
}
