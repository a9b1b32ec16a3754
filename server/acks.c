/* acks.c - acknowledgements the server awaits from its clients.
 *
 * A client answers ACK <id>; any client can also send ACK packets with ids
 * it was never asked for, as fast as it likes. So the lookup is a hash on
 * (socket, id) shared by the whole server, never a walk of the socket's
 * list, and a socket may have at most maxPendingAcks outstanding. Each
 * pending ack is also on its socket's list, to fail them all when the
 * socket goes, and its timeout is a deadline in the server's heap. */
#include <stddef.h>
#include <string.h>

#include "sio_internal.h"
#include "util.h"

#define SG_ACK_KEY_LEN (sizeof(void *) + sizeof(int64_t))

struct sg_pending_ack {
    char key[SG_ACK_KEY_LEN]; /* socket pointer, then id: the index key */
    int64_t id;
    sg_ack_cb cb;
    void *ud;
    sg_socket_t *s; /* alive while the ack is: its close fails every pending ack first */
    sg_timer_t timer;
    sg_pending_ack_t *prev, *next; /* the socket's list */
};

static void make_key(char *key, const sg_socket_t *s, int64_t id)
{
    memcpy(key, &s, sizeof(void *));
    memcpy(key + sizeof(void *), &id, sizeof(id));
}

/* Out of the index, the list and the heap; the socket reference is the
 * caller's to drop after the callback. */
static void detach(sg_pending_ack_t *pa)
{
    sg_socket_t *s = pa->s;
    sg_server_t *srv = s->nsp->srv;
    sg_map_del(srv->acks, pa->key, SG_ACK_KEY_LEN);
    if (pa->prev)
        pa->prev->next = pa->next;
    else
        s->acks = pa->next;
    if (pa->next)
        pa->next->prev = pa->prev;
    s->nacks--;
    sg_timer_stop(&srv->timers, &pa->timer);
}

static void finish(sg_pending_ack_t *pa, int err, sg_data_t *args)
{
    sg_socket_t *s = pa->s;
    detach(pa);
    s->nsp->srv->stats.acks_pending--;
    if (err == SG_ETIMEOUT)
        s->nsp->srv->stats.acks_timeouts++;
    if (pa->cb)
        pa->cb(s, err, args, pa->ud);
    sg_free(pa);
}

static void on_timeout(sg_timer_t *t)
{
    finish((sg_pending_ack_t *)((char *)t - offsetof(sg_pending_ack_t, timer)), SG_ETIMEOUT,
           NULL);
}

int sg_acks__room(const sg_socket_t *s)
{
    return s->nacks < s->nsp->srv->cfg.max_pending_acks;
}

int sg_acks__expect(sg_socket_t *s, int64_t id, unsigned timeout_ms, sg_ack_cb cb, void *ud)
{
    sg_server_t *srv = s->nsp->srv;
    if (!sg_acks__room(s))
        return SG_ETOOBIG;
    sg_pending_ack_t *pa = sg_calloc(1, sizeof(*pa));
    make_key(pa->key, s, id);
    pa->id = id;
    pa->cb = cb;
    pa->ud = ud;
    pa->s = s;
    sg_timer_init(&pa->timer, on_timeout);
    /* Ids are unique per namespace, so a socket never waits twice on one;
     * an older entry under the same key would only come from a wrapped
     * counter, and loses. */
    sg_pending_ack_t *old = sg_map_get(srv->acks, pa->key, SG_ACK_KEY_LEN);
    if (old)
        finish(old, SG_ETIMEOUT, NULL);
    sg_map_put(srv->acks, pa->key, SG_ACK_KEY_LEN, pa);
    pa->next = s->acks;
    if (s->acks)
        s->acks->prev = pa;
    s->acks = pa;
    s->nacks++;
    srv->stats.acks_pending++;
    if (timeout_ms)
        sg_timer_in(&srv->timers, &pa->timer, timeout_ms);
    return 0;
}

void sg_acks__answer(sg_socket_t *s, sg_sio_packet_t *pkt)
{
    char key[SG_ACK_KEY_LEN];
    make_key(key, s, pkt->id);
    sg_pending_ack_t *pa = sg_map_get(s->nsp->srv->acks, key, SG_ACK_KEY_LEN);
    if (!pa)
        return; /* unknown or late: Node drops it too */
    sg_data_t *args = sg_data__from_packet(pkt, 0);
    finish(pa, 0, args);
    sg_data_free(args);
}

void sg_acks__fail_all(sg_socket_t *s, int err)
{
    while (s->acks)
        finish(s->acks, err, NULL);
}
