/* http.c - the HTTP side of the lws protocol: request routing, responses,
 * CORS, the client bundle and static files. Engine.IO long-polling itself is
 * in polling.c. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

int sg_polling_request(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, int method, int echo);
int sg_polling_body(struct lws *wsi, sg_pss_t *pss, const void *in, size_t len);
int sg_polling_body_done(struct lws *wsi, sg_pss_t *pss);
int sg_polling_writeable(struct lws *wsi, sg_pss_t *pss);
void sg_polling_closed(struct lws *wsi, sg_pss_t *pss);

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

int sg_http_respond(struct lws *wsi, int status, const char *ctype, const char *extra,
                    const void *body, size_t len)
{
    sg_pss_t *pss = lws_wsi_user(wsi);
    sg_sbuf_t sb;
    char head[512];
    sg_sbuf_init(&sb);
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status, status_text(status));
    sg_sbuf_append(&sb, head, (size_t)n);
    if (ctype) {
        sg_sbuf_puts(&sb, "Content-Type: ");
        sg_sbuf_puts(&sb, ctype);
        sg_sbuf_puts(&sb, "\r\n");
    }
    n = snprintf(head, sizeof(head), "Content-Length: %zu\r\n", len);
    sg_sbuf_append(&sb, head, (size_t)n);
    if (pss && pss->cors)
        sg_sbuf_puts(&sb, pss->cors);
    if (extra)
        sg_sbuf_puts(&sb, extra);
    /* Say it back: Node's keep-alive agent otherwise reuses the connection
     * that lws is about to close. */
    if (pss && pss->conn_close && !(extra && strstr(extra, "Connection:")))
        sg_sbuf_puts(&sb, "Connection: close\r\n");
    sg_sbuf_puts(&sb, "\r\n");
    if (len)
        sg_sbuf_append(&sb, body, len);
    sg_buf_t *b = sg_sbuf_finish(&sb);
    int w = lws_write(wsi, b->data, b->len, LWS_WRITE_HTTP_FINAL);
    sg_buf_unref(b);
    if (pss) {
        sg_free(pss->cors);
        pss->cors = NULL;
    }
    if (w < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int sg_http_eio_error(struct lws *wsi, int status, int code, const char *extra)
{
    static const char *const messages[] = {"Transport unknown", "Session ID unknown",
                                           "Bad handshake method", "Bad request", "Forbidden",
                                           "Unsupported protocol version"};
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", code,
                     messages[code]);
    return sg_http_respond(wsi, status, "application/json", extra, body, (size_t)n);
}

int sg_http_query(struct lws *wsi, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    char frag[1024];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            return -1;
        if ((size_t)n > nl && !strncmp(frag, name, nl) && frag[nl] == '=') {
            size_t vl = (size_t)n - nl - 1;
            if (vl >= len)
                return -1;
            memcpy(buf, frag + nl + 1, vl);
            buf[vl] = '\0';
            return (int)vl;
        }
        if ((size_t)n == nl && !strncmp(frag, name, nl)) {
            buf[0] = '\0';
            return 0;
        }
    }
}

static int header(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0 || (size_t)n >= len)
        return -1;
    return lws_hdr_copy(wsi, buf, (int)len, t);
}

/* Decide the CORS headers for this request (Node's `cors` option). */
static char *cors_headers(const sg_server_t *srv, struct lws *wsi, int preflight)
{
    const char *conf = srv->cfg.cors_origin;
    char origin[512];
    if (!conf || !*conf || header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) < 0)
        return NULL;
    int any = strcmp(conf, "*") == 0;
    if (!any) {
        int ok = 0;
        size_t ol = strlen(origin);
        for (const char *p = conf; *p;) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            while (l && isspace((unsigned char)*p)) p++, l--;
            while (l && isspace((unsigned char)p[l - 1])) l--;
            if (l == ol && !memcmp(p, origin, l))
                ok = 1;
            p = e ? e + 1 : p + strlen(p);
        }
        if (!ok)
            return NULL;
    }
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_puts(&sb, "Access-Control-Allow-Origin: ");
    /* A wildcard cannot be used with credentials: reflect the origin then. */
    sg_sbuf_puts(&sb, any && !srv->cfg.cors_credentials ? "*" : origin);
    sg_sbuf_puts(&sb, "\r\n");
    if (!any || srv->cfg.cors_credentials)
        sg_sbuf_puts(&sb, "Vary: Origin\r\n");
    if (srv->cfg.cors_credentials)
        sg_sbuf_puts(&sb, "Access-Control-Allow-Credentials: true\r\n");
    if (preflight) {
        char req_headers[512];
        sg_sbuf_puts(&sb, "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
        if (header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, req_headers, sizeof(req_headers)) >= 0) {
            sg_sbuf_puts(&sb, "Access-Control-Allow-Headers: ");
            sg_sbuf_puts(&sb, req_headers);
            sg_sbuf_puts(&sb, "\r\n");
        }
    }
    sg_sbuf_putc(&sb, '\0');
    char *out = sg_strdup((char *)sg_sbuf_data(&sb));
    sg_sbuf_reset(&sb);
    return out;
}

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "application/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".map") || !strcmp(dot, ".json"))
        return "application/json; charset=utf-8";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".ico"))
        return "image/x-icon";
    return "application/octet-stream";
}

