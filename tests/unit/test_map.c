/* Unit tests for protocol/map.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "util.h"

#define N 5000

typedef struct item {
    char key[16];
    size_t klen;
    int n;
} item_t;

static item_t *make_items(size_t n)
{
    item_t *it = sg_calloc(n, sizeof(*it));
    for (size_t i = 0; i < n; i++) {
        it[i].klen = (size_t)snprintf(it[i].key, sizeof(it[i].key), "k%zu", i);
        it[i].n = (int)i;
    }
    return it;
}

static void test_basic(void **state)
{
    (void)state;
    sg_map_t *m = sg_map_new();
    int a = 1, b = 2, c = 3;
    assert_int_equal(sg_map_count(m), 0);
    assert_null(sg_map_get(m, "a", 1));
    assert_null(sg_map_put(m, "a", 1, &a));
    assert_null(sg_map_put(m, "b", 1, &b));
    assert_int_equal(sg_map_count(m), 2);
    assert_ptr_equal(sg_map_get(m, "a", 1), &a);
    assert_ptr_equal(sg_map_get(m, "b", 1), &b);
    /* Replace returns the old value. */
    assert_ptr_equal(sg_map_put(m, "a", 1, &c), &a);
    assert_int_equal(sg_map_count(m), 2);
    assert_ptr_equal(sg_map_get(m, "a", 1), &c);
    assert_ptr_equal(sg_map_del(m, "a", 1), &c);
    assert_null(sg_map_del(m, "a", 1));
    assert_null(sg_map_get(m, "a", 1));
    assert_int_equal(sg_map_count(m), 1);
    sg_map_free(m);
    sg_map_free(NULL);
}

static void test_keys_by_length(void **state)
{
    (void)state;
    sg_map_t *m = sg_map_new();
    int x = 1, y = 2, z = 3, e = 4;
    /* Keys are byte strings of the given length: prefixes, NULs and the
     * empty key are all distinct keys. */
    sg_map_put(m, "abc", 2, &x);
    sg_map_put(m, "abc", 3, &y);
    sg_map_put(m, "a\0c", 3, &z);
    sg_map_put(m, "", 0, &e);
    assert_ptr_equal(sg_map_get(m, "ab", 2), &x);
    assert_ptr_equal(sg_map_get(m, "abc", 3), &y);
    assert_ptr_equal(sg_map_get(m, "a\0c", 3), &z);
    assert_ptr_equal(sg_map_get(m, "", 0), &e);
    assert_null(sg_map_get(m, "a", 1));
    assert_int_equal(sg_map_count(m), 4);
    sg_map_free(m);
}

static void test_grow_shrink(void **state)
{
    (void)state;
    item_t *it = make_items(N);
    sg_map_t *m = sg_map_new();
    for (size_t i = 0; i < N; i++)
        assert_null(sg_map_put(m, it[i].key, it[i].klen, &it[i]));
    assert_int_equal(sg_map_count(m), N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(sg_map_get(m, it[i].key, it[i].klen), &it[i]);
    assert_null(sg_map_get(m, "nope", 4));
    /* Delete odd entries, check the rest, then delete all. */
    for (size_t i = 1; i < N; i += 2)
        assert_ptr_equal(sg_map_del(m, it[i].key, it[i].klen), &it[i]);
    assert_int_equal(sg_map_count(m), N / 2);
    for (size_t i = 0; i < N; i++) {
        void *v = sg_map_get(m, it[i].key, it[i].klen);
        if (i % 2)
            assert_null(v);
        else
            assert_ptr_equal(v, &it[i]);
    }
    for (size_t i = 0; i < N; i += 2)
        assert_ptr_equal(sg_map_del(m, it[i].key, it[i].klen), &it[i]);
    assert_int_equal(sg_map_count(m), 0);
    /* Shrunk table still works. */
    assert_null(sg_map_put(m, it[7].key, it[7].klen, &it[7]));
    assert_ptr_equal(sg_map_get(m, it[7].key, it[7].klen), &it[7]);
    sg_map_free(m);
    sg_free(it);
}

static void test_iterate(void **state)
{
    (void)state;
    item_t *it = make_items(1000);
    sg_map_t *m = sg_map_new();
    sg_map_iter_t iter = {0};
    assert_false(sg_map_next(m, &iter));
    assert_false(sg_map_next(m, &iter));
    for (size_t i = 0; i < 1000; i++)
        sg_map_put(m, it[i].key, it[i].klen, &it[i]);
    char *seen = sg_calloc(1000, 1);
    size_t count = 0;
    for (sg_map_iter_t i = {0}; sg_map_next(m, &i);) {
        item_t *x = i.val;
        assert_ptr_equal(i.key, x->key);
        assert_int_equal(i.klen, x->klen);
        assert_false(seen[x->n]);
        seen[x->n] = 1;
        count++;
    }
    assert_int_equal(count, 1000);
    sg_free(seen);
    sg_map_free(m);
    sg_free(it);
}

static void test_iterate_delete(void **state)
{
    (void)state;
    item_t *it = make_items(N);
    sg_map_t *m = sg_map_new();
    for (size_t i = 0; i < N; i++)
        sg_map_put(m, it[i].key, it[i].klen, &it[i]);
    /* Delete every entry with n % 3 != 0 while iterating (this shrinks the
     * table under the iterator); every entry must be visited once. */
    char *seen = sg_calloc(N, 1);
    size_t visits = 0;
    for (sg_map_iter_t i = {0}; sg_map_next(m, &i);) {
        item_t *x = i.val;
        assert_false(seen[x->n]);
        seen[x->n] = 1;
        visits++;
        if (x->n % 3 != 0)
            assert_ptr_equal(sg_map_del(m, i.key, i.klen), x);
    }
    assert_int_equal(visits, N);
    assert_int_equal(sg_map_count(m), (N + 2) / 3);
    for (size_t i = 0; i < N; i++) {
        void *v = sg_map_get(m, it[i].key, it[i].klen);
        if (i % 3)
            assert_null(v);
        else
            assert_ptr_equal(v, &it[i]);
    }
    /* Delete everything while iterating. */
    visits = 0;
    for (sg_map_iter_t i = {0}; sg_map_next(m, &i);) {
        sg_map_del(m, i.key, i.klen);
        visits++;
    }
    assert_int_equal(visits, (N + 2) / 3);
    assert_int_equal(sg_map_count(m), 0);
    sg_free(seen);
    sg_map_free(m);
    sg_free(it);
}

static void test_random_ops(void **state)
{
    (void)state;
    /* Compare with a plain array model under a random mix of operations. */
    enum { K = 300 };
    item_t *it = make_items(K);
    void *model[K] = {0};
    size_t live = 0;
    sg_map_t *m = sg_map_new();
    unsigned seed = 12345;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 8) % K;
        int op = (int)((seed >> 20) % 3);
        if (op == 0) {
            void *old = sg_map_put(m, it[k].key, it[k].klen, &it[k]);
            assert_ptr_equal(old, model[k]);
            if (!model[k])
                live++;
            model[k] = &it[k];
        } else if (op == 1) {
            void *old = sg_map_del(m, it[k].key, it[k].klen);
            assert_ptr_equal(old, model[k]);
            if (model[k])
                live--;
            model[k] = NULL;
        } else {
            assert_ptr_equal(sg_map_get(m, it[k].key, it[k].klen), model[k]);
        }
        assert_int_equal(sg_map_count(m), live);
    }
    sg_map_free(m);
    sg_free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),       cmocka_unit_test(test_keys_by_length),
        cmocka_unit_test(test_grow_shrink), cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_iterate_delete), cmocka_unit_test(test_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
