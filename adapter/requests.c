/* requests.c - pending cluster requests: one table, one timer.
 *
 * The requests sit in one list ordered by deadline, so the table's single
 * timer only ever waits for the head. Requests without a deadline sit at the
 * tail. Deadlines mostly arrive in order (most requests share a timeout), so
 * inserting from the tail is O(1) in practice. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "map.h"
#include "requests.h"
#include "util.h"

#define MAX_TIMEOUT_MS 3600000u
#define NO_DEADLINE UINT64_MAX

/* A sender the request heard from (or, in PEERS mode, waits for). */
typedef struct rq_uid {
    size_t len;
    int answered; /* PEERS: answered or removed */
    char uid[];   /* copy; also the map key */
} rq_uid_t;

struct sg_request {
    sg_requests_t *t; /* NULL once finished or cancelled */
    unsigned refs;    /* the table's while pending, plus the callers' */
    char *id;
    size_t id_len;
    int kind;
    sg_request_mode_t mode;
    int keep_partial;
    int soon;   /* PEERS with no peer: completes on the next tick */
    char *text; /* fixed timeout text or NULL */
    uint64_t deadline;
    sg_request_t *prev, *next; /* the table's list, by deadline */
    long expected;             /* COUNT: -1 until known */
    size_t got;
    size_t missing; /* PEERS */
    sg_map_t *uids; /* rq_uid_t by uid */
    json_t *results;
    sg_adapter_result_cb cb;
    void *ud;
};

struct sg_requests {
    uv_timer_t timer;
    sg_map_t *byid;
    sg_request_t *head, *tail;
    int closing;
};

static void on_timer(uv_timer_t *timer);

sg_requests_t *sg_requests_new(uv_loop_t *loop)
{
    sg_requests_t *t = sg_calloc(1, sizeof(*t));
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->byid = sg_map_new();
    return t;
}

static void req_free(sg_request_t *q)
{
    sg_map_iter_t it = {0};
    while (q->uids && sg_map_next(q->uids, &it))
        sg_free(it.val);
    sg_map_free(q->uids);
    json_decref(q->results);
    sg_free(q->text);
    sg_free(q->id);
    sg_free(q);
}

sg_request_t *sg_request_ref(sg_request_t *q)
{
    q->refs++;
    return q;
}

void sg_request_unref(sg_request_t *q)
{
    if (q && --q->refs == 0)
        req_free(q);
}

int sg_request_pending(const sg_request_t *q)
{
    return q->t != NULL;
}

const char *sg_request_id(const sg_request_t *q)
{
    return q->id;
}

int sg_request_kind(const sg_request_t *q)
{
    return q->kind;
}

void *sg_request_ud(const sg_request_t *q)
{
    return q->ud;
}

sg_request_mode_t sg_request_mode(const sg_request_t *q)
{
    return q->mode;
}

size_t sg_requests_count(const sg_requests_t *t)
{
    return sg_map_count(t->byid);
}

sg_request_t *sg_requests_find(const sg_requests_t *t, const char *id, size_t len)
{
    return sg_map_get(t->byid, id, len);
}

/* Wait for the head's deadline (or for nothing). */
static void arm(sg_requests_t *t)
{
    if (t->closing)
        return;
    if (!t->head || t->head->deadline == NO_DEADLINE) {
        uv_timer_stop(&t->timer);
        return;
    }
    uint64_t now = uv_now(t->timer.loop);
    uint64_t d = t->head->deadline;
    uv_timer_start(&t->timer, on_timer, d > now ? d - now : 0, 0);
}

static void list_insert(sg_requests_t *t, sg_request_t *q)
{
    sg_request_t *after = t->tail;
    while (after && after->deadline > q->deadline)
        after = after->prev;
    q->prev = after;
    q->next = after ? after->next : t->head;
    if (q->next)
        q->next->prev = q;
    else
        t->tail = q;
    if (after)
        after->next = q;
    else
        t->head = q;
}

