/* test_redis_url.c - every form of the redisUrl setting, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "redis_url.h"
#include "util.h"

static sg_rurl_t ok(const char *url)
{
    sg_rurl_t u;
    char err[256] = "";
    int rc = sg_rurl_parse(url, &u, err, sizeof err);
    if (rc != 0)
        fail_msg("%s: %s", url, err);
    return u;
}

static void bad(const char *url, const char *expect_text)
{
    sg_rurl_t u;
    char err[256] = "";
    if (sg_rurl_parse(url, &u, err, sizeof err) != SG_EINVAL)
        fail_msg("accepted %s", url);
    if (!strstr(err, expect_text))
        fail_msg("%s: error '%s' does not name '%s'", url, err, expect_text);
}

static void test_tcp(void **state)
{
    (void)state;
    sg_rurl_t u = ok("redis://127.0.0.1:6380/3");
    assert_int_equal(u.kind, SG_RURL_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_null(u.pass);
    assert_string_equal(u.where, "127.0.0.1:6380");
    sg_rurl_clear(&u);
    u = ok("redis://al%40ice:p%3Ass@[::1]");
    assert_string_equal(u.user, "al@ice");
    assert_string_equal(u.pass, "p:ss");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6379);
    sg_rurl_clear(&u);
    u = ok("redis://secret@localhost");
    assert_null(u.user);
    assert_string_equal(u.pass, "secret");
    sg_rurl_clear(&u);
    bad("redis://h:0", "redis://");
    bad("redis://h:70000", "redis://");
    bad("redis://h:12x", "redis://");
    bad("redis://h/x", "redis://");
    bad("http://h", "redis+cluster://");
}

static void test_unix(void **state)
{
    (void)state;
    sg_rurl_t u = ok("unix:/run/redis.sock");
    assert_int_equal(u.kind, SG_RURL_UNIX);
    assert_string_equal(u.unix_path, "/run/redis.sock");
    sg_rurl_clear(&u);
    u = ok("unix://:pw@/run/r.sock?db=2");
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.unix_path, "/run/r.sock");
    assert_int_equal(u.db, 2);
    sg_rurl_clear(&u);
    bad("unix:", "unix:");
    bad("unix:/p?db=x", "unix:");
}

static void test_sentinel(void **state)
{
    (void)state;
    sg_rurl_t u = ok("redis+sentinel://u:p@127.0.0.1:26379,127.0.0.1,[::1]:26381/my%20master/1"
                     "?sentinelPassword=s%26p&sentinelUsername=su");
    assert_int_equal(u.kind, SG_RURL_SENTINEL);
    assert_int_equal(u.n, 3);
    assert_string_equal(u.hosts[0], "127.0.0.1");
    assert_int_equal(u.ports[0], 26379);
    assert_int_equal(u.ports[1], 26379);
    assert_string_equal(u.hosts[2], "::1");
    assert_int_equal(u.ports[2], 26381);
    assert_string_equal(u.master, "my master");
    assert_int_equal(u.db, 1);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.pass, "p");
    assert_string_equal(u.s_pass, "s&p");
    assert_string_equal(u.s_user, "su");
    assert_null(u.host); /* resolved later */
    sg_rurl_clear(&u);
    bad("redis+sentinel://127.0.0.1:26379", "redis+sentinel://");  /* no master name */
    bad("redis+sentinel://127.0.0.1:26379/", "redis+sentinel://");
    bad("redis+sentinel://a:1,,b:2/m", "redis+sentinel://");
}

static void test_cluster(void **state)
{
    (void)state;
    sg_rurl_t u = ok("redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001/");
    assert_int_equal(u.kind, SG_RURL_CLUSTER);
    assert_int_equal(u.n, 2);
    assert_int_equal(u.ports[1], 7001);
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.where, "cluster 127.0.0.1:7000");
    sg_rurl_clear(&u);
    u = ok("redis+cluster://h1");
    assert_int_equal(u.ports[0], 6379);
    sg_rurl_clear(&u);
    bad("redis+cluster://h1:7000/2", "redis+cluster://"); /* database 0 only */
    bad("redis+cluster://", "redis+cluster://");
    /* more seeds than the bound */
    char many[4096] = "redis+cluster://";
    for (int i = 0; i < SG_RURL_MAX_HOSTS + 1; i++)
        strcat(many, i ? ",h:1" : "h:1");
    bad(many, "redis+cluster://");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
