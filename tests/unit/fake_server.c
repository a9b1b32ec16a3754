/* fake_server.c - see fake_server.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"

static void tr_flush(sg_session_t *s)
{
}

static int tr_writable(const sg_session_t *s)
{
    return 1;
}

static int tr_drain(sg_session_t *s)
{
    return 0;
}

static void tr_nop(sg_session_t *s)
{
}

static void tr_drop(sg_session_t *s, struct lws *wsi)
{
}

static const sg_transport_ops_t fake_tr = {tr_flush, tr_writable, tr_drain, tr_nop, tr_nop,
                                           tr_drop,  tr_nop};

env_t *env_new(size_t max_pending)
{
    env_t *v = calloc(1, sizeof(*v));
    char err[256];
    sg_config_init(&v->cfg);
    v->cfg.log_level = SG_LOG_ERROR;
    v->cfg.ping_interval = 600000;
    v->cfg.max_pending_acks = max_pending;
    v->srv = sg_server_new(&v->cfg, NULL, err, sizeof err);
    assert_non_null(v->srv);
    v->srv->engine.transports[SG_TR_POLLING] = &fake_tr;
    v->srv->engine.transports[SG_TR_WEBSOCKET] = &fake_tr;
    sg_server_of(v->srv, "/custom");
    return v;
}

void env_free(env_t *v)
{
    sg_server_free(v->srv); /* stops, runs the loop dry, frees */
    sg_config_free(&v->cfg);
    free(v);
}

void fake_deliver(sg_session_t *s, const char *text)
{
    sg_eio_packet_t p;
    assert_int_equal(sg_eio_decode_text(text, strlen(text), &p), 0);
    sg_session_on_packet(s, &p);
}

/* The next packet queued for the client, as text (NUL-terminated copy). */
char *fake_next(sg_session_t *s)
{
    sg_buf_t *b = sg_outq_pop(&s->q);
    assert_non_null(b);
    char *t = sg_strndup((const char *)b->data, b->len);
    sg_buf_unref(b);
    return t;
}

sg_session_t *fake_client(env_t *v)
{
    sg_session_t *s = sg_session_new(&v->srv->engine, SG_TR_WEBSOCKET, 0, 4);
    fake_deliver(s, "40");
    char *t = fake_next(s);
    assert_memory_equal(t, "40{\"sid\":", 9);
    sg_free(t);
    return s;
}

