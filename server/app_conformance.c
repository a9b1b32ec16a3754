/* app_conformance.c - what the official engine.io-protocol and
 * socket.io-protocol test suites expect: "message" answered with
 * "message-back", "message-with-ack" echoed through the ack, the handshake's
 * auth greeted on "/" and "/custom", a bare Engine.IO echo at /engine.io/,
 * and the suites' timings unless the user chose others. */
#include "apps_internal.h"

static void conf_message(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                         void *ud)
{
    sg_socket_emit(s, "message-back", args);
}

static void conf_message_with_ack(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                                  void *ud)
{
    if (ack)
        sg_ack_send(ack, args);
}

/* The suites are written for these values (their README's server setup). */
static void defaults(sg_config_t *cfg)
{
    static const struct {
        const char *name, *value;
    } suite[] = {{"pingInterval", "300"}, {"pingTimeout", "200"}, {"connectTimeout", "1000"}};
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++)
        if (!sg_config_is_set(cfg, suite[i].name))
            sg_config_set(cfg, suite[i].name, suite[i].value, NULL, 0);
}

static int install(sg_server_t *srv)
{
    sg_nsp_t *root = sg_server_of(srv, "/");
    sg_nsp_on_connection(root, sg_app__greet_auth, NULL);
    sg_nsp_on(root, "message", conf_message, NULL);
    sg_nsp_on(root, "message-with-ack", conf_message_with_ack, NULL);
    sg_nsp_on_connection(sg_server_of(srv, "/custom"), sg_app__greet_auth, NULL);
    sg_server_enable_eio_echo(srv, "/engine.io/");
    return 0;
}

const sg_app_def_t sg_app_conformance = {"conformance", defaults, install};
