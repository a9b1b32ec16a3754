/* Unit tests for adapter/: the room index, selections and local delivery,
 * driven through a fake host (sg_adapter_host_t) and a fake backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "json.h"
#include "sio.h"
#include "util.h"

#define MAXS 128
#define N(lit) {lit, sizeof(lit) - 1}
#define MAXLOG 1024

typedef struct tsock {
    sg_asock_t a; /* first: the host casts sg_asock_t * back */
    char id[16];
    int idx;
    int removed;
} tsock_t;

typedef struct dlv {
    tsock_t *s;
    sg_buf_t *text; /* our own reference, dropped in teardown */
    sg_buf_t *bins[4];
    size_t nbins;
    unsigned flags;
} dlv_t;

typedef struct ctx ctx_t;

struct ctx {
    sg_adapter_t *a;
    tsock_t socks[MAXS];
    size_t n;
    dlv_t dlv[MAXLOG];
    size_t ndlv;
    tsock_t *disc[MAXLOG];
    int disc_close[MAXLOG];
    size_t ndisc;
    /* Host behaviour. */
    int remove_on_disconnect;    /* like the server: unregister right away */
    tsock_t *also_remove;        /* and unregister this one too */
    const sg_sio_packet_t *nested_pkt; /* broadcast this from the first delivery */
    const sg_bcast_opts_t *nested_opts;
    int nested_done;
    /* Backend calls. */
    int be_broadcast, be_add, be_del, be_disc;
    /* Membership reports: "+room" / "-room", comma separated. */
    char members[512];
};

/* ---- fake host ---- */

static void host_deliver(sg_asock_t *as, const sg_sio_encoded_t *pkt, unsigned flags, void *ud)
{
    ctx_t *c = ud;
    assert_true(c->ndlv < MAXLOG);
    dlv_t *d = &c->dlv[c->ndlv++];
    d->s = (tsock_t *)as;
    d->text = sg_buf_ref(pkt->text);
    assert_true(pkt->nbins <= 4);
    d->nbins = pkt->nbins;
    for (size_t i = 0; i < pkt->nbins; i++)
        d->bins[i] = sg_buf_ref(pkt->bins[i]);
    d->flags = flags;
    if (c->nested_pkt && !c->nested_done) {
        c->nested_done = 1;
        assert_int_equal(sg_adapter_broadcast(c->a, c->nested_pkt, c->nested_opts), 0);
    }
}

static void host_disconnect(sg_asock_t *as, int close, void *ud)
{
    ctx_t *c = ud;
    assert_true(c->ndisc < MAXLOG);
    c->disc[c->ndisc] = (tsock_t *)as;
    c->disc_close[c->ndisc++] = close;
    if (c->remove_on_disconnect) {
        sg_adapter_remove_socket(c->a, as);
        ((tsock_t *)as)->removed = 1;
        if (c->also_remove && !c->also_remove->removed) {
            sg_adapter_remove_socket(c->a, &c->also_remove->a);
            c->also_remove->removed = 1;
        }
    }
}

static void host_membership(sg_asock_t *as, const char *room, size_t len, int joined, void *ud)
{
    ctx_t *c = ud;
    size_t n = strlen(c->members);
    snprintf(c->members + n, sizeof c->members - n, "%s%c%.*s", n ? "," : "", joined ? '+' : '-',
             (int)len, room);
}

static const sg_adapter_host_t host = {host_deliver, host_disconnect, host_membership};

/* ---- fake backend: counts what would go to the other nodes ---- */

static ctx_t *be_ctx(sg_adapter_t *a)
{
    return sg_adapter_backend(a);
}

static int be_broadcast(sg_adapter_t *a, const sg_sio_packet_t *pkt, const sg_bcast_opts_t *o)
{
    be_ctx(a)->be_broadcast++;
    return 0;
}

static int be_add(sg_adapter_t *a, const sg_bcast_opts_t *o, const sg_name_t *r, size_t n)
{
    be_ctx(a)->be_add++;
    return 0;
}

static int be_del(sg_adapter_t *a, const sg_bcast_opts_t *o, const sg_name_t *r, size_t n)
{
    be_ctx(a)->be_del++;
    return 0;
}

static int be_disc(sg_adapter_t *a, const sg_bcast_opts_t *o, int close)
{
    be_ctx(a)->be_disc++;
    return 0;
}

static const sg_adapter_ops_t counting_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "counting",
    .broadcast = be_broadcast,
    .add_sockets = be_add,
    .del_sockets = be_del,
    .disconnect_sockets = be_disc,
};

/* ---- fixture ---- */

static ctx_t *ctx_new(const sg_adapter_ops_t *ops, size_t n)
{
    ctx_t *c = sg_calloc(1, sizeof(*c));
    c->a = sg_adapter_new(ops, "/", &host, c);
    sg_adapter_set_backend(c->a, c);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        tsock_t *s = &c->socks[i];
        snprintf(s->id, sizeof(s->id), "s%u", (unsigned)(i % 100000));
        s->idx = (int)i;
        s->a.id = s->id;
        s->a.id_len = strlen(s->id);
        sg_adapter_add_socket(c->a, &s->a);
    }
    return c;
}

