/* app_chat.c - the demo chat page's server side (server/www/chat.js), and
 * nothing else: this is the app that faces the internet, so every client
 * input is checked and bounded, and no event reaches beyond the sender's
 * own chat room.
 *
 * Events (client -> server):
 *   "add user" (name, room?, ack?)  name: 1..32 characters; room: 1..32
 *                                   characters, "lobby" when absent or empty;
 *                                   no control characters in either. Only
 *                                   the first valid one counts; the ack
 *                                   always reports {room, count}.
 *   "new message" (text)            1..500 characters, after "add user"
 *   "typing" / "stop typing" ()     after "add user"
 * "new message", "typing" and "stop typing" share a per-socket token bucket
 * (chatMessageRate per second, bursts of chatMessageBurst); events over it
 * are dropped. Lengths count UTF-16 units, as the page's maxlength does. */
#include <stdlib.h>
#include <string.h>

#include "apps_internal.h"

#define CHAT_NAME_MAX 32
#define CHAT_ROOM_MAX 32
#define CHAT_TEXT_MAX 500

typedef struct {
    char *username;
    char *room;
    size_t room_len;
    double tokens;    /* token bucket of the rate limit */
    uint64_t refill;  /* loop time (ms) of the last refill */
} chat_user_t;

typedef struct {
    double rate;  /* tokens per second */
    double burst; /* bucket size */
} chat_conf_t;

static void chat_user_free(void *p)
{
    chat_user_t *u = p;
    free(u->username);
    free(u->room);
    free(u);
}

/* A name is a non-empty string of at most max characters without control
 * characters. */
static int valid_text(const json_t *v, size_t max)
{
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return n > 0 && sg_app__js_length(s, n) <= max && !sg_app__has_control(s, n);
}

/* Take one token; 0 when the socket is over its rate. */
static int take_token(sg_socket_t *s, chat_user_t *u, const chat_conf_t *c)
{
    uint64_t now = uv_now(sg_server_loop(sg_nsp_server(sg_socket_nsp(s))));
    u->tokens += (double)(now - u->refill) * c->rate / 1000.0;
    if (u->tokens > c->burst)
        u->tokens = c->burst;
    u->refill = now;
    if (u->tokens < 1.0)
        return 0;
    u->tokens -= 1.0;
    return 1;
}

static void user_count(sg_nsp_t *nsp, const chat_user_t *u)
{
    json_t *v = json_pack("{s:s%,s:I}", "room", u->room, u->room_len, "count",
                          (json_int_t)sg_nsp_room_size_n(nsp, u->room, u->room_len));
    sg_app__bcast1(sg_bcast_to_n(sg_bcast_new(nsp), u->room, u->room_len), "user count", v);
}

static void on_add_user(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    const chat_conf_t *conf = ud;
    json_t *name = sg_data_get(args, 0), *room = sg_data_get(args, 1);
    chat_user_t *u = sg_socket_get_data(s);
    if (!u) {
        int default_room = !json_is_string(room) || json_string_length(room) == 0;
        if (!valid_text(name, CHAT_NAME_MAX) || (!default_room && !valid_text(room, CHAT_ROOM_MAX)))
            return;
        u = calloc(1, sizeof(*u));
        if (!u)
            abort();
        u->username = strdup(json_string_value(name));
        u->room = strdup(default_room ? "lobby" : json_string_value(room));
        if (!u->username || !u->room)
            abort();
        u->room_len = strlen(u->room);
        u->tokens = conf->burst;
        u->refill = uv_now(sg_server_loop(sg_nsp_server(sg_socket_nsp(s))));
        sg_socket_set_data(s, u, chat_user_free);
        sg_socket_join_n(s, u->room, u->room_len);
        sg_app__bcast1(sg_bcast_to_n(sg_bcast_from(s), u->room, u->room_len), "user joined",
                       json_pack("{s:s}", "username", u->username));
        user_count(sg_socket_nsp(s), u);
    }
    sg_app__ack1(ack, json_pack("{s:s%,s:I}", "room", u->room, u->room_len, "count",
                                (json_int_t)sg_nsp_room_size_n(sg_socket_nsp(s), u->room,
                                                               u->room_len)));
}

static void on_new_message(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack,
                           void *ud)
{
    chat_user_t *u = sg_socket_get_data(s);
    json_t *text = sg_data_get(args, 0);
    if (!u || !json_is_string(text) || json_string_length(text) == 0 ||
        sg_app__js_length(json_string_value(text), json_string_length(text)) > CHAT_TEXT_MAX ||
        !take_token(s, u, ud))
        return;
    sg_app__bcast1(sg_bcast_to_n(sg_bcast_from(s), u->room, u->room_len), "new message",
                   json_pack("{s:s,s:O}", "username", u->username, "message", text));
}

static void on_typing(sg_socket_t *s, const char *ev, sg_data_t *args, sg_ack_t *ack, void *ud)
{
    chat_user_t *u = sg_socket_get_data(s);
    if (!u || !take_token(s, u, ud))
        return;
    sg_app__bcast1(sg_bcast_to_n(sg_bcast_from(s), u->room, u->room_len), ev,
                   json_pack("{s:s}", "username", u->username));
}

static void on_chat_disconnect(sg_socket_t *s, const char *reason, void *ud)
{
    chat_user_t *u = sg_socket_get_data(s);
    if (!u)
        return;
    sg_nsp_t *nsp = sg_socket_nsp(s);
    sg_app__bcast1(sg_bcast_to_n(sg_bcast_new(nsp), u->room, u->room_len), "user left",
                   json_pack("{s:s}", "username", u->username));
    user_count(nsp, u);
}

static void install_nsp(sg_nsp_t *nsp, void *ud)
{
    sg_nsp_on(nsp, "add user", on_add_user, ud);
    sg_nsp_on(nsp, "new message", on_new_message, ud);
    sg_nsp_on(nsp, "typing", on_typing, ud);
    sg_nsp_on(nsp, "stop typing", on_typing, ud);
    sg_nsp_on_disconnect(nsp, on_chat_disconnect, ud);
}

static void free_conf(void *p)
{
    free(p);
}

static int install(sg_server_t *srv)
{
    const sg_config_t *cfg = sg_server_config(srv);
    chat_conf_t *conf = calloc(1, sizeof(*conf));
    if (!conf)
        abort();
    conf->rate = cfg->chat_message_rate;
    conf->burst = cfg->chat_message_burst;
    sg_server_set_app_data(srv, conf, free_conf);
    /* "/" and the namespaces the configuration names. */
    sg_server_foreach_nsp(srv, install_nsp, conf);
    return 0;
}

const sg_app_def_t sg_app_chat = {"chat", NULL, install};
