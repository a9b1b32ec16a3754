/* redis_link.c - see redis_link.h. */
#include "redis_link.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define DEFAULT_REPLY_LIMIT ((size_t)512 * 1024 * 1024)

typedef enum { L_CONNECTING = 0, L_HANDSHAKE, L_READY, L_DEAD } lstate_t;

typedef struct waiter {
    sg_rlink_reply_cb cb;
    void *ud;
} waiter_t;

struct sg_rlink {
    uv_loop_t *loop;
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    int io_open;
    uv_timer_t timer; /* the attempt's deadline, or a failure reported from the loop */
    uv_prepare_t prep; /* writes what a loop iteration queued */
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    uv_write_t wreq;
    char *wbuf; /* the buffer of the write in flight, or NULL */
    size_t wcap;
    char *obuf; /* queued, not yet handed to a write */
    size_t olen, ocap;
    waiter_t *q; /* ring of commands waiting for their reply */
    size_t qhead, qlen, qcap;
    redisReader *reader;
    redisReplyObjectFunctions fns; /* hiredis' own, with createArray bounded */
    redisReplyObjectFunctions *dflt;
    size_t elems;   /* array elements declared by the reply being read */
    int elems_over; /* ... past SG_RLINK_MAX_ELEMENTS */
    char *host, *unix_path, *user, *pass, *where;
    int port, db, expect_master;
    unsigned timeout_ms;
    size_t reply_limit;
    void (*on_ready)(void *ud);
    void (*on_push)(void *ud, const redisReply *reply);
    void (*on_lost)(void *ud, int reason, const char *why);
    void *ud;
    lstate_t state;
    int freed;
    int gai_busy;
    int open; /* handles and requests whose callbacks are still to come */
    char fail[160]; /* why, for a failure reported from the loop */
    char refused[160]; /* the first error of the handshake */
    char rbuf[16384];
};

static void release(sg_rlink_t *l)
{
    redisReaderFree(l->reader);
    sg_free(l->obuf);
    sg_free(l->q);
    sg_free(l->host);
    sg_free(l->unix_path);
    sg_free(l->user);
    sg_free(l->pass);
    sg_free(l->where);
    sg_free(l);
}

static void unref(sg_rlink_t *l)
{
    if (--l->open == 0 && l->freed)
        release(l);
}

static void on_closed(uv_handle_t *h)
{
    unref(h->data);
}

/* ---- waiting commands ---- */

static void q_push(sg_rlink_t *l, sg_rlink_reply_cb cb, void *ud)
{
    if (l->qlen == l->qcap) {
        size_t ncap = l->qcap ? l->qcap * 2 : 16;
        waiter_t *nq = sg_malloc(ncap * sizeof(*nq));
        for (size_t i = 0; i < l->qlen; i++)
            nq[i] = l->q[(l->qhead + i) % l->qcap];
        sg_free(l->q);
        l->q = nq;
        l->qcap = ncap;
        l->qhead = 0;
    }
    l->q[(l->qhead + l->qlen) % l->qcap] = (waiter_t){cb, ud};
    l->qlen++;
}

static waiter_t q_pop(sg_rlink_t *l)
{
    waiter_t w = l->q[l->qhead];
    l->qhead = (l->qhead + 1) % l->qcap;
    l->qlen--;
    return w;
}

/* Every waiting command learns that no reply will come. */
static void q_fail_all(sg_rlink_t *l)
{
    while (l->qlen) {
        waiter_t w = q_pop(l);
        if (w.cb)
            w.cb(w.ud, NULL);
    }
}

/* ---- failure ---- */

/* The link is over: stop reading and writing, fail what waits, tell the
 * owner. The timer and prepare handles stay until sg_rlink_free. */
