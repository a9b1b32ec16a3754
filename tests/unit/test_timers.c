/* test_timers.c - server/theap.c and server/timers.c.
 *
 * The heap against a brute-force model under random inserts, moves and
 * removals. The timers on a real uv loop: deadlines are set at or before the
 * loop's current time (or a few ms after it), so what fires, and in which
 * order, does not depend on how fast the machine is; the loop is driven with
 * uv_run, never with sleeps. Each test ends with uv_loop_close, which fails
 * while any handle is left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "theap.h"
#include "timers.h"

/* ---- the heap ----------------------------------------------------------- */

#define NNODES 300

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Shape and bookkeeping: every slot's node knows its index, parents are
 * never later than their children, and the queued set is the model's. */
static void check_heap(const sg_theap_t *h, const sg_tnode_t *nodes, const int *queued)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < NNODES; i++) {
        if (queued[i]) {
            n++;
            assert_int_not_equal(nodes[i].idx, 0);
            assert_ptr_equal(h->v[nodes[i].idx - 1], &nodes[i]);
        } else {
            assert_int_equal(nodes[i].idx, 0);
        }
    }
    assert_int_equal(h->n, n);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->v[i]->idx, i + 1);
        if (i)
            assert_true(h->v[(i - 1) / 2]->due <= h->v[i]->due);
    }
}

static const sg_tnode_t *model_min(const sg_tnode_t *nodes, const int *queued)
{
    const sg_tnode_t *m = NULL;
    for (int i = 0; i < NNODES; i++)
        if (queued[i] && (!m || nodes[i].due < m->due))
            m = &nodes[i];
    return m;
}

static void test_heap_against_model(void **state)
{
    (void)state;
    static sg_tnode_t nodes[NNODES];
    static int queued[NNODES];
    sg_theap_t h = {0};
    uint32_t seed = 0x9e3779b9u;
    memset(nodes, 0, sizeof nodes);
    memset(queued, 0, sizeof queued);
    for (int step = 0; step < 20000; step++) {
        int i = (int)(rnd(&seed) % NNODES);
        uint32_t op = rnd(&seed) % 10;
        /* few distinct dues, so ties are common */
        uint64_t due = 1000 + rnd(&seed) % 500;
        if (op < 6) {
            sg_theap_set(&h, &nodes[i], due); /* insert, or move either way */
            assert_int_equal(nodes[i].due, due);
            queued[i] = 1;
        } else if (op < 9) {
            sg_theap_remove(&h, &nodes[i]); /* also when not queued: a no-op */
            queued[i] = 0;
        } else {
            const sg_tnode_t *top = sg_theap_top(&h);
            if (top) {
                /* what a timer pass does: take the earliest */
                sg_theap_remove(&h, (sg_tnode_t *)top);
                queued[top - nodes] = 0;
            }
        }
        const sg_tnode_t *want = model_min(nodes, queued), *top = sg_theap_top(&h);
        if (!want)
            assert_null(top);
        else
            assert_int_equal(top->due, want->due);
        if (step % 97 == 0)
            check_heap(&h, nodes, queued);
    }
    check_heap(&h, nodes, queued);
    /* drain in order */
    uint64_t last = 0;
    sg_tnode_t *t;
    while ((t = sg_theap_top(&h))) {
        assert_true(t->due >= last);
        last = t->due;
        sg_theap_remove(&h, t);
        queued[t - nodes] = 0;
    }
    assert_null(model_min(nodes, queued));
    sg_theap_free(&h);
    sg_theap_free(&h); /* twice is harmless */
}

static void test_heap_edges(void **state)
{
    (void)state;
    sg_theap_t h = {0};
    sg_tnode_t a = {0}, b = {0}, c = {0};
    assert_null(sg_theap_top(&h));
    sg_theap_remove(&h, &a); /* never queued */
    sg_theap_set(&h, &a, 5);
    sg_theap_set(&h, &a, 5); /* same due again: stays once */
    assert_int_equal(h.n, 1);
    sg_theap_set(&h, &b, 3);
    sg_theap_set(&h, &c, 4);
    assert_ptr_equal(sg_theap_top(&h), &b);
    sg_theap_set(&h, &b, 9); /* the top moves later */
    assert_ptr_equal(sg_theap_top(&h), &c);
    sg_theap_set(&h, &a, 1); /* a leaf moves to the top */
    assert_ptr_equal(sg_theap_top(&h), &a);
    sg_theap_remove(&h, &b); /* the last slot */
    sg_theap_remove(&h, &a);
    assert_ptr_equal(sg_theap_top(&h), &c);
    sg_theap_remove(&h, &c);
    assert_null(sg_theap_top(&h));
    assert_int_equal(a.idx + b.idx + c.idx, 0);
    sg_theap_free(&h);
}

