/* loop.c - server lifecycle: the libuv loop, the libwebsockets context that
 * joins it as a foreign loop, signals, and deferred frees. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "redis_conn.h"

static int proto_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return sg_ws_callback(wsi, reason, user, in, len);
    case LWS_CALLBACK_WSI_CREATE:
    case LWS_CALLBACK_WSI_DESTROY: {
        struct lws_context *cx = lws_get_context(wsi);
        sg_server_t *srv = cx ? lws_context_user(cx) : NULL;
        if (srv)
            sg_listen__note(srv, reason == LWS_CALLBACK_WSI_CREATE);
        return 0;
    }
    case LWS_CALLBACK_RAW_ADOPT:
        /* lws turns an HTTP CONNECT request into a raw socket; we are no
         * proxy (Node closes such a request when nobody listens for it). */
        return -1;
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return sg_http_callback(wsi, reason, user, in, len);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static sg_buf_t *static_packet(const char *text)
{
    return sg_buf_new_copy(text, strlen(text));
}

static void cluster_log(void *ud, int level, const char *msg)
{
    sg_log(ud, (sg_log_level_t)level, "%s", msg);
}

/* adapter = redis: one shared pair of connections; each namespace's backend
 * is opened on it by sg_server_of. */
static int open_cluster(sg_server_t *srv, char *err, size_t errlen)
{
    if (!srv->cfg.adapter || strcmp(srv->cfg.adapter, "redis") != 0)
        return 0;
    sg_redis_opts_t o = {.url = srv->cfg.redis_url,
                         .backoff_min_ms = srv->cfg.redis_reconnect_min,
                         .backoff_max_ms = srv->cfg.redis_reconnect_max,
                         .connect_timeout_ms = srv->cfg.redis_connect_timeout,
                         .output_limit = srv->cfg.redis_output_limit,
                         .log = cluster_log,
                         .log_ud = srv};
    if (sg_redis_new(srv->loop, &o, &srv->redis, err, errlen) != 0)
        return SG_EINVAL;
    srv->adapter_env = (sg_adapter_env_t){
        srv->loop,         srv->redis,       srv->cfg.redis_key, srv->cfg.requests_timeout,
        srv->cfg.publish_specific, cluster_log, srv};
    return 0;
}

const char *sg_server_cluster_state(const sg_server_t *srv)
{
    return srv->redis ? sg_redis_state_name(srv->redis) : "single";
}

