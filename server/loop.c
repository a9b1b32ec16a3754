/* loop.c - the libwebsockets context joined to our libuv loop as a foreign
 * loop, its TLS when tlsCert/tlsKey are set, and the one callback of our lws
 * protocol, dispatched to the HTTP side (http_route.c) or the WebSocket
 * side (ws.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "server_internal.h"
#include "slab.h"
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
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* tlsCa: len is OpenSSL's preverify_ok. lws accepts the certificate
         * when this returns 0, so the default handler would let any client
         * certificate in, signed by tlsCa or not. */
        return !len;
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

/* ---- TLS: tlsCert, tlsKey, tlsCa, tlsMinVersion ----
 * With tlsCert and tlsKey set the port serves HTTPS and WSS only (a plain
 * HTTP request gets no HTTP answer). Without them OpenSSL is never
 * initialised and no connection carries any TLS state: TLS costs nothing
 * when off. listen.c's adoption asks lws for TLS on every connection; lws
 * does it only when the vhost has a certificate. */

static int tls_set(const char *s)
{
    return s && *s;
}

/* 0 when path can be read and holds a PEM block whose label ends with
 * label ("CERTIFICATE", "PRIVATE KEY"); otherwise an error naming the
 * setting. lws would report most of these itself, but not a bad tlsCa: it
 * logs it and carries on, refusing every client certificate. */
static int tls_check_file(const sg_config_t *cfg, const char *setting, const char *path,
                          const char *label)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        SG_ERR(cfg, "%s: cannot read '%s': %s", setting, path, strerror(errno));
        return -1;
    }
    char line[256];
    size_t ll = strlen(label);
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        char *end = strncmp(line, "-----BEGIN ", 11) == 0 ? strstr(line + 11, "-----") : NULL;
        found = end && (size_t)(end - (line + 11)) >= ll && memcmp(end - ll, label, ll) == 0;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!found) {
        SG_ERR(cfg, "%s: '%s' holds no PEM %s%s%s", setting, path, label, err ? ": " : "",
               err ? strerror(err) : "");
        return -1;
    }
    return 0;
}

/* Fills the TLS part of the context (and default vhost) creation info, or
 * does nothing when TLS is off. */
static int tls_setup(sg_server_t *srv, struct lws_context_creation_info *info)
{
    const sg_config_t *cfg = &srv->cfg;
    int cert = tls_set(cfg->tls_cert), key = tls_set(cfg->tls_key), ca = tls_set(cfg->tls_ca);
    if (!cert && !key && !ca)
        return 0;
    if (!cert || !key) {
        const char *why = cert  ? "tlsKey is not set"
                          : key ? "tlsCert is not set"
                                : "tlsCa is set without them";
        SG_ERR(cfg, "TLS needs both tlsCert and tlsKey (%s)", why);
        return -1;
    }
    if (tls_check_file(cfg, "tlsCert", cfg->tls_cert, "CERTIFICATE") != 0 ||
        tls_check_file(cfg, "tlsKey", cfg->tls_key, "PRIVATE KEY") != 0 ||
        (ca && tls_check_file(cfg, "tlsCa", cfg->tls_ca, "CERTIFICATE") != 0))
        return -1;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->ssl_cert_filepath = cfg->tls_cert;
    info->ssl_private_key_filepath = cfg->tls_key;
    if (ca) {
        /* Clients must present a certificate signed by tlsCa (checked in
         * proto_callback: LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION). */
        info->ssl_ca_filepath = cfg->tls_ca;
        info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    }
    /* SSLv2/3 are off in lws already. */
    long no = (long)(SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
    if (cfg->tls_min_version && strcmp(cfg->tls_min_version, "1.3") == 0)
        no |= (long)SSL_OP_NO_TLSv1_2;
    info->ssl_options_set = no;
    /* HTTP/1.1 only: lws would offer h2 to browsers, and polling and the
     * WebSocket upgrade are written for HTTP/1.1 connections. */
    info->alpn = "http/1.1";
    return 0;
}

/* Error lines lws logged: a TLS vhost that lws made while logging errors
 * (a tlsCa it could not load) is refused. */
static unsigned lws_errors;

static void lws_log_to_ours(int level, const char *line)
{
    lws_errors++;
    /* lws logs only errors here; keep its lines on stderr, unprefixed. */
    fprintf(stderr, "lws: %s", line);
}

/* The TLS vhost, on a context made with LWS_SERVER_OPTION_EXPLICIT_VHOSTS.
 * On failure the context is destroyed as sg_server_stop() would (the loop
 * finishes it), so srv->ctx is NULL again. */
static int tls_vhost(sg_server_t *srv, const struct lws_context_creation_info *info)
{
    const sg_config_t *cfg = &srv->cfg;
    unsigned errors = lws_errors;
    struct lws_vhost *vh = lws_create_vhost(srv->ctx, info);
    if (vh && lws_errors != errors) {
        lws_vhost_destroy(vh); /* lws could not load tlsCa and carried on */
        vh = NULL;
    }
    if (!vh) {
        int ca = tls_set(cfg->tls_ca);
        SG_ERR(cfg, "TLS: cannot use tlsCert '%s', tlsKey '%s'%s%s%s (see the lws lines above: "
               "not a certificate and its key, a key that does not match the certificate, an "
               "encrypted key, or a tlsCa that is no CA certificate)", cfg->tls_cert,
               cfg->tls_key, ca ? ", tlsCa '" : "", ca ? cfg->tls_ca : "", ca ? "'" : "");
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
        return SG_EIO;
    }
    srv->vhost = vh;
    SG_INFO(cfg, "TLS on: HTTPS and WSS only, TLS %s or later%s",
            cfg->tls_min_version ? cfg->tls_min_version : "1.2",
            tls_set(cfg->tls_ca) ? ", client certificates signed by tlsCa required" : "");
    return 0;
}

int sg_loop__start(sg_server_t *srv)
{
    struct lws_context_creation_info info;
    void *foreign[1] = {srv->loop};

    lws_set_log_level(LLL_ERR, lws_log_to_ours);
    /* Per-connection objects of lws in dense slabs (slab.h). */
    sg_slab_lws_install();
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
    int tls = tls_set(srv->cfg.tls_cert) || tls_set(srv->cfg.tls_key) || tls_set(srv->cfg.tls_ca);
    if (tls && tls_setup(srv, &info) != 0)
        return SG_EIO;
    srv->engine.tls = tls;
    /* Engine.IO has its own heartbeat. lws' default idle policy would arm a
     * 300 s validity timer per WebSocket, kept in a sorted list: O(n) per
     * connection, 43% of the CPU when 10k clients connect. */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity;
    /* With a foreign loop, destruction finishes inside the loop; lws clears
     * this pointer when it is complete. */
    info.pcontext = &srv->ctx_live;
    /* lws arms a content timeout of timeout_secs after every request. */
    info.timeout_secs = (unsigned)sg_config_http_timeout(&srv->cfg);
    info.keepalive_timeout = 60;
    info.max_http_header_data = 8192;
    info.pt_serv_buf_size = 32768;
    if (tls) {
        /* The TLS vhost is made apart: when lws cannot load the certificate
         * the context survives and is destroyed normally at exit. lws 4.1
         * failing a context with a foreign loop leaves its libuv handles on
         * our loop, pointing into unloaded code (a crash). */
        info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    }
    srv->ctx = srv->ctx_live = lws_create_context(&info);
    if (tls && srv->ctx)
        return tls_vhost(srv, &info);
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
