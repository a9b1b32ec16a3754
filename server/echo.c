/* echo.c - the bare Engine.IO layer of the conformance app: every message
 * is sent back as it came (the engine.io-protocol suite's server). */
#include "echo.h"

static void on_message(sg_session_t *s, const unsigned char *data, size_t len, sg_buf_t *bin)
{
    sg_buf_t *b = bin ? sg_buf_ref(bin) : sg_eio_encode_text(SG_EIO_MESSAGE, data, len);
    sg_session_send(s, b, 0);
    sg_buf_unref(b);
}

static void on_close(sg_session_t *s, const char *reason)
{
    (void)s;
    (void)reason;
}

static void on_release(sg_session_t *s)
{
    (void)s;
}

const sg_eio_upper_t sg_echo_upper = {on_message, on_close, on_release, NULL, 0, NULL, NULL};
