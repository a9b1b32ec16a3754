/* Fuzz the Streams adapter's wire codec (adapter/streams_wire.c): an input
 * is either the fields of a stream entry (uid, nsp, type, data separated by
 * NUL bytes) or a Pub/Sub payload, as another node could write them. What
 * decodes must encode again and decode to the same message. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "streams_wire.h"
#include "util.h"

/* Placeholders in v (binaries outside data are not part of an entry). */
static size_t placeholders(const json_t *v)
{
    long num;
    size_t n = 0, i;
    const char *k;
    json_t *e;
    if (sg_json_is_placeholder(v, &num))
        return 1;
    if (json_is_array(v))
        json_array_foreach(v, i, e) n += placeholders(e);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, k, e) n += placeholders(e);
    return n;
}

/* Encode m as an entry and decode it back: the same message. */
static void round_trip(const json_t *m, sg_buf_t *const *bins, size_t nbins)
{
    sg_streams_entry_t e;
    if (sg_streams_entry_encode(&e, m, bins, nbins, 0) != 0)
        return;
    json_t *back = NULL;
    sg_buf_t **bins2 = NULL;
    size_t nbins2 = 0;
    if (sg_streams_entry_decode(e.uid, e.uid_len, e.nsp, e.nsp_len, e.type, strlen(e.type), e.data,
                                e.data_len, &back, &bins2, &nbins2) != 0) {
        /* The one thing that does not come back: an object key with a NUL
         * (msgpack carries it, jansson's JSON parser refuses it). Such a
         * message is dropped by its readers, nothing worse. */
        if (!e.data || !memmem(e.data, e.data_len, "\\u0000", 6))
            __builtin_trap();
        sg_streams_entry_clear(&e);
        sg_bufs_free(bins2, nbins2);
        return;
    }
    /* Binary survives in the types that may carry it; in the others it
     * becomes {"type":"Buffer","data":[...]}, as JSON.stringify makes it. */
    json_int_t t = json_integer_value(json_object_get(m, "type"));
    int binary_type = t == 3 || t == 8 || t == 9 || t == 10 || t == 12;
    size_t want = placeholders(json_object_get(m, "data"));
    if ((binary_type && want == nbins ? nbins2 != nbins : 0) ||
        (!binary_type && nbins2 != 0) ||
        json_integer_value(json_object_get(back, "type")) != t)
        __builtin_trap();
    json_decref(back);
    sg_bufs_free(bins2, nbins2);
    sg_streams_entry_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    json_t *m = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    int rc;
    if (data[0] & 1) {
        rc = sg_streams_unpack(p, n, &m, &bins, &nbins);
    } else {
        const char *f[4] = {"", "", "", NULL};
        size_t len[4] = {0, 0, 0, 0};
        size_t k = 0, start = 0;
        for (size_t i = 0; i <= n && k < 4; i++) {
            if (i == n || (p[i] == '\0' && k < 3)) {
                f[k] = p + start;
                len[k] = i - start;
                k++;
                start = i + 1;
            }
        }
        rc = sg_streams_entry_decode(f[0], len[0], f[1], len[1], f[2], len[2], k == 4 ? f[3] : NULL,
                                     len[3], &m, &bins, &nbins);
    }
    /* Messages as nodes write them: a type of the protocol (1..13), data,
     * when present, an object (JSON text of anything else does not start
     * with '{' and reads as base64). */
    const json_t *d = json_object_get(m, "data");
    if (rc == 0 && json_is_object(m) && json_is_string(json_object_get(m, "uid")) &&
        json_is_string(json_object_get(m, "nsp")) && json_is_integer(json_object_get(m, "type")) &&
        json_integer_value(json_object_get(m, "type")) >= 1 &&
        json_integer_value(json_object_get(m, "type")) <= 13 && (!d || json_is_object(d)))
        round_trip(m, bins, nbins);
    json_decref(m);
    sg_bufs_free(bins, nbins);
    (void)sg_streams_hash(p, n);
    return 0;
}