sg_server_t *sg_server_new(const sg_config_t *cfg, uv_loop_t *loop, char *err, size_t errlen)
{
    sg_server_t *srv = sg_calloc(1, sizeof(*srv));
    /* Deep-copy the configuration so the caller may free theirs. */
    srv->cfg = *cfg;
    srv->cfg.host = sg_strdup(cfg->host);
    srv->cfg.path = sg_strdup(cfg->path);
    srv->cfg.namespaces = sg_strdup(cfg->namespaces);
    srv->cfg.cors_origin = sg_strdup(cfg->cors_origin);
    srv->cfg.handshake_headers = sg_strdup(cfg->handshake_headers);
    srv->cfg.client_dir = sg_strdup(cfg->client_dir);
    srv->cfg.static_dir = sg_strdup(cfg->static_dir);
    srv->cfg.app = sg_strdup(cfg->app);
    srv->cfg.adapter = sg_strdup(cfg->adapter);
    srv->cfg.redis_url = sg_strdup(cfg->redis_url ? cfg->redis_url : "redis://127.0.0.1:6379");
    srv->cfg.redis_key = sg_strdup(cfg->redis_key ? cfg->redis_key : "socket.io");
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
    if (open_cluster(srv, err, errlen) != 0) {
        if (srv->owns_loop)
            uv_loop_close(&srv->own_loop);
        goto fail;
    }
    srv->listener.fd = srv->listener.reserve = -1;
    sg_listen__limits(srv);
    srv->sessions = sg_map_new();
    srv->acks = sg_map_new();
    srv->nsp_map = sg_map_new();
    srv->ping_buf = static_packet("2");
    srv->noop_buf = static_packet("6");
    srv->close_buf = static_packet("1");
    srv->probe_buf = static_packet("3probe");
    uv_idle_init(srv->loop, &srv->reaper);
    srv->reaper.data = srv;
    sg_timers_init(&srv->timers, srv->loop);
    uv_idle_init(srv->loop, &srv->flusher);
    srv->flusher.data = srv;
    sg_sbuf_init(&srv->wbuf);
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

static void lws_log_to_ours(int level, const char *line)
{
    /* lws logs only errors here; keep its lines on stderr, unprefixed. */
    fprintf(stderr, "lws: %s", line);
}

int sg_server_start(sg_server_t *srv)
{
    /* Our own listening socket (listen.c): a taken port fails here, before
     * lws exists, and accepting survives running out of descriptors. */
    if (sg_listen__open(srv) != 0)
        return SG_EIO;
    struct lws_context_creation_info info;
    void *foreign[1] = {srv->loop};

    lws_set_log_level(LLL_ERR, lws_log_to_ours);
    memset(&info, 0, sizeof(info));
    srv->protocols[0].name = "siogate";
    srv->protocols[0].callback = proto_callback;
    srv->protocols[0].per_session_data_size = sizeof(sg_pss_t);
    srv->protocols[0].rx_buffer_size = srv->cfg.ws_rx_buffer;
    srv->protocols[0].user = srv;
    /* Without this lws sends at most rx_buffer_size bytes per write. */
    srv->protocols[0].tx_packet_size = 1u << 20;
    info.protocols = srv->protocols;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = srv;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    /* Engine.IO has its own heartbeat. lws' default idle policy would arm a
     * 300 s validity timer per WebSocket, kept in a sorted list: O(n) per
     * connection, 43% of the CPU when 10k clients connect. */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity;
    /* With a foreign loop, destruction finishes inside the loop; lws clears
     * this pointer when it is complete. */
    info.pcontext = &srv->ctx_live;
    /* lws arms a content timeout of timeout_secs after every request; a held
     * polling GET is answered at the latest by the next ping, so the timeout
     * must outlast a ping interval. */
    info.timeout_secs = (srv->cfg.ping_interval + srv->cfg.ping_timeout) / 1000 + 30;
    info.keepalive_timeout = 60;
    info.max_http_header_data = 8192;
    info.pt_serv_buf_size = 32768;
    srv->ctx = srv->ctx_live = lws_create_context(&info);
    srv->vhost = srv->ctx ? lws_get_vhost_by_name(srv->ctx, "default") : NULL;
    if (!srv->vhost) {
        SG_ERR(srv, "cannot start libwebsockets on %s:%d", srv->cfg.host, srv->cfg.port);
        sg_listen__close(srv);
        return SG_EIO;
    }
    sg_listen__start(srv);
    int port = srv->listener.port;
    srv->started = 1;
    SG_INFO(srv, "siogate listening on http://%s:%d%s (app %s, adapter %s)", srv->cfg.host, port,
            srv->cfg.path, srv->cfg.app, srv->cfg.adapter);
    /* The integration tests wait for this exact phrase. */
    fprintf(stderr, "listening on http://%s:%d\n", srv->cfg.host, port);
    return 0;
}

/* Called once the loop ran dry after sg_server_stop: a second destroy call
 * completes what the first one could not finish inside the loop. */
void sg_server__finish_lws(sg_server_t *srv)
{
    for (int i = 0; srv->ctx_live && i < 4; i++) {
        lws_context_destroy(srv->ctx_live);
        uv_run(srv->loop, UV_RUN_DEFAULT);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    sg_server_t *srv = h->data;
    SG_INFO(srv, "received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    sg_server_stop(srv);
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
    int rc = uv_run(srv->loop, UV_RUN_DEFAULT);
    sg_server__finish_lws(srv);
    return rc;
}

static void on_reap(uv_idle_t *h)
{
    sg_server_t *srv = h->data;
    sg_session_reap(srv);
    sg_socket_free_dead(srv);
    if (!srv->reap_list && !srv->ndead) {
        uv_idle_stop(&srv->reaper);
        srv->reaper_on = 0;
    }
}

void sg_server_want_reap(sg_server_t *srv)
{
    if (!srv->reaper_on && !uv_is_closing((uv_handle_t *)&srv->reaper)) {
        srv->reaper_on = 1;
        uv_idle_start(&srv->reaper, on_reap);
    }
}

/* Bounds on waiting for more input before writing (see ws.c): a few loop
 * iterations and a little input at most, so latency stays in microseconds. */
#define SG_FLUSH_DEFER_ITER 128
#define SG_FLUSH_DEFER_BYTES (64u * 1024)

static void on_flush(uv_idle_t *h)
{
    sg_server_t *srv = h->data;
    if (srv->rx_more && srv->flush_deferred < SG_FLUSH_DEFER_ITER &&
        srv->rx_since_flush < SG_FLUSH_DEFER_BYTES) {
        srv->rx_more = 0;
        srv->flush_deferred++;
        return;
    }
    srv->rx_more = 0;
    srv->flush_deferred = 0;
    srv->rx_since_flush = 0;
    sg_ws_flush_all(srv);
    if (!srv->flush_list) {
        uv_idle_stop(&srv->flusher);
        srv->flusher_on = 0;
    }
}

void sg_server_want_flush(sg_server_t *srv)
{
    if (!srv->flusher_on && !uv_is_closing((uv_handle_t *)&srv->flusher)) {
        srv->flusher_on = 1;
        uv_idle_start(&srv->flusher, on_flush);
    }
}

void sg_server_stop(sg_server_t *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    sg_listen__close(srv);
    sg_map_iter_t it = {0};
    while (sg_map_next(srv->sessions, &it))
        sg_session_close(it.val, "server shutting down", 0);
    /* Nothing may wait for a deadline now: whoever awaits an answer gets
     * SG_ESTATE (pending client acks were failed with their sockets). */
    sg_ackgroups__shutdown(srv);
    if (srv->ctx) {
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
    }
    sg_session_reap(srv);
    sg_socket_free_dead(srv);
    /* Backends close uv handles, so they stop while the loop still runs. */
    for (sg_nsp_t *nsp = srv->nsps; nsp; nsp = nsp->next)
        sg_adapter_close(nsp->adapter);
    sg_redis_free(srv->redis);
    srv->redis = NULL;
    if (srv->signals_on) {
        uv_close((uv_handle_t *)&srv->sig_int, NULL);
        uv_close((uv_handle_t *)&srv->sig_term, NULL);
        srv->signals_on = 0;
    }
    uv_close((uv_handle_t *)&srv->reaper, NULL);
    uv_close((uv_handle_t *)&srv->flusher, NULL);
    sg_timers_close(&srv->timers);
}

void sg_server_free(sg_server_t *srv)
{
    if (!srv)
        return;
    if (!srv->stopping) {
        sg_server_stop(srv);
        uv_run(srv->loop, UV_RUN_DEFAULT);
    }
    sg_server__finish_lws(srv);
    if (srv->app_free)
        srv->app_free(srv->app);
    sg_nsp_free_all(srv);
    sg_map_free(srv->sessions);
    sg_map_free(srv->acks);
    sg_map_free(srv->nsp_map);
    sg_buf_unref(srv->ping_buf);
    sg_buf_unref(srv->noop_buf);
    sg_buf_unref(srv->close_buf);
    sg_buf_unref(srv->probe_buf);
    sg_free(srv->dead_sockets);
    sg_sbuf_reset(&srv->wbuf);
    sg_timers_free(&srv->timers);
    sg_free(srv->eio_echo_path);
    if (srv->owns_loop)
        uv_loop_close(&srv->own_loop);
    sg_config_free(&srv->cfg);
    sg_free(srv);
}

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