static void log_clear(ctx_t *c)
{
    for (size_t i = 0; i < c->ndlv; i++) {
        sg_buf_unref(c->dlv[i].text);
        for (size_t j = 0; j < c->dlv[i].nbins; j++)
            sg_buf_unref(c->dlv[i].bins[j]);
    }
    c->ndlv = 0;
    c->ndisc = 0;
}

static void ctx_free(ctx_t *c)
{
    log_clear(c);
    for (size_t i = 0; i < c->n; i++)
        if (!c->socks[i].removed)
            sg_adapter_remove_socket(c->a, &c->socks[i].a);
    assert_int_equal(sg_adapter_socket_count(c->a), 0);
    sg_adapter_free(c->a);
    sg_free(c);
}

static void join(ctx_t *c, int i, const char *room)
{
    sg_adapter_join(c->a, &c->socks[i].a, room, strlen(room));
}

static void leave(ctx_t *c, int i, const char *room)
{
    sg_adapter_leave(c->a, &c->socks[i].a, room, strlen(room));
}

static size_t room_size(ctx_t *c, const char *room)
{
    return sg_adapter_room_size(c->a, room, strlen(room));
}

/* Room list of a socket as "a,b,c". */
static void append_room(const char *room, size_t len, void *ud)
{
    char *out = ud;
    size_t at = strlen(out);
    if (at)
        out[at++] = ',';
    memcpy(out + at, room, len);
    out[at + len] = '\0';
}

static const char *rooms_of(ctx_t *c, int i, char *buf)
{
    buf[0] = '\0';
    sg_adapter_socket_rooms(&c->socks[i].a, append_room, buf);
    return buf;
}

/* all_rooms, sorted, as "a,b,c"; fails on a duplicate. */
typedef struct {
    char names[64][32];
    size_t n;
} names_t;

static void collect_name(const char *room, size_t len, void *ud)
{
    names_t *nm = ud;
    assert_true(nm->n < 64 && len < 32);
    memcpy(nm->names[nm->n], room, len);
    nm->names[nm->n][len] = '\0';
    nm->n++;
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(x, y);
}

static const char *all_rooms(ctx_t *c, char *buf)
{
    names_t nm = {0};
    sg_adapter_all_rooms(c->a, collect_name, &nm);
    qsort(nm.names, nm.n, sizeof(nm.names[0]), cmp_name);
    buf[0] = '\0';
    for (size_t i = 0; i < nm.n; i++) {
        if (i > 0)
            assert_string_not_equal(nm.names[i - 1], nm.names[i]);
        append_room(nm.names[i], strlen(nm.names[i]), buf);
    }
    return buf;
}

/* Selection as a bit mask of socket indexes; fails when a socket comes twice. */
typedef struct {
    uint64_t mask[2];
    size_t calls;
} selset_t;

static void sel_one(sg_asock_t *as, void *ud)
{
    selset_t *r = ud;
    int i = ((tsock_t *)as)->idx;
    assert_false(r->mask[i / 64] & (1ull << (i % 64)));
    r->mask[i / 64] |= 1ull << (i % 64);
    r->calls++;
}

static uint64_t sel(ctx_t *c, const sg_name_t *rooms, size_t nrooms, const sg_name_t *except,
                    size_t nexcept)
{
    sg_bcast_opts_t o = {rooms, nrooms, except, nexcept, 0};
    selset_t r = {{0, 0}, 0};
    size_t n = sg_adapter_select(c->a, &o, sel_one, &r);
    assert_int_equal(n, r.calls);
    assert_int_equal(r.mask[1], 0);
    return r.mask[0];
}

#define B(i) (1ull << (i))

static json_t *parse(const char *s)
{
    json_t *v = NULL;
    assert_int_equal(sg_json_parse(s, strlen(s), &v), 0);
    return v;
}

static void expect_text(const sg_buf_t *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

/* ---- tests ---- */

static void test_add_remove_find(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 3);
    assert_string_equal(sg_adapter_nsp(c->a), "/");
    assert_int_equal(sg_adapter_socket_count(c->a), 3);
    assert_ptr_equal(sg_adapter_find(c->a, "s1", 2), &c->socks[1].a);
    assert_null(sg_adapter_find(c->a, "s9", 2));
    assert_null(sg_adapter_find(c->a, "s", 1));

    sg_adapter_remove_socket(c->a, &c->socks[1].a);
    c->socks[1].removed = 1;
    assert_int_equal(sg_adapter_socket_count(c->a), 2);
    assert_null(sg_adapter_find(c->a, "s1", 2));
    /* Removing twice is harmless. */
    sg_adapter_remove_socket(c->a, &c->socks[1].a);
    assert_int_equal(sg_adapter_socket_count(c->a), 2);
    assert_int_equal(room_size(c, "s1"), 0);
    assert_int_equal(sel(c, NULL, 0, NULL, 0), B(0) | B(2));

    /* Re-adding starts from a clean record. */
    c->socks[1].a.mark = 12345;
    sg_adapter_add_socket(c->a, &c->socks[1].a);
    c->socks[1].removed = 0;
    assert_null(c->socks[1].a.rooms);
    assert_int_equal(sel(c, NULL, 0, NULL, 0), B(0) | B(1) | B(2));
    ctx_free(c);
    sg_adapter_free(NULL);
}

