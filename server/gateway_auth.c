/* gateway_auth.c - connect-time authentication of gateway mode, as the
 * last middleware of every namespace: a JSON Web Token in auth.token
 * (authJwt: its claims become socket.data), and/or an HTTP endpoint
 * (authUrl) asked with the handshake summary without blocking the loop.
 * A refusal is a CONNECT_ERROR with the reason as its message, as a Node
 * middleware's next(new Error(reason)). An accepted socket with a user (the
 * token's sub, the endpoint's "user") joins room user:<id>, so a backend
 * reaches that user on every device and node with the emitter. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_internal.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Bytes of an endpoint's answer we read. */
#define SG_GW_AUTH_MAX_BODY 65536
#define SG_GW_KEY_MAX (64 * 1024)

/* A CONNECT waiting for authUrl. */
typedef struct sg_gw_authing {
    sg_gw_t *g;
    sg_socket_t *s; /* referenced */
    sg_authreq_t *req;
    struct sg_gw_authing *prev, *next;
} sg_gw_authing_t;

/* ---- accepting ---------------------------------------------------------- */

/* The socket being accepted joins its rooms from our connection handler,
 * which sg_socket_next runs before it returns (the rooms wait in g for that
 * one call: nothing else runs meanwhile). */
static void on_connection(sg_socket_t *s, void *ud)
{
    sg_gw_t *g = ud;
    if (g->joining != s || !g->joining_rooms)
        return;
    size_t i;
    json_t *room;
    json_array_foreach(g->joining_rooms, i, room)
    {
        if (json_is_string(room))
            (void)sg_socket_join_n(s, json_string_value(room), json_string_length(room));
    }
}

static void accept_with_rooms(sg_gw_t *g, sg_socket_t *s, json_t *rooms)
{
    g->joining = s;
    g->joining_rooms = rooms;
    g->st.auth_ok++;
    sg_socket_next(s, NULL, NULL);
    g->joining = NULL;
    g->joining_rooms = NULL;
    json_decref(rooms);
}

static void refuse(sg_gw_t *g, sg_socket_t *s, const char *why, int error)
{
    if (error)
        g->st.auth_errors++;
    else
        g->st.auth_refused++;
    sg_socket_next(s, why, NULL);
}

/* room user:<id> when authUserRoom is on and id is a non-empty string */
static void add_user_room(sg_gw_t *g, json_t *rooms, const json_t *id)
{
    if (!g->cfg->auth_user_room || !json_is_string(id) || !json_string_length(id))
        return;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_puts(&sb, "user:");
    sg_sbuf_append(&sb, json_string_value(id), json_string_length(id));
    json_array_append_new(rooms, json_stringn((const char *)sg_sbuf_data(&sb), sb.len));
    sg_sbuf_reset(&sb);
}

/* ---- the auth endpoint --------------------------------------------------- */

static void authing_free(sg_gw_authing_t *a)
{
    sg_gw_t *g = a->g;
    if (a->prev)
        a->prev->next = a->next;
    else
        g->authing = a->next;
    if (a->next)
        a->next->prev = a->prev;
    g->nauthing--;
    sg_socket_unref(a->s);
    sg_free(a);
}

/* 2xx: {"data":{...},"user":"id","rooms":["..."]}, every member optional
 * (an empty body accepts as is); 401/403: refused with the body's "message"
 * when it has one; anything else (or no answer): refused, counted as an
 * error -- a gateway must not let clients in because its backend is down. */
static void on_answer(void *ud, int status, const char *body, size_t len)
{
    sg_gw_authing_t *a = ud;
    sg_gw_t *g = a->g;
    sg_socket_t *s = a->s;
    a->req = NULL;
    json_t *o = NULL;
    if (status > 0 && len)
        (void)sg_json_parse(body, len, &o);
    if (status >= 200 && status < 300 && (!len || json_is_object(o))) {
        json_t *data = json_object_get(o, "data");
        if (json_is_object(data))
            json_object_update(sg_socket_data_json(s), data);
        json_t *rooms = json_array();
        add_user_room(g, rooms, json_object_get(o, "user"));
        json_t *more = json_object_get(o, "rooms");
        size_t i;
        json_t *r;
        json_array_foreach(more, i, r)
        {
            if (json_is_string(r))
                json_array_append(rooms, r);
        }
        accept_with_rooms(g, s, rooms);
    } else if (status == 401 || status == 403) {
        const char *msg = json_string_value(json_object_get(o, "message"));
        refuse(g, s, msg ? msg : status == 401 ? "unauthorized" : "forbidden", 0);
    } else {
        SG_WARN(g->cfg, "auth: %s answered %s%d", g->cfg->auth_url,
                status < 0 ? "error " : "status ", status);
        refuse(g, s, "authentication unavailable", 1);
    }
    json_decref(o);
    authing_free(a);
}

