/* authreq.c - see authreq.h. */
#include "authreq.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "util.h"

#define HEAD_MAX 8192       /* response head(s), and trailers */
#define CHUNK_LINE_MAX 1024 /* a chunk-size line with its extensions */

enum { S_HEAD, S_LEN, S_CLOSE, S_CSIZE, S_CEXT, S_CDATA, S_CRLF, S_TRAILER, S_DONE };

struct sg_authreq {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t conn;
    uv_write_t wreq;
    struct addrinfo *res;  /* uv_getaddrinfo's list, freed with the request */
    struct addrinfo *next; /* the next address to try */
    struct addrinfo lit;   /* an IP literal, which needs no lookup */
    struct sockaddr_storage lit_addr;
    sg_sbuf_t out; /* request head + body */
    sg_authreq_cb cb;
    void *ud;
    int handles; /* tcp + timer until both are closed */
    int refs;    /* the handles, plus a lookup under way */
    int resolving, finished, cancelled;
    int result; /* what cb gets: the HTTP status or an SG_E* */
    /* response parser */
    int st, code, chunked, has_clen, digits;
    size_t max_body, clen, left, headbytes, line, trailer;
    sg_sbuf_t head, body;
    char rbuf[4096];
};

static void on_closed(uv_handle_t *h);

static void unref(sg_authreq_t *r)
{
    if (--r->refs)
        return;
    uv_freeaddrinfo(r->res);
    sg_sbuf_reset(&r->out);
    sg_sbuf_reset(&r->head);
    sg_sbuf_reset(&r->body);
    sg_free(r);
}

/* The single way out: every path (answer, error, timeout, cancel) closes both
 * handles here, and cb runs from the last close callback, so it is never
 * called from inside sg_authreq_post and the socket is gone when it runs. A
 * lookup cannot be interrupted once a pool thread runs it; cb does not wait
 * for it (the deadline holds), only the memory does. */
static void finish(sg_authreq_t *r, int result)
{
    if (r->finished)
        return;
    r->finished = 1;
    r->result = result;
    if (r->resolving)
        uv_cancel((uv_req_t *)&r->gai);
    if (!uv_is_closing((uv_handle_t *)&r->tcp))
        uv_close((uv_handle_t *)&r->tcp, on_closed);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}

static void deliver(sg_authreq_t *r)
{
    if (!r->cancelled) {
        if (r->result > 0) {
            sg_sbuf_putc(&r->body, '\0'); /* so body is never NULL, and a C string */
            r->cb(r->ud, r->result, (const char *)sg_sbuf_data(&r->body), r->body.len - 1);
        } else {
            r->cb(r->ud, r->result, NULL, 0);
        }
    }
    unref(r);
}

static void try_connect(sg_authreq_t *r);

static void on_closed(uv_handle_t *h)
{
    sg_authreq_t *r = h->data;
    if (!r->finished && h == (uv_handle_t *)&r->tcp) {
        /* closed after a failed connect: a fresh socket for the next address */
        uv_tcp_init(h->loop, &r->tcp);
        r->tcp.data = r;
        try_connect(r);
        return;
    }
    if (--r->handles == 0)
        deliver(r);
}

/* ---- response parser ---------------------------------------------------- */

static int body_add(sg_authreq_t *r, const char *p, size_t n)
{
    if (n > r->max_body - r->body.len)
        return SG_ETOOBIG;
    sg_sbuf_append(&r->body, p, n);
    return 0;
}

/* A Content-Length value: digits only, saturating rather than wrapping (a
 * wrapped length would pass the max_body check). */
static int parse_clen(sg_authreq_t *r, const char *v, size_t n)
{
    size_t x = 0;
    if (n == 0)
        return SG_EIO;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return SG_EIO;
        x = x > (SIZE_MAX - 9) / 10 ? SIZE_MAX : x * 10 + (size_t)(v[i] - '0');
    }
    if (r->has_clen && x != r->clen)
        return SG_EIO; /* two different lengths: a smuggling attempt or a broken proxy */
    r->has_clen = 1;
    r->clen = x;
    return 0;
}

