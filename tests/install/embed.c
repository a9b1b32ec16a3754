/* embed.c - a program built against the installed libsiogate with
 * `pkg-config --cflags --libs siogate` (tests/install/run): the README's
 * embedding example. It prints the clientDir and staticDir defaults (which
 * libsiogate.so finds from its own place in the prefix), starts a server
 * from its command line, says "ready", and runs until SIGTERM. Each socket
 * gets a "hello" (a jansson value: the .pc's public Requires) and "echo" is
 * acknowledged with its arguments. */
#include <stdio.h>

#include "siogate.h"

static void on_connection(sg_socket_t *s, void *ud)
{
    (void)ud;
    sg_data_t *d = sg_data_new();
    sg_data_push(d, json_string("embedded"));
    sg_socket_emit(s, "hello", d);
    sg_data_free(d);
}

static void on_echo(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    (void)s, (void)ev, (void)ud;
    if (ack)
        sg_ack_send(ack, args);
}

int main(int argc, char **argv)
{
    sg_config_t cfg;
    char err[512] = "", dir[4096];
    int rc = sg_config_from_args(&cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "embed: %s\n", err);
        return rc == 1 ? 0 : 2;
    }
    sg_config_get(&cfg, "clientDir", dir, sizeof dir);
    printf("clientDir=%s\n", dir);
    sg_config_get(&cfg, "staticDir", dir, sizeof dir);
    printf("staticDir=%s\n", dir);
    sg_server_t *srv = sg_server_new(&cfg, NULL, err, sizeof err);
    sg_config_free(&cfg);
    if (!srv) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    sg_nsp_t *root = sg_server_of(srv, "/");
    sg_nsp_on_connection(root, on_connection, NULL);
    sg_nsp_on(root, "echo", on_echo, NULL);
    if (sg_server_start(srv) != 0) {
        sg_server_free(srv);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    sg_server_run(srv, 1);
    sg_server_free(srv);
    return 0;
}
