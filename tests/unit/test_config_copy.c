/* test_config_copy.c - sg_config_copy: a deep copy that keeps every value and
 * the explicit-set bits, and shares no string with its source. Run it in the
 * sanitizer build too: a string left shared shows up there as a
 * use-after-free or a double free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* The string fields of sg_config_t, for the pointer checks. The snapshot
 * checks below go through the table instead, so they cover new rows too. */
static const size_t string_fields[] = {
    offsetof(sg_config_t, host),
    offsetof(sg_config_t, path),
    offsetof(sg_config_t, namespaces),
    offsetof(sg_config_t, cors_origin),
    offsetof(sg_config_t, handshake_headers),
    offsetof(sg_config_t, client_dir),
    offsetof(sg_config_t, static_dir),
    offsetof(sg_config_t, app),
    offsetof(sg_config_t, adapter),
    offsetof(sg_config_t, redis_url),
    offsetof(sg_config_t, redis_key),
    offsetof(sg_config_t, streams_protocol),
    offsetof(sg_config_t, stream_name),
    offsetof(sg_config_t, channel_prefix),
    offsetof(sg_config_t, session_key_prefix),
    offsetof(sg_config_t, bridge),
    offsetof(sg_config_t, bridge_events),
    offsetof(sg_config_t, bridge_stream),
    offsetof(sg_config_t, bridge_redis_url),
    offsetof(sg_config_t, bridge_reply_prefix),
    offsetof(sg_config_t, bridge_node_id),
    offsetof(sg_config_t, auth_jwt),
    offsetof(sg_config_t, auth_jwt_key),
    offsetof(sg_config_t, auth_jwt_key_file),
    offsetof(sg_config_t, auth_jwt_issuer),
    offsetof(sg_config_t, auth_jwt_audience),
    offsetof(sg_config_t, auth_url),
};

typedef struct {
    size_t n;
    char **name;
    char **value;
    int *set;
} snapshot_t;

/* Every setting as sg_config_get prints it, and whether it was set explicitly. */
static snapshot_t take(const sg_config_t *cfg)
{
    snapshot_t s = {.n = sg_config_count()};
    s.name = calloc(s.n, sizeof *s.name);
    s.value = calloc(s.n, sizeof *s.value);
    s.set = calloc(s.n, sizeof *s.set);
    assert_true(s.name && s.value && s.set);
    for (size_t i = 0; i < s.n; i++) {
        char buf[8192];
        s.name[i] = strdup(sg_config_name(i));
        assert_int_equal(sg_config_get(cfg, s.name[i], buf, sizeof buf), 0);
        s.value[i] = strdup(buf);
        s.set[i] = sg_config_is_set(cfg, s.name[i]);
    }
    return s;
}

static void assert_matches(const sg_config_t *cfg, const snapshot_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        char buf[8192];
        assert_int_equal(sg_config_get(cfg, s->name[i], buf, sizeof buf), 0);
        if (strcmp(buf, s->value[i]) != 0)
            fail_msg("setting %s: '%s', want '%s'", s->name[i], buf, s->value[i]);
        if (sg_config_is_set(cfg, s->name[i]) != s->set[i])
            fail_msg("setting %s: explicit bit %d, want %d", s->name[i],
                     sg_config_is_set(cfg, s->name[i]), s->set[i]);
    }
}

static void drop(snapshot_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->value[i]);
    }
    free(s->name);
    free(s->value);
    free(s->set);
}

static void assert_no_shared_string(const sg_config_t *a, const sg_config_t *b)
{
    for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++) {
        char *const *pa = (char *const *)((const char *)a + string_fields[i]);
        char *const *pb = (char *const *)((const char *)b + string_fields[i]);
        if (*pa || *pb)
            assert_ptr_not_equal(*pa, *pb);
    }
}

static void must_set(sg_config_t *cfg, const char *name, const char *value)
{
    char err[256];
    if (sg_config_set(cfg, name, value, err, sizeof err) != 0)
        fail_msg("%s", err);
}