/* The status line, then only the headers that frame the body. */
static int parse_head(sg_authreq_t *r)
{
    const char *p = (const char *)sg_sbuf_data(&r->head), *end = p + r->head.len;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)(eol - p);
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]) || p[8] != ' ' ||
        !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]) || (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
        return SG_EIO;
    r->code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->code < 100 || r->code > 599 || r->code == 101)
        return SG_EIO; /* 101: we never asked to switch protocols */
    r->chunked = r->has_clen = 0;
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        const char *colon = memchr(p, ':', n);
        if (*p == ' ' || *p == '\t' || !colon || colon == p)
            return SG_EIO; /* obsolete line folding, or not a header */
        const char *v = colon + 1, *ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
        if (nl == 14 && strncasecmp(p, "Content-Length", nl) == 0) {
            int rc = parse_clen(r, v, vl);
            if (rc)
                return rc;
        } else if (nl == 17 && strncasecmp(p, "Transfer-Encoding", nl) == 0) {
            /* only a final "chunked" frames the body; any other coding runs to close */
            r->chunked = vl >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0;
        }
    }
    if (r->code < 200) { /* interim (100 Continue, 103): the real head follows */
        r->head.len = 0;
        return 0;
    }
    if (r->code == 204 || r->code == 304)
        r->st = S_DONE;
    else if (r->chunked) /* Transfer-Encoding overrides Content-Length (RFC 9112 6.3) */
        r->st = S_CSIZE; /* left and digits are still 0: only a final head sets them */
    else if (r->has_clen && r->clen > r->max_body)
        return SG_ETOOBIG;
    else if (r->has_clen)
        r->st = (r->left = r->clen) ? S_LEN : S_DONE;
    else
        r->st = S_CLOSE;
    return 0;
}

/* Head bytes up to the empty line (a bare LF ends a line too). */
static int feed_head(sg_authreq_t *r, const char *p, size_t n, size_t *used)
{
    for (size_t i = 0; i < n;) {
        if (r->headbytes++ == HEAD_MAX)
            return SG_ETOOBIG;
        char c = p[i++];
        sg_sbuf_putc(&r->head, c);
        const char *h = (const char *)sg_sbuf_data(&r->head);
        size_t k = r->head.len;
        if (c == '\n' && k >= 2 &&
            (h[k - 2] == '\n' || (k >= 3 && !memcmp(h + k - 3, "\n\r", 2)))) {
            *used = i;
            return parse_head(r);
        }
    }
    *used = n;
    return 0;
}

