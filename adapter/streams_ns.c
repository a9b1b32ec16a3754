/* streams_ns.c - one namespace on the Streams backend: the transport its
 * cluster part (cluster.h) publishes through, and the adapter ops.
 *
 * Protocol 3 (0.3.x): broadcasts without acks, socketsJoin/Leave and
 * disconnectSockets go to the stream; broadcasts with acks, fetchSockets and
 * serverSideEmit ("ephemeral") to the public channel `<prefix>#<nsp>#`, and
 * answers to the requester's `<prefix>#<nsp>#<uid>#`, as msgpack of the
 * whole message; the server count is the public channel's NUMSUB.
 * Protocol 2 (0.2.x): everything to the stream, heartbeats count the
 * servers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_redis.h"
#include "streams_internal.h"
#include "util.h"

static char *join4(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *s = sg_malloc(n);
    snprintf(s, n, "%s%s%s%s", a, b, c, d);
    return s;
}

static int publish_channel(sg_sns_t *ns, const char *channel, const json_t *msg,
                           sg_buf_t *const *bins, size_t nbins, sg_cluster_published_cb cb,
                           void *cb_ud)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_streams_pack(&sb, msg, bins, nbins);
    int rc = sg_cluster_redis_publish(ns->s->redis, "PUBLISH", channel, strlen(channel),
                                      sg_sbuf_data(&sb), sb.len, cb, cb_ud);
    sg_sbuf_reset(&sb);
    return rc;
}

/* Node's isEphemeral (0.3.x): what goes over Pub/Sub instead of the stream. */
static int ephemeral(const json_t *msg)
{
    json_int_t t = json_integer_value(json_object_get(msg, "type"));
    if (t == SG_CLUSTER_FETCH_SOCKETS || t == SG_CLUSTER_SERVER_SIDE_EMIT)
        return 1;
    return t == SG_CLUSTER_BROADCAST &&
           json_object_get(json_object_get(msg, "data"), "requestId") != NULL;
}

static int to_stream(sg_sns_t *ns, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                     sg_cluster_published_cb cb, void *cb_ud)
{
    sg_streams_entry_t e;
    if (sg_streams_entry_encode(&e, msg, bins, nbins, ns->s->o.only_plaintext) != 0)
        return SG_EINVAL;
    int rc = sg_streams__xadd(ns->s, ns->stream, &e, cb, cb_ud);
    /* Node's readers never poll a negative stream index: they get a copy
     * where they look, which siogate's readers ignore (streams.c). */
    if (rc == 0 && ns->mirror)
        sg_streams__xadd(ns->s, ns->mirror, &e, NULL, NULL);
    sg_streams_entry_clear(&e);
    return rc;
}

static int tp_publish(void *tp, const json_t *msg, sg_buf_t *const *bins, size_t nbins,
                      sg_cluster_published_cb cb, void *cb_ud)
{
    sg_sns_t *ns = tp;
    if (ns->s->o.protocol == 3 && ephemeral(msg))
        return publish_channel(ns, ns->pub_ch, msg, bins, nbins, cb, cb_ud);
    return to_stream(ns, msg, bins, nbins, cb, cb_ud);
}

static int tp_publish_response(void *tp, const char *requester_uid, const json_t *msg,
                               sg_buf_t *const *bins, size_t nbins)
{
    sg_sns_t *ns = tp;
    if (ns->s->o.protocol == 2)
        return to_stream(ns, msg, bins, nbins, NULL, NULL);
    char *ch = join4(ns->s->channel_prefix, "#", ns->nsp, "#");
    char *own = join4(ch, requester_uid, "#", "");
    int rc = publish_channel(ns, own, msg, bins, nbins, NULL, NULL);
    sg_free(ch);
    sg_free(own);
    return rc;
}

static int tp_server_count(void *tp, sg_cluster_count_cb cb, void *cb_ud)
{
    sg_sns_t *ns = tp;
    return sg_cluster_redis_count(ns->s->redis, "NUMSUB", ns->pub_ch, strlen(ns->pub_ch), cb,
                                  cb_ud);
}

static void on_channel(void *ud, const char *ch, size_t chlen, const char *data, size_t len)
{
    sg_sns_t *ns = ud;
    json_t *msg = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    if (sg_streams_unpack(data, len, &msg, &bins, &nbins) != 0)
        sg_streams__log(ns->s, 1, "redis streams: dropped an undecodable message on %.*s",
                        (int)chlen, ch);
    else
        sg_cluster_on_message(ns->c, msg, bins, nbins, NULL);
    json_decref(msg);
    sg_bufs_free(bins, nbins);
}