static void test_join_leave(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 2);
    char buf[256];
    assert_string_equal(rooms_of(c, 0, buf), "s0");
    assert_true(sg_adapter_in_room(c->a, &c->socks[0].a, "s0", 2));
    assert_false(sg_adapter_in_room(c->a, &c->socks[0].a, "b", 1));

    join(c, 0, "b");
    join(c, 0, "a");
    join(c, 0, "c");
    join(c, 0, "a"); /* twice: no-op */
    join(c, 0, "s0"); /* own id: implicit, no-op */
    assert_string_equal(rooms_of(c, 0, buf), "s0,b,a,c");
    assert_int_equal(room_size(c, "a"), 1);
    assert_int_equal(room_size(c, "s0"), 1);
    assert_true(sg_adapter_in_room(c->a, &c->socks[0].a, "a", 1));

    leave(c, 0, "a");
    leave(c, 0, "a");    /* not a member any more: no-op */
    leave(c, 0, "zzz");  /* never was */
    leave(c, 1, "b");    /* another socket's room */
    leave(c, 0, "s0");   /* own id room cannot be left */
    assert_string_equal(rooms_of(c, 0, buf), "s0,b,c");
    assert_false(sg_adapter_in_room(c->a, &c->socks[0].a, "a", 1));
    assert_true(sg_adapter_in_room(c->a, &c->socks[0].a, "s0", 2));
    assert_int_equal(room_size(c, "a"), 0);
    assert_int_equal(room_size(c, "b"), 1);

    join(c, 0, "a"); /* rejoin goes to the end: join order */
    assert_string_equal(rooms_of(c, 0, buf), "s0,b,c,a");
    /* Names are length-delimited: a prefix is a different room. */
    sg_adapter_join(c->a, &c->socks[1].a, "abc", 1);
    assert_string_equal(rooms_of(c, 1, buf), "s1,a");
    assert_int_equal(room_size(c, "a"), 2);
    assert_int_equal(room_size(c, "abc"), 0);
    /* The host heard of every real change, and of nothing else; leaving
     * every room when the socket goes counts too. */
    assert_string_equal(c->members, "+b,+a,+c,-a,+a,+a");
    c->members[0] = '\0';
    sg_adapter_remove_socket(c->a, &c->socks[1].a);
    assert_string_equal(c->members, "-a");
    ctx_free(c);
}

static void test_room_size_and_all_rooms(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 4);
    char buf[512];
    assert_string_equal(all_rooms(c, buf), "s0,s1,s2,s3");
    assert_int_equal(room_size(c, "nope"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(room_size(c, c->socks[i].id), 1);

    join(c, 0, "r");
    join(c, 1, "r");
    join(c, 2, "r");
    join(c, 3, "q");
    assert_int_equal(room_size(c, "r"), 3);
    assert_int_equal(room_size(c, "q"), 1);
    assert_string_equal(all_rooms(c, buf), "q,r,s0,s1,s2,s3");

    /* A socket may join a room named like another socket's id: listed once,
     * counted for both, selected for both. */
    join(c, 1, "s0");
    assert_int_equal(room_size(c, "s0"), 2);
    assert_string_equal(all_rooms(c, buf), "q,r,s0,s1,s2,s3");
    sg_name_t r0[] = {N("s0")};
    assert_int_equal(sel(c, r0, 1, NULL, 0), B(0) | B(1));
    /* Once s0 is gone, "s0" is an ordinary room of s1. */
    sg_adapter_remove_socket(c->a, &c->socks[0].a);
    c->socks[0].removed = 1;
    assert_int_equal(room_size(c, "s0"), 1);
    assert_int_equal(room_size(c, "r"), 2);
    assert_string_equal(all_rooms(c, buf), "q,r,s0,s1,s2,s3");
    assert_int_equal(sel(c, r0, 1, NULL, 0), B(1));

    leave(c, 3, "q");
    assert_int_equal(room_size(c, "q"), 0);
    assert_string_equal(all_rooms(c, buf), "r,s0,s1,s2,s3");
    ctx_free(c);
}

static void test_select(void **state)
{
    (void)state;
    /* s0: a       s1: a b     s2: b       s3: c      s4: (none) */
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 5);
    join(c, 0, "a");
    join(c, 1, "a");
    join(c, 1, "b");
    join(c, 2, "b");
    join(c, 3, "c");
    const uint64_t all = B(0) | B(1) | B(2) | B(3) | B(4);

    assert_int_equal(sel(c, NULL, 0, NULL, 0), all);
    sg_name_t a[] = {N("a")}, ab[] = {N("a"), N("b")}, b[] = {N("b")}, none[] = {N("zzz")};
    assert_int_equal(sel(c, a, 1, NULL, 0), B(0) | B(1));
    /* s1 is in both: delivered once (sel() asserts it). */
    assert_int_equal(sel(c, ab, 2, NULL, 0), B(0) | B(1) | B(2));
    sg_name_t aa[] = {N("a"), N("a"), N("s1")};
    assert_int_equal(sel(c, aa, 3, NULL, 0), B(0) | B(1));
    assert_int_equal(sel(c, none, 1, NULL, 0), 0);
    /* except only. */
    assert_int_equal(sel(c, NULL, 0, b, 1), B(0) | B(3) | B(4));
    assert_int_equal(sel(c, NULL, 0, none, 1), all);
    /* rooms and except. */
    assert_int_equal(sel(c, ab, 2, b, 1), B(0));
    assert_int_equal(sel(c, a, 1, a, 1), 0);
    /* except by socket id (the sender in socket.broadcast.emit). */
    sg_name_t x1[] = {N("s1")}, x14[] = {N("s1"), N("s4")};
    assert_int_equal(sel(c, NULL, 0, x1, 1), B(0) | B(2) | B(3) | B(4));
    assert_int_equal(sel(c, ab, 2, x1, 1), B(0) | B(2));
    assert_int_equal(sel(c, NULL, 0, x14, 2), B(0) | B(2) | B(3));
    /* rooms by socket id. */
    sg_name_t ids[] = {N("s4"), N("s3"), N("c")};
    assert_int_equal(sel(c, ids, 3, NULL, 0), B(3) | B(4));
    /* A previous selection's marks never leak into the next one. */
    assert_int_equal(sel(c, ab, 2, NULL, 0), B(0) | B(1) | B(2));
    assert_int_equal(sel(c, ab, 2, NULL, 0), B(0) | B(1) | B(2));
    assert_int_equal(sel(c, NULL, 0, NULL, 0), all);
    ctx_free(c);
}

