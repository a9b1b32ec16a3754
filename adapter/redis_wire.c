/* redis_wire.c - what the classic Pub/Sub backend's parts share: publishing
 * JSON or msgpack, the first-byte rule for decoding, ids, the log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "json.h"
#include "json_msgpack.h"
#include "redis_pubsub_internal.h"
#include "util.h"

void sg_rp__log(const sg_rp_t *rp, int level, const char *fmt, ...)
{
    if (!rp->env->log)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "redis adapter %s: ", sg_adapter_nsp(rp->a));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    rp->env->log(rp->env->log_ud, level, buf);
}

void sg_rp__random_id(char out[SG_RP_ID_LEN + 1])
{
    sg_random_id(out, SG_RP_ID_LEN);
}

/* ---- encoding ---- */

int sg_rp__publish_json(sg_rp_t *rp, const char *channel, const json_t *obj,
                        sg_buf_t *const *bins, size_t nbins)
{
    json_t *conv = nbins ? sg_json_node_buffers(obj, bins, nbins) : json_incref((json_t *)obj);
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_json_dump(&sb, conv, NULL, NULL);
    int rc = sg_redis_publish(rp->r, channel, strlen(channel), sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
    json_decref(conv);
    return rc;
}

int sg_rp__publish_msgpack(sg_rp_t *rp, const char *channel, size_t chlen, const json_t *v,
                           sg_buf_t *const *bins, size_t nbins)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sg_jmp_pack(&pk, v, bins, nbins);
    int rc = sg_redis_publish(rp->r, channel, chlen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- decoding ---- */

/* The first-byte rule of the Node adapter: '{' is JSON, anything else msgpack. */
int sg_rp__decode(const char *data, size_t len, json_t **out, sg_buf_t ***bins,
                      size_t *nbins)
{
    if (len && data[0] == '{')
        return sg_json_parse(data, len, out);
    return sg_jmp_unpack_bytes(data, len, SG_RP_MAX_DEPTH, out, bins, nbins);
}

/* 1 when the JSON string v is exactly the len bytes at s. */
int sg_rp__is_name(const json_t *v, const char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), s, len) == 0;
}