static void ask_endpoint(sg_gw_t *g, sg_socket_t *s, const json_t *auth)
{
    /* each request holds a descriptor: a flood of CONNECTs must not take
     * the ones the listener needs */
    if (g->nauthing >= g->cfg->auth_max_pending) {
        refuse(g, s, "authentication unavailable", 1);
        return;
    }
    json_t *sum = sg_gw__summary(s);
    json_t *hs = sg_socket_handshake(s);
    json_object_set_new(sum, "nsp", json_string(sg_nsp_name(sg_socket_nsp(s))));
    json_object_set(sum, "headers", json_object_get(hs, "headers"));
    json_object_set_new(sum, "auth", auth ? json_deep_copy(auth) : json_object());
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_json_dump(&sb, sum, NULL, NULL);
    json_decref(sum);
    sg_gw_authing_t *a = sg_calloc(1, sizeof(*a));
    a->g = g;
    a->s = sg_socket_ref(s);
    a->next = g->authing;
    if (g->authing)
        g->authing->prev = a;
    g->authing = a;
    g->nauthing++;
    if (sg_authreq_post(g->loop, g->auth_url, NULL, sg_sbuf_data(&sb), sb.len,
                        g->cfg->auth_timeout, SG_GW_AUTH_MAX_BODY, on_answer, a, &a->req) != 0) {
        refuse(g, s, "authentication unavailable", 1);
        authing_free(a);
    }
    sg_sbuf_reset(&sb);
}

/* ---- the middleware ------------------------------------------------------ */

static void middleware(sg_socket_t *s, const json_t *auth, void *ud)
{
    sg_gw_t *g = ud;
    json_t *rooms = NULL;
    if (g->stopped) {
        sg_socket_next(s, "server shutting down", NULL);
        return;
    }
    if (g->jwt) {
        const json_t *tok = json_object_get(auth, "token");
        const char *why = NULL;
        json_t *claims = NULL;
        if (!json_is_string(tok)) {
            refuse(g, s, "jwt must be provided", 0);
            return;
        }
        if (sg_jwt_verify(g->jwt, json_string_value(tok), json_string_length(tok),
                          (int64_t)time(NULL), &claims, &why) != 0) {
            refuse(g, s, why ? why : "invalid token", 0);
            return;
        }
        json_object_update(sg_socket_data_json(s), claims);
        rooms = json_array();
        add_user_room(g, rooms, json_object_get(claims, "sub"));
        json_decref(claims);
    }
    if (g->auth_url) {
        json_decref(rooms); /* the endpoint decides the rooms (user may be the sub) */
        ask_endpoint(g, s, auth);
        return;
    }
    accept_with_rooms(g, s, rooms);
}

static void install(sg_nsp_t *nsp, void *ud)
{
    sg_gw_t *g = ud;
    /* the admin UI's namespace has its own login */
    if (g->cfg->admin_ui && !strcmp(sg_nsp_name(nsp), "/admin"))
        return;
    sg_nsp_use(nsp, middleware, ud);
    sg_nsp_on_connection(nsp, on_connection, ud);
}

/* ---- start / stop ------------------------------------------------------------ */

static int load_key(const sg_config_t *cfg, char **key, size_t *len, char *err, size_t errlen)
{
    if (!cfg->auth_jwt_key_file || !cfg->auth_jwt_key_file[0]) {
        *key = sg_strdup(cfg->auth_jwt_key ? cfg->auth_jwt_key : "");
        *len = strlen(*key);
        return 0;
    }
    FILE *f = fopen(cfg->auth_jwt_key_file, "rb");
    if (!f) {
        snprintf(err, errlen, "authJwtKeyFile: cannot open %s", cfg->auth_jwt_key_file);
        return SG_EINVAL;
    }
    *key = sg_malloc(SG_GW_KEY_MAX + 1);
    *len = fread(*key, 1, SG_GW_KEY_MAX + 1, f);
    fclose(f);
    if (*len > SG_GW_KEY_MAX) {
        snprintf(err, errlen, "authJwtKeyFile: %s is over %d bytes", cfg->auth_jwt_key_file,
                 SG_GW_KEY_MAX);
        sg_free(*key);
        return SG_EINVAL;
    }
    (*key)[*len] = '\0';
    return 0;
}

int sg_gw__auth_start(sg_gw_t *g, char *err, size_t errlen)
{
    const sg_config_t *cfg = g->cfg;
    if (strcmp(cfg->auth_jwt, "off") != 0) {
        char *key;
        size_t klen;
        char why[256] = "";
        if (load_key(cfg, &key, &klen, err, errlen) != 0)
            return SG_EINVAL;
        sg_jwt_opts_t o = {
            .alg = cfg->auth_jwt,
            .key = key,
            .key_len = klen,
            .issuer = cfg->auth_jwt_issuer,
            .audience = cfg->auth_jwt_audience,
            .leeway_s = cfg->auth_jwt_leeway,
        };
        int rc = sg_jwt_verifier_new(&o, &g->jwt, why, sizeof(why));
        sg_free(key);
        if (rc != 0) {
            snprintf(err, errlen, "authJwt %s: %s", cfg->auth_jwt, why);
            return SG_EINVAL;
        }
    }
    if (cfg->auth_url && cfg->auth_url[0]) {
        g->auth_url = sg_calloc(1, sizeof(*g->auth_url));
        char why[256] = "";
        if (sg_authreq_parse_url(cfg->auth_url, g->auth_url, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "authUrl: %s", why);
            return SG_EINVAL;
        }
    }
    sg_server_foreach_nsp(g->srv, install, g);
    SG_INFO(cfg, "auth: every namespace requires %s%s%s", g->jwt ? "a JWT" : "",
            g->jwt && g->auth_url ? " and " : "", g->auth_url ? cfg->auth_url : "");
    return 0;
}

void sg_gw__auth_stop(sg_gw_t *g)
{
    while (g->authing) {
        sg_gw_authing_t *a = g->authing;
        if (a->req)
            sg_authreq_cancel(a->req);
        refuse(g, a->s, "server shutting down", 1);
        authing_free(a);
    }
    sg_jwt_verifier_free(g->jwt);
    g->jwt = NULL;
    sg_free(g->auth_url);
    g->auth_url = NULL;
}
