/* cluster_hb.c - ClusterAdapterWithHeartbeat: who the other nodes are.
 * Every message from another node (the emitter excepted) proves that node
 * alive; a node silent for heartbeat_timeout, or that said ADAPTER_CLOSE, is
 * forgotten, and the requests waiting for it stop waiting. */
#include <string.h>

#include "cluster_internal.h"
#include "util.h"

#define SWEEP_MS 1000 /* Node's cleanup interval */

typedef struct peer {
    uint64_t last; /* uv_now when last heard from */
    size_t len;
    char uid[]; /* also the map key */
} peer_t;

static void on_heartbeat(uv_timer_t *t)
{
    sg_cluster_t *c = t->data;
    sg_cluster__publish(c, SG_CLUSTER_HEARTBEAT, NULL, NULL, 0, NULL, NULL);
}

void sg_cluster__hb_init(sg_cluster_t *c)
{
    /* The timers exist in both modes, so closing is the same in both. */
    uv_timer_init(c->env->loop, &c->hb_timer);
    uv_timer_init(c->env->loop, &c->sweep);
    c->hb_timer.data = c->sweep.data = c;
    c->open_handles += 2;
    c->peers = sg_map_new();
    if (c->o.heartbeat)
        c->touch = sg_cluster__hb_touch;
}

void sg_cluster__hb_touch(sg_cluster_t *c)
{
    if (!c->closing)
        uv_timer_start(&c->hb_timer, on_heartbeat, c->o.heartbeat_interval, 0);
}

static void remove_peer(sg_cluster_t *c, const char *uid, size_t len)
{
    /* Requests first, as Node's removeNode: their callbacks may look at the
     * peer count, which still includes it then. */
    if (c->reqs)
        sg_requests_peer_gone(c->reqs, uid, len);
    peer_t *p = sg_map_del(c->peers, uid, len);
    if (p)
        sg_cluster__log(c, 3, "peer %s gone", p->uid);
    sg_free(p);
}

static void on_sweep(uv_timer_t *t)
{
    sg_cluster_t *c = t->data;
    uint64_t now = uv_now(t->loop);
    /* Collect first: removing a peer runs request callbacks. */
    char **gone = NULL;
    size_t n = 0;
    sg_map_iter_t it = {0};
    while (sg_map_next(c->peers, &it)) {
        peer_t *p = it.val;
        if (now - p->last > c->o.heartbeat_timeout) {
            gone = sg_realloc(gone, (n + 1) * sizeof(*gone));
            gone[n++] = sg_strndup(p->uid, p->len);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!c->closing)
            remove_peer(c, gone[i], strlen(gone[i]));
        sg_free(gone[i]);
    }
    sg_free(gone);
}

int sg_cluster__hb_start(sg_cluster_t *c)
{
    uv_timer_start(&c->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    return sg_cluster__publish(c, SG_CLUSTER_INITIAL_HEARTBEAT, NULL, NULL, 0, NULL, NULL);
}

void sg_cluster__hb_stop(sg_cluster_t *c)
{
    sg_cluster__publish(c, SG_CLUSTER_ADAPTER_CLOSE, NULL, NULL, 0, NULL, NULL);
    uv_timer_stop(&c->hb_timer);
    uv_timer_stop(&c->sweep);
}

void sg_cluster__hb_free(sg_cluster_t *c)
{
    sg_map_iter_t it = {0};
    while (sg_map_next(c->peers, &it))
        sg_free(it.val);
    sg_map_free(c->peers);
    c->peers = NULL;
}

static void touch_peer(sg_cluster_t *c, const char *uid, size_t len)
{
    peer_t *p = sg_map_get(c->peers, uid, len);
    if (!p) {
        if (sg_map_count(c->peers) >= c->o.max_peers) {
            if (!c->peers_full_logged)
                sg_cluster__log(c, 1, "more than %zu peers: ignoring new ones", c->o.max_peers);
            c->peers_full_logged = 1;
            return;
        }
        p = sg_malloc(sizeof(*p) + len + 1);
        p->len = len;
        memcpy(p->uid, uid, len + 1);
        sg_map_put(c->peers, p->uid, len, p);
        sg_cluster__log(c, 3, "peer %s", p->uid);
    }
    p->last = uv_now(c->env->loop);
}

int sg_cluster__hb_on_message(sg_cluster_t *c, const char *uid, size_t len, json_int_t type)
{
    if (!(len == 7 && memcmp(uid, "emitter", 7) == 0))
        touch_peer(c, uid, len);
    switch (type) {
    case SG_CLUSTER_INITIAL_HEARTBEAT:
        sg_cluster__publish(c, SG_CLUSTER_HEARTBEAT, NULL, NULL, 0, NULL, NULL);
        return 1;
    case SG_CLUSTER_HEARTBEAT:
        return 1;
    case SG_CLUSTER_ADAPTER_CLOSE:
        remove_peer(c, uid, len);
        return 1;
    default:
        return 0;
    }
}

size_t sg_cluster__hb_peer_count(const sg_cluster_t *c)
{
    return sg_map_count(c->peers);
}

sg_name_t *sg_cluster__hb_peers(const sg_cluster_t *c, size_t *n)
{
    sg_name_t *v = sg_malloc((sg_map_count(c->peers) + 1) * sizeof(*v));
    *n = 0;
    sg_map_iter_t it = {0};
    while (sg_map_next(c->peers, &it)) {
        const peer_t *p = it.val;
        v[(*n)++] = (sg_name_t){p->uid, p->len};
    }
    return v;
}
