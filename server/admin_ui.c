/* admin_ui.c - see admin_ui.h. */
#define _GNU_SOURCE /* crypt_r */
#include "admin_ui.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server_internal.h"
#include "util.h"

#define NSP_NAME "/admin"
#define STATS_MS 2000
#define MAX_VERIFYING 4
#define MAX_SESSIONS 256
#define SESSION_LEN 16

typedef struct sg_admin_ui sg_admin_ui_t;

struct sg_admin_ui {
    sg_server_t *srv;
    sg_observer_t obs;
    sg_nsp_t *nsp;
    char *user, *hash;
    char sessions[MAX_SESSIONS][SESSION_LEN + 1];
    size_t next_session;
    int verifying; /* bcrypt checks on the thread pool */
    int closed;    /* the server stopped: freed when the last check is back */
    uv_timer_t timer;
    sg_stats_t last; /* the counters at the previous stats tick */
    uint64_t start_ms;
    char hostname[256];
};

/* ---- helpers ---- */

static json_t *now_iso(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char b[64];
    snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    return json_string(b);
}

/* Live events only go out while an admin socket is on this node. */
static int watched(const sg_admin_ui_t *ui)
{
    return sg_nsp_socket_count(ui->nsp) > 0;
}

/* Emit to the admin namespace (every node's admin sockets); takes the
 * references in vals. */
static void emit(sg_admin_ui_t *ui, const char *event, size_t n, json_t **vals)
{
    sg_data_t *d = sg_data_new();
    for (size_t i = 0; i < n; i++)
        sg_data_push(d, vals[i]);
    sg_bcast_emit(sg_bcast_new(ui->nsp), event, d);
    sg_data_free(d);
}

/* Node's serialize(socket, nsp) for a local socket. */
static json_t *serialize(sg_socket_t *s)
{
    json_t *hs = json_deep_copy(sg_socket_handshake(s));
    json_object_del(hs, "auth");
    json_t *data = json_deep_copy(sg_socket_data_json(s));
    json_t *o = json_pack("{s:s,s:o,s:s}", "id", s->id, "data", data, "nsp", s->nsp->name);
    if (s->sess && !s->gone) {
        json_object_set_new(o, "clientId", json_stringn(s->sess->sid, 12));
        json_object_set_new(o, "transport", json_string(s->sess->transport == SG_TR_WEBSOCKET
                                                            ? "websocket"
                                                            : "polling"));
    }
    json_object_set_new(o, "handshake", hs);
    json_object_set_new(o, "rooms", sg_socket_rooms(s));
    return o;
}

/* ---- authentication ---- */

typedef struct verify {
    uv_work_t work;
    sg_admin_ui_t *ui;
    sg_socket_t *s;
    char *password;
    char hash[61]; /* a copy: the worker thread touches nothing shared */
    int ok;
} verify_t;

static void verify_work(uv_work_t *w)
{
    verify_t *v = w->data;
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *out = crypt_r(v->password, v->hash, &cd);
    size_t n = strlen(v->hash);
    /* compare every byte: the time does not tell how much matched */
    unsigned diff = !out || strlen(out) != n;
    for (size_t i = 0; out && !diff && i < n; i++)
        diff |= (unsigned)(out[i] ^ v->hash[i]);
    v->ok = !diff;
}

static void new_session(sg_admin_ui_t *ui, char out[SESSION_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SESSION_LEN / 2];
    char id[SESSION_LEN + 1];
    sg_random_id(id, SESSION_LEN); /* CSPRNG; mapped to hex as Node's randomBytes(8) */
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(id[2 * i] * 31 + id[2 * i + 1]);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SESSION_LEN] = '\0';
    memcpy(ui->sessions[ui->next_session], out, SESSION_LEN + 1);
    ui->next_session = (ui->next_session + 1) % MAX_SESSIONS;
}

static void ui_release(sg_admin_ui_t *ui)
{
    sg_free(ui->user);
    sg_free(ui->hash);
    sg_free(ui);
}

