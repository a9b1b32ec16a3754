/* cluster_host.c - what the adapter asks of this server when another node
 * sends a request: describe a local socket (fetchSockets), run server-side
 * handlers (serverSideEmit), broadcast with acks on its behalf. */
#include "sio_internal.h"

static json_t *host_describe(sg_asock_t *a, void *ud)
{
    (void)ud;
    return sg_socket__describe((sg_socket_t *)a);
}

static void host_server_event(void *ud, const json_t *data, sg_buf_t *const *bins, size_t nbins,
                              sg_adapter_reply_t *reply)
{
    sg_reply__server_event(ud, data, bins, nbins, reply);
}

static size_t host_broadcast_ack(void *ud, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o,
                                 unsigned timeout_ms, sg_adapter_reply_t *fwd)
{
    return sg_ackgroup__remote(ud, pkt, o, timeout_ms, fwd);
}

const sg_adapter_chost_t sg_cluster_host = {host_describe, host_server_event, host_broadcast_ack};
