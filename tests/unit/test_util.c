/* Unit tests for protocol/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Ids from the pool: the alphabet only, and no repeats over many refills. */
static void test_random_id(void **state)
{
    (void)state;
    enum { N = 2000, LEN = 20 };
    static char ids[N][LEN + 1];
    for (int i = 0; i < N; i++) {
        sg_random_id(ids[i], LEN);
        assert_int_equal(strlen(ids[i]), LEN);
        assert_int_equal(strspn(ids[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), LEN);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
}

/* A forked child must not hand out the ids its parent is about to. */
static void test_random_id_fork(void **state)
{
    (void)state;
    char warm[21], mine[21], theirs[21] = "";
    sg_random_id(warm, 20); /* the pool is full now */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[21];
        sg_random_id(id, 20);
        _exit(write(fds[1], id, 20) == 20 ? 0 : 1);
    }
    sg_random_id(mine, 20);
    assert_int_equal(read(fds[0], theirs, 20), 20);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_string_not_equal(mine, theirs);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_strdup),
        cmocka_unit_test(test_random_id),
        cmocka_unit_test(test_random_id_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