/* ---- the timers on a uv loop -------------------------------------------- */

#define MAXLOG 64

/* An owner with its deadline inside, not first, as in the server's structs. */
typedef struct owner {
    int id;
    char before[24];
    sg_timer_t timer;
    struct fixture *fx;
    int rearm;            /* times to queue itself again, 1 ms later */
    int free_self;        /* free the owner in its own callback */
    struct owner *victim; /* stop this one's deadline and free it */
    int close;            /* close the timers from the callback */
} owner_t;

typedef struct fixture {
    uv_loop_t loop;
    sg_timers_t ts;
    int log[MAXLOG];
    int nlog;
} fixture_t;

static owner_t *owner_of(sg_timer_t *t)
{
    return (owner_t *)((char *)t - offsetof(owner_t, timer));
}

static void on_fire(sg_timer_t *t)
{
    owner_t *o = owner_of(t);
    fixture_t *fx = o->fx;
    assert_false(sg_timer_active(t)); /* unqueued before the call */
    assert_true(fx->nlog < MAXLOG);
    fx->log[fx->nlog++] = o->id;
    if (o->rearm > 0) {
        o->rearm--;
        sg_timer_in(&fx->ts, t, 1);
    }
    if (o->victim) {
        sg_timer_stop(&fx->ts, &o->victim->timer);
        free(o->victim);
        o->victim = NULL;
    }
    if (o->close)
        sg_timers_close(&fx->ts);
    if (o->free_self)
        free(o);
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    sg_timers_init(&fx->ts, &fx->loop);
    *state = fx;
    return 0;
}

/* Close the timers, let the close callback run, and check nothing is left
 * on the loop: a closed sg_timers_t keeps nothing alive. */
static int teardown(void **state)
{
    fixture_t *fx = *state;
    sg_timers_close(&fx->ts);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    sg_timers_free(&fx->ts);
    free(fx);
    return 0;
}

static owner_t *owner_new(fixture_t *fx, int id)
{
    owner_t *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->id = id;
    o->fx = fx;
    sg_timer_init(&o->timer, on_fire);
    return o;
}

static void expect_log(const fixture_t *fx, const int *want, int n)
{
    assert_int_equal(fx->nlog, n);
    for (int i = 0; i < n; i++)
        if (fx->log[i] != want[i])
            fail_msg("fired #%d: %d, want %d", i, fx->log[i], want[i]);
}

/* uv_run until the loop has nothing left to do; every deadline is due by then. */
static void run(fixture_t *fx)
{
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

static void test_fire_in_due_order(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    assert_true(now > 100);
    static const int64_t offs[] = {-50, -10, -30, 2, 0, -40, 1, -20};
    owner_t *o[8];
    for (int i = 0; i < 8; i++) {
        o[i] = owner_new(fx, i);
        sg_timer_at(&fx->ts, &o[i]->timer, now + (uint64_t)offs[i]);
        assert_true(sg_timer_active(&o[i]->timer));
    }
    assert_int_equal(sg_timers_count(&fx->ts), 8);
    assert_int_equal(fx->ts.armed, now - 50); /* the uv timer waits for the earliest */
    run(fx);
    static const int want[] = {0, 5, 2, 7, 1, 4, 6, 3};
    expect_log(fx, want, 8);
    assert_int_equal(sg_timers_count(&fx->ts), 0);
    assert_int_equal(fx->ts.armed, 0);
    assert_false(uv_is_active((uv_handle_t *)&fx->ts.uv));
    for (int i = 0; i < 8; i++)
        free(o[i]);
}

static void test_stop(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2), *c = owner_new(fx, 3);
    sg_timer_stop(&fx->ts, &a->timer); /* never queued: a no-op */
    sg_timer_at(&fx->ts, &a->timer, now - 3);
    sg_timer_at(&fx->ts, &b->timer, now - 2);
    sg_timer_at(&fx->ts, &c->timer, now - 1);
    sg_timer_stop(&fx->ts, &a->timer); /* the earliest: the uv timer follows the next one */
    assert_false(sg_timer_active(&a->timer));
    assert_int_equal(fx->ts.armed, now - 2);
    sg_timer_stop(&fx->ts, &a->timer); /* twice */
    run(fx);
    static const int want[] = {2, 3};
    expect_log(fx, want, 2);
    /* every deadline stopped: the uv timer stops too, and the loop has nothing to wait for */
    sg_timer_at(&fx->ts, &a->timer, now + 1000);
    sg_timer_at(&fx->ts, &b->timer, now + 2000);
    assert_true(uv_is_active((uv_handle_t *)&fx->ts.uv));
    sg_timer_stop(&fx->ts, &b->timer);
    sg_timer_stop(&fx->ts, &a->timer);
    assert_false(uv_is_active((uv_handle_t *)&fx->ts.uv));
    assert_int_equal(fx->ts.armed, 0);
    run(fx); /* returns at once: would block for a second if a deadline were left */
    expect_log(fx, want, 2);
    free(a);
    free(b);
    free(c);
}