/* Random joins/leaves/removals checked against a brute-force model. */
static void test_select_model(void **state)
{
    (void)state;
    enum { NS = 40, NR = 12 };
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, NS);
    char names[NR + NS][16];
    for (int r = 0; r < NR; r++)
        snprintf(names[r], sizeof(names[r]), "room%d", r);
    for (int i = 0; i < NS; i++)
        snprintf(names[NR + i], sizeof(names[0]), "s%d", i);
    int in[NS][NR] = {{0}};
    uint32_t rng = 12345;
#define RND(n) ((rng = rng * 1103515245u + 12345u) >> 16) % (n)
    for (int step = 0; step < 3000; step++) {
        int s = RND(NS), r = RND(NR);
        unsigned op = RND(10);
        if (c->socks[s].removed) {
            if (op == 0) {
                sg_adapter_add_socket(c->a, &c->socks[s].a);
                c->socks[s].removed = 0;
            }
        } else if (op < 5) {
            join(c, s, names[r]);
            in[s][r] = 1;
        } else if (op < 9) {
            leave(c, s, names[r]);
            in[s][r] = 0;
        } else {
            sg_adapter_remove_socket(c->a, &c->socks[s].a);
            c->socks[s].removed = 1;
            memset(in[s], 0, sizeof(in[s]));
        }
        if (step % 10)
            continue;
        /* A selection of up to 3 rooms and 2 excepts, ids included. */
        const char *rooms[3], *except[2];
        size_t nr = RND(4), ne = RND(3);
        for (size_t k = 0; k < nr; k++)
            rooms[k] = names[RND(NR + NS)];
        for (size_t k = 0; k < ne; k++)
            except[k] = names[RND(NR + NS)];
        uint64_t want = 0;
        for (int i = 0; i < NS; i++) {
            if (c->socks[i].removed)
                continue;
            int hit = nr == 0, ex = 0;
            for (size_t k = 0; k < nr; k++) {
                int ri = (int)(rooms[k] - names[0]) / 16;
                hit |= ri < NR ? in[i][ri] : ri - NR == i;
            }
            for (size_t k = 0; k < ne; k++) {
                int ri = (int)(except[k] - names[0]) / 16;
                ex |= ri < NR ? in[i][ri] : ri - NR == i;
            }
            if (hit && !ex)
                want |= B(i);
        }
        sg_name_t nrooms[3], nexcept[2];
        for (size_t k = 0; k < nr; k++)
            nrooms[k] = (sg_name_t){rooms[k], strlen(rooms[k])};
        for (size_t k = 0; k < ne; k++)
            nexcept[k] = (sg_name_t){except[k], strlen(except[k])};
        assert_int_equal(sel(c, nrooms, nr, nexcept, ne), want);
        for (int r2 = 0; r2 < NR; r2++) {
            size_t n = 0;
            for (int i = 0; i < NS; i++)
                n += in[i][r2];
            assert_int_equal(room_size(c, names[r2]), n);
        }
    }