static void lost_as(sg_rlink_t *l, int reason, const char *why)
{
    if (l->state == L_DEAD || l->freed)
        return;
    char buf[160];
    if (l->refused[0])
        reason = SG_RLINK_REFUSED;
    snprintf(buf, sizeof buf, "%s", l->refused[0] ? l->refused : why);
    l->state = L_DEAD;
    uv_timer_stop(&l->timer);
    uv_prepare_stop(&l->prep);
    if (l->io_open) {
        l->io_open = 0;
        uv_close(&l->io.h, on_closed); /* cancels a connect or write in flight */
    }
    q_fail_all(l);
    if (!l->freed && l->on_lost)
        l->on_lost(l->ud, reason, buf);
}

static void lost(sg_rlink_t *l, const char *why)
{
    lost_as(l, SG_RLINK_FAILED, why);
}

static void on_fail_timer(uv_timer_t *t)
{
    sg_rlink_t *l = t->data;
    lost(l, l->fail);
}

/* Report a failure found inside sg_rlink_new from the loop instead. */
static void fail_soon(sg_rlink_t *l, const char *why)
{
    snprintf(l->fail, sizeof l->fail, "%s", why);
    uv_timer_stop(&l->timer);
    uv_timer_start(&l->timer, on_fail_timer, 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
    sg_rlink_t *l = t->data;
    char why[64];
    snprintf(why, sizeof why, "not ready within %u ms", l->timeout_ms);
    l->refused[0] = '\0'; /* the deadline is the reason, not a half-read answer */
    lost_as(l, SG_RLINK_TIMEOUT, why);
}

/* ---- writing ---- */

static void write_now(sg_rlink_t *l);

static void on_written(uv_write_t *req, int status)
{
    sg_rlink_t *l = req->data;
    if (!l->obuf && l->wcap <= 65536) { /* keep small storage for what comes next */
        l->obuf = l->wbuf;
        l->ocap = l->wcap;
        l->olen = 0;
    } else {
        sg_free(l->wbuf);
    }
    l->wbuf = NULL;
    if (status < 0) {
        if (status != UV_ECANCELED)
            lost(l, uv_strerror(status));
    } else {
        write_now(l); /* what queued meanwhile */
    }
    unref(l); /* last: it may release l */
}

static void write_now(sg_rlink_t *l)
{
    if (l->wbuf || !l->olen || l->state == L_DEAD || l->state == L_CONNECTING)
        return;
    uv_buf_t b = uv_buf_init(l->obuf, (unsigned)l->olen);
    l->wbuf = l->obuf;
    l->wcap = l->ocap;
    l->obuf = NULL;
    l->olen = l->ocap = 0;
    l->wreq.data = l;
    int rc = uv_write(&l->wreq, &l->io.s, &b, 1, on_written);
    if (rc < 0) {
        sg_free(l->wbuf);
        l->wbuf = NULL;
        lost(l, uv_strerror(rc));
        return;
    }
    l->open++;
}

static void on_prepare(uv_prepare_t *p)
{
    sg_rlink_t *l = p->data;
    uv_prepare_stop(p);
    write_now(l);
}

static void out_reserve(sg_rlink_t *l, size_t n)
{
    if (l->olen + n <= l->ocap)
        return;
    size_t cap = l->ocap ? l->ocap : 256;
    while (cap < l->olen + n)
        cap *= 2;
    l->obuf = sg_realloc(l->obuf, cap);
    l->ocap = cap;
}

/* "<type><v>\r\n" -- by hand: snprintf here was a fifth of the CPU of a
 * bridged event (25 headers per XADD). */
static void out_fmt(sg_rlink_t *l, char type, size_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_reserve(l, n + 3);
    char *o = l->obuf + l->olen;
    *o++ = type;
    while (n)
        *o++ = digits[--n];
    *o++ = '\r';
    *o++ = '\n';
    l->olen = (size_t)(o - l->obuf);
}

/* RESP: "*argc\r\n", then "$len\r\n" arg "\r\n" for each. */
static void out_command(sg_rlink_t *l, int argc, const char **argv, const size_t *lens)
{
    out_fmt(l, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        out_fmt(l, '$', n);
        out_reserve(l, n + 2);
        memcpy(l->obuf + l->olen, argv[i], n);
        memcpy(l->obuf + l->olen + n, "\r\n", 2);
        l->olen += n + 2;
    }
    if (!l->wbuf && l->state != L_CONNECTING)
        uv_prepare_start(&l->prep, on_prepare);
}

/* ---- reading ---- */

static void *create_array(const redisReadTask *task, int elements)
{
    sg_rlink_t *l = task->privdata;
    l->elems += elements > 0 ? (size_t)elements : 0;
    if (l->elems > SG_RLINK_MAX_ELEMENTS) {
        l->elems_over = 1;
        return NULL; /* the reader fails with "Out of memory" */
    }
    return l->dflt->createArray(task, elements);
}

static int is_message(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    const char *k = r->element[0]->str;
    return !strcmp(k, "message") || !strcmp(k, "pmessage") || !strcmp(k, "smessage");
}

static void dispatch(sg_rlink_t *l, const redisReply *rep)
{
    if (!is_message(rep) && l->qlen) {
        waiter_t w = q_pop(l);
        if (w.cb)
            w.cb(w.ud, rep);
    } else if (l->on_push && l->state == L_READY) {
        l->on_push(l->ud, rep);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    sg_rlink_t *l = h->data;
    *buf = uv_buf_init(l->rbuf, sizeof l->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    sg_rlink_t *l = s->data;
    if (n < 0) {
        lost(l, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    if (redisReaderFeed(l->reader, l->rbuf, (size_t)n) != REDIS_OK) {
        lost(l, "out of memory");
        return;
    }
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(l->reader, &rep) != REDIS_OK) {
            char why[200];
            if (l->elems_over)
                snprintf(why, sizeof why, "a reply declared over %u elements",
                         SG_RLINK_MAX_ELEMENTS);
            else
                snprintf(why, sizeof why, "protocol error: %s", l->reader->errstr);
            lost(l, why);
            return;
        }
        if (!rep)
            break;
        l->elems = 0;
        dispatch(l, rep);
        freeReplyObject(rep);
        if (l->state == L_DEAD || l->freed)
            return;
    }
    if (l->reader->len - l->reader->pos > l->reply_limit) {
        char why[96];
        snprintf(why, sizeof why, "a reply over %zu bytes", l->reply_limit);
        lost(l, why);
    }
}

/* ---- connecting and the handshake ---- */

static void on_handshake(void *ud, const redisReply *rep)
{
    sg_rlink_t *l = ud;
    if (rep && rep->type == REDIS_REPLY_ERROR && !l->refused[0])
        snprintf(l->refused, sizeof l->refused, "%s", rep->str);
}

static void on_role(void *ud, const redisReply *rep)
{
    sg_rlink_t *l = ud;
    if (!rep || l->refused[0])
        return;
    const char *role = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                               rep->element[0]->type == REDIS_REPLY_STRING
                           ? rep->element[0]->str
                           : "unknown";
    if (strcmp(role, "master") != 0)
        snprintf(l->refused, sizeof l->refused, "not a master (role %.32s)", role);
}

/* The PING closes the handshake: any error before it fails the attempt (a
 * failed SELECT must not leave the node working on database 0). */
static void on_ping(void *ud, const redisReply *rep)
{
    sg_rlink_t *l = ud;
    if (!rep || l->state == L_DEAD)
        return;
    if (rep->type == REDIS_REPLY_ERROR && !l->refused[0])
        snprintf(l->refused, sizeof l->refused, "%s", rep->str);
    if (l->refused[0]) {
        lost(l, l->refused);
        return;
    }
    uv_timer_stop(&l->timer);
    l->state = L_READY;
    if (l->on_ready)
        l->on_ready(l->ud);
}

static void on_connect(uv_connect_t *req, int status)
{
    sg_rlink_t *l = req->data;
    if (status == UV_ECANCELED || l->state == L_DEAD)
        goto out;
    if (status < 0) {
        lost(l, uv_strerror(status));
        goto out;
    }
    l->state = L_HANDSHAKE;
    int rc = uv_read_start(&l->io.s, on_alloc, on_read);
    if (rc < 0) {
        lost(l, uv_strerror(rc));
        goto out;
    }
    if (l->io.h.type == UV_TCP)
        uv_tcp_nodelay(&l->io.tcp, 1);
    write_now(l); /* the handshake, and whatever was queued behind it */
out:
    unref(l); /* last: it may release l */
}

static void connect_addr(sg_rlink_t *l, const struct sockaddr *sa)
{
    uv_tcp_init(l->loop, &l->io.tcp);
    l->io.h.data = l;
    l->io_open = 1;
    l->open++;
    l->creq.data = l;
    int rc = uv_tcp_connect(&l->creq, &l->io.tcp, sa, on_connect);
    if (rc < 0) {
        fail_soon(l, uv_strerror(rc));
        return;
    }
    l->open++;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sg_rlink_t *l = req->data;
    l->gai_busy = 0;
    if (l->freed || l->state == L_DEAD) {
        /* nothing */
    } else if (status < 0 || !res) {
        char why[200];
        snprintf(why, sizeof why, "cannot resolve %s: %s", l->host,
                 status < 0 ? uv_strerror(status) : "no address");
        lost(l, why);
    } else {
        connect_addr(l, res->ai_addr);
    }
    uv_freeaddrinfo(res);
    unref(l); /* last: it may release l */
}

static void start_connect(sg_rlink_t *l)
{
    if (l->unix_path) {
        uv_pipe_init(l->loop, &l->io.pipe, 0);
        l->io.h.data = l;
        l->io_open = 1;
        l->open++;
        l->creq.data = l;
        uv_pipe_connect(&l->creq, &l->io.pipe, l->unix_path, on_connect);
        l->open++;
        return;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(l->host, l->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(l->host, l->port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_addr(l, (const struct sockaddr *)&ss);
        return;
    }
    char port[8];
    snprintf(port, sizeof port, "%d", l->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    l->gai.data = l;
    int rc = uv_getaddrinfo(l->loop, &l->gai, on_resolved, l->host, port, &hints);
    if (rc < 0) {
        fail_soon(l, uv_strerror(rc));
        return;
    }
    l->gai_busy = 1;
    l->open++;
}

sg_rlink_t *sg_rlink_new(uv_loop_t *loop, const sg_rlink_opts_t *o)
{
    sg_rlink_t *l = sg_calloc(1, sizeof(*l));
    l->loop = loop;
    l->host = o->host ? sg_strdup(o->host) : NULL;
    l->unix_path = o->unix_path ? sg_strdup(o->unix_path) : NULL;
    l->user = o->user ? sg_strdup(o->user) : NULL;
    l->pass = o->pass ? sg_strdup(o->pass) : NULL;
    l->port = o->port;
    l->db = o->db;
    l->expect_master = o->expect_master;
    l->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    l->reply_limit = o->reply_limit ? o->reply_limit : DEFAULT_REPLY_LIMIT;
    l->on_ready = o->on_ready;
    l->on_push = o->on_push;
    l->on_lost = o->on_lost;
    l->ud = o->ud;
    char where[300];
    if (l->unix_path)
        snprintf(where, sizeof where, "%s", l->unix_path);
    else
        snprintf(where, sizeof where, "%s:%d", l->host ? l->host : "?", l->port);
    l->where = sg_strdup(where);
    l->reader = redisReaderCreate();
    l->dflt = l->reader->fn;
    l->fns = *l->dflt;
    l->fns.createArray = create_array;
    l->reader->fn = &l->fns;
    l->reader->privdata = l;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    uv_prepare_init(loop, &l->prep);
    l->prep.data = l;
    l->open = 2;
    uv_timer_start(&l->timer, on_deadline, l->timeout_ms, 0);
    /* The handshake is queued first; it leaves as soon as the socket connects. */
    if (l->pass) {
        const char *argv[3] = {"AUTH", l->user ? l->user : l->pass, l->pass};
        sg_rlink_command(l, on_handshake, l, l->user ? 3 : 2, argv, NULL);
    }
    if (l->db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", l->db);
        const char *argv[2] = {"SELECT", db};
        sg_rlink_command(l, on_handshake, l, 2, argv, NULL);
    }
    if (o->expect_master) {
        const char *role = "ROLE";
        sg_rlink_command(l, on_role, l, 1, &role, NULL);
    }
    const char *ping = "PING";
    sg_rlink_command(l, on_ping, l, 1, &ping, NULL);
    if (!l->host && !l->unix_path)
        fail_soon(l, "no address");
    else
        start_connect(l);
    return l;
}

void sg_rlink_free(sg_rlink_t *l)
{
    if (!l || l->freed)
        return;
    l->freed = 1;
    l->state = L_DEAD;
    if (l->io_open) {
        l->io_open = 0;
        uv_close(&l->io.h, on_closed);
    }
    if (l->gai_busy)
        uv_cancel((uv_req_t *)&l->gai); /* its callback still comes */
    q_fail_all(l);
    uv_close((uv_handle_t *)&l->timer, on_closed);
    uv_close((uv_handle_t *)&l->prep, on_closed);
}

int sg_rlink_ready(const sg_rlink_t *l)
{
    return l->state == L_READY;
}

int sg_rlink_command(sg_rlink_t *l, sg_rlink_reply_cb cb, void *ud, int argc, const char **argv,
                     const size_t *lens)
{
    if (l->state == L_DEAD)
        return SG_ESTATE;
    q_push(l, cb, ud);
    out_command(l, argc, argv, lens);
    return 0;
}

int sg_rlink_send(sg_rlink_t *l, int argc, const char **argv, const size_t *lens)
{
    if (l->state == L_DEAD)
        return SG_ESTATE;
    out_command(l, argc, argv, lens);
    return 0;
}

char *sg_rlink_format(int argc, const char **argv, const size_t *lens, size_t *len)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += 24 + (lens ? lens[i] : strlen(argv[i]));
    char *out = sg_malloc(n), *o = out;
    o += sprintf(o, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t k = lens ? lens[i] : strlen(argv[i]);
        o += sprintf(o, "$%zu\r\n", k);
        memcpy(o, argv[i], k);
        o += k;
        *o++ = '\r';
        *o++ = '\n';
    }
    *len = (size_t)(o - out);
    return out;
}

int sg_rlink_command_raw(sg_rlink_t *l, sg_rlink_reply_cb cb, void *ud, const char *resp,
                         size_t len)
{
    if (l->state == L_DEAD)
        return SG_ESTATE;
    q_push(l, cb, ud);
    out_reserve(l, len);
    memcpy(l->obuf + l->olen, resp, len);
    l->olen += len;
    if (!l->wbuf && l->state != L_CONNECTING)
        uv_prepare_start(&l->prep, on_prepare);
    return 0;
}

void sg_rlink_flush(sg_rlink_t *l)
{
    if (l->wbuf || !l->olen || l->state == L_DEAD || l->state == L_CONNECTING)
        return;
    uv_buf_t b = uv_buf_init(l->obuf, (unsigned)l->olen);
    int n = uv_try_write(&l->io.s, &b, 1);
    if (n > 0) {
        memmove(l->obuf, l->obuf + n, l->olen - (size_t)n);
        l->olen -= (size_t)n;
    }
}

const char *sg_rlink_where(const sg_rlink_t *l)
{
    return l->where;
}

size_t sg_rlink_pending(const sg_rlink_t *l)
{
    return l->qlen;
}