static void verify_done(uv_work_t *w, int status)
{
    verify_t *v = w->data;
    sg_admin_ui_t *ui = v->ui;
    ui->verifying--;
    if (!ui->closed && !v->s->gone && !ui->srv->stopping) {
        if (status == 0 && v->ok) {
            char *sid = sg_malloc(SESSION_LEN + 1);
            new_session(ui, sid);
            sg_socket_set_data(v->s, sid, sg_free); /* sent once connected */
            sg_socket_next(v->s, NULL, NULL);
        } else {
            sg_socket_next(v->s, "invalid credentials", NULL);
        }
    }
    sg_socket_unref(v->s);
    memset(v->password, 0, strlen(v->password));
    sg_free(v->password);
    sg_free(v);
    if (ui->closed && !ui->verifying)
        ui_release(ui);
}

static int known_session(const sg_admin_ui_t *ui, const char *id)
{
    if (strlen(id) != SESSION_LEN)
        return 0;
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (!memcmp(ui->sessions[i], id, SESSION_LEN + 1))
            return 1;
    return 0;
}

static void on_auth(sg_socket_t *s, const json_t *auth, void *ud)
{
    sg_admin_ui_t *ui = ud;
    const char *sid = json_string_value(json_object_get(auth, "sessionId"));
    if (sid && known_session(ui, sid)) {
        sg_socket_next(s, NULL, NULL);
        return;
    }
    const char *user = json_string_value(json_object_get(auth, "username"));
    const char *pass = json_string_value(json_object_get(auth, "password"));
    if (!user || !pass || strcmp(user, ui->user) != 0 || strlen(pass) > 1024) {
        sg_socket_next(s, "invalid credentials", NULL);
        return;
    }
    if (ui->verifying >= MAX_VERIFYING) {
        sg_socket_next(s, "too many logins at once, try again", NULL);
        return;
    }
    verify_t *v = sg_calloc(1, sizeof(*v));
    v->ui = ui;
    v->s = sg_socket_ref(s);
    v->password = sg_strdup(pass);
    snprintf(v->hash, sizeof v->hash, "%s", ui->hash);
    v->work.data = v;
    if (uv_queue_work(ui->srv->loop, &v->work, verify_work, verify_done) != 0) {
        sg_socket_unref(v->s);
        sg_free(v->password);
        sg_free(v);
        sg_socket_next(s, "invalid credentials", NULL);
        return;
    }
    ui->verifying++;
}

/* ---- the admin socket's requests ---- */

static sg_nsp_t *target_nsp(sg_admin_ui_t *ui, sg_data_t *args)
{
    const char *name = json_string_value(sg_data_get(args, 0));
    return name ? sg_map_get(ui->srv->nsp_map, name, strlen(name)) : NULL;
}

static sg_bcast_t *filtered(sg_nsp_t *nsp, const json_t *filter)
{
    sg_bcast_t *b = sg_bcast_new(nsp);
    if (json_is_string(filter) && json_string_length(filter))
        sg_bcast_to_n(b, json_string_value(filter), json_string_length(filter));
    return b;
}

/* emit(nsp, filter, ev, ...args) */
static void on_emit(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    sg_nsp_t *nsp = target_nsp(ud, args);
    const char *event = json_string_value(sg_data_get(args, 2));
    if (!nsp || !event)
        return;
    sg_data_t *d = sg_data_new();
    sg_data_push_from(d, args, 3);
    sg_bcast_emit(filtered(nsp, sg_data_get(args, 1)), event, d);
    sg_data_free(d);
}

/* join / leave (nsp, room, filter) */
static void on_join_leave(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                          void *ud)
{
    sg_nsp_t *nsp = target_nsp(ud, args);
    const json_t *room = sg_data_get(args, 1);
    if (!nsp || !json_is_string(room))
        return;
    sg_bcast_t *b = filtered(nsp, sg_data_get(args, 2));
    if (!strcmp(ev, "join")) /* each consumes b */
        sg_bcast_sockets_join_n(b, json_string_value(room), json_string_length(room));
    else
        sg_bcast_sockets_leave_n(b, json_string_value(room), json_string_length(room));
}

