/* recovery.c - see recovery.h. */
#include "recovery.h"

#include <stdio.h>
#include <string.h>

#include "map.h"
#include "util.h"

typedef struct rpacket {
    struct rpacket *next;
    char offset[SG_RSTORE_OFFSET_MAX];
    uint64_t at;
    json_t *data;
    sg_buf_t **bins;
    size_t nbins;
    sg_name_t *names; /* rooms then except, copies in one block each */
    size_t nrooms, nexcept;
} rpacket_t;

typedef struct rsession {
    struct rsession *prev, *next;
    char *sid, *pid;
    json_t *rooms, *data;
    uint64_t at;
} rsession_t;

struct sg_rstore {
    unsigned max_ms;
    size_t max_packets, max_sessions;
    rpacket_t *head, *tail; /* oldest first */
    size_t npackets;
    sg_map_t *by_offset; /* offset -> rpacket_t */
    rsession_t *shead, *stail;
    sg_map_t *by_pid; /* pid -> rsession_t */
    uint64_t last_ms;
    uint64_t seq;
};

sg_rstore_t *sg_rstore_new(unsigned max_ms, size_t max_packets, size_t max_sessions)
{
    sg_rstore_t *st = sg_calloc(1, sizeof(*st));
    st->max_ms = max_ms;
    st->max_packets = max_packets ? max_packets : 100000;
    st->max_sessions = max_sessions ? max_sessions : 100000;
    st->by_offset = sg_map_new();
    st->by_pid = sg_map_new();
    return st;
}

static void packet_free(rpacket_t *p)
{
    json_decref(p->data);
    for (size_t i = 0; i < p->nbins; i++)
        sg_buf_unref(p->bins[i]);
    sg_free(p->bins);
    for (size_t i = 0; i < p->nrooms + p->nexcept; i++)
        sg_free((char *)p->names[i].p);
    sg_free(p->names);
    sg_free(p);
}

static void pop_packet(sg_rstore_t *st)
{
    rpacket_t *p = st->head;
    st->head = p->next;
    if (!st->head)
        st->tail = NULL;
    st->npackets--;
    sg_map_del(st->by_offset, p->offset, strlen(p->offset));
    packet_free(p);
}

static void session_unlink(sg_rstore_t *st, rsession_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        st->shead = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        st->stail = s->prev;
    sg_map_del(st->by_pid, s->pid, strlen(s->pid));
}

static void session_free(rsession_t *s)
{
    sg_free(s->sid);
    sg_free(s->pid);
    json_decref(s->rooms);
    json_decref(s->data);
    sg_free(s);
}

/* Packets stay PACKET_GRACE_MS longer than sessions: a session saved now
 * may restore from the offset of the last packet its client got, however
 * long it was idle before; Node's store keeps packets until a purge that
 * runs every 60 s, so its window is the same. */
#define PACKET_GRACE_MS 60000

/* Drop what is too old, or past the counts. */
static void expire(sg_rstore_t *st, uint64_t now)
{
    uint64_t keep = (uint64_t)st->max_ms + PACKET_GRACE_MS;
    uint64_t plimit = now > keep ? now - keep : 0;
    uint64_t limit = now > st->max_ms ? now - st->max_ms : 0;
    while (st->head && (st->head->at < plimit || st->npackets > st->max_packets))
        pop_packet(st);
    while (st->shead &&
           (st->shead->at < limit || sg_map_count(st->by_pid) > st->max_sessions)) {
        rsession_t *s = st->shead;
        session_unlink(st, s);
        session_free(s);
    }
}

void sg_rstore_free(sg_rstore_t *st)
{
    if (!st)
        return;
    while (st->head)
        pop_packet(st);
    while (st->shead) {
        rsession_t *s = st->shead;
        session_unlink(st, s);
        session_free(s);
    }
    sg_map_free(st->by_offset);
    sg_map_free(st->by_pid);
    sg_free(st);
}

void sg_rstore_next_offset(sg_rstore_t *st, uint64_t now, char out[SG_RSTORE_OFFSET_MAX])
{
    /* Like a stream entry id: time, then a sequence within the same ms. */
    if (now > st->last_ms) {
        st->last_ms = now;
        st->seq = 0;
    } else {
        st->seq++;
    }
    snprintf(out, SG_RSTORE_OFFSET_MAX, "%llu-%llu", (unsigned long long)st->last_ms,
             (unsigned long long)st->seq);
}

static void copy_names(sg_name_t *dst, const sg_name_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = sg_malloc(src[i].len + 1);
        memcpy(p, src[i].p, src[i].len);
        p[src[i].len] = '\0';
        dst[i] = (sg_name_t){p, src[i].len};
    }
}