static void ns_free(sg_sns_t *ns)
{
    sg_free(ns->nsp);
    sg_free(ns->stream);
    sg_free(ns->mirror);
    sg_free(ns->pub_ch);
    sg_free(ns->own_ch);
    sg_free(ns);
}

static int st_open(sg_adapter_t *a)
{
    const sg_adapter_env_t *env = sg_adapter_env(a);
    sg_streams_t *s = env ? env->shared : NULL;
    if (!s)
        return SG_ESTATE;
    const char *nsp = sg_adapter_nsp(a);
    sg_sns_t *ns = sg_calloc(1, sizeof(*ns));
    ns->s = s;
    ns->a = a;
    ns->nsp = sg_strdup(nsp);
    ns->nsp_len = strlen(nsp);
    ns->stream = sg_streams_name(s->stream_name, s->o.stream_count, nsp, ns->nsp_len, &ns->mirror);
    if (sg_map_get(s->nsps, ns->nsp, ns->nsp_len) ||
        sg_streams__want_reader(s, ns->stream) != 0) {
        ns_free(ns);
        return SG_ESTATE;
    }
    if (ns->mirror)
        sg_streams__log(s, 1,
                        "namespace %s: Node's stream for it is %s, which Node's readers never "
                        "poll; this node also writes its entries to %s for them",
                        nsp, ns->stream, ns->mirror);
    int p3 = s->o.protocol == 3;
    sg_cluster_transport_t tp = {tp_publish, tp_publish_response, p3 ? tp_server_count : NULL};
    sg_cluster_opts_t co = {.heartbeat = !p3,
                            .heartbeat_interval = s->o.heartbeat_interval,
                            .heartbeat_timeout = s->o.heartbeat_timeout,
                            .requests_timeout = s->o.requests_timeout};
    if (env->recovery_ms) {
        co.on_offset = sg_streams__on_offset;
        co.offset_ud = ns;
    }
    ns->c = sg_cluster_new(a, &tp, ns, &co);
    ns->pub_ch = join4(s->channel_prefix, "#", nsp, "#");
    ns->own_ch = join4(ns->pub_ch, sg_cluster_uid(ns->c), "#", "");
    sg_map_put(s->nsps, ns->nsp, ns->nsp_len, ns);
    if (p3) {
        sg_redis_subscribe(s->redis, ns->pub_ch, 0, on_channel, ns);
        sg_redis_subscribe(s->redis, ns->own_ch, 0, on_channel, ns);
    }
    sg_cluster_start(ns->c); /* a failed INITIAL_HEARTBEAT: peers learn of us later */
    sg_streams__log(s, 3, "namespace %s: uid %s, stream %s", nsp, sg_cluster_uid(ns->c),
                    ns->stream);
    return 0;
}

static void st_close(sg_adapter_t *a)
{
    sg_cluster_t *c = sg_cluster_of(a);
    if (!c)
        return;
    sg_sns_t *ns = sg_cluster_transport_ud(c);
    sg_cluster_free(c); /* 0.2: ADAPTER_CLOSE goes out through us first */
    sg_streams_t *s = ns->s;
    if (ns->s->o.protocol == 3) {
        sg_redis_unsubscribe(s->redis, ns->pub_ch, 0);
        sg_redis_unsubscribe(s->redis, ns->own_ch, 0);
    }
    sg_map_del(s->nsps, ns->nsp, ns->nsp_len);
    ns_free(ns);
}

const sg_adapter_ops_t sg_adapter_streams_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "streams",
    .open = st_open,
    .close = st_close,
    .broadcast = sg_cluster_broadcast,
    .add_sockets = sg_cluster_add_sockets,
    .del_sockets = sg_cluster_del_sockets,
    .disconnect_sockets = sg_cluster_disconnect_sockets,
    .fetch_sockets = sg_cluster_fetch_sockets,
    .all_rooms = NULL, /* no such message in this protocol: this node's rooms */
    .server_side_emit = sg_cluster_server_side_emit,
    .broadcast_ack = sg_cluster_broadcast_ack,
    .cancel = sg_cluster_cancel,
    .broadcast_offset = sg_streams__broadcast_offset,
    .persist_session = sg_streams__persist,
    .restore_session = sg_streams__restore,
};
