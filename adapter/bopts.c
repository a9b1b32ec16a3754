/* bopts.c - broadcast options on the wire. */
#include <stdio.h>
#include <string.h>

#include "bopts.h"
#include "json.h"
#include "util.h"

#define MAX_TIMEOUT_MS 3600000

int sg_bopts_room_name(const json_t *v, sg_name_t *out)
{
    if (json_is_string(v)) {
        out->len = json_string_length(v);
        out->p = sg_strndup(json_string_value(v), out->len);
        return 0;
    }
    if (json_is_integer(v)) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        out->p = sg_strndup(buf, (size_t)n);
        out->len = (size_t)n;
        return 0;
    }
    if (json_is_real(v)) {
        sg_sbuf_t sb;
        sg_sbuf_init(&sb);
        sg_json_put_number(&sb, json_real_value(v));
        out->p = sg_strndup((const char *)sg_sbuf_data(&sb), sb.len);
        out->len = sb.len;
        sg_sbuf_reset(&sb);
        return 0;
    }
    return SG_EINVAL;
}

static void names_free(sg_name_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_free((char *)v[i].p);
    sg_free(v);
}

static int name_list(const json_t *arr, size_t max, sg_name_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr))
        return 0; /* new Set(undefined or null): no rooms */
    if (!json_is_array(arr))
        return SG_EINVAL;
    if (max && json_array_size(arr) > max)
        return SG_ETOOBIG;
    sg_name_t *v = sg_calloc(json_array_size(arr) + 1, sizeof(*v));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        /* Not a room name: Node's Set would hold a value no socket is in, so
         * dropping it would widen the target to everyone. */
        if (sg_bopts_room_name(e, &v[*n]) != 0) {
            names_free(v, *n);
            *n = 0;
            return SG_EINVAL;
        }
        (*n)++;
    }
    *out = v;
    return 0;
}

int sg_bopts_decode(sg_bopts_t *bo, const json_t *opts, const json_t *list, size_t max)
{
    memset(bo, 0, sizeof(*bo));
    int rc = name_list(json_object_get(opts, "rooms"), max, &bo->rooms, &bo->nrooms);
    if (rc == 0)
        rc = name_list(json_object_get(opts, "except"), max, &bo->except, &bo->nexcept);
    if (rc == 0)
        rc = name_list(list, max, &bo->list, &bo->nlist);
    if (rc != 0) {
        sg_bopts_clear(bo);
        return rc;
    }
    const json_t *flags = json_object_get(opts, "flags");
    unsigned f = SG_BCAST_LOCAL;
    if (json_is_true(json_object_get(flags, "volatile")))
        f |= SG_BCAST_VOLATILE;
    if (json_is_true(json_object_get(flags, "compress")))
        f |= SG_BCAST_COMPRESS;
    const json_t *t = json_object_get(flags, "timeout");
    if (json_is_integer(t) && json_integer_value(t) > 0 && json_integer_value(t) < MAX_TIMEOUT_MS)
        bo->timeout = (unsigned)json_integer_value(t);
    bo->o = (sg_bcast_opts_t){bo->rooms, bo->nrooms, bo->except, bo->nexcept, f};
    return 0;
}

void sg_bopts_clear(sg_bopts_t *bo)
{
    names_free(bo->rooms, bo->nrooms);
    names_free(bo->except, bo->nexcept);
    names_free(bo->list, bo->nlist);
    memset(bo, 0, sizeof(*bo));
}

json_t *sg_bopts_names_json(const sg_name_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_stringn(v[i].p, v[i].len));
    return a;
}

json_t *sg_bopts_json(const sg_bcast_opts_t *o, int with_flags, unsigned timeout)
{
    json_t *j = json_object();
    json_object_set_new(j, "rooms", sg_bopts_names_json(o->rooms, o->nrooms));
    json_object_set_new(j, "except", sg_bopts_names_json(o->except, o->nexcept));
    if (with_flags) {
        json_t *f = json_object();
        if (o->flags & SG_BCAST_VOLATILE)
            json_object_set_new(f, "volatile", json_true());
        if (o->flags & SG_BCAST_COMPRESS)
            json_object_set_new(f, "compress", json_true());
        if (timeout)
            json_object_set_new(f, "timeout", json_integer(timeout));
        json_object_set_new(j, "flags", f);
    }
    return j;
}