/* One byte of chunked framing (everything but the chunk data). */
static int chunk_byte(sg_authreq_t *r, char c)
{
    switch (r->st) {
    case S_CSIZE:
        if (isxdigit((unsigned char)c)) {
            size_t d = (size_t)(isdigit((unsigned char)c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (r->left > (SIZE_MAX - d) / 16 || r->left * 16 + d > r->max_body - r->body.len)
                return SG_ETOOBIG;
            r->left = r->left * 16 + d;
            r->digits++;
            return 0;
        }
        if (!r->digits)
            return SG_EIO;
        r->st = S_CEXT; /* c starts the extensions, or ends the line */
        r->line = 0;
        return chunk_byte(r, c);
    case S_CEXT:
        if (c != '\n')
            return ++r->line > CHUNK_LINE_MAX ? SG_EIO : 0;
        r->st = r->left ? S_CDATA : S_TRAILER;
        r->line = 0;
        return 0;
    case S_CRLF: /* after the chunk data */
        if (c == '\r')
            return 0;
        if (c != '\n')
            return SG_EIO;
        r->st = S_CSIZE;
        r->left = 0;
        r->digits = 0;
        return 0;
    case S_TRAILER:
        if (++r->trailer > HEAD_MAX)
            return SG_ETOOBIG;
        if (c == '\n') {
            if (r->line == 0)
                r->st = S_DONE;
            r->line = 0;
        } else if (c != '\r') {
            r->line++;
        }
        return 0;
    }
    return SG_EIO;
}

/* 0: more to read; 1: the answer is complete; or an SG_E* error. */
static int feed(sg_authreq_t *r, const char *p, size_t n)
{
    while (n > 0 && r->st != S_DONE) {
        size_t k = 1;
        int rc;
        switch (r->st) {
        case S_HEAD:
            rc = feed_head(r, p, n, &k);
            break;
        case S_LEN:
        case S_CDATA:
            k = n < r->left ? n : r->left;
            rc = body_add(r, p, k);
            if ((r->left -= k) == 0)
                r->st = r->st == S_LEN ? S_DONE : S_CRLF;
            break;
        case S_CLOSE:
            k = n;
            rc = body_add(r, p, k);
            break;
        default:
            rc = chunk_byte(r, *p);
            break;
        }
        if (rc)
            return rc;
        p += k;
        n -= k;
    }
    return r->st == S_DONE; /* bytes after the answer are ignored */
}

/* ---- I/O ---------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, SG_ETIMEOUT);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    sg_authreq_t *r = h->data;
    *b = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    sg_authreq_t *r = s->data;
    if (r->finished)
        return;
    if (n < 0) {
        finish(r, n == UV_EOF && r->st == S_CLOSE ? r->code : SG_EIO);
        return;
    }
    int rc = feed(r, b->base, (size_t)n);
    if (rc)
        finish(r, rc < 0 ? rc : r->code);
}

static void on_connect(uv_connect_t *c, int status)
{
    sg_authreq_t *r = c->data;
    if (r->finished)
        return;
    if (status < 0) {
        uv_close((uv_handle_t *)&r->tcp, on_closed); /* on_closed tries the next address */
        return;
    }
    /* No write callback: a write error is left to the read side, for a server
     * may answer (413, 401) and close before it has read the whole body. */
    uv_buf_t b = uv_buf_init((char *)sg_sbuf_data(&r->out), (unsigned)r->out.len);
    if (uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, NULL) != 0 ||
        uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) != 0)
        finish(r, SG_EIO);
}

/* A name often has an IPv6 and an IPv4 address and the endpoint listens on
 * one of them only, so a failed connect moves on to the next address. */
static void try_connect(sg_authreq_t *r)
{
    struct addrinfo *ai = r->next;
    if (!ai) {
        finish(r, SG_EIO);
        return;
    }
    r->next = ai->ai_next;
    r->conn.data = r;
    if (uv_tcp_connect(&r->conn, &r->tcp, ai->ai_addr, on_connect) != 0)
        uv_close((uv_handle_t *)&r->tcp, on_closed);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sg_authreq_t *r = req->data;
    r->resolving = 0;
    if (r->finished || status < 0) {
        uv_freeaddrinfo(res);
        finish(r, SG_EIO); /* a no-op once finished */
        unref(r);
        return;
    }
    unref(r); /* not the last reference: the handles hold one until closed */
    r->res = r->next = res;
    try_connect(r);
}

/* ---- API ---------------------------------------------------------------- */

/* Host names and literals only: nothing that could end a header line. */
static int host_ok(const char *h, size_t n)
{
    if (n == 0 || n >= sizeof(((sg_authreq_url_t *)0)->host))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && (!h[i] || !strchr("-._:", h[i])))
            return 0;
    return 1;
}

