/* Fuzz msgpack -> json (sg_jmp_unpack_bytes) -> msgpack (sg_jmp_pack), and
 * check the repacked bytes unpack to the same JSON text. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "json_msgpack.h"
#include "util.h"

static void sg_fuzz_dump(sg_sbuf_t *sb, const json_t *v)
{
    sg_json_dump(sb, v, NULL, NULL);
}

static void sg_fuzz_free_bins(sg_buf_t **bins, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_jmp_unpack_bytes(data, size, 0, &v, &bins, &nbins) != 0) {
        sg_free(bins);
        return 0;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    sg_jmp_pack(&pk, v, bins, nbins);

    json_t *w;
    sg_buf_t **bins2 = NULL;
    size_t nbins2 = 0;
    if (sg_jmp_unpack_bytes(sbuf.data, sbuf.size, 0, &w, &bins2, &nbins2) != 0)
        __builtin_trap();
    sg_sbuf_t a = {0}, b = {0};
    sg_fuzz_dump(&a, v);
    sg_fuzz_dump(&b, w);
    if (nbins != nbins2 || a.len != b.len || memcmp(sg_sbuf_data(&a), sg_sbuf_data(&b), a.len))
        __builtin_trap();
    sg_sbuf_reset(&a);
    sg_sbuf_reset(&b);
    json_decref(w);
    sg_fuzz_free_bins(bins2, nbins2);
    msgpack_sbuffer_destroy(&sbuf);
    json_decref(v);
    sg_fuzz_free_bins(bins, nbins);
    return 0;
}