#define SG_STATIC_MAX (16u << 20)

static int serve_file(struct lws *wsi, const char *dir, const char *rel, int head_only)
{
    char full[2048];
    struct stat st;
    if (!dir || !*dir || strstr(rel, "..") || rel[0] == '\0')
        goto not_found;
    snprintf(full, sizeof(full), "%s/%s", dir, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto not_found;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > SG_STATIC_MAX) {
        close(fd);
        goto not_found;
    }
    /* Validator from size and modification time: cheap, and it changes
     * whenever the npm package is reinstalled with another version. */
    char etag[64], inm[128], hdrs[160];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    snprintf(hdrs, sizeof(hdrs), "Cache-Control: public, max-age=0\r\nETag: %s\r\n", etag);
    if (header(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm)) >= 0 && !strcmp(inm, etag)) {
        close(fd);
        return sg_http_respond(wsi, 304, NULL, hdrs, NULL, 0);
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *body = sg_malloc(len ? len : 1);
    while (got < len) {
        ssize_t n = read(fd, body + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = sg_http_respond(wsi, 200, mime_of(full), hdrs, body, head_only ? 0 : got);
    sg_free(body);
    return rc;
not_found:
    return sg_http_respond(wsi, 404, "text/plain; charset=utf-8", NULL, "Not Found", 9);
}

static const char *const client_files[] = {
    "socket.io.js",           "socket.io.js.map",           "socket.io.min.js",
    "socket.io.min.js.map",   "socket.io.msgpack.min.js",   "socket.io.msgpack.min.js.map",
    "socket.io.esm.min.js",   "socket.io.esm.min.js.map",   NULL};

static int method_of(struct lws *wsi)
{
    char *uri;
    int len;
    return lws_http_get_uri_and_method(wsi, &uri, &len);
}

static int on_http(sg_server_t *srv, struct lws *wsi, sg_pss_t *pss, const char *path)
{
    int method = method_of(wsi);
    size_t pl = strlen(srv->cfg.path);
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
    if (header(wsi, WSI_TOKEN_CONNECTION, conn, sizeof(conn)) >= 0) {
        for (char *c = conn; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        pss->conn_close = strstr(conn, "close") != NULL;
    }
    if (!strncmp(path, srv->cfg.path, pl)) {
        if (srv->cfg.serve_client) {
            for (int i = 0; client_files[i]; i++)
                if (!strcmp(path + pl, client_files[i]))
                    return serve_file(wsi, srv->cfg.client_dir, client_files[i],
                                      method == LWSHUMETH_HEAD);
        }
        pss->cors = cors_headers(srv, wsi, method == LWSHUMETH_OPTIONS);
        if (method == LWSHUMETH_OPTIONS && pss->cors)
            return sg_http_respond(wsi, 204, NULL, NULL, NULL, 0);
        return sg_polling_request(srv, wsi, pss, method, 0);
    }
    if (srv->eio_echo_path && !strncmp(path, srv->eio_echo_path, strlen(srv->eio_echo_path)))
        return sg_polling_request(srv, wsi, pss, method, 1);
    if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD)
        return sg_http_respond(wsi, 404, "text/plain; charset=utf-8", NULL, "Not Found", 9);
    const char *rel = path[0] == '/' ? path + 1 : path;
    if (!*rel || rel[strlen(rel) - 1] == '/') {
        char idx[1024];
        snprintf(idx, sizeof(idx), "%sindex.html", rel);
        return serve_file(wsi, srv->cfg.static_dir, idx, method == LWSHUMETH_HEAD);
    }
    return serve_file(wsi, srv->cfg.static_dir, rel, method == LWSHUMETH_HEAD);
}

int sg_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
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