void sg_rstore_add_packet(sg_rstore_t *st, uint64_t now, const char *offset, json_t *data,
                          sg_buf_t *const *bins, size_t nbins, const sg_bcast_opts_t *opts)
{
    rpacket_t *p = sg_calloc(1, sizeof(*p));
    snprintf(p->offset, sizeof p->offset, "%s", offset);
    p->at = now;
    p->data = json_incref(data);
    if (nbins) {
        p->bins = sg_malloc(nbins * sizeof(*p->bins));
        for (size_t i = 0; i < nbins; i++)
            p->bins[i] = sg_buf_ref(bins[i]);
        p->nbins = nbins;
    }
    p->nrooms = opts->nrooms;
    p->nexcept = opts->nexcept;
    if (p->nrooms + p->nexcept) {
        p->names = sg_malloc((p->nrooms + p->nexcept) * sizeof(*p->names));
        copy_names(p->names, opts->rooms, opts->nrooms);
        copy_names(p->names + p->nrooms, opts->except, opts->nexcept);
    }
    if (st->tail)
        st->tail->next = p;
    else
        st->head = p;
    st->tail = p;
    st->npackets++;
    sg_map_put(st->by_offset, p->offset, strlen(p->offset), p);
    expire(st, now);
}

void sg_rstore_add_session(sg_rstore_t *st, uint64_t now, const char *sid, const char *pid,
                           const json_t *rooms, const json_t *data)
{
    rsession_t *old = sg_map_get(st->by_pid, pid, strlen(pid));
    if (old) {
        session_unlink(st, old);
        session_free(old);
    }
    rsession_t *s = sg_calloc(1, sizeof(*s));
    s->sid = sg_strdup(sid);
    s->pid = sg_strdup(pid);
    s->rooms = json_deep_copy(rooms);
    s->data = data ? json_deep_copy(data) : json_object();
    s->at = now;
    s->prev = st->stail;
    if (st->stail)
        st->stail->next = s;
    else
        st->shead = s;
    st->stail = s;
    sg_map_put(st->by_pid, s->pid, strlen(s->pid), s);
    expire(st, now);
}

static int in_names(const json_t *room, const sg_name_t *names, size_t n)
{
    size_t len = json_string_length(room);
    const char *r = json_string_value(room);
    for (size_t i = 0; i < n; i++)
        if (names[i].len == len && !memcmp(names[i].p, r, len))
            return 1;
    return 0;
}

int sg_rstore_include(const json_t *rooms, const sg_bcast_opts_t *opts)
{
    size_t i;
    const json_t *room;
    int included = opts->nrooms == 0;
    json_array_foreach(rooms, i, room)
    {
        if (!json_is_string(room))
            continue;
        if (in_names(room, opts->except, opts->nexcept))
            return 0;
        if (!included && in_names(room, opts->rooms, opts->nrooms))
            included = 1;
    }
    return included;
}

void sg_rstore_restore(sg_rstore_t *st, uint64_t now, const char *pid, const char *offset,
                       sg_adapter_restore_cb cb, void *ud)
{
    expire(st, now);
    rsession_t *s = sg_map_get(st->by_pid, pid, strlen(pid));
    rpacket_t *from = sg_map_get(st->by_offset, offset, strlen(offset));
    if (!s || !from) {
        /* Node removes the session only once it is found with its offset. */
        cb(ud, NULL);
        return;
    }
    session_unlink(st, s);
    size_t n = 0, cap = 0;
    sg_adapter_missed_t *missed = NULL;
    for (rpacket_t *p = from->next; p; p = p->next) {
        sg_bcast_opts_t o = {p->names, p->nrooms, p->names + p->nrooms, p->nexcept, 0};
        if (!sg_rstore_include(s->rooms, &o))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            missed = sg_realloc(missed, cap * sizeof(*missed));
        }
        /* References: cb may broadcast, and the log may drop these then. */
        sg_buf_t **bins = NULL;
        if (p->nbins) {
            bins = sg_malloc(p->nbins * sizeof(*bins));
            for (size_t i = 0; i < p->nbins; i++)
                bins[i] = sg_buf_ref(p->bins[i]);
        }
        missed[n++] = (sg_adapter_missed_t){json_incref(p->data), bins, p->nbins};
    }
    sg_adapter_session_t sess = {s->sid, s->pid, s->rooms, s->data, missed, n};
    cb(ud, &sess);
    for (size_t k = 0; k < n; k++) {
        json_decref(missed[k].data);
        for (size_t i = 0; i < missed[k].nbins; i++)
            sg_buf_unref(missed[k].bins[i]);
        sg_free(missed[k].bins);
    }
    sg_free(missed);
    session_free(s);
}

size_t sg_rstore_packets(const sg_rstore_t *st)
{
    return st->npackets;
}

size_t sg_rstore_sessions(const sg_rstore_t *st)
{
    return sg_map_count(st->by_pid);
}
