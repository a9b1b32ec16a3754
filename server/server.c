/* server.c - the server object: creation from a configuration, start,
 * run, shutdown, namespaces with their adapters, and the wiring of the
 * layers (engine, transports, Socket.IO, cluster backend) to each other. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "drain.h"
#include "echo.h"
#include "polling.h"
#include "sio_internal.h"
#include "slab.h"
#include "util.h"
#include "ws.h"

/* ---- the cluster backend ---- */

static void backend_log(void *ud, int level, const char *msg)
{
    sg_log(ud, (sg_log_level_t)level, "%s", msg);
}

/* A backend reads its settings as text (it does not know sg_config_t). */
static const char *backend_setting(void *ud, const char *name)
{
    static char buf[4096];
    sg_server_t *srv = ud;
    return sg_config_get(&srv->cfg, name, buf, sizeof buf) == 0 ? buf : NULL;
}

const char *sg_server_cluster_state(const sg_server_t *srv)
{
    return srv->backend ? sg_backend_state(srv->backend) : "single";
}

sg_nsp_t *sg_server_of(sg_server_t *srv, const char *name)
{
    sg_nsp_t *nsp = sg_nsp__find(srv, name, strlen(name));
    if (nsp)
        return nsp;
    nsp = sg_nsp__new(srv, name);
    nsp->adapter =
        sg_backend_adapter(srv->backend, name, &sg_socket_adapter_host, &sg_cluster_host, nsp);
    sg_adapter_set_max_rooms(nsp->adapter, srv->cfg.max_rooms_per_socket);
    if (srv->observer && srv->observer->nsp_added)
        srv->observer->nsp_added(srv->observer->ud, nsp);
    return nsp;
}

/* ---- lifecycle ---- */

#define SG_SLAB_TRIM_MS 1000

static void on_slab_trim(sg_timer_t *t)
{
    sg_server_t *srv = (sg_server_t *)((char *)t - offsetof(sg_server_t, slab_trim));
    sg_slab_trim();
    sg_timer_in(&srv->timers, t, SG_SLAB_TRIM_MS);
}

/* Sessions live in the slab with the other per-connection objects. */
static void session_free(sg_session_t *s)
{
    sg_handshake_release(&s->hs);
    sg_slab_free(s);
}

static void wire(sg_server_t *srv)
{
    sg_timers_init(&srv->timers, srv->loop);
    sg_defer_init(&srv->defer, srv->loop);
    sg_ws_out_init(&srv->ws_out, srv->loop);
    sg_engine_t *e = &srv->engine;
    e->cfg = &srv->cfg;
    e->loop = srv->loop;
    e->timers = &srv->timers;
    e->defer = &srv->defer;
    e->stats = &srv->stats;
    e->owner = srv;
    e->transports[SG_TR_POLLING] = &sg_polling_ops;
    e->transports[SG_TR_WEBSOCKET] = &sg_ws_ops;
    e->tr_state[SG_TR_WEBSOCKET] = &srv->ws_out;
    e->uppers[0] = &sg_client_upper;
    e->uppers[1] = &sg_echo_upper;
    e->session_alloc = sg_slab_calloc;
    e->session_free = session_free;
    sg_engine_init(e);
    sg_socket__init(srv);
    srv->listener.fd = srv->listener.reserve = -1;
    srv->acks = sg_map_new();
    srv->nsp_map = sg_map_new();
}

sg_server_t *sg_server_new(const sg_config_t *cfg, uv_loop_t *loop, char *err, size_t errlen)
{
    sg_server_t *srv = sg_calloc(1, sizeof(*srv));
    /* A copy, so the caller may free theirs. */
    sg_config_copy(&srv->cfg, cfg);
    sg_listen__limits(&srv->cfg);
    if (loop) {
        srv->loop = loop;
    } else {
        if (uv_loop_init(&srv->own_loop) != 0) {
            snprintf(err, errlen, "cannot initialise the event loop");
            goto fail;
        }
        srv->loop = &srv->own_loop;
        srv->owns_loop = 1;
    }
    sg_backend_env_t env = {srv->loop, backend_setting, srv, backend_log, &srv->cfg};
    if (sg_backend_open(srv->cfg.adapter, &env, &srv->backend, err, errlen) != 0) {
        if (srv->owns_loop)
            uv_loop_close(&srv->own_loop);
        goto fail;
    }
    wire(srv);
    sg_server_of(srv, "/");
    /* Extra namespaces from the configuration: "a,b" or "/a,/b". */
    if (srv->cfg.namespaces && *srv->cfg.namespaces) {
        char *list = sg_strdup(srv->cfg.namespaces), *save = NULL;
        for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            char name[256];
            snprintf(name, sizeof(name), "%s%s", t[0] == '/' ? "" : "/", t);
            sg_server_of(srv, name);
        }
        sg_free(list);
    }
    return srv;
fail:
    sg_config_free(&srv->cfg);
    sg_free(srv);
    return NULL;
}