/* Take q out of the table; the table's reference passes to the caller. */
static void detach(sg_request_t *q)
{
    sg_requests_t *t = q->t;
    if (q->prev)
        q->prev->next = q->next;
    else
        t->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        t->tail = q->prev;
    q->prev = q->next = NULL;
    sg_map_del(t->byid, q->id, q->id_len);
    q->t = NULL;
    arm(t);
}

void sg_request_finish(sg_request_t *q, int err, const char *msg)
{
    if (!q->t)
        return;
    detach(q);
    /* Node rejects with no results on most errors; serverSideEmit reports
     * the answers it got. */
    json_t *res = err && !q->keep_partial ? json_array() : json_incref(q->results);
    if (q->cb)
        q->cb(q->ud, err, msg, res);
    json_decref(res);
    sg_request_unref(q);
}

void sg_request_cancel(sg_request_t *q)
{
    if (!q->t)
        return;
    detach(q);
    sg_request_unref(q);
}

static void timeout(sg_request_t *q)
{
    char msg[128];
    if (q->soon) {
        sg_request_finish(q, 0, NULL);
        return;
    }
    if (q->text)
        snprintf(msg, sizeof msg, "%s", q->text);
    else if (q->mode == SG_REQUEST_COUNT)
        snprintf(msg, sizeof msg, "timeout reached: only %zu responses received out of %ld", q->got,
                 q->expected < 0 ? 0 : q->expected);
    else if (q->mode == SG_REQUEST_PEERS)
        snprintf(msg, sizeof msg, "timeout reached: missing %zu responses", q->missing);
    else
        snprintf(msg, sizeof msg, "timeout reached");
    sg_request_finish(q, SG_ETIMEOUT, msg);
}

static void on_timer(uv_timer_t *timer)
{
    sg_requests_t *t = timer->data;
    uint64_t now = uv_now(timer->loop);
    /* Re-read the head each time: a callback may finish, cancel or start
     * other requests, or free the table (then closing stops the walk). */
    while (!t->closing && t->head && t->head->deadline <= now)
        timeout(t->head);
    arm(t);
}

static rq_uid_t *uid_get(const sg_request_t *q, const char *uid, size_t len)
{
    return q->uids ? sg_map_get(q->uids, uid, len) : NULL;
}

static rq_uid_t *uid_add(sg_request_t *q, const char *uid, size_t len, int answered)
{
    if (!q->uids)
        q->uids = sg_map_new();
    rq_uid_t *u = sg_malloc(sizeof(*u) + len + 1);
    u->len = len;
    u->answered = answered;
    memcpy(u->uid, uid, len);
    u->uid[len] = '\0';
    sg_map_put(q->uids, u->uid, len, u);
    return u;
}

int sg_requests_start(sg_requests_t *t, const sg_request_params_t *p, sg_request_t **out)
{
    if (t->closing)
        return SG_ESTATE;
    if (!p->id || sg_map_get(t->byid, p->id, p->id_len) ||
        (p->npeers && p->mode != SG_REQUEST_PEERS))
        return SG_EINVAL;
    sg_request_t *q = sg_calloc(1, sizeof(*q));
    q->t = t;
    q->refs = 1;
    q->id = sg_malloc(p->id_len + 1); /* whole bytes: sg_strndup would stop at a NUL */
    memcpy(q->id, p->id, p->id_len);
    q->id[p->id_len] = '\0';
    q->id_len = p->id_len;
    q->kind = p->kind;
    q->mode = p->mode;
    q->keep_partial = p->keep_partial;
    q->text = p->timeout_text ? sg_strdup(p->timeout_text) : NULL;
    q->expected = -1;
    q->results = json_array();
    q->cb = p->cb;
    q->ud = p->ud;
    for (size_t i = 0; i < p->npeers; i++) {
        if (!uid_get(q, p->peers[i].p, p->peers[i].len)) {
            uid_add(q, p->peers[i].p, p->peers[i].len, 0);
            q->missing++;
        }
    }
    uint64_t now = uv_now(t->timer.loop);
    if (q->mode == SG_REQUEST_PEERS && q->missing == 0) {
        q->soon = 1; /* nobody to wait for; the caller hears it later */
        q->deadline = now;
    } else if (p->timeout_ms) {
        unsigned ms = p->timeout_ms < MAX_TIMEOUT_MS ? p->timeout_ms : MAX_TIMEOUT_MS;
        q->deadline = now + ms;
    } else {
        q->deadline = NO_DEADLINE;
    }
    sg_map_put(t->byid, q->id, q->id_len, q);
    list_insert(t, q);
    if (t->head == q)
        arm(t);
    *out = q;
    return 0;
}

