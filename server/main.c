/* main.c - the siogate program: configuration, application, run. */
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "siogate.h"

int main(int argc, char **argv)
{
    sg_config_t cfg;
    char err[512] = "";
    int rc = sg_config_from_args(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "siogate: %s\n", err);
        return 2;
    }
    sg_apps_defaults(&cfg);
    sg_server_t *srv = sg_server_new(&cfg, NULL, err, sizeof(err));
    sg_config_free(&cfg);
    if (!srv) {
        fprintf(stderr, "siogate: %s\n", err);
        return 1;
    }
    if (sg_apps_install(srv, sg_server_config(srv)->app) != 0) {
        fprintf(stderr, "siogate: unknown app '%s'\n", sg_server_config(srv)->app);
        sg_server_free(srv);
        return 2;
    }
    /* After the app: the app's handlers are for its namespaces, not /admin. */
    if (sg_admin_ui_install(srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "siogate: %s\n", err);
        sg_server_free(srv);
        return 1;
    }
    sg_gateway_t *gw;
    if (sg_gateway_install(srv, &gw, err, sizeof(err)) != 0) {
        fprintf(stderr, "siogate: %s\n", err);
        sg_server_free(srv);
        return 1;
    }
    if (sg_server_start(srv) != 0) {
        sg_server_free(srv);
        return 1;
    }
    sg_server_run(srv, 1);
    sg_server_free(srv);
    return 0;
}
