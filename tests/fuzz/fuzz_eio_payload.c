/* Fuzz the polling POST body decoders: v4, v3 (string and binary
 * payloads), and JSONP bodies fed to the v3 decoder. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "eio.h"

static int sg_fuzz_cb(const sg_eio_packet_t *pkt, void *ud)
{
    size_t *total = ud;
    /* Touch every byte so ASan sees any out-of-range view. */
    for (size_t i = 0; i < pkt->len; i++)
        *total += pkt->data[i];
    if (pkt->binary && pkt->bin)
        sg_buf_unref(sg_buf_ref(pkt->bin)); /* callers may keep a reference */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    sg_eio_decode_payload(data, size, 0, sg_fuzz_cb, &total);
    sg_eio_decode_payload(data, size, 3, sg_fuzz_cb, &total);
    sg_eio_v3.decode_payload(data, size, 0, 0, sg_fuzz_cb, &total);
    sg_eio_v3.decode_payload(data, size, 1, 3, sg_fuzz_cb, &total);
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    if (sg_eio_jsonp_body(data, size, &sb) == 0)
        sg_eio_v3.decode_payload(sg_sbuf_data(&sb), sb.len, 0, 0, sg_fuzz_cb, &total);
    sg_sbuf_reset(&sb);
    return 0;
}
