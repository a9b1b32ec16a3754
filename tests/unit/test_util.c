/* Unit tests for protocol/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util.h"

static void test_strerror(void **state)
{
    (void)state;
    int codes[] = {SG_OK, SG_EINVAL, SG_ETOOBIG, SG_ENOTFOUND, SG_ESTATE,
                   SG_EIO, SG_ETIMEOUT, SG_EAGAIN, -1000, 5};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = sg_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
    }
    assert_string_not_equal(sg_strerror(SG_EINVAL), sg_strerror(SG_ETOOBIG));
    assert_string_equal(sg_strerror(-1000), "unknown error");
}

static void test_alloc(void **state)
{
    (void)state;
    char *p = sg_malloc(0);
    assert_non_null(p);
    p = sg_realloc(p, 100);
    memset(p, 'x', 100);
    p = sg_realloc(p, 0);
    assert_non_null(p);
    sg_free(p);
    int *z = sg_calloc(10, sizeof(int));
    for (int i = 0; i < 10; i++)
        assert_int_equal(z[i], 0);
    sg_free(z);
    sg_free(NULL);
}

static void test_strdup(void **state)
{
    (void)state;
    char *s = sg_strdup("hello");
    assert_string_equal(s, "hello");
    sg_free(s);
    s = sg_strndup("ab\0cd", 5);
    assert_memory_equal(s, "ab\0cd", 6);
    sg_free(s);
    s = sg_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    sg_free(s);
    s = sg_strndup("", 0);
    assert_string_equal(s, "");
    sg_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_strdup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