static void check_done(sg_request_t *q)
{
    if (!q->t)
        return;
    if ((q->mode == SG_REQUEST_COUNT && q->expected >= 0 && q->got >= (size_t)q->expected) ||
        (q->mode == SG_REQUEST_PEERS && q->missing == 0))
        sg_request_finish(q, 0, NULL);
}

void sg_request_set_expected(sg_request_t *q, size_t expected)
{
    if (!q->t || q->mode != SG_REQUEST_COUNT)
        return;
    q->expected =
        expected > (size_t)SG_REQUEST_MAX_RESPONSES ? SG_REQUEST_MAX_RESPONSES : (long)expected;
    check_done(q);
}

int sg_request_respond(sg_request_t *q, const char *from, size_t from_len, const json_t *value,
                       sg_request_add_t how)
{
    if (!q->t || q->mode == SG_REQUEST_OPEN || q->got >= SG_REQUEST_MAX_RESPONSES)
        return 0;
    if (how == SG_REQUEST_EXTEND && !json_is_array(value))
        return 0;
    rq_uid_t *u = from ? uid_get(q, from, from_len) : NULL;
    if (q->mode == SG_REQUEST_PEERS) {
        if (!u || u->answered)
            return 0;
        u->answered = 1;
        q->missing--;
    } else if (from) {
        if (u)
            return 0; /* that node answered already */
        uid_add(q, from, from_len, 1);
    }
    q->got++;
    if (how == SG_REQUEST_APPEND)
        json_array_append(q->results, value ? (json_t *)value : json_null());
    else if (how == SG_REQUEST_EXTEND)
        json_array_extend(q->results, (json_t *)value);
    check_done(q);
    return 1;
}

void sg_requests_peer_gone(sg_requests_t *t, const char *uid, size_t len)
{
    /* First mark, collecting the completed ones with a reference held, then
     * finish them: their callbacks may change the table. */
    sg_request_t **done = NULL;
    size_t n = 0;
    for (sg_request_t *q = t->head; q; q = q->next) {
        rq_uid_t *u = q->mode == SG_REQUEST_PEERS ? uid_get(q, uid, len) : NULL;
        if (!u || u->answered)
            continue;
        u->answered = 1;
        if (--q->missing == 0) {
            done = sg_realloc(done, (n + 1) * sizeof(*done));
            done[n++] = sg_request_ref(q);
        }
    }
    for (size_t i = 0; i < n; i++) {
        check_done(done[i]);
        sg_request_unref(done[i]);
    }
    sg_free(done);
}

static void on_closed(uv_handle_t *h)
{
    sg_requests_t *t = h->data;
    sg_map_free(t->byid);
    sg_free(t);
}

void sg_requests_free(sg_requests_t *t)
{
    if (!t || t->closing)
        return;
    t->closing = 1;
    uv_timer_stop(&t->timer);
    while (t->head)
        sg_request_finish(t->head, SG_ESTATE, "adapter closed");
    uv_close((uv_handle_t *)&t->timer, on_closed);
}
