/* reply.c - acknowledgements this server owes: to a client that sent an
 * event with an ack id (sent back on its namespace), or to another node
 * that sent a serverSideEmit with an ack (through the adapter's reply
 * path). Handlers answer both the same way (sg_ack_send). */
#include <string.h>

#include "sio_internal.h"
#include "util.h"

sg_ack_t *sg_reply__new(sg_socket_t *s, int64_t id)
{
    sg_ack_t *ack = sg_calloc(1, sizeof(*ack));
    ack->s = sg_socket_ref(s);
    ack->id = id;
    return ack;
}

sg_ack_t *sg_ack_keep(sg_ack_t *ack)
{
    ack->kept = 1;
    return ack;
}

int sg_ack_send(sg_ack_t *ack, const sg_data_t *args)
{
    int rc = SG_ESTATE;
    if (ack->remote) {
        if (!ack->sent) {
            /* Node forwards only the first argument of a server-side ack. */
            sg_sio_packet_t p;
            sg_sio_packet_init(&p);
            sg_data__fill(&p, NULL, args);
            ack->remote->send(ack->remote, json_array_get(p.data, 0), p.bins, p.nbins);
            sg_data__unfill(&p);
            rc = 0;
        }
    } else if (!ack->sent && sg_socket_connected(ack->s)) {
        sg_sio_packet_t p;
        sg_sio_packet_init(&p);
        p.type = SG_SIO_ACK;
        p.nsp = ack->s->nsp->name;
        p.id = ack->id;
        sg_data__fill(&p, NULL, args);
        rc = sg_socket__send(ack->s, &p, 0);
        sg_data__unfill(&p);
    }
    ack->sent = 1;
    if (ack->kept && !ack->in_cb)
        sg_ack_free(ack);
    return rc;
}

void sg_ack_free(sg_ack_t *ack)
{
    if (!ack)
        return;
    if (ack->in_cb) {
        ack->kept = 0; /* on_event releases it when the callback returns */
        return;
    }
    if (ack->remote)
        ack->remote->release(ack->remote);
    else
        sg_socket_unref(ack->s);
    sg_free(ack);
}

/* serverSideEmit received from another node: the handlers registered with
 * sg_nsp_on_server_event run with s == NULL; the first one gets the ack. */
void sg_reply__server_event(sg_nsp_t *nsp, const json_t *data, sg_buf_t *const *bins,
                            size_t nbins, sg_adapter_reply_t *reply)
{
    const json_t *jname = json_array_get(data, 0);
    const char *event = json_string_value(jname);
    size_t elen = json_string_length(jname);
    sg_ack_t *ack = NULL;
    if (reply) {
        ack = sg_calloc(1, sizeof(*ack));
        ack->remote = reply;
    }
    if (!event) {
        sg_ack_free(ack);
        return;
    }
    sg_data_t *args = sg_data__share(data, bins, nbins, 1);
    if (ack)
        ack->in_cb = 1;
    sg_ack_t *give = ack;
    for (sg_handler_t *h = nsp->server_events; h; h = h->next) {
        if (strlen(h->event) != elen || memcmp(h->event, event, elen) != 0)
            continue;
        h->cb.ev(NULL, event, args, give, h->ud);
        give = NULL;
    }
    if (ack) {
        ack->in_cb = 0;
        if (!ack->kept || ack->sent)
            sg_ack_free(ack);
    }
    sg_data_free(args);
}