#undef RND
    ctx_free(c);
}

static void test_broadcast_encode_once(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&counting_ops, 4);
    join(c, 0, "r");
    join(c, 1, "r");
    join(c, 2, "r");
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_EVENT;
    p.data = parse("[\"news\",1,{\"x\":\"y\"}]");

    sg_name_t r[] = {N("r")}, x[] = {N("s2")};
    sg_bcast_opts_t o = {r, 1, x, 1, SG_BCAST_VOLATILE};
    assert_int_equal(sg_adapter_broadcast(c->a, &p, &o), 0);
    assert_int_equal(c->ndlv, 2);
    assert_int_equal(c->be_broadcast, 1);
    uint64_t got = 0;
    for (size_t i = 0; i < c->ndlv; i++) {
        got |= B(c->dlv[i].s->idx);
        assert_ptr_equal(c->dlv[i].text, c->dlv[0].text);
        assert_int_equal(c->dlv[i].nbins, 0);
        assert_int_equal(c->dlv[i].flags, SG_BCAST_VOLATILE);
    }
    assert_int_equal(got, B(0) | B(1));
    expect_text(c->dlv[0].text, "42[\"news\",1,{\"x\":\"y\"}]");
    /* The adapter dropped its reference: only the recipients hold one. */
    assert_int_equal(c->dlv[0].text->refs, 2);
    log_clear(c);

    /* Everyone, local only: the backend is not told. */
    o = (sg_bcast_opts_t){NULL, 0, NULL, 0, SG_BCAST_LOCAL};
    assert_int_equal(sg_adapter_broadcast(c->a, &p, &o), 0);
    assert_int_equal(c->ndlv, 4);
    assert_int_equal(c->be_broadcast, 1);
    for (size_t i = 1; i < c->ndlv; i++)
        assert_ptr_equal(c->dlv[i].text, c->dlv[0].text);
    assert_int_equal(c->dlv[0].text->refs, 4);
    log_clear(c);

    /* Nobody matches: nothing delivered, still forwarded. */
    sg_name_t empty[] = {N("empty")};
    o = (sg_bcast_opts_t){empty, 1, NULL, 0, 0};
    assert_int_equal(sg_adapter_broadcast(c->a, &p, &o), 0);
    assert_int_equal(c->ndlv, 0);
    assert_int_equal(c->be_broadcast, 2);

    /* An unencodable packet fails before anything is delivered or forwarded. */
    json_decref(p.data);
    p.data = parse("{\"not\":\"an array\"}");
    o = (sg_bcast_opts_t){NULL, 0, NULL, 0, 0};
    assert_int_not_equal(sg_adapter_broadcast(c->a, &p, &o), 0);
    assert_int_equal(c->ndlv, 0);
    assert_int_equal(c->be_broadcast, 2);
    sg_sio_packet_clear(&p);
    ctx_free(c);
}

static void test_broadcast_binary(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 3);
    sg_sio_packet_t p;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_EVENT;
    p.nsp = sg_strdup("/chat");
    p.data = parse("[\"file\",{\"_placeholder\":true,\"num\":0},\"name\","
                   "{\"_placeholder\":true,\"num\":1}]");
    p.bins = sg_malloc(2 * sizeof(*p.bins));
    p.bins[0] = sg_buf_new_copy("\x01\x02\x03", 3);
    p.bins[1] = sg_buf_new_copy("\x00", 1);
    p.nbins = 2;

    sg_name_t x[] = {N("s1")};
    sg_bcast_opts_t o = {NULL, 0, x, 1, 0};
    assert_int_equal(sg_adapter_broadcast(c->a, &p, &o), 0);
    assert_int_equal(c->ndlv, 2);
    for (size_t i = 0; i < c->ndlv; i++) {
        assert_int_not_equal(c->dlv[i].s->idx, 1);
        assert_ptr_equal(c->dlv[i].text, c->dlv[0].text);
        assert_int_equal(c->dlv[i].nbins, 2);
        assert_ptr_equal(c->dlv[i].bins[0], p.bins[0]);
        assert_ptr_equal(c->dlv[i].bins[1], p.bins[1]);
    }
    assert_int_not_equal(c->dlv[0].s, c->dlv[1].s);
    expect_text(c->dlv[0].text, "452-/chat,[\"file\",{\"_placeholder\":true,\"num\":0},\"name\","
                                "{\"_placeholder\":true,\"num\":1}]");
    assert_true(p.bins[0]->flags & SG_BUF_BINARY);
    /* packet + 2 recipients */
    assert_int_equal(p.bins[0]->refs, 3);
    log_clear(c);
    assert_int_equal(p.bins[0]->refs, 1);
    sg_sio_packet_clear(&p);
    ctx_free(c);
}