/* A value other than the current one that the setting accepts. */
static void change(sg_config_t *cfg, const char *name)
{
    if (strcmp(name, "transports") == 0)
        must_set(cfg, name,
                 cfg->transport_websocket && cfg->transport_polling ? "websocket" : "polling");
    else if (strcmp(name, "logLevel") == 0)
        must_set(cfg, name, cfg->log_level == SG_LOG_DEBUG ? "error" : "debug");
    else if (strcmp(name, "app") == 0)
        must_set(cfg, name, strcmp(cfg->app, "none") == 0 ? "chat" : "none");
    else if (strcmp(name, "adapter") == 0)
        must_set(cfg, name, strcmp(cfg->adapter, "redis") == 0 ? "memory" : "redis");
    else if (strcmp(name, "namespaces") == 0)
        must_set(cfg, name, "/changed");
    else if (strcmp(name, "path") == 0)
        must_set(cfg, name, "/changed/");
    else if (strcmp(name, "streamsProtocol") == 0)
        must_set(cfg, name, strcmp(cfg->streams_protocol, "0.2") == 0 ? "0.3" : "0.2");
    else if (strcmp(name, "logFormat") == 0)
        must_set(cfg, name, strcmp(cfg->log_format, "json") == 0 ? "text" : "json");
    else if (strcmp(name, "tlsMinVersion") == 0)
        must_set(cfg, name, strcmp(cfg->tls_min_version, "1.3") == 0 ? "1.2" : "1.3");
    else if (strcmp(name, "subscriptionMode") == 0)
        must_set(cfg, name, strcmp(cfg->subscription_mode, "static") == 0 ? "dynamic" : "static");
    else if (strcmp(name, "redisUrl") == 0)
        must_set(cfg, name, "redis://10.0.0.1:7000");
    else if (strcmp(name, "bridge") == 0)
        must_set(cfg, name, strcmp(cfg->bridge, "off") == 0 ? "redis-stream" : "off");
    else if (strcmp(name, "bridgeEvents") == 0)
        must_set(cfg, name, "/changed:*");
    else if (strcmp(name, "authJwt") == 0)
        must_set(cfg, name, strcmp(cfg->auth_jwt, "off") == 0 ? "HS256" : "off");
    else {
        /* numbers, booleans and free text: try a few spellings, keep the first
         * one the table accepts that differs from the value now */
        static const char *const tries[] = {"1",   "0",   "2",   "true",   "false",
                                            "2kb", "1mb", "2mb", "changed"};
        char now[8192], err[256];
        assert_int_equal(sg_config_get(cfg, name, now, sizeof now), 0);
        for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
            if (strcmp(tries[i], now) != 0 &&
                sg_config_set(cfg, name, tries[i], err, sizeof err) == 0) {
                char after[8192];
                assert_int_equal(sg_config_get(cfg, name, after, sizeof after), 0);
                if (strcmp(after, now) != 0)
                    return;
            }
        }
        fail_msg("no other value found for setting %s", name);
    }
}

static void test_copy_of_defaults(void **state)
{
    (void)state;
    sg_config_t src, dst;
    sg_config_init(&src);
    snapshot_t want = take(&src);
    memset(&dst, 0xa5, sizeof dst); /* dst's old contents are overwritten, never read */
    assert_int_equal(sg_config_copy(&dst, &src), 0);
    assert_matches(&dst, &want);
    assert_no_shared_string(&dst, &src);
    /* Free the source: the copy still holds every value. */
    sg_config_free(&src);
    assert_matches(&dst, &want);
    sg_config_free(&dst);
    drop(&want);
}

/* Every setting changed and marked explicit, then changed again in the source
 * after the copy: the copy keeps the values and bits it was made with. */