/* _disconnect(nsp, close, filter) */
static void on_disconnect_req(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                              void *ud)
{
    sg_nsp_t *nsp = target_nsp(ud, args);
    if (!nsp)
        return;
    sg_bcast_disconnect_sockets(filtered(nsp, sg_data_get(args, 2)),
                                json_is_true(sg_data_get(args, 1)));
}

/* all_sockets: fetchSockets of every namespace, gathered. */
typedef struct gather {
    sg_admin_ui_t *ui;
    sg_socket_t *to;
    json_t *all;
    size_t waiting;
} gather_t;

static void gather_end(gather_t *g)
{
    if (--g->waiting)
        return;
    if (!g->to->gone) {
        sg_data_t *d = sg_data_new();
        sg_data_push(d, g->all);
        sg_socket_emit(g->to, "all_sockets", d);
        sg_data_free(d);
    } else {
        json_decref(g->all);
    }
    sg_socket_unref(g->to);
    sg_free(g);
}

typedef struct gather_nsp {
    gather_t *g;
    sg_nsp_t *nsp;
} gather_nsp_t;

static void on_fetched(int err, const char *msg, json_t *result, void *ud)
{
    gather_nsp_t *gn = ud;
    size_t i;
    json_t *rs;
    json_array_foreach(result, i, rs) {
        const char *id = json_string_value(json_object_get(rs, "id"));
        sg_socket_t *local = id ? (sg_socket_t *)sg_adapter_find(gn->nsp->adapter, id, strlen(id))
                                : NULL;
        if (local) {
            json_array_append_new(gn->g->all, serialize(local));
            continue;
        }
        json_t *o = json_deep_copy(rs); /* another node's: its RemoteSocket */
        json_object_del(json_object_get(o, "handshake"), "auth");
        json_object_set_new(o, "nsp", json_string(gn->nsp->name));
        json_array_append_new(gn->g->all, o);
    }
    gather_end(gn->g);
    sg_free(gn);
}

static void add_local(sg_socket_t *s, void *ud)
{
    json_array_append_new(ud, serialize(s));
}

static void on_admin_connection(sg_socket_t *s, void *ud)
{
    sg_admin_ui_t *ui = ud;
    const char *session = sg_socket_get_data(s);
    if (session) {
        sg_data_t *d = sg_data_new();
        sg_data_push(d, json_string(session));
        sg_socket_emit(s, "session", d);
        sg_data_free(d);
    }
    sg_data_t *d = sg_data_new();
    /* the Feature enum of admin-ui's typed-events (the UI tests these names) */
    sg_data_push(d, json_pack("{s:[s,s,s,s,s,s,s,s,s]}", "supportedFeatures", "EMIT", "JOIN",
                              "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
                              "AGGREGATED_EVENTS", "ALL_EVENTS"));
    sg_socket_emit(s, "config", d);
    sg_data_free(d);
    gather_t *g = sg_calloc(1, sizeof(*g));
    g->ui = ui;
    g->to = sg_socket_ref(s);
    g->all = json_array();
    g->waiting = 1; /* released below, after every request is out */
    for (sg_nsp_t *n = ui->srv->nsps; n; n = n->next) {
        gather_nsp_t *gn = sg_malloc(sizeof(*gn));
        *gn = (gather_nsp_t){g, n};
        g->waiting++;
        if (sg_bcast_fetch_sockets_cluster(sg_bcast_new(n), on_fetched, gn) != 0) {
            /* cluster unreachable: this node's sockets only */
            sg_bcast_fetch_sockets(sg_bcast_new(n), add_local, g->all);
            g->waiting--;
            sg_free(gn);
        }
    }
    gather_end(g);
}

/* ---- live events ---- */