static void test_add_del_sockets(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&counting_ops, 4);
    char buf[256];
    join(c, 0, "a");
    join(c, 1, "a");
    join(c, 2, "a");

    /* socketsJoin: everyone in "a" but s1 joins "x" and "y". */
    sg_name_t a[] = {N("a")}, x1[] = {N("s1")}, xy[] = {N("x"), N("y")};
    sg_bcast_opts_t o = {a, 1, x1, 1, 0};
    sg_adapter_add_sockets(c->a, &o, xy, 2);
    assert_int_equal(c->be_add, 1);
    assert_string_equal(rooms_of(c, 0, buf), "s0,a,x,y");
    assert_string_equal(rooms_of(c, 1, buf), "s1,a");
    assert_string_equal(rooms_of(c, 2, buf), "s2,a,x,y");
    assert_string_equal(rooms_of(c, 3, buf), "s3");
    /* Again: idempotent. */
    sg_adapter_add_sockets(c->a, &o, xy, 2);
    assert_int_equal(room_size(c, "x"), 2);

    /* socketsLeave of the very room being selected (collect-then-apply). */
    sg_name_t x[] = {N("x")};
    o = (sg_bcast_opts_t){x, 1, NULL, 0, SG_BCAST_LOCAL};
    sg_adapter_del_sockets(c->a, &o, x, 1);
    assert_int_equal(c->be_del, 0);
    assert_int_equal(room_size(c, "x"), 0);
    assert_string_equal(rooms_of(c, 0, buf), "s0,a,y");
    assert_string_equal(rooms_of(c, 2, buf), "s2,a,y");
    assert_string_equal(all_rooms(c, buf), "a,s0,s1,s2,s3,y");

    /* Everyone leaves everything: only the own-id rooms remain. */
    sg_name_t ay[] = {N("a"), N("y"), N("never")};
    o = (sg_bcast_opts_t){NULL, 0, NULL, 0, 0};
    sg_adapter_del_sockets(c->a, &o, ay, 3);
    assert_int_equal(c->be_del, 1);
    assert_string_equal(all_rooms(c, buf), "s0,s1,s2,s3");
    for (int i = 0; i < 4; i++)
        assert_null(c->socks[i].a.rooms);

    /* Join by socket id. */
    sg_name_t ids[] = {N("s3"), N("s1")}, z[] = {N("z")};
    o = (sg_bcast_opts_t){ids, 2, NULL, 0, 0};
    sg_adapter_add_sockets(c->a, &o, z, 1);
    assert_int_equal(sel(c, z, 1, NULL, 0), B(1) | B(3));
    ctx_free(c);
}

static void test_disconnect_sockets(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&counting_ops, 6);
    char buf[256];
    for (int i = 0; i < 4; i++)
        join(c, i, "a");
    join(c, 0, "b");
    join(c, 3, "b");
    join(c, 5, "b");
    c->remove_on_disconnect = 1;

    /* Every socket in "a" but s2; each host callback unregisters its socket
     * (as the server does), which also empties "a" mid-iteration. */
    sg_name_t a[] = {N("a")}, x2[] = {N("s2")};
    sg_bcast_opts_t o = {a, 1, x2, 1, 0};
    sg_adapter_disconnect_sockets(c->a, &o, 1);
    assert_int_equal(c->be_disc, 1);
    assert_int_equal(c->ndisc, 3);
    uint64_t got = 0;
    for (size_t i = 0; i < c->ndisc; i++) {
        assert_false(got & B(c->disc[i]->idx));
        got |= B(c->disc[i]->idx);
        assert_int_equal(c->disc_close[i], 1);
    }
    assert_int_equal(got, B(0) | B(1) | B(3));
    assert_int_equal(sg_adapter_socket_count(c->a), 3);
    assert_int_equal(room_size(c, "a"), 1);
    assert_int_equal(room_size(c, "b"), 1);
    assert_string_equal(all_rooms(c, buf), "a,b,s2,s4,s5");
    log_clear(c);

    /* Everyone, local only, close = 0; the callback also unregisters a
     * socket that is still ahead in the iteration. Must stay memory-safe
     * and leave the adapter empty. */
    c->also_remove = &c->socks[4];
    o = (sg_bcast_opts_t){NULL, 0, NULL, 0, SG_BCAST_LOCAL};
    sg_adapter_disconnect_sockets(c->a, &o, 0);
    assert_int_equal(c->be_disc, 1);
    assert_true(c->ndisc >= 2 && c->ndisc <= 3);
    for (size_t i = 0; i < c->ndisc; i++)
        assert_int_equal(c->disc_close[i], 0);
    assert_int_equal(sg_adapter_socket_count(c->a), 0);
    assert_string_equal(all_rooms(c, buf), "");
    assert_int_equal(room_size(c, "a"), 0);
    assert_int_equal(room_size(c, "b"), 0);
    ctx_free(c);
}

