/* Fuzz sg_eio_decode_text and re-encoding of what it accepts. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "eio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_eio_packet_t pkt;
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