int sg_server_start(sg_server_t *srv)
{
    /* Our own listening socket (listen.c): a taken port fails here, before
     * lws exists, and accepting survives running out of descriptors. */
    if (sg_listen__open(&srv->listener, &srv->cfg) != 0)
        return SG_EIO;
    if (sg_loop__start(srv) != 0) {
        SG_ERR(&srv->cfg, "cannot start libwebsockets on %s:%d", srv->cfg.host, srv->cfg.port);
        sg_listen__close(&srv->listener);
        return SG_EIO;
    }
    sg_listen__start(&srv->listener, srv->loop, srv->vhost);
    sg_timer_init(&srv->slab_trim, on_slab_trim);
    sg_timer_in(&srv->timers, &srv->slab_trim, SG_SLAB_TRIM_MS);
    int port = srv->listener.port;
    srv->started = 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    srv->started_at = (double)now.tv_sec + now.tv_nsec / 1e9;
    if (srv->cfg.admin_port && sg_admin_start(srv, &srv->admin) != 0) {
        sg_listen__close(&srv->listener);
        return SG_EIO;
    }
    SG_INFO(&srv->cfg, "siogate listening on http://%s:%d%s (app %s, adapter %s)", srv->cfg.host,
            port, srv->cfg.path, srv->cfg.app, srv->cfg.adapter);
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    sg_drain_signal(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM", sg_server_stop);
}

int sg_server_run(sg_server_t *srv, int handle_signals)
{
    if (handle_signals) {
        uv_signal_init(srv->loop, &srv->sig_int);
        uv_signal_init(srv->loop, &srv->sig_term);
        srv->sig_int.data = srv->sig_term.data = srv;
        uv_signal_start(&srv->sig_int, on_signal, SIGINT);
        uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
        srv->signals_on = 1;
    }
    /* The integration tests wait for this exact phrase; it comes once the
     * signals are handled, so a SIGTERM right after it is a clean stop. */
    if (srv->started)
        fprintf(stderr, "listening on http://%s:%d\n", srv->cfg.host, srv->listener.port);
    int rc = uv_run(srv->loop, UV_RUN_DEFAULT);
    sg_loop__finish(srv);
    return rc;
}

struct sg_stop_hook {
    void (*stop)(void *ud);
    void (*release)(void *ud);
    void *ud;
    struct sg_stop_hook *next;
};

void sg_server_on_stop(sg_server_t *srv, void (*stop)(void *ud), void (*release)(void *ud),
                       void *ud)
{
    struct sg_stop_hook *h = sg_calloc(1, sizeof(*h));
    h->stop = stop;
    h->release = release;
    h->ud = ud;
    h->next = srv->stop_hooks;
    srv->stop_hooks = h;
}

void sg_server_stop(sg_server_t *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    for (struct sg_stop_hook *h = srv->stop_hooks; h; h = h->next)
        if (h->stop)
            h->stop(h->ud);
    sg_admin_stop(srv->admin);
    srv->admin = NULL;
    if (srv->observer && srv->observer->stop)
        srv->observer->stop(srv->observer->ud);
    srv->observer = NULL;
    sg_listen__close(&srv->listener);
    sg_engine_stop(&srv->engine, "server shutting down");
    /* Nothing may wait for a deadline now: whoever awaits an answer gets
     * SG_ESTATE (pending client acks were failed with their sockets). */
    sg_ackgroups__shutdown(srv);
    if (srv->ctx) {
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
    }
    sg_defer_run(&srv->defer);
    /* Backends close uv handles, so they stop while the loop still runs. */
    for (sg_nsp_t *nsp = srv->nsps; nsp; nsp = nsp->next)
        sg_adapter_close(nsp->adapter);
    sg_backend_close(srv->backend);
    srv->backend = NULL;
    if (srv->signals_on) {
        uv_close((uv_handle_t *)&srv->sig_int, NULL);
        uv_close((uv_handle_t *)&srv->sig_term, NULL);
        srv->signals_on = 0;
    }
    sg_defer_close(&srv->defer);
    sg_ws_out_close(&srv->ws_out);
    sg_timers_close(&srv->timers);
}

void sg_server_free(sg_server_t *srv)
{
    if (!srv)
        return;
    sg_server_stop(srv);
    /* Let the close callbacks run (a no-op when sg_server_run already did). */
    uv_run(srv->loop, UV_RUN_DEFAULT);
    sg_loop__finish(srv);
    if (srv->app_free)
        srv->app_free(srv->app);
    while (srv->stop_hooks) {
        struct sg_stop_hook *h = srv->stop_hooks;
        srv->stop_hooks = h->next;
        if (h->release)
            h->release(h->ud);
        sg_free(h);
    }
    sg_nsp__free_all(srv);
    sg_engine_free(&srv->engine);
    sg_socket__free_dead(srv);
    sg_map_free(srv->acks);
    sg_map_free(srv->nsp_map);
    sg_free(srv->dead_sockets);
    sg_ws_out_free(&srv->ws_out);
    sg_timers_free(&srv->timers);
    sg_free(srv->eio_echo_path);
    if (srv->owns_loop)
        uv_loop_close(&srv->own_loop);
    sg_config_free(&srv->cfg);
    sg_free(srv);
}

/* ---- accessors ---- */

uv_loop_t *sg_server_loop(sg_server_t *srv)
{
    return srv->loop;
}

const sg_config_t *sg_server_config(const sg_server_t *srv)
{
    return &srv->cfg;
}

void sg_server_set_app_data(sg_server_t *srv, void *data, void (*free_fn)(void *))
{
    if (srv->app_free && srv->app != data)
        srv->app_free(srv->app);
    srv->app = data;
    srv->app_free = free_fn;
}

void sg_server_enable_eio_echo(sg_server_t *srv, const char *path)
{
    sg_free(srv->eio_echo_path);
    srv->eio_echo_path = sg_strdup(path);
}

void sg_server_log(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_logv(&srv->cfg, lvl, fmt, ap);
    va_end(ap);
}