static void test_nested_broadcast(void **state)
{
    (void)state;
    /* Enough sockets that both the reused and the nested match vectors must
     * grow: a nested selection must not reallocate the outer one. */
    enum { NS = 100 };
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, NS);
    for (int i = 0; i < NS; i += 2)
        join(c, i, "even");

    sg_sio_packet_t outer, inner;
    sg_sio_packet_init(&outer);
    sg_sio_packet_init(&inner);
    outer.type = inner.type = SG_SIO_EVENT;
    outer.data = parse("[\"outer\"]");
    inner.data = parse("[\"inner\"]");
    sg_name_t even[] = {N("even")}, x0[] = {N("s0")};
    sg_bcast_opts_t oo = {NULL, 0, x0, 1, 0};
    sg_bcast_opts_t io = {even, 1, NULL, 0, 0};
    c->nested_pkt = &inner;
    c->nested_opts = &io;
    assert_int_equal(sg_adapter_broadcast(c->a, &outer, &oo), 0);
    assert_int_equal(c->ndlv, (NS - 1) + NS / 2);

    int n_out[NS] = {0}, n_in[NS] = {0};
    const sg_buf_t *t_out = NULL, *t_in = NULL;
    for (size_t i = 0; i < c->ndlv; i++) {
        const dlv_t *d = &c->dlv[i];
        if (d->text->len > 4 && memcmp(d->text->data, "42[\"o", 5) == 0) {
            expect_text(d->text, "42[\"outer\"]");
            if (!t_out)
                t_out = d->text;
            assert_ptr_equal(d->text, t_out);
            n_out[d->s->idx]++;
        } else {
            expect_text(d->text, "42[\"inner\"]");
            if (!t_in)
                t_in = d->text;
            assert_ptr_equal(d->text, t_in);
            n_in[d->s->idx]++;
        }
    }
    for (int i = 0; i < NS; i++) {
        assert_int_equal(n_out[i], i != 0);
        assert_int_equal(n_in[i], i % 2 == 0);
    }
    log_clear(c);

    /* And the reused vector still works after the nested round. */
    c->nested_pkt = NULL;
    assert_int_equal(sg_adapter_broadcast(c->a, &outer, &oo), 0);
    assert_int_equal(c->ndlv, NS - 1);
    sg_sio_packet_clear(&outer);
    sg_sio_packet_clear(&inner);
    ctx_free(c);
}

/* A select callback that selects again, twice deep. */
typedef struct {
    ctx_t *c;
    int depth;
    size_t inner_calls;
} nest_t;

static void nest_one(sg_asock_t *as, void *ud)
{
    nest_t *n = ud;
    n->inner_calls++;
    if (n->depth < 2) {
        nest_t sub = {n->c, n->depth + 1, 0};
        sg_name_t x[] = {{as->id, as->id_len}};
        sg_bcast_opts_t o = {NULL, 0, x, 1, 0};
        size_t got = sg_adapter_select(n->c->a, &o, nest_one, &sub);
        assert_int_equal(got, n->c->n - 1);
        n->inner_calls += sub.inner_calls;
    }
}

static void test_nested_select(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 5);
    nest_t n = {c, 0, 0};
    sg_bcast_opts_t o = {NULL, 0, NULL, 0, 0};
    assert_int_equal(sg_adapter_select(c->a, &o, nest_one, &n), 5);
    /* 5 + 5*4 + 5*4*4 */
    assert_int_equal(n.inner_calls, 5 + 20 + 80);
    assert_int_equal(sel(c, NULL, 0, NULL, 0), B(0) | B(1) | B(2) | B(3) | B(4));
    ctx_free(c);
}

static void test_remove_frees_rooms(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 2);
    char buf[256];
    join(c, 0, "solo");
    join(c, 0, "shared");
    join(c, 1, "shared");
    join(c, 0, "other");
    assert_string_equal(all_rooms(c, buf), "other,s0,s1,shared,solo");

    sg_adapter_remove_socket(c->a, &c->socks[0].a);
    c->socks[0].removed = 1;
    assert_null(c->socks[0].a.rooms);
    assert_string_equal(all_rooms(c, buf), "s1,shared");
    assert_int_equal(room_size(c, "solo"), 0);
    assert_int_equal(room_size(c, "other"), 0);
    assert_int_equal(room_size(c, "shared"), 1);
    sg_name_t sh[] = {N("shared"), N("solo")};
    assert_int_equal(sel(c, sh, 2, NULL, 0), B(1));

    /* A room can come back after it disappeared. */
    join(c, 1, "solo");
    assert_int_equal(room_size(c, "solo"), 1);

    /* sg_adapter_free releases sockets still registered and their rooms
     * (the sanitizer build checks for leaks). */
    sg_adapter_free(c->a);
    c->a = sg_adapter_new(&sg_adapter_memory_ops, "/", &host, c);
    c->socks[1].removed = 1;
    ctx_free(c);
}

/* Many rooms on one socket: joins stay in order, membership is exact after
 * the index takes over, leaving from the middle keeps the list consistent,
 * and the cap refuses the join past it. 100k joins finish at once in O(1)
 * each (quadratic they would take minutes). */
static void count_room(const char *room, size_t len, void *ud)
{
    (*(size_t *)ud)++;
}