static int path_ok(const char *p, size_t n)
{
    if (n == 0 || n >= sizeof(((sg_authreq_url_t *)0)->path) || (p[0] != '/'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

static int headers_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0)
        return 1;
    return n <= UINT_MAX / 4 && n >= 2 && !memcmp(h + n - 2, "\r\n", 2) && h[0] != '\r' &&
           !strstr(h, "\r\n\r\n") && !strstr(h, "\n\n");
}

int sg_authreq_post(uv_loop_t *loop, const sg_authreq_url_t *url, const char *headers,
                    const void *body, size_t len, unsigned timeout_ms, size_t max_body,
                    sg_authreq_cb cb, void *ud, sg_authreq_t **out)
{
    if (!loop || !url || !cb || !out || (len && !body) || !timeout_ms || len > UINT_MAX / 2 ||
        !host_ok(url->host, strnlen(url->host, sizeof url->host)) ||
        !path_ok(url->path, strnlen(url->path, sizeof url->path)) || url->port == 0 ||
        url->port > 65535 || !headers_ok(headers))
        return SG_EINVAL;
    sg_authreq_t *r = sg_calloc(1, sizeof(*r));
    r->cb = cb;
    r->ud = ud;
    r->max_body = max_body;
    int v6 = strchr(url->host, ':') != NULL;
    char port[8], head[1536]; /* the path, the host and the fixed lines fit */
    snprintf(port, sizeof port, "%u", url->port);
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n",
                     url->path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port != 80 ? ":" : "",
                     url->port != 80 ? port : "", len);
    sg_sbuf_append(&r->out, head, (size_t)n); /* the sg_sbuf_t fields start zeroed */
    sg_sbuf_puts(&r->out, headers ? headers : "");
    sg_sbuf_puts(&r->out, "\r\n");
    sg_sbuf_append(&r->out, body, len);

    uv_tcp_init(loop, &r->tcp);
    uv_timer_init(loop, &r->timer);
    r->tcp.data = r->timer.data = r->gai.data = r;
    r->handles = 2;
    r->refs = 1;
    uv_update_time(loop); /* the deadline counts from this call, not from the loop's last tick */
    uv_timer_start(&r->timer, on_timeout, timeout_ms, 0);

    if (uv_ip4_addr(url->host, (int)url->port, (struct sockaddr_in *)&r->lit_addr) == 0 ||
        uv_ip6_addr(url->host, (int)url->port, (struct sockaddr_in6 *)&r->lit_addr) == 0) {
        r->lit.ai_addr = (struct sockaddr *)&r->lit_addr;
        r->next = &r->lit;
        try_connect(r);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        if (uv_getaddrinfo(loop, &r->gai, on_resolved, url->host, port, &hints) == 0) {
            r->resolving = 1;
            r->refs++;
        } else {
            finish(r, SG_EIO);
        }
    }
    *out = r;
    return 0;
}

void sg_authreq_cancel(sg_authreq_t *r)
{
    if (!r)
        return;
    r->cancelled = 1;
    finish(r, 0);
}

static int url_fail(char *err, size_t errlen, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", why);
    return SG_EINVAL;
}

int sg_authreq_parse_url(const char *url, sg_authreq_url_t *out, char *err, size_t errlen)
{
    if (!url || !out)
        return url_fail(err, errlen, "no URL");
    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "https://", 8) == 0)
        return url_fail(err, errlen,
                        "https:// is not supported (no TLS): use http:// on a "
                        "trusted network, or a local TLS proxy");
    if (strncasecmp(url, "http://", 7) != 0)
        return url_fail(err, errlen, "expected http://host[:port][/path]");
    const char *p = url + 7, *end = p + strcspn(p, "/?#"), *hs = p, *he;
    if (memchr(p, '@', (size_t)(end - p)))
        return url_fail(err, errlen, "credentials in the URL are not supported (send a header)");
    if (*p == '[') {
        hs = p + 1;
        he = memchr(hs, ']', (size_t)(end - hs));
        if (!he)
            return url_fail(err, errlen, "unterminated [IPv6 address]");
        p = he + 1;
    } else {
        he = p = p + strcspn(p, ":/?#");
    }
    size_t hl = (size_t)(he - hs);
    if (!host_ok(hs, hl))
        return url_fail(err, errlen, "bad host");
    memcpy(out->host, hs, hl);
    unsigned char a6[16];
    if (hs != url + 7 && uv_inet_pton(AF_INET6, out->host, a6) != 0)
        return url_fail(err, errlen, "bad IPv6 address");
    out->port = 80;
    if (p < end) {
        char *e = NULL;
        unsigned long port = *p == ':' && isdigit((unsigned char)p[1]) ? strtoul(p + 1, &e, 10) : 0;
        if (port == 0 || port > 65535 || e != end)
            return url_fail(err, errlen, "bad port");
        out->port = (unsigned)port;
    }
    size_t pl = strcspn(end, "#"), off = *end == '?';
    if (pl + off >= sizeof out->path)
        return url_fail(err, errlen, "path too long");
    out->path[0] = '/';
    memcpy(out->path + off, end, pl);
    if (!path_ok(out->path, strlen(out->path)))
        return url_fail(err, errlen, "bad path (spaces or control characters)");
    return 0;
}
