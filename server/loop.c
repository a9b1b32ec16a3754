/* loop.c - the libwebsockets context joined to our libuv loop as a foreign
 * loop, and the one callback of our lws protocol, dispatched to the HTTP
 * side (http_route.c) or the WebSocket side (ws.c). */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "server_internal.h"
#include "ws.h"

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
            sg_listen__note(&srv->listener, reason == LWS_CALLBACK_WSI_CREATE);
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
        return sg_http_route_callback(wsi, reason, user, in, len);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static void lws_log_to_ours(int level, const char *line)
{
    /* lws logs only errors here; keep its lines on stderr, unprefixed. */
    fprintf(stderr, "lws: %s", line);
}

int sg_loop__start(sg_server_t *srv)
{
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
    /* listen.c accepts and hands connections over (lws_adopt_socket_vhost). */
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
    return srv->vhost ? 0 : SG_EIO;
}

/* Called once the loop ran dry after shutdown: a second destroy call
 * completes what the first one could not finish inside the loop. */
void sg_loop__finish(sg_server_t *srv)
{
    for (int i = 0; srv->ctx_live && i < 4; i++) {
        lws_context_destroy(srv->ctx_live);
        uv_run(srv->loop, UV_RUN_DEFAULT);
    }
}
