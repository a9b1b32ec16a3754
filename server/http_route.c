/* http_route.c - the HTTP side of our lws protocol: each request goes to
 * Engine.IO long-polling (the endpoint path, or the bare echo endpoint of
 * the conformance app), the client bundle, or the static files. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "polling.h"
#include "server_internal.h"
#include "static.h"
#include "util.h"

static int method_of(struct lws *wsi)
{
    char *uri;
    int len;
    return lws_http_get_uri_and_method(wsi, &uri, &len);
}

static int on_http(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, const char *path)
{
    const sg_config_t *cfg = &srv->cfg;
    int method = method_of(wsi);
    size_t pl = strlen(cfg->path);
    /* Each request on a kept-alive connection starts from a clean state. */
    sg_sbuf_reset(&pss->in);
    sg_buf_unref(pss->resp);
    sg_free(pss->cors);
    memset(pss, 0, sizeof(*pss));
    /* Two Content-Length headers make the body length ambiguous (request
     * smuggling behind a proxy): refuse, as Node's parser does. */
    if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0) {
        pss->conn_close = 1;
        sg_http_respond(wsi, 400, "text/plain; charset=utf-8", "Connection: close\r\n",
                        "Bad Request", 11);
        return -1;
    }
    char conn[64];
    if (sg_http_header(wsi, WSI_TOKEN_CONNECTION, conn, sizeof(conn)) >= 0) {
        for (char *c = conn; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        pss->conn_close = strstr(conn, "close") != NULL;
    }
    int head = method == LWSHUMETH_HEAD;
    if (!strncmp(path, cfg->path, pl)) {
        int rc;
        if (cfg->serve_client && (rc = sg_static_client(wsi, cfg->client_dir, path + pl, head)) != 1)
            return rc;
        pss->cors = sg_http_cors(cfg, wsi, method == LWSHUMETH_OPTIONS);
        if (method == LWSHUMETH_OPTIONS && pss->cors)
            return sg_http_respond(wsi, 204, NULL, NULL, NULL, 0);
        return sg_polling_request(&srv->engine, wsi, pss, method, 0);
    }
    if (srv->eio_echo_path && !strncmp(path, srv->eio_echo_path, strlen(srv->eio_echo_path)))
        return sg_polling_request(&srv->engine, wsi, pss, method, 1);
    if (method != LWSHUMETH_GET && !head)
        return sg_http_respond(wsi, 404, "text/plain; charset=utf-8", NULL, "Not Found", 9);
    const char *rel = path[0] == '/' ? path + 1 : path;
    if (!*rel || rel[strlen(rel) - 1] == '/') {
        char idx[1024];
        snprintf(idx, sizeof(idx), "%sindex.html", rel);
        return sg_static_serve(wsi, cfg->static_dir, idx, head);
    }
    return sg_static_serve(wsi, cfg->static_dir, rel, head);
}

int sg_http_route_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    sg_server_t *srv = lws_context_user(lws_get_context(wsi));
    sg_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(srv, wsi, pss, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return sg_polling_body(wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return sg_polling_body_done(wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return sg_polling_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss)
            sg_polling_closed(wsi, pss);
        return 0;
    default:
        return 0;
    }
}
