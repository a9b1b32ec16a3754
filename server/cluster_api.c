/* cluster_api.c - the embedding API's cluster-wide requests: fetchSockets,
 * allRooms and serverSideEmit, this node's part joined with the other
 * nodes' answers that the adapter collects. */
#include <string.h>

#include "sio_internal.h"
#include "util.h"

/* Results of cluster requests, turned into the embedding API's shapes. */
typedef struct {
    sg_bcast_ack_cb ack_cb;
    sg_cluster_cb cb;
    void *ud;
    json_t *local; /* fetch / allRooms: this node's part, answers appended */
    int rooms;     /* allRooms: drop duplicates */
} cl_ctx_t;

static void on_sse_result(void *ud, int err, const char *msg, const json_t *results)
{
    cl_ctx_t *c = ud;
    size_t n = json_array_size(results);
    sg_data_t **v = sg_calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = sg_data_new();
        sg_data_push(v[i], json_incref(json_array_get(results, i)));
    }
    c->ack_cb(err, v, n, c->ud);
    for (size_t i = 0; i < n; i++)
        sg_data_free(v[i]);
    sg_free(v);
    sg_free(c);
}

int sg_nsp_server_side_emit(sg_nsp_t *nsp, const char *event, const sg_data_t *args,
                            sg_bcast_ack_cb cb, void *ud)
{
    if (sg_sio_is_reserved_event(event))
        return SG_EINVAL;
    sg_sio_packet_t p;
    sg_nsp__fill_event(&p, nsp, event, args, -1);
    cl_ctx_t *c = NULL;
    if (cb) {
        c = sg_calloc(1, sizeof(*c));
        c->ack_cb = cb;
        c->ud = ud;
    }
    int rc = sg_adapter_server_side_emit(nsp->adapter, p.data, p.bins, p.nbins,
                                         cb ? on_sse_result : NULL, c);
    sg_data__unfill(&p);
    if (rc != 0)
        sg_free(c);
    return rc;
}

static void on_cluster_result(void *ud, int err, const char *msg, const json_t *results)
{
    cl_ctx_t *c = ud;
    size_t i;
    json_t *v;
    json_array_foreach(results, i, v)
    {
        int dup = 0;
        for (size_t k = 0; c->rooms && k < json_array_size(c->local) && !dup; k++)
            dup = json_equal(json_array_get(c->local, k), v);
        if (!dup)
            json_array_append(c->local, v);
    }
    c->cb(err, msg, c->local, c->ud);
    json_decref(c->local);
    sg_free(c);
}

/* local: this node's part; the adapter adds the other nodes' (or answers
 * at once when there are none). */
static int cluster_request(sg_nsp_t *nsp, const sg_bcast_opts_t *o, json_t *local, int rooms,
                           sg_cluster_cb cb, void *ud)
{
    cl_ctx_t *c = sg_calloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    c->local = local;
    c->rooms = rooms;
    int rc = rooms ? sg_adapter_all_rooms_remote(nsp->adapter, on_cluster_result, c)
                   : sg_adapter_fetch_sockets(nsp->adapter, o, on_cluster_result, c);
    if (rc != 0) {
        json_decref(local);
        sg_free(c);
    }
    return rc;
}

int sg_nsp_all_rooms_cluster(sg_nsp_t *nsp, sg_cluster_cb cb, void *ud)
{
    return cluster_request(nsp, NULL, sg_nsp_all_rooms(nsp), 1, cb, ud);
}

static void describe_one(sg_asock_t *a, void *ud)
{
    json_array_append_new(ud, sg_socket__describe((sg_socket_t *)a));
}

int sg_bcast_fetch_sockets_cluster(sg_bcast_t *b, sg_cluster_cb cb, void *ud)
{
    sg_bcast_opts_t o = sg_bcast__opts(b);
    json_t *local = json_array();
    sg_adapter_select(b->nsp->adapter, &o, describe_one, local);
    int rc = cluster_request(b->nsp, &o, local, 0, cb, ud);
    sg_bcast_free(b);
    return rc;
}
