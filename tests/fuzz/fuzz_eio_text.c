/* Fuzz sg_eio_decode_text and re-encoding of what it accepts; the v3
 * WebSocket frame decoder and v3 payload encoding (both forms) round-trip. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "eio.h"

static int count_cb(const sg_eio_packet_t *pkt, void *ud)
{
    (void)pkt;
    (*(size_t *)ud)++;
    return 0;
}

/* A v3 frame that decodes re-encodes into payloads of both forms that decode
 * to exactly one packet. */
static void v3_frames(const uint8_t *data, size_t size)
{
    for (int binary = 0; binary < 2; binary++) {
        sg_eio_packet_t pkt;
        if (sg_eio_v3.decode_frame(data, size, binary, &pkt) != 0 || !pkt.bin)
            continue;
        for (int form = 0; form < 2; form++) {
            sg_sbuf_t sb = {0};
            size_t n = 0;
            sg_eio_v3.payload_add(&sb, pkt.bin, (sg_eio_form_t)form);
            if (sg_eio_v3.decode_payload(sg_sbuf_data(&sb), sb.len, form, 0, count_cb, &n) != 0 ||
                n != 1)
                __builtin_trap();
            sg_sbuf_reset(&sb);
        }
        sg_buf_unref(pkt.bin);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_eio_packet_t pkt;
    v3_frames(data, size);
    if (sg_eio_decode_text(data, size, &pkt) != 0)
        return 0;
    sg_buf_t *b = sg_eio_encode_text(pkt.type, pkt.data, pkt.len);
    /* Decoding then encoding a text packet is the identity. */
    if (b->len != size || memcmp(b->data, data, size) != 0)
        __builtin_trap();
    sg_buf_unref(b);
    sg_sbuf_t sb = {0};
    sg_eio_payload_add_text(&sb, pkt.type, pkt.data, pkt.len);
    sg_eio_payload_add_binary(&sb, pkt.data, pkt.len);
    sg_sbuf_reset(&sb);
    return 0;
}
