/* Fuzz sg_json_parse + sg_json_dump: whatever parses must dump to text that
 * parses again and dumps identically (the dump is a fixed point). */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static long sg_fuzz_ph(long num, void *ud)
{
    (void)ud;
    return num % 3 == 0 ? -1 : num / 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v;
    if (sg_json_parse(data, size, &v) != 0)
        return 0;
    sg_sbuf_t a = {0}, b = {0};
    sg_json_dump(&a, v, NULL, NULL);
    json_t *w;
    if (sg_json_parse(sg_sbuf_data(&a), a.len, &w) != 0)
        __builtin_trap();
    sg_json_dump(&b, w, NULL, NULL);
    if (a.len != b.len || memcmp(sg_sbuf_data(&a), sg_sbuf_data(&b), a.len) != 0)
        __builtin_trap();
    sg_sbuf_reset(&b);
    sg_json_dump(&b, v, sg_fuzz_ph, NULL);
    sg_sbuf_reset(&a);
    sg_sbuf_reset(&b);
    json_decref(w);
    json_decref(v);
    return 0;
}
