/* http.c - see http.h. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "util.h"

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

void sg_http_put_head(sg_sbuf_t *sb, struct lws *wsi, int status, const char *ctype,
                      const char *extra, size_t len)
{
    const sg_pss_t *pss = lws_wsi_user(wsi);
    char line[64];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, status_text(status));
    sg_sbuf_append(sb, line, (size_t)n);
    if (ctype) {
        sg_sbuf_puts(sb, "Content-Type: ");
        sg_sbuf_puts(sb, ctype);
        sg_sbuf_puts(sb, "\r\n");
    }
    n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
    sg_sbuf_append(sb, line, (size_t)n);
    if (pss && pss->cors)
        sg_sbuf_puts(sb, pss->cors);
    if (extra)
        sg_sbuf_puts(sb, extra);
    /* Say it back: Node's keep-alive agent otherwise reuses the connection
     * that lws is about to close. */
    if (pss && pss->conn_close && !(extra && strstr(extra, "Connection:")))
        sg_sbuf_puts(sb, "Connection: close\r\n");
    sg_sbuf_puts(sb, "\r\n");
}

/* head and body in one writev; what the socket does not take goes to lws,
 * which keeps it and writes it before anything else on this connection. */
static int write_direct(struct lws *wsi, const sg_sbuf_t *head, const void *body, size_t len)
{
    struct iovec iov[2] = {{sg_sbuf_data(head), head->len}, {(void *)(uintptr_t)body, len}};
    ssize_t w = writev((int)lws_get_socket_fd(wsi), iov, len ? 2 : 1);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        w = 0;
    }
    size_t done = (size_t)w;
    if (done < head->len &&
        lws_write(wsi, sg_sbuf_data(head) + done, head->len - done, LWS_WRITE_HTTP) < 0)
        return -1;
    size_t off = done > head->len ? done - head->len : 0;
    if (off < len && lws_write(wsi, (unsigned char *)(uintptr_t)body + off, len - off,
                               LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return 0;
}

int sg_http_send(struct lws *wsi, sg_sbuf_t *head, const void *body, size_t len, int direct)
{
    sg_pss_t *pss = lws_wsi_user(wsi);
    int w;
    if (direct && !lws_partial_buffered(wsi)) {
        w = write_direct(wsi, head, body, len);
    } else {
        sg_sbuf_append(head, body, len);
        w = lws_write(wsi, sg_sbuf_data(head), head->len, LWS_WRITE_HTTP_FINAL);
    }
    if (pss) {
        sg_free(pss->cors);
        pss->cors = NULL;
    }
    if (w < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int sg_http_respond(struct lws *wsi, int status, const char *ctype, const char *extra,
                    const void *body, size_t len)
{
    sg_sbuf_t head;
    sg_sbuf_init(&head);
    sg_http_put_head(&head, wsi, status, ctype, extra, len);
    int rc = sg_http_send(wsi, &head, body, len, 0);
    sg_sbuf_reset(&head);
    return rc;
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

int sg_http_header(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0 || (size_t)n >= len)
        return -1;
    return lws_hdr_copy(wsi, buf, (int)len, t);
}

/* Node's `cors` option. */
char *sg_http_cors(const sg_config_t *cfg, struct lws *wsi, int preflight)
{
    const char *conf = cfg->cors_origin;
    char origin[512];
    if (!conf || !*conf || sg_http_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) < 0)
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
    sg_sbuf_puts(&sb, any && !cfg->cors_credentials ? "*" : origin);
    sg_sbuf_puts(&sb, "\r\n");
    if (!any || cfg->cors_credentials)
        sg_sbuf_puts(&sb, "Vary: Origin\r\n");
    if (cfg->cors_credentials)
        sg_sbuf_puts(&sb, "Access-Control-Allow-Credentials: true\r\n");
    if (preflight) {
        char req_headers[512];
        sg_sbuf_puts(&sb, "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
        if (sg_http_header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, req_headers, sizeof(req_headers)) >= 0) {
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