static void test_many_rooms_and_cap(void **state)
{
    enum { N = 100000 };
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 2);
    sg_asock_t *s = &c->socks[0].a;
    char name[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "room-%d", i);
        assert_int_equal(sg_adapter_join(c->a, s, name, (size_t)n), 0);
    }
    assert_int_equal(s->nrooms, N);
    assert_true(sg_adapter_in_room(c->a, s, "room-0", 6));
    assert_true(sg_adapter_in_room(c->a, s, "room-99999", 10));
    assert_false(sg_adapter_in_room(c->a, s, "room-100000", 11));
    assert_false(sg_adapter_in_room(c->a, &c->socks[1].a, "room-5", 6));
    /* joining again changes nothing */
    assert_int_equal(sg_adapter_join(c->a, s, "room-7", 6), 0);
    assert_int_equal(s->nrooms, N);
    /* leave every odd room */
    for (int i = 1; i < N; i += 2) {
        int n = snprintf(name, sizeof name, "room-%d", i);
        sg_adapter_leave(c->a, s, name, (size_t)n);
    }
    assert_int_equal(s->nrooms, N / 2);
    assert_false(sg_adapter_in_room(c->a, s, "room-1", 6));
    assert_true(sg_adapter_in_room(c->a, s, "room-2", 6));
    size_t n = 0;
    sg_adapter_socket_rooms(s, count_room, &n);
    assert_int_equal(n, N / 2 + 1); /* own id first */
    char buf[64] = "";
    /* what is left is still in join order */
    for (int i = 4; i < N; i += 2) {
        int k = snprintf(name, sizeof name, "room-%d", i);
        sg_adapter_leave(c->a, s, name, (size_t)k);
    }
    assert_string_equal(rooms_of(c, 0, buf), "s0,room-0,room-2");
    /* the cap */
    sg_adapter_set_max_rooms(c->a, 3);
    assert_int_equal(sg_adapter_join(c->a, s, "x", 1), 0);
    assert_int_equal(sg_adapter_join(c->a, s, "y", 1), SG_ETOOBIG);
    assert_int_equal(sg_adapter_join(c->a, s, "x", 1), 0); /* already in: fine */
    assert_int_equal(sg_adapter_join(c->a, s, "s0", 2), 0); /* own room: always */
    sg_adapter_leave(c->a, s, "x", 1);
    assert_int_equal(sg_adapter_join(c->a, s, "y", 1), 0);
    assert_string_equal(rooms_of(c, 0, buf), "s0,room-0,room-2,y");
    ctx_free(c);
}

/* Names are whole byte strings: "a\0b" is neither "a" nor "a\0c". */
static void test_names_with_nul(void **state)
{
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 2);
    sg_asock_t *s = &c->socks[0].a;
    assert_int_equal(sg_adapter_join(c->a, s, "a\0b", 3), 0);
    assert_true(sg_adapter_in_room(c->a, s, "a\0b", 3));
    assert_false(sg_adapter_in_room(c->a, s, "a", 1));
    assert_false(sg_adapter_in_room(c->a, s, "a\0c", 3));
    assert_int_equal(sg_adapter_room_size(c->a, "a", 1), 0);
    assert_int_equal(sg_adapter_room_size(c->a, "a\0b", 3), 1);
    sg_name_t a[] = {{"a", 1}}, ab[] = {{"a\0b", 3}};
    assert_int_equal(sel(c, a, 1, NULL, 0), 0);
    assert_int_equal(sel(c, ab, 1, NULL, 0), B(0));
    sg_adapter_leave(c->a, s, "a", 1);
    assert_int_equal(sg_adapter_room_size(c->a, "a\0b", 3), 1);
    ctx_free(c);
}

static void test_backend_state(void **state)
{
    (void)state;
    ctx_t *c = ctx_new(&sg_adapter_memory_ops, 0);
    int x;
    assert_ptr_equal(sg_adapter_backend(c->a), c);
    sg_adapter_set_backend(c->a, &x);
    assert_ptr_equal(sg_adapter_backend(c->a), &x);
    /* Operations on an empty adapter. */
    assert_int_equal(sel(c, NULL, 0, NULL, 0), 0);
    char buf[16];
    assert_string_equal(all_rooms(c, buf), "");
    sg_adapter_t *b = sg_adapter_new(&sg_adapter_memory_ops, "/custom", &host, c);
    assert_string_equal(sg_adapter_nsp(b), "/custom");
    sg_adapter_free(b);
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_remove_find),
        cmocka_unit_test(test_join_leave),
        cmocka_unit_test(test_room_size_and_all_rooms),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_model),
        cmocka_unit_test(test_broadcast_encode_once),
        cmocka_unit_test(test_broadcast_binary),
        cmocka_unit_test(test_add_del_sockets),
        cmocka_unit_test(test_disconnect_sockets),
        cmocka_unit_test(test_nested_broadcast),
        cmocka_unit_test(test_nested_select),
        cmocka_unit_test(test_remove_frees_rooms),
        cmocka_unit_test(test_backend_state),
        cmocka_unit_test(test_many_rooms_and_cap),
        cmocka_unit_test(test_names_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
