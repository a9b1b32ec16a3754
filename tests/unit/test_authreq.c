/* test_authreq.c - server/authreq.c, the auth endpoint's HTTP client.
 *
 * Each test runs a scripted HTTP server on 127.0.0.1 (port 0) on the same
 * libuv loop as the client: it reads the request, then answers with the
 * script's bytes (or never answers, or cancels the client). The loop is run
 * until nothing is left on it, never with sleeps, and each test ends with
 * uv_loop_close, which fails while any handle is still open. Memory is
 * checked by the ASan build and by valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "authreq.h"
#include "util.h"

typedef struct {
    const char *resp; /* answered once the request is complete; NULL: never answer */
    size_t resp_len;  /* 0: strlen(resp) */
    int close_after;  /* close once the answer is written */
    int cancel;       /* cancel the client once the request is complete */
} script_t;

typedef struct {
    uv_tcp_t tcp;
    uv_write_t w;
} sconn_t;

static struct {
    uv_loop_t loop;
    uv_tcp_t listener;
    int port;
    script_t sc;
    char req[16384];
    size_t req_len;
    int req_complete, accepts;
    sg_authreq_t *r;
    int in_post, calls, status;
    char body[65536];
    size_t body_len;
} W;

static char big[20000]; /* scratch for the large answers */

static void stop_listener(void)
{
    if (!uv_is_closing((uv_handle_t *)&W.listener))
        uv_close((uv_handle_t *)&W.listener, NULL);
}

static void on_sconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sconn_close(sconn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
}

static void on_swritten(uv_write_t *w, int status)
{
    (void)status;
    if (W.sc.close_after)
        sconn_close(w->data);
}

static void on_salloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    static char buf[4096];
    *b = uv_buf_init(buf, sizeof buf);
}

/* The request is complete once its head and Content-Length bytes are in. */
static int request_complete(void)
{
    W.req[W.req_len] = '\0';
    const char *end = strstr(W.req, "\r\n\r\n"), *cl = strstr(W.req, "Content-Length: ");
    return end && cl && W.req_len >= (size_t)(end + 4 - W.req) + strtoul(cl + 16, NULL, 10);
}

static void on_sread(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    sconn_t *c = s->data;
    if (n < 0) {
        sconn_close(c);
        return;
    }
    assert_true(W.req_len + (size_t)n < sizeof W.req);
    memcpy(W.req + W.req_len, b->base, (size_t)n);
    W.req_len += (size_t)n;
    if (W.req_complete || !request_complete())
        return;
    W.req_complete = 1;
    if (W.sc.cancel) {
        sg_authreq_cancel(W.r);
        stop_listener();
    } else if (W.sc.resp) {
        size_t len = W.sc.resp_len ? W.sc.resp_len : strlen(W.sc.resp);
        if (len == 0) { /* close without a word */
            sconn_close(c);
            return;
        }
        uv_buf_t out = uv_buf_init((char *)W.sc.resp, (unsigned)len);
        c->w.data = c;
        assert_int_equal(uv_write(&c->w, s, &out, 1, on_swritten), 0);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    assert_int_equal(status, 0);
    sconn_t *c = calloc(1, sizeof(*c));
    uv_tcp_init(&W.loop, &c->tcp);
    c->tcp.data = c;
    W.accepts++;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_salloc, on_sread);
}

/* Listen on ip, port 0; the port is in W.port. 0 or a libuv error. */
static int listen_on(const char *ip)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(ip, 0, (struct sockaddr_in *)&ss) != 0)
        assert_int_equal(uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)&ss), 0);
    uv_tcp_init(&W.loop, &W.listener);
    int rc = uv_tcp_bind(&W.listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&W.listener, 8, on_connection);
    int len = sizeof ss;
    uv_tcp_getsockname(&W.listener, (struct sockaddr *)&ss, &len);
    W.port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sockaddr_in6 */
    return rc;
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    assert_int_equal(uv_loop_init(&W.loop), 0);
    assert_int_equal(listen_on("127.0.0.1"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_listener();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&W.loop), 0); /* nothing left open */
    return 0;
}

static void on_answer(void *ud, int status, const char *body, size_t len)
{
    assert_ptr_equal(ud, &W);
    assert_false(W.in_post); /* never from inside sg_authreq_post */
    W.calls++;
    W.status = status;
    sg_authreq_cancel(W.r); /* a no-op from inside the callback */
    if (status > 0) {
        assert_non_null(body);
        assert_int_equal(body[len], '\0');
        assert_true(len < sizeof W.body);
        memcpy(W.body, body, len + 1);
        W.body_len = len;
    } else {
        assert_null(body);
        assert_int_equal(len, 0);
    }
    stop_listener();
}

