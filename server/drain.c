/* drain.c - see drain.h. */
#include "drain.h"

#include "server_internal.h"

#define TICK_MS 100
#define GRACE_MS 1000 /* after the window, for the last closes to finish */

static void on_closed(uv_handle_t *h)
{
    (void)h; /* the timer lives in the server */
}

static void drain_end(sg_server_t *srv)
{
    if (uv_is_active((uv_handle_t *)&srv->drain_timer))
        uv_timer_stop(&srv->drain_timer);
    uv_close((uv_handle_t *)&srv->drain_timer, on_closed);
    srv->drained(srv);
}

/* Close what the elapsed share of the window asks for: after t of T ms,
 * ceil(total * t / T) sessions in all. */
static void on_tick(uv_timer_t *t)
{
    sg_server_t *srv = t->data;
    uint64_t window = (uint64_t)srv->cfg.drain_seconds * 1000;
    uint64_t elapsed = uv_now(srv->loop) - srv->drain_start;
    size_t left = sg_map_count(srv->engine.sessions);
    if (left == 0 || elapsed >= window + GRACE_MS || srv->stopping) {
        SG_INFO(&srv->cfg, "drain: done after %llu ms (%zu sessions left)",
                (unsigned long long)elapsed, left);
        drain_end(srv);
        return;
    }
    uint64_t share = elapsed >= window ? window : elapsed;
    size_t target = (size_t)((srv->drain_total * share + window - 1) / window);
    /* One pass per tick (closing does not take a session out of the map
     * at once, as sg_engine_stop relies on too). */
    sg_map_iter_t it = {0};
    while (srv->drain_closed < target && sg_map_next(srv->engine.sessions, &it)) {
        sg_session_t *s = it.val;
        if (s->state != SG_SESS_OPEN)
            continue;
        sg_session_close(s, "server shutting down", 0);
        srv->drain_closed++;
    }
}

void sg_drain_signal(sg_server_t *srv, const char *name, void (*stop)(sg_server_t *))
{
    if (srv->stopping)
        return;
    srv->drained = stop;
    size_t n = sg_map_count(srv->engine.sessions);
    if (srv->draining || !srv->cfg.drain_seconds || n == 0) {
        SG_INFO(&srv->cfg, "received %s, shutting down%s", name,
                srv->draining ? " now (second signal)" : "");
        if (srv->draining)
            drain_end(srv);
        else
            stop(srv);
        return;
    }
    srv->draining = 1;
    srv->engine.draining = 1;
    srv->drain_total = n;
    srv->drain_closed = 0;
    srv->drain_start = uv_now(srv->loop);
    SG_INFO(&srv->cfg,
            "received %s: draining %zu sessions over %u s (new sessions refused; a second "
            "signal stops at once)",
            name, n, srv->cfg.drain_seconds);
    uv_timer_init(srv->loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    uv_timer_start(&srv->drain_timer, on_tick, 0, TICK_MS);
}
