/* test_outq.c - server/outq.c: the ring of buffer references (inline storage,
 * growth, wrap-around, the heap given back when drained), references held and
 * released, and the limits checked in push: hard, and soft for longer than
 * soft_ms. Time is a parameter of push, so no clock is involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "outq.h"
#include "util.h"

static const sg_outq_limits_t unlimited = {0, 0, 0};

/* A buffer of len bytes whose first byte says which one it is. */
static sg_buf_t *mk(size_t len, unsigned char tag)
{
    sg_buf_t *b = sg_buf_new(len ? len : 1);
    b->len = len;
    b->data[0] = tag;
    return b;
}

static unsigned char tag_of(const sg_buf_t *b)
{
    return b->data[0];
}

/* Pops the head, checks it is the expected one, drops the queue's reference. */
static void pop_expect(sg_outq_t *q, unsigned char tag)
{
    sg_buf_t *b = sg_outq_pop(q);
    assert_non_null(b);
    assert_int_equal(tag_of(b), tag);
    sg_buf_unref(b);
}

/* Drops the test's own references, checking the queue kept none. */
static void release_all(sg_buf_t **bs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(bs[i]->refs, 1);
        sg_buf_unref(bs[i]);
    }
}

static void test_empty(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    assert_true(sg_outq_empty(&q));
    assert_null(sg_outq_pop(&q));
    assert_null(sg_outq_peek(&q, 0));
    sg_outq_clear(&q);
    assert_true(sg_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
}

/* Up to SG_OUTQ_INLINE entries live in the struct: no heap ring. */
static void test_inline_storage(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    sg_buf_t *b[SG_OUTQ_INLINE];
    for (int i = 0; i < SG_OUTQ_INLINE; i++) {
        b[i] = mk(10 + (size_t)i, (unsigned char)i);
        assert_int_equal(sg_outq_push(&q, b[i], &unlimited, 1000), 0);
        assert_int_equal(b[i]->refs, 2); /* the queue holds its own reference */
    }
    assert_int_equal(q.cap, 0);
    assert_null(q.heap);
    assert_int_equal(q.count, SG_OUTQ_INLINE);
    assert_false(sg_outq_empty(&q));
    for (int i = 0; i < SG_OUTQ_INLINE; i++)
        assert_ptr_equal(sg_outq_peek(&q, (uint32_t)i), b[i]);
    assert_null(sg_outq_peek(&q, SG_OUTQ_INLINE));
    assert_int_equal(b[0]->refs, 2); /* peek borrows */
    /* pop hands the queue's reference to the caller */
    sg_buf_t *h = sg_outq_pop(&q);
    assert_ptr_equal(h, b[0]);
    assert_int_equal(h->refs, 2);
    sg_buf_unref(h);
    assert_int_equal(q.bytes, 11);
    /* an inline ring wraps too */
    sg_buf_t *c = mk(5, 9);
    assert_int_equal(sg_outq_push(&q, c, &unlimited, 1000), 0);
    assert_int_equal(q.cap, 0);
    assert_ptr_equal(sg_outq_peek(&q, 0), b[1]);
    assert_ptr_equal(sg_outq_peek(&q, 1), c);
    pop_expect(&q, 1);
    pop_expect(&q, 9);
    assert_true(sg_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    for (int i = 0; i < SG_OUTQ_INLINE; i++) {
        assert_int_equal(b[i]->refs, 1);
        sg_buf_unref(b[i]);
    }
    sg_buf_unref(c);
}

/* Past the inline slots the ring moves to the heap and grows by four;
 * order and byte count hold through every growth. */
static void test_growth(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    size_t bytes = 0;
    uint32_t caps_seen[8], ncaps = 0;
    for (int i = 0; i < 200; i++) {
        sg_buf_t *b = mk((size_t)i + 1, (unsigned char)i);
        assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
        sg_buf_unref(b); /* the queue keeps it alive */
        bytes += (size_t)i + 1;
        assert_int_equal(q.count, (uint32_t)i + 1);
        assert_int_equal(q.bytes, bytes);
        assert_true(q.count <= (q.cap ? q.cap : SG_OUTQ_INLINE));
        if (q.cap && (ncaps == 0 || caps_seen[ncaps - 1] != q.cap))
            caps_seen[ncaps++] = q.cap;
    }
    /* 2 inline, then 8, 32, 128, 512: powers of two, so the index mask works */
    assert_int_equal(ncaps, 4);
    assert_int_equal(caps_seen[0], SG_OUTQ_INLINE * 4);
    for (uint32_t i = 1; i < ncaps; i++)
        assert_int_equal(caps_seen[i], caps_seen[i - 1] * 4);
    for (uint32_t i = 0; i < 200; i++)
        assert_int_equal(tag_of(sg_outq_peek(&q, i)), (unsigned char)i);
    for (int i = 0; i < 200; i++)
        pop_expect(&q, (unsigned char)i);
    assert_int_equal(q.bytes, 0);
    /* drained: the heap ring is given back and the inline slots serve again */
    assert_int_equal(q.cap, 0);
    assert_null(q.heap);
    assert_int_equal(q.head, 0);
    sg_buf_t *b = mk(3, 77);
    assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
    assert_int_equal(q.cap, 0);
    pop_expect(&q, 77);
    sg_buf_unref(b);
}

/* The heap ring is used as a ring: the head walks round it many times
 * without growing, and a growth while wrapped keeps the order. */
static void test_wrap_around(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    unsigned char next_in = 0, next_out = 0;
    for (int i = 0; i < 5; i++) {
        sg_buf_t *b = mk(1, next_in++);
        assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
        sg_buf_unref(b);
    }
    const uint32_t cap = q.cap;
    assert_int_equal(cap, SG_OUTQ_INLINE * 4);
    int wrapped = 0;
    /* between 1 and cap entries, never more: the ring must not grow */
    for (int round = 0; round < 10 * (int)cap; round++) {
        int npop = 1 + round % 3, npush = 1 + (round + 1) % 3;
        for (int k = 0; k < npop && q.count > 1; k++)
            pop_expect(&q, next_out++);
        for (int k = 0; k < npush && q.count < cap; k++) {
            sg_buf_t *b = mk(1, next_in++);
            assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
            sg_buf_unref(b);
        }
        assert_int_equal(q.cap, cap);
        if (q.head + q.count > cap)
            wrapped++;
        for (uint32_t k = 0; k < q.count; k++)
            assert_int_equal(tag_of(sg_outq_peek(&q, k)), (unsigned char)(next_out + k));
        assert_int_equal(q.bytes, q.count);
    }
    assert_true(wrapped > 0);
    /* fill the ring while it is wrapped, then one more: it grows and unwraps */
    while (q.head + q.count <= cap || q.count < cap) {
        if (q.count == cap)
            pop_expect(&q, next_out++);
        sg_buf_t *b = mk(1, next_in++);
        assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
        sg_buf_unref(b);
    }
    assert_true(q.head != 0);
    sg_buf_t *b = mk(1, next_in++);
    assert_int_equal(sg_outq_push(&q, b, &unlimited, 1000), 0);
    sg_buf_unref(b);
    assert_int_equal(q.cap, cap * 4);
    assert_int_equal(q.head, 0);
    while (!sg_outq_empty(&q))
        pop_expect(&q, next_out++);
    assert_int_equal(next_out, next_in);
}

static void test_hard_limit(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    const sg_outq_limits_t lim = {.hard = 100, .soft = 0, .soft_ms = 0};
    sg_buf_t *a = mk(60, 1), *big = mk(50, 2), *fit = mk(40, 3), *one = mk(1, 4);
    assert_int_equal(sg_outq_push(&q, a, &lim, 1000), 0);
    assert_int_equal(sg_outq_push(&q, big, &lim, 1000), SG_ETOOBIG);
    /* refused: nothing queued, no reference taken */
    assert_int_equal(q.count, 1);
    assert_int_equal(q.bytes, 60);
    assert_int_equal(big->refs, 1);
    assert_int_equal(sg_outq_push(&q, fit, &lim, 1000), 0); /* exactly at the limit is allowed */
    assert_int_equal(q.bytes, 100);
    assert_int_equal(sg_outq_push(&q, one, &lim, 1000), SG_ETOOBIG);
    assert_int_equal(one->refs, 1);
    /* room again once the head is written */
    pop_expect(&q, 1);
    assert_int_equal(sg_outq_push(&q, big, &lim, 1000), 0);
    assert_int_equal(q.bytes, 90);
    sg_outq_clear(&q);
    /* a single buffer over the limit never fits */
    sg_buf_t *huge = mk(101, 5);
    assert_int_equal(sg_outq_push(&q, huge, &lim, 1000), SG_ETOOBIG);
    assert_true(sg_outq_empty(&q));
    /* hard = 0: no hard limit */
    assert_int_equal(sg_outq_push(&q, huge, &unlimited, 1000), 0);
    sg_outq_clear(&q);
    release_all((sg_buf_t *[]){a, big, fit, one, huge}, 5);
}

/* Over the soft limit is allowed for soft_ms; a push later than that while
 * still over it is refused. Dropping back under the soft limit (a push that
 * stays under it, or draining) resets the clock. */
static void test_soft_limit_over_time(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    const sg_outq_limits_t lim = {.hard = 1000, .soft = 100, .soft_ms = 50};
    sg_buf_t *b80 = mk(80, 80), *b40 = mk(40, 40), *b10 = mk(10, 10), *b900 = mk(900, 90);

    assert_int_equal(sg_outq_push(&q, b80, &lim, 1000), 0); /* 80: under soft */
    assert_int_equal(q.soft_since, 0);
    assert_int_equal(sg_outq_push(&q, b40, &lim, 1000), 0); /* 120: over soft, clock starts */
    assert_int_equal(q.soft_since, 1000);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 1030), 0);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 1050), 0); /* 50 ms over: still allowed */
    assert_int_equal(q.soft_since, 1000);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 1051), SG_ETOOBIG); /* 51 ms over */
    assert_int_equal(q.count, 4);
    assert_int_equal(q.bytes, 140);
    /* the hard limit still applies first, whatever the clock says */
    assert_int_equal(sg_outq_push(&q, b900, &lim, 1001), SG_ETOOBIG);

    /* drained to 60 bytes: a push that stays under the soft limit resets the clock */
    pop_expect(&q, 80);
    assert_int_equal(q.bytes, 60);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 2000), 0); /* 70 */
    assert_int_equal(q.soft_since, 0);
    assert_int_equal(sg_outq_push(&q, b40, &lim, 2001), 0); /* 110: a new episode */
    assert_int_equal(q.soft_since, 2001);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 2040), 0);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 2052), SG_ETOOBIG);

    /* draining to empty resets it too */
    while (!sg_outq_empty(&q))
        sg_buf_unref(sg_outq_pop(&q));
    assert_int_equal(q.soft_since, 0);
    assert_int_equal(sg_outq_push(&q, b80, &lim, 5000), 0);
    assert_int_equal(sg_outq_push(&q, b40, &lim, 5000), 0);
    assert_int_equal(q.soft_since, 5000);
    assert_int_equal(sg_outq_push(&q, b10, &lim, 5050), 0);
    sg_outq_clear(&q);
    assert_int_equal(q.soft_since, 0);

    /* soft_ms = 0: one push over soft is allowed, the next one a ms later is not */
    const sg_outq_limits_t strict = {.hard = 1000, .soft = 100, .soft_ms = 0};
    assert_int_equal(sg_outq_push(&q, b80, &strict, 7000), 0);
    assert_int_equal(sg_outq_push(&q, b40, &strict, 7000), 0);
    assert_int_equal(sg_outq_push(&q, b10, &strict, 7000), 0);
    assert_int_equal(sg_outq_push(&q, b10, &strict, 7001), SG_ETOOBIG);
    sg_outq_clear(&q);

    /* soft = 0: no soft limit */
    const sg_outq_limits_t hard_only = {.hard = 1000, .soft = 0, .soft_ms = 0};
    assert_int_equal(sg_outq_push(&q, b900, &hard_only, 8000), 0);
    assert_int_equal(sg_outq_push(&q, b80, &hard_only, 99000), 0);
    assert_int_equal(q.soft_since, 0);
    sg_outq_clear(&q);

    release_all((sg_buf_t *[]){b80, b40, b10, b900}, 4);
}

/* clear drops every reference and the heap ring; the same buffer queued
 * several times (a broadcast to one client) holds one reference per entry. */
static void test_clear(void **state)
{
    (void)state;
    sg_outq_t q = {0};
    sg_buf_t *shared = mk(7, 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sg_outq_push(&q, shared, &unlimited, 1000), 0);
    assert_int_equal(shared->refs, 21);
    assert_int_equal(q.bytes, 140);
    assert_non_null(q.heap);
    sg_outq_clear(&q);
    assert_true(sg_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.cap, 0);
    assert_null(q.heap);
    assert_int_equal(shared->refs, 1);
    /* usable again after clear */
    assert_int_equal(sg_outq_push(&q, shared, &unlimited, 1000), 0);
    sg_outq_clear(&q);
    sg_outq_clear(&q);
    sg_buf_unref(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_inline_storage),
        cmocka_unit_test(test_growth),     cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_hard_limit), cmocka_unit_test(test_soft_limit_over_time),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