static sg_authreq_url_t url_to(const char *host, int port, const char *path)
{
    sg_authreq_url_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.host, sizeof u.host, "%s", host);
    u.port = (unsigned)port;
    snprintf(u.path, sizeof u.path, "%s", path);
    return u;
}

static void post(const char *host, const char *headers, const char *body, unsigned timeout_ms,
                 size_t max_body)
{
    sg_authreq_url_t u = url_to(host, W.port, "/auth?x=1");
    W.in_post = 1;
    assert_int_equal(sg_authreq_post(&W.loop, &u, headers, body, strlen(body), timeout_ms, max_body,
                                     on_answer, &W, &W.r),
                     0);
    W.in_post = 0;
}

/* Post to the scripted server and run until everything has closed; the
 * callback must have run exactly once. Returns its status. */
static int run(script_t sc, size_t max_body, unsigned timeout_ms)
{
    W.sc = sc;
    post("127.0.0.1", NULL, "{\"sid\":\"abc\"}", timeout_ms, max_body);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    return W.status;
}

#define JSON200 "{\"ok\":true,\"user\":\"alice\"}"

/* ---- answers ------------------------------------------------------------ */

static void test_200_content_length(void **state)
{
    (void)state;
    W.sc = (script_t){"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "content-length:  26 \r\n\r\n" JSON200,
                      0, 0, 0};
    const char *body = "{\"sid\":\"abc\",\"query\":{\"token\":\"t\"}}";
    post("127.0.0.1", "X-Siogate-Node: n1\r\nX-Other: 2\r\n", body, 5000, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.status, 200);
    assert_int_equal(W.body_len, strlen(JSON200));
    assert_string_equal(W.body, JSON200);

    /* what the client sent */
    char want[256];
    assert_true(W.req_complete);
    assert_true(strncmp(W.req, "POST /auth?x=1 HTTP/1.1\r\n", 25) == 0);
    snprintf(want, sizeof want, "\r\nHost: 127.0.0.1:%d\r\n", W.port);
    assert_non_null(strstr(W.req, want));
    assert_non_null(strstr(W.req, "\r\nContent-Type: application/json\r\n"));
    snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(W.req, want));
    assert_non_null(strstr(W.req, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(W.req, "\r\nX-Siogate-Node: n1\r\nX-Other: 2\r\n"));
    const char *end = strstr(W.req, "\r\n\r\n");
    assert_non_null(end);
    assert_int_equal(W.req_len, (size_t)(end + 4 - W.req) + strlen(body));
    assert_memory_equal(end + 4, body, strlen(body));
}

/* Content-Length: 0 ends the answer; the server need not close. */
static void test_401_empty(void **state)
{
    (void)state;
    script_t sc = {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0, 0, 0};
    assert_int_equal(run(sc, 1024, 5000), 401);
    assert_int_equal(W.body_len, 0);
    assert_string_equal(W.body, "");
}

/* An interim 100 first, chunk extensions, a hex size, trailers. */
static void test_201_chunked(void **state)
{
    (void)state;
    script_t sc = {"HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                   "5;ext=1\r\n{\"a\":\r\n"
                   "A\r\n1234567890\r\n"
                   "1\n}\n"
                   "0\r\nX-Trailer: y\r\n\r\n",
                   0, 0, 0};
    assert_int_equal(run(sc, 1024, 5000), 201);
    assert_string_equal(W.body, "{\"a\":1234567890}");
}

static void test_close_delimited(void **state)
{
    (void)state;
    script_t sc = {"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"close\":1}", 0, 1,
                   0};
    assert_int_equal(run(sc, 1024, 5000), 200);
    assert_string_equal(W.body, "{\"close\":1}");
}

static void test_204_and_bare_lf(void **state)
{
    (void)state;
    script_t sc = {"HTTP/1.1 204 No Content\nX: y\n\n", 0, 0, 0};
    assert_int_equal(run(sc, 1024, 5000), 204);
    assert_int_equal(W.body_len, 0);
}

/* ---- failures ----------------------------------------------------------- */

static void test_timeout_silent_server(void **state)
{
    (void)state;
    script_t sc = {NULL, 0, 0, 0};
    assert_int_equal(run(sc, 1024, 200), SG_ETIMEOUT);
    assert_true(W.req_complete); /* it did connect and send */
}

static void test_refused(void **state)
{
    (void)state;
    stop_listener(); /* a port that was free a moment ago */
    uv_run(&W.loop, UV_RUN_DEFAULT);
    post("127.0.0.1", NULL, "{}", 5000, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.status, SG_EIO);
}

static void test_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "HELLO WORLD\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (i)
            setup(NULL);
        script_t sc = {bad[i], 0, 1, 0};
        int st = run(sc, 1024, 5000);
        if (st != SG_EIO)
            fail_msg("answer %zu: status %d", i, st);
        teardown(NULL);
    }
    setup(NULL);
}

