/* apps.c - the registry of built-in applications and the helpers they share.
 *
 *   chat         the demo chat page: what is deployed on the internet, so it
 *                exposes nothing but the page's own events (app_chat.c)
 *   testkit      handlers for the integration tests, including cluster-wide
 *                operations any client may trigger: never for production
 *                (app_testkit.c, app_testkit_cluster.c)
 *   conformance  what the official protocol test suites expect
 *                (app_conformance.c)
 *   none         nothing: an embedding application installs its own */
#include <string.h>

#include "apps_internal.h"

static const sg_app_def_t sg_app_none = {"none", NULL, NULL};

static const sg_app_def_t *const apps[] = {&sg_app_chat, &sg_app_testkit, &sg_app_conformance,
                                           &sg_app_none};

static const sg_app_def_t *find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(apps) / sizeof(apps[0]); i++)
        if (!strcmp(apps[i]->name, name))
            return apps[i];
    return NULL;
}

void sg_apps_defaults(sg_config_t *cfg)
{
    const sg_app_def_t *app = find(cfg->app);
    if (app && app->defaults)
        app->defaults(cfg);
}

int sg_apps_install(sg_server_t *srv, const char *name)
{
    const sg_app_def_t *app = find(name);
    if (!app)
        return SG_EINVAL;
    return app->install ? app->install(srv) : 0;
}

/* ---- helpers ---- */

sg_data_t *sg_app__data1(json_t *v)
{
    sg_data_t *d = sg_data_new();
    sg_data_push(d, v);
    return d;
}

void sg_app__emit1(sg_socket_t *s, const char *event, json_t *v)
{
    sg_data_t *d = sg_app__data1(v);
    sg_socket_emit(s, event, d);
    sg_data_free(d);
}

void sg_app__bcast1(sg_bcast_t *b, const char *event, json_t *v)
{
    sg_data_t *d = sg_app__data1(v);
    sg_bcast_emit(b, event, d);
    sg_data_free(d);
}

void sg_app__ack1(sg_ack_t *ack, json_t *v)
{
    if (!ack) {
        json_decref(v);
        return;
    }
    sg_data_t *d = sg_app__data1(v);
    sg_ack_send(ack, d);
    sg_data_free(d);
}

void sg_app__greet_auth(sg_socket_t *s, void *ud)
{
    (void)ud;
    json_t *hs = sg_socket_handshake(s);
    sg_app__emit1(s, "auth", json_incref(json_object_get(hs, "auth")));
}

size_t sg_app__js_length(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) == 0x80)
            continue; /* continuation byte */
        units += c >= 0xf0 ? 2 : 1; /* 4-byte sequences are surrogate pairs */
    }
    return units;
}

int sg_app__has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}