static void test_move(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2), *c = owner_new(fx, 3);
    sg_timer_at(&fx->ts, &a->timer, now - 10);
    sg_timer_at(&fx->ts, &b->timer, now - 20);
    sg_timer_at(&fx->ts, &c->timer, now - 5);
    sg_timer_at(&fx->ts, &a->timer, now - 30); /* earlier: now first */
    assert_int_equal(fx->ts.armed, now - 30);
    sg_timer_at(&fx->ts, &b->timer, now + 1); /* later, into the future: now last */
    sg_timer_in(&fx->ts, &c->timer, 0);       /* relative: now */
    assert_int_equal(sg_timers_count(&fx->ts), 3);
    run(fx);
    static const int want[] = {1, 3, 2};
    expect_log(fx, want, 3);
    /* the top moved later: the uv timer is pointed at the new earliest */
    now = sg_timers_now(&fx->ts);
    sg_timer_at(&fx->ts, &a->timer, now - 2);
    sg_timer_at(&fx->ts, &b->timer, now - 1);
    sg_timer_at(&fx->ts, &a->timer, now + 1);
    assert_int_equal(fx->ts.armed, now - 1);
    run(fx);
    static const int want2[] = {1, 3, 2, 2, 1};
    expect_log(fx, want2, 5);
    free(a);
    free(b);
    free(c);
}

/* A callback queues its own deadline again (1 ms later, three times) while
 * another deadline is due in between. */
static void test_rearm_from_callback(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2);
    a->rearm = 3;
    sg_timer_at(&fx->ts, &a->timer, now - 1);
    sg_timer_at(&fx->ts, &b->timer, now);
    run(fx);
    static const int want[] = {1, 2, 1, 1, 1};
    expect_log(fx, want, 5);
    assert_int_equal(a->rearm, 0);
    assert_false(sg_timer_active(&a->timer));
    free(a);
    free(b);
}

/* A callback frees its own owner; another frees a different owner whose
 * deadline was due in the same pass (it must not fire). */
static void test_free_owner_in_callback(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2), *c = owner_new(fx, 3);
    owner_t *d = owner_new(fx, 4);
    a->free_self = 1;
    b->victim = c;
    b->free_self = 1;
    sg_timer_at(&fx->ts, &a->timer, now - 4);
    sg_timer_at(&fx->ts, &b->timer, now - 3);
    sg_timer_at(&fx->ts, &c->timer, now - 2); /* freed by b before its turn */
    sg_timer_at(&fx->ts, &d->timer, now - 1);
    run(fx);
    static const int want[] = {1, 2, 4};
    expect_log(fx, want, 3);
    assert_int_equal(sg_timers_count(&fx->ts), 0);
    free(d);
}

/* close stops everything: what is queued never fires, later sg_timer_at calls
 * are ignored, and the loop ends (the teardown checks every handle closed). */
static void test_close(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2);
    sg_timer_at(&fx->ts, &a->timer, now - 1);
    sg_timer_at(&fx->ts, &b->timer, now + 1);
    sg_timers_close(&fx->ts);
    sg_timers_close(&fx->ts); /* twice */
    owner_t *late = owner_new(fx, 3);
    sg_timer_at(&fx->ts, &late->timer, now - 5);
    sg_timer_in(&fx->ts, &late->timer, 0);
    assert_false(sg_timer_active(&late->timer));
    run(fx);
    assert_int_equal(fx->nlog, 0);
    /* stopping a deadline after close is still allowed (an owner going away) */
    sg_timer_stop(&fx->ts, &a->timer);
    assert_false(sg_timer_active(&a->timer));
    run(fx);
    assert_int_equal(fx->nlog, 0);
    free(a);
    free(b);
    free(late);
}

/* close from inside a callback: the deadlines due in the same pass do not fire. */
static void test_close_inside_callback(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = sg_timers_now(&fx->ts);
    owner_t *a = owner_new(fx, 1), *b = owner_new(fx, 2), *c = owner_new(fx, 3);
    a->close = 1;
    sg_timer_at(&fx->ts, &a->timer, now - 3);
    sg_timer_at(&fx->ts, &b->timer, now - 2);
    sg_timer_at(&fx->ts, &c->timer, now + 1);
    run(fx);
    static const int want[] = {1};
    expect_log(fx, want, 1);
    sg_timer_at(&fx->ts, &a->timer, now - 1);
    run(fx);
    expect_log(fx, want, 1);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_against_model),
        cmocka_unit_test(test_heap_edges),
        cmocka_unit_test_setup_teardown(test_fire_in_due_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rearm_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_owner_in_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_inside_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