/* The server closes before the answer is complete. */
static void test_truncated(void **state)
{
    (void)state;
    static const char *const cut[] = {
        "",
        "HTTP/1.1 200 OK\r\nContent-",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
    };
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        if (i)
            setup(NULL);
        script_t sc = {cut[i], 0, 1, 0};
        int st = run(sc, 1024, 5000);
        if (st != SG_EIO)
            fail_msg("answer %zu: status %d", i, st);
        teardown(NULL);
    }
    setup(NULL);
}

static void test_body_too_big(void **state)
{
    (void)state;
    const char *framing[] = {"Content-Length: 11\r\n\r\n", "\r\n",      /* close-delimited */
                             "Transfer-Encoding: chunked\r\n\r\n6\r\n", /* then 6 more */
                             "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\n"};
    for (size_t i = 0; i < sizeof framing / sizeof *framing; i++) {
        if (i)
            setup(NULL);
        int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n%s%s", framing[i],
                         i == 2 ? "012345\r\n6\r\n678901\r\n0\r\n\r\n" : "01234567890");
        script_t sc = {big, (size_t)n, 1, 0};
        int st = run(sc, 10, 5000);
        if (st != SG_ETOOBIG)
            fail_msg("framing %zu: status %d", i, st);
        teardown(NULL);
    }
    /* exactly max_body is fine */
    setup(NULL);
    script_t ok = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 0, 0, 0};
    assert_int_equal(run(ok, 10, 5000), 200);
    assert_int_equal(W.body_len, 10);
}

static void test_head_too_big(void **state)
{
    (void)state;
    int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    n += 9000;
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\nContent-Length: 2\r\n\r\n{}");
    script_t sc = {big, (size_t)n, 1, 0};
    assert_int_equal(run(sc, 1024, 5000), SG_ETOOBIG);
}

/* A name goes through uv_getaddrinfo; "localhost" may also give ::1, where
 * nothing listens, and then the next address is tried. */
