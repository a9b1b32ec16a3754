/* admin.c - see admin.h. */
#include "admin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "server_internal.h"
#include "util.h"

#define HEAD_MAX 8192
#define HEAD_TIMEOUT_MS 5000
#define MAX_CONNS 64

typedef struct aconn {
    sg_admin_t *a;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    char *out; /* the response being written */
    char head[HEAD_MAX];
    size_t len;
    int handles; /* open: tcp, timer */
    int done;    /* answered or closing */
    struct aconn *prev, *next;
} aconn_t;

struct sg_admin {
    sg_server_t *srv;
    uv_tcp_t tcp;
    int port;
    aconn_t *conns;
    size_t nconns;
    int live; /* the listener + connections not yet freed */
    int closing;
};

static void admin_unref(sg_admin_t *a)
{
    if (--a->live == 0)
        sg_free(a);
}

static void on_conn_closed(uv_handle_t *h)
{
    aconn_t *c = h->data;
    if (--c->handles)
        return;
    sg_admin_t *a = c->a;
    sg_free(c->out);
    sg_free(c);
    admin_unref(a);
}

static void conn_close(aconn_t *c)
{
    if (c->handles != 2 || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    sg_admin_t *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    c->done = 1;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    conn_close(w->data);
}

static void respond(aconn_t *c, int code, const char *reason, const char *type, const char *body,
                    size_t blen, const char *extra)
{
    c->done = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                     code, reason, type, blen, extra ? extra : "");
    c->out = sg_malloc((size_t)n + blen);
    memcpy(c->out, hdr, (size_t)n);
    memcpy(c->out + n, body, blen);
    uv_buf_t b = uv_buf_init(c->out, (unsigned)((size_t)n + blen));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        conn_close(c);
}

static void text(aconn_t *c, int code, const char *reason, const char *body)
{
    respond(c, code, reason, "text/plain; charset=utf-8", body, strlen(body), NULL);
}

/* Why the node should not get new clients now, or NULL. */
static const char *not_ready(sg_server_t *srv, char *buf, size_t n)
{
    if (srv->draining)
        return "draining";
    if (srv->stopping || !srv->listener.on)
        return "not accepting connections";
    const char *st = srv->backend ? sg_backend_state(srv->backend) : "single";
    if (strcmp(st, "ready") != 0 && strcmp(st, "single") != 0) {
        snprintf(buf, n, "adapter %s", st);
        return buf;
    }
    return NULL;
}

static void route(aconn_t *c)
{
    sg_server_t *srv = c->a->srv;
    char *sp1 = memchr(c->head, ' ', c->len);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', c->len - (size_t)(sp1 + 1 - c->head)) : NULL;
    if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        text(c, 400, "Bad Request", "bad request\n");
        return;
    }
    size_t mlen = (size_t)(sp1 - c->head), plen = strcspn(sp1 + 1, " ?");
    const char *path = sp1 + 1;
    int is_get = mlen == 3 && !memcmp(c->head, "GET", 3);
#define IS(p) (plen == strlen(p) && !memcmp(path, p, plen))
    if (!IS("/metrics") && !IS("/health") && !IS("/ready")) {
        text(c, 404, "Not Found", "not found; try /metrics, /health or /ready\n");
        return;
    }
    if (!is_get) {
        respond(c, 405, "Method Not Allowed", "text/plain; charset=utf-8", "GET only\n", 9,
                "Allow: GET\r\n");
        return;
    }
    if (IS("/health")) {
        text(c, 200, "OK", "ok\n");
    } else if (IS("/ready")) {
        char buf[96];
        const char *why = not_ready(srv, buf, sizeof buf);
        if (why) {
            char body[128];
            snprintf(body, sizeof body, "not ready: %s\n", why);
            text(c, 503, "Service Unavailable", body);
        } else {
            text(c, 200, "OK", "ready\n");
        }
    } else {
        sg_sbuf_t sb;
        sg_sbuf_init(&sb);
        sg_metrics_render(srv, &sb);
        respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                (const char *)sg_sbuf_data(&sb), sb.len, NULL);
        sg_sbuf_reset(&sb);
    }
#undef IS
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    aconn_t *c = h->data;
    *b = uv_buf_init(c->head + c->len, (unsigned)(sizeof c->head - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    aconn_t *c = s->data;
    if (c->done)
        return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    for (size_t i = 3; i < c->len; i++) {
        if (c->head[i - 3] == '\r' && c->head[i - 2] == '\n' && c->head[i - 1] == '\r' &&
            c->head[i] == '\n') {
            uv_timer_stop(&c->timer);
            route(c);
            return;
        }
    }
    if (c->len == sizeof c->head)
        text(c, 431, "Request Header Fields Too Large", "request head over 8 kB\n");
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    sg_admin_t *a = server->data;
    if (status < 0 || a->closing)
        return;
    aconn_t *c = sg_calloc(1, sizeof(*c));
    c->a = a;
    uv_tcp_init(a->srv->loop, &c->tcp);
    uv_timer_init(a->srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    a->live++;
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || a->nconns > MAX_CONNS) {
        conn_close(c); /* over the bound: accepted and closed, the backlog stays small */
        return;
    }
    uv_timer_start(&c->timer, on_timeout, HEAD_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_listener_closed(uv_handle_t *h)
{
    admin_unref(h->data);
}

int sg_admin_start(sg_server_t *srv, sg_admin_t **out)
{
    sg_admin_t *a = sg_calloc(1, sizeof(*a));
    a->srv = srv;
    uv_tcp_init(srv->loop, &a->tcp);
    a->tcp.data = a;
    a->live = 1;
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(srv->cfg.admin_host, srv->cfg.admin_port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        rc = uv_ip6_addr(srv->cfg.admin_host, srv->cfg.admin_port, (struct sockaddr_in6 *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&a->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->tcp, 64, on_connection);
    if (rc != 0) {
        SG_ERR(&srv->cfg, "admin listener: cannot listen on %s:%d: %s (adminHost must be an IP "
               "address)", srv->cfg.admin_host, srv->cfg.admin_port, uv_strerror(rc));
        a->closing = 1;
        uv_close((uv_handle_t *)&a->tcp, on_listener_closed);
        return SG_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    a->port = srv->cfg.admin_port;
    if (uv_tcp_getsockname(&a->tcp, (struct sockaddr *)&bound, &blen) == 0)
        a->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    SG_INFO(&srv->cfg, "admin listener on http://%s:%d/ (/metrics, /health, /ready)",
            srv->cfg.admin_host, a->port);
    *out = a;
    return 0;
}

int sg_admin_port(const sg_admin_t *a)
{
    return a->port;
}

void sg_admin_stop(sg_admin_t *a)
{
    if (!a || a->closing)
        return;
    a->closing = 1;
    while (a->conns)
        conn_close(a->conns);
    uv_close((uv_handle_t *)&a->tcp, on_listener_closed);
}