static void on_any_connection(sg_socket_t *s, void *ud)
{
    sg_admin_ui_t *ui = ud;
    if (!watched(ui))
        return;
    json_t *v[2] = {serialize(s), now_iso()};
    emit(ui, "socket_connected", 2, v);
    /* Node's adapter reports the socket's own room too */
    json_t *r[4] = {json_string(s->nsp->name), json_string(s->id), json_string(s->id), now_iso()};
    emit(ui, "room_joined", 4, r);
}

static void on_any_disconnect(sg_socket_t *s, const char *reason, void *ud)
{
    sg_admin_ui_t *ui = ud;
    if (!watched(ui) || s->nsp == ui->nsp)
        return;
    json_t *v[4] = {json_string(s->nsp->name), json_string(s->id), json_string(reason),
                    now_iso()};
    emit(ui, "socket_disconnected", 4, v);
    json_t *r[4] = {json_string(s->nsp->name), json_string(s->id), json_string(s->id), now_iso()};
    emit(ui, "room_left", 4, r);
}

static void on_nsp_added(void *ud, sg_nsp_t *nsp)
{
    sg_admin_ui_t *ui = ud;
    sg_nsp_on_connection(nsp, on_any_connection, ui);
    sg_nsp_on_disconnect(nsp, on_any_disconnect, ui);
}

static void on_membership(void *ud, sg_socket_t *s, const char *room, size_t len, int joined)
{
    sg_admin_ui_t *ui = ud;
    if (!watched(ui) || s->nsp == ui->nsp)
        return;
    json_t *v[4] = {json_string(s->nsp->name), json_stringn(room, len), json_string(s->id),
                    now_iso()};
    if (!v[1])
        v[1] = json_string("");
    emit(ui, joined ? "room_joined" : "room_left", 4, v);
}

static void on_event(void *ud, sg_socket_t *s, const sg_sio_packet_t *pkt)
{
    sg_admin_ui_t *ui = ud;
    if (!watched(ui) || s->nsp == ui->nsp)
        return;
    sg_data_t *d = sg_data_new();
    sg_data_push(d, json_string(s->nsp->name));
    sg_data_push(d, json_string(s->id));
    sg_data_t *src = sg_data__share(pkt->data, pkt->bins, pkt->nbins, 0);
    sg_data_push(d, sg_data_import(d, src, pkt->data));
    sg_data_free(src);
    sg_data_push(d, now_iso());
    sg_bcast_emit(sg_bcast_new(ui->nsp), "event_received", d);
    sg_data_free(d);
}

static void on_upgraded(void *ud, sg_session_t *sess)
{
    sg_admin_ui_t *ui = ud;
    if (!watched(ui) || sess->upper != 0)
        return;
    for (sg_socket_t *s = sg_client_of(sess)->sockets; s; s = s->next_in_session) {
        if (s->nsp == ui->nsp || !s->connected)
            continue;
        json_t *v[1] = {json_pack("{s:s,s:s,s:s}", "id", s->id, "nsp", s->nsp->name,
                                  "transport", "websocket")};
        emit(ui, "socket_updated", 1, v);
    }
}

/* ---- server_stats ---- */

static void push_agg(json_t *agg, double ts, const char *type, const char *sub, uint64_t count)
{
    if (!count)
        return;
    json_t *o = json_pack("{s:f,s:s,s:I}", "timestamp", ts, "type", type, "count",
                          (json_int_t)count);
    if (sub)
        json_object_set_new(o, "subType", json_string(sub));
    json_array_append_new(agg, o);
}