static void test_name_lookup(void **state)
{
    (void)state;
    W.sc = (script_t){"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0, 1, 0};
    post("localhost", NULL, "{}", 5000, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.status, 200);
    char want[64];
    snprintf(want, sizeof want, "\r\nHost: localhost:%d\r\n", W.port);
    assert_non_null(strstr(W.req, want));
}

/* An IPv6 literal: connected to directly, and bracketed in Host. */
static void test_ipv6_literal(void **state)
{
    (void)state;
    stop_listener();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    if (listen_on("::1") != 0)
        skip(); /* no IPv6 on this machine */
    W.sc = (script_t){"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0, 1, 0};
    post("::1", NULL, "{}", 5000, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.status, 200);
    char want[64];
    snprintf(want, sizeof want, "\r\nHost: [::1]:%d\r\n", W.port);
    assert_non_null(strstr(W.req, want));
}

/* A name that does not resolve (.invalid is reserved for that, RFC 6761).
 * Where the resolver is slow to say so, the deadline answers first. */
static void test_lookup_fails(void **state)
{
    (void)state;
    post("siogate-test.invalid", NULL, "{}", 3000, 1024);
    stop_listener();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_true(W.status == SG_EIO || W.status == SG_ETIMEOUT);
}

/* A 1 ms deadline expires during the lookup, the connect or the wait,
 * depending on the machine: always SG_ETIMEOUT, nothing leaked. */
static void test_timeout_early(void **state)
{
    (void)state;
    W.sc = (script_t){NULL, 0, 0, 0};
    post("localhost", NULL, "{}", 1, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.status, SG_ETIMEOUT);
}

/* ---- cancel ------------------------------------------------------------- */

static void test_cancel_right_after_post(void **state)
{
    (void)state;
    post("127.0.0.1", NULL, "{}", 5000, 1024);
    sg_authreq_cancel(W.r);
    stop_listener();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 0);
}

static void test_cancel_during_lookup(void **state)
{
    (void)state;
    post("localhost", NULL, "{}", 5000, 1024);
    sg_authreq_cancel(W.r);
    stop_listener();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(W.calls, 0);
}

static void test_cancel_while_waiting(void **state)
{
    (void)state;
    W.sc = (script_t){NULL, 0, 0, 1};
    post("127.0.0.1", NULL, "{}", 5000, 1024);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_true(W.req_complete);
    assert_int_equal(W.calls, 0);
}

/* ---- arguments ---------------------------------------------------------- */

static void test_post_einval(void **state)
{
    (void)state;
    sg_authreq_t *r = NULL;
    sg_authreq_url_t u = url_to("127.0.0.1", W.port, "/");
    assert_int_equal(sg_authreq_post(&W.loop, &u, NULL, "{}", 2, 0, 10, on_answer, &W, &r),
                     SG_EINVAL);
    assert_int_equal(sg_authreq_post(&W.loop, &u, "X: 1", "{}", 2, 100, 10, on_answer, &W, &r),
                     SG_EINVAL);
    assert_int_equal(
        sg_authreq_post(&W.loop, &u, "X: 1\r\n\r\nY: 2\r\n", "{}", 2, 100, 10, on_answer, &W, &r),
        SG_EINVAL);
    assert_int_equal(sg_authreq_post(&W.loop, &u, NULL, "{}", 2, 100, 10, NULL, &W, &r), SG_EINVAL);
    sg_authreq_url_t bad = url_to("evil\r\nX: 1", W.port, "/");
    assert_int_equal(sg_authreq_post(&W.loop, &bad, NULL, "{}", 2, 100, 10, on_answer, &W, &r),
                     SG_EINVAL);
    bad = url_to("127.0.0.1", W.port, "/a b");
    assert_int_equal(sg_authreq_post(&W.loop, &bad, NULL, "{}", 2, 100, 10, on_answer, &W, &r),
                     SG_EINVAL);
    bad = url_to("127.0.0.1", 0, "/");
    assert_int_equal(sg_authreq_post(&W.loop, &bad, NULL, "{}", 2, 100, 10, on_answer, &W, &r),
                     SG_EINVAL);
    assert_null(r);
    sg_authreq_cancel(NULL);
}

static void test_parse_url(void **state)
{
    (void)state;
    sg_authreq_url_t u;
    char err[128];
    assert_int_equal(sg_authreq_parse_url("http://auth.local", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "auth.local");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/");
    assert_int_equal(
        sg_authreq_parse_url("HTTP://10.0.0.5:8080/v1/auth?app=chat#frag", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/v1/auth?app=chat");
    assert_int_equal(sg_authreq_parse_url("http://[::1]:8080/auth", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/auth");
    assert_int_equal(sg_authreq_parse_url("http://[fe80::1]", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 80);
    assert_int_equal(sg_authreq_parse_url("http://h:1?q=1", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/?q=1");
    assert_int_equal(u.port, 1);

    assert_int_equal(sg_authreq_parse_url("https://auth.local/", &u, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "TLS"));
    static const char *const bad[] = {
        "",
        "auth.local",
        "ftp://x/",
        "http://",
        "http:///path",
        "http://:80/",
        "http://user:pw@host/",
        "http://host:/",
        "http://host:0/",
        "http://host:65536/",
        "http://host:8x/",
        "http://host:+80/",
        "http://host:99999999999999999999999/",
        "http://[::1/",
        "http://[zz]/",
        "http://[::1]x/",
        "http://::1/",
        "http://ho st/",
        "http://host/a b",
        "http://host/\x01",
        "http://a_very_{bad}_host/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        if (sg_authreq_parse_url(bad[i], &u, err, sizeof err) != SG_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(sg_authreq_parse_url("garbage", &u, NULL, 0), SG_EINVAL);
    char longurl[1100] = "http://h/";
    memset(longurl + 9, 'p', 1050);
    assert_int_equal(sg_authreq_parse_url(longurl, &u, err, sizeof err), SG_EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_200_content_length),
        T(test_401_empty),
        T(test_201_chunked),
        T(test_close_delimited),
        T(test_204_and_bare_lf),
        T(test_timeout_silent_server),
        T(test_refused),
        T(test_garbage),
        T(test_truncated),
        T(test_body_too_big),
        T(test_head_too_big),
        T(test_name_lookup),
        T(test_ipv6_literal),
        T(test_lookup_fails),
        T(test_timeout_early),
        T(test_cancel_right_after_post),
        T(test_cancel_during_lookup),
        T(test_cancel_while_waiting),
        T(test_post_einval),
        T(test_parse_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
