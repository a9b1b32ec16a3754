/* Fuzz sg_sio_decode. The input is split at the first 0x00 0xff pair: the
 * text packet before it, then attachments separated by further 0x00 0xff
 * pairs, so the fuzzer can also drive sg_sio_add_attachment. Accepted
 * packets are encoded, and the encoding must decode again. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "sio.h"

static const uint8_t *sg_fuzz_next(const uint8_t *p, const uint8_t *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == 0x00 && p[1] == 0xff)
            return p;
    return end;
}

static void sg_fuzz_reencode(const sg_sio_packet_t *p)
{
    sg_sio_encoded_t e;
    if (sg_sio_encode(p, &e) != 0)
        __builtin_trap(); /* anything we decode we can encode */
    sg_sio_packet_t q;
    sg_sio_limits_t lim = {.max_attachments = 1000};
    /* Skip the Engine.IO '4'. */
    if (sg_sio_decode(e.text->data + 1, e.text->len - 1, &lim, &q) != 0)
        __builtin_trap();
    if (q.attachments != e.nbins)
        __builtin_trap();
    for (size_t i = 0; i < e.nbins; i++) {
        int rc = sg_sio_add_attachment(&q, e.bins[i]);
        if (rc != (i + 1 == e.nbins ? 1 : 0))
            __builtin_trap();
    }
    sg_sio_packet_clear(&q);
    sg_sio_encoded_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *cut = sg_fuzz_next(data, end);
    sg_sio_packet_t p;
    sg_sio_limits_t lim = {.max_attachments = 10};
    if (sg_sio_decode(data, (size_t)(cut - data), &lim, &p) != 0)
        return 0;
    int rc = p.attachments ? 0 : 1;
    for (const uint8_t *s = cut; s < end && rc == 0;) {
        s += 2;
        const uint8_t *n = sg_fuzz_next(s, end);
        sg_buf_t *b = sg_buf_new_copy(s, (size_t)(n - s));
        rc = sg_sio_add_attachment(&p, b);
        sg_buf_unref(b);
        s = n;
    }
    if (rc == 1)
        sg_fuzz_reencode(&p);
    sg_sio_packet_clear(&p);
    return 0;
}
