/* data.c - sg_data_t: event arguments with their binary attachments. */
#include <string.h>

#include "sio_internal.h"
#include "json.h"

struct sg_data {
    json_t *arr;
    sg_buf_t **bins;
    size_t nbins;
};

sg_data_t *sg_data_new(void)
{
    sg_data_t *d = sg_calloc(1, sizeof(*d));
    d->arr = json_array();
    return d;
}

void sg_data_free(sg_data_t *d)
{
    if (!d)
        return;
    json_decref(d->arr);
    for (size_t i = 0; i < d->nbins; i++)
        sg_buf_unref(d->bins[i]);
    sg_free(d->bins);
    sg_free(d);
}

size_t sg_data_count(const sg_data_t *d)
{
    return d ? json_array_size(d->arr) : 0;
}

json_t *sg_data_get(const sg_data_t *d, size_t i)
{
    return d ? json_array_get(d->arr, i) : NULL;
}

int sg_data_binary(const sg_data_t *d, const json_t *v, const void **p, size_t *len)
{
    long num;
    if (!d || !sg_json_is_placeholder(v, &num) || num < 0 || (size_t)num >= d->nbins)
        return SG_EINVAL;
    *p = d->bins[num]->data;
    *len = d->bins[num]->len;
    return 0;
}

static long add_bin(sg_data_t *d, sg_buf_t *b)
{
    d->bins = sg_realloc(d->bins, (d->nbins + 1) * sizeof(*d->bins));
    d->bins[d->nbins] = b;
    return (long)d->nbins++;
}

void sg_data_push(sg_data_t *d, json_t *v)
{
    json_array_append_new(d->arr, v ? v : json_null());
}

void sg_data_push_binary(sg_data_t *d, const void *p, size_t len)
{
    sg_buf_t *b = sg_buf_new_copy(p, len);
    b->flags |= SG_BUF_BINARY;
    json_array_append_new(d->arr, sg_json_placeholder(add_bin(d, b)));
}

typedef struct {
    const sg_data_t *src;
    sg_data_t *dst;
} remap_t;

static json_t *remap_one(long num, void *ud)
{
    remap_t *r = ud;
    if (num < 0 || (size_t)num >= r->src->nbins)
        return NULL;
    return sg_json_placeholder(add_bin(r->dst, sg_buf_ref(r->src->bins[num])));
}

/* Copy v, re-pointing placeholders at buffers appended to dst. */
static json_t *copy_remap(const json_t *v, const sg_data_t *src, sg_data_t *dst)
{
    remap_t r = {src, dst};
    return sg_json_map_placeholders(v, remap_one, &r);
}

json_t *sg_data_import(sg_data_t *d, const sg_data_t *src, const json_t *v)
{
    return v ? copy_remap(v, src, d) : json_null();
}

void sg_data_push_from(sg_data_t *d, const sg_data_t *src, size_t from)
{
    if (!src)
        return;
    for (size_t i = from; i < json_array_size(src->arr); i++)
        json_array_append_new(d->arr, copy_remap(json_array_get(src->arr, i), src, d));
}

sg_data_t *sg_data_from_json(json_t *array)
{
    sg_data_t *d = sg_calloc(1, sizeof(*d));
    d->arr = json_is_array(array) ? array : json_array();
    if (!json_is_array(array))
        json_decref(array);
    return d;
}

/* ---- used by socket.c ---- */

/* Take the arguments of a decoded packet: data[from..] and all its buffers. */
sg_data_t *sg_data__from_packet(sg_sio_packet_t *p, size_t from)
{
    sg_data_t *d = sg_calloc(1, sizeof(*d));
    d->arr = json_array();
    for (size_t i = from; i < json_array_size(p->data); i++)
        json_array_append(d->arr, json_array_get(p->data, i));
    d->bins = p->bins;
    d->nbins = p->nbins;
    p->bins = NULL;
    p->nbins = 0;
    return d;
}

/* Fill a packet for encoding: [event?, ...args]; buffers are borrowed, so the
 * caller must release with sg_data__unfill, not sg_sio_packet_clear. */
void sg_data__fill(sg_sio_packet_t *p, const char *event, const sg_data_t *d)
{
    p->data = json_array();
    if (event)
        json_array_append_new(p->data, json_string(event));
    if (d) {
        json_array_extend(p->data, d->arr);
        p->bins = d->bins;
        p->nbins = d->nbins;
    }
}

void sg_data__unfill(sg_sio_packet_t *p)
{
    json_decref(p->data);
    p->data = NULL;
    p->bins = NULL;
    p->nbins = 0;
}

/* Arguments data[from..] sharing the attachments bins (references taken). */
sg_data_t *sg_data__share(const json_t *data, sg_buf_t *const *bins, size_t nbins, size_t from)
{
    sg_data_t *d = sg_calloc(1, sizeof(*d));
    d->arr = json_array();
    for (size_t i = from; i < json_array_size(data); i++)
        json_array_append(d->arr, json_array_get(data, i));
    if (nbins) {
        d->bins = sg_malloc(nbins * sizeof(*d->bins));
        for (size_t i = 0; i < nbins; i++)
            d->bins[i] = sg_buf_ref(bins[i]);
        d->nbins = nbins;
    }
    return d;
}