static void on_stats(uv_timer_t *t)
{
    sg_admin_ui_t *ui = t->data;
    const sg_stats_t *st = &ui->srv->stats;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double ts = (double)now.tv_sec * 1000.0; /* the second, in ms, as Node's buckets */
    json_t *agg = json_array();
    push_agg(agg, ts, "rawConnection", NULL, st->sessions_opened - ui->last.sessions_opened);
    static const char *const reasons[SG_CLOSE_REASONS] = {
        "transport close", "transport error", "ping timeout", "parse error",
        "forced close",    "server shutting down", "other"};
    for (int i = 0; i < SG_CLOSE_REASONS; i++)
        push_agg(agg, ts, "rawDisconnection", reasons[i],
                 st->sessions_closed[i] - ui->last.sessions_closed[i]);
    push_agg(agg, ts, "packetsIn", NULL, st->packets_in - ui->last.packets_in);
    push_agg(agg, ts, "packetsOut", NULL, st->packets_out - ui->last.packets_out);
    push_agg(agg, ts, "bytesIn", NULL, st->bytes_in - ui->last.bytes_in);
    push_agg(agg, ts, "bytesOut", NULL, st->bytes_out - ui->last.bytes_out);
    ui->last = *st;
    json_t *nsps = json_array();
    for (sg_nsp_t *n = ui->srv->nsps; n; n = n->next)
        json_array_append_new(nsps, json_pack("{s:s,s:I}", "name", n->name, "socketsCount",
                                              (json_int_t)sg_nsp_socket_count(n)));
    json_t *o = json_pack("{s:s,s:s,s:i,s:f,s:I,s:I,s:o,s:o}", "serverId", ui->hostname,
                          "hostname", ui->hostname, "pid", (int)getpid(), "uptime",
                          (double)(uv_now(ui->srv->loop) - ui->start_ms) / 1000.0, "clientsCount",
                          (json_int_t)sg_map_count(ui->srv->engine.sessions),
                          "pollingClientsCount", (json_int_t)st->sessions[0], "aggregatedEvents",
                          agg, "namespaces", nsps);
    emit(ui, "server_stats", 1, &o);
}

/* ---- life ---- */

static void on_timer_closed(uv_handle_t *h)
{
    sg_admin_ui_t *ui = h->data;
    ui->closed = 1;
    if (!ui->verifying) /* else the last check's completion frees it */
        ui_release(ui);
}

static void on_stop(void *ud)
{
    sg_admin_ui_t *ui = ud;
    uv_close((uv_handle_t *)&ui->timer, on_timer_closed);
}

int sg_admin_ui_install(sg_server_t *srv, char *err, size_t errlen)
{
    if (!srv->cfg.admin_ui)
        return 0;
    const char *h = srv->cfg.admin_ui_password_hash;
    if (!h || strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) ||
        h[3] != '$') {
        snprintf(err, errlen, "adminUi needs adminUiPasswordHash: a bcrypt hash ($2a$, $2b$ or "
                              "$2y$, 60 characters)");
        return SG_EINVAL;
    }
    sg_admin_ui_t *ui = sg_calloc(1, sizeof(*ui));
    ui->srv = srv;
    ui->user = sg_strdup(srv->cfg.admin_ui_username);
    ui->hash = sg_strdup(h);
    if (gethostname(ui->hostname, sizeof ui->hostname - 1) != 0)
        strcpy(ui->hostname, "siogate");
    ui->start_ms = uv_now(srv->loop);
    ui->last = srv->stats;
    ui->nsp = sg_server_of(srv, NSP_NAME);
    sg_nsp_use(ui->nsp, on_auth, ui);
    sg_nsp_on_connection(ui->nsp, on_admin_connection, ui);
    sg_nsp_on(ui->nsp, "emit", on_emit, ui);
    sg_nsp_on(ui->nsp, "join", on_join_leave, ui);
    sg_nsp_on(ui->nsp, "leave", on_join_leave, ui);
    sg_nsp_on(ui->nsp, "_disconnect", on_disconnect_req, ui);
    for (sg_nsp_t *n = srv->nsps; n; n = n->next)
        on_nsp_added(ui, n);
    uv_timer_init(srv->loop, &ui->timer);
    ui->timer.data = ui;
    uv_timer_start(&ui->timer, on_stats, STATS_MS, STATS_MS);
    ui->obs = (sg_observer_t){on_nsp_added, on_membership, on_event, on_upgraded, on_stop, ui};
    srv->observer = &ui->obs;
    return 0;
}