static void test_copy_is_independent(void **state)
{
    (void)state;
    sg_config_t src, dst;
    sg_config_init(&src);
    for (size_t i = 0; i < sg_config_count(); i++)
        change(&src, sg_config_name(i));
    snapshot_t want = take(&src);
    for (size_t i = 0; i < want.n; i++)
        assert_true(want.set[i]);
    assert_int_equal(sg_config_copy(&dst, &src), 0);
    assert_matches(&dst, &want);
    assert_no_shared_string(&dst, &src);
    for (size_t i = 0; i < sg_config_count(); i++)
        change(&src, sg_config_name(i));
    assert_matches(&dst, &want);
    /* and the other way round */
    snapshot_t src_now = take(&src);
    for (size_t i = 0; i < sg_config_count(); i++)
        change(&dst, sg_config_name(i));
    assert_matches(&src, &src_now);
    sg_config_free(&dst);
    assert_matches(&src, &src_now);
    sg_config_free(&src);
    drop(&want);
    drop(&src_now);
}

/* Only some settings explicit: exactly those bits come across. */
static void test_explicit_bits_kept(void **state)
{
    (void)state;
    char *argv[] = {"siogate", "--port", "4001", "--set", "cors=*", "--host", "::1", NULL};
    char err[256];
    sg_config_t src, dst;
    assert_int_equal(sg_config_from_args(&src, 7, argv, err, sizeof err), 0);
    must_set(&src, "transports", "websocket");
    snapshot_t want = take(&src);
    assert_int_equal(sg_config_copy(&dst, &src), 0);
    assert_matches(&dst, &want);
    assert_true(sg_config_is_set(&dst, "port"));
    assert_true(sg_config_is_set(&dst, "cors"));
    assert_true(sg_config_is_set(&dst, "host"));
    assert_true(sg_config_is_set(&dst, "transports"));
    assert_false(sg_config_is_set(&dst, "pingInterval"));
    assert_false(sg_config_is_set(&dst, "path"));
    assert_memory_equal(dst.explicit_set, src.explicit_set, sizeof src.explicit_set);
    assert_int_equal(dst.port, 4001);
    assert_string_equal(dst.host, "::1");
    /* a copy of the copy is a copy too */
    sg_config_t again;
    assert_int_equal(sg_config_copy(&again, &dst), 0);
    sg_config_free(&dst);
    sg_config_free(&src);
    assert_matches(&again, &want);
    sg_config_free(&again);
    drop(&want);
}

/* A struct an embedder zeroed and filled in part: NULL strings stay NULL. */
static void test_null_strings(void **state)
{
    (void)state;
    sg_config_t src, dst;
    memset(&src, 0, sizeof src);
    src.port = 3001;
    src.host = sg_strdup("0.0.0.0");
    assert_int_equal(sg_config_copy(&dst, &src), 0);
    assert_int_equal(dst.port, 3001);
    assert_string_equal(dst.host, "0.0.0.0");
    assert_ptr_not_equal(dst.host, src.host);
    assert_null(dst.path);
    assert_null(dst.redis_url);
    assert_null(dst.app);
    sg_config_free(&src);
    sg_config_free(&dst);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    sg_config_t a, b;
    sg_config_init(&a);
    memset(&b, 0, sizeof b);
    char *host = a.host;
    assert_int_equal(sg_config_copy(&a, &a), SG_EINVAL);
    assert_ptr_equal(a.host, host); /* nothing duplicated over itself, nothing leaked */
    assert_int_equal(sg_config_copy(NULL, &a), SG_EINVAL);
    assert_int_equal(sg_config_copy(&b, NULL), SG_EINVAL);
    assert_null(b.host);
    assert_int_equal(b.port, 0);
    sg_config_free(&a);
}

int main(void)
{
    /* the sources of sg_config_from_args must not see this machine's settings */
    for (size_t i = 0; i < sg_config_count(); i++)
        unsetenv(sg_config_env_name(i));
    unsetenv("SIOGATE_CONFIG");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_of_defaults),   cmocka_unit_test(test_copy_is_independent),
        cmocka_unit_test(test_explicit_bits_kept), cmocka_unit_test(test_null_strings),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
