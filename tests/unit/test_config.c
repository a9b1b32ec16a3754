/* test_config.c - the settings table, its three sources, and conf/siogate.conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

/* Settings whose default comes from the build; the generated file has them commented out. */
static int build_dependent(const char *name)
{
    return strcmp(name, "clientDir") == 0 || strcmp(name, "staticDir") == 0;
}

static void clear_env(void)
{
    for (size_t i = 0; i < sg_config_count(); i++)
        unsetenv(sg_config_env_name(i));
    unsetenv("SIOGATE_CONFIG");
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    return buf;
}

static char *defaults_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sg_config_write_defaults(f);
    fclose(f);
    return text;
}

/* Writes text to a fresh temporary file; returns its heap path. */
static char *temp_file(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/sg_config_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void drop_file(char *path)
{
    unlink(path);
    free(path);
}

static void assert_same_as_defaults(const sg_config_t *cfg)
{
    sg_config_t def;
    char a[8192], b[8192];
    sg_config_init(&def);
    for (size_t i = 0; i < sg_config_count(); i++) {
        const char *name = sg_config_name(i);
        assert_int_equal(sg_config_get(cfg, name, a, sizeof a), 0);
        assert_int_equal(sg_config_get(&def, name, b, sizeof b), 0);
        if (strcmp(a, b) != 0)
            fail_msg("setting '%s' is '%s', default is '%s'", name, a, b);
    }
    sg_config_free(&def);
}

/* Sets name=value and expects failure whose message names the setting. */
static void check_bad(const char *name, const char *value)
{
    sg_config_t cfg;
    char err[512] = "", before[8192], after[8192], needle[128];
    sg_config_init(&cfg);
    assert_int_equal(sg_config_get(&cfg, name, before, sizeof before), 0);
    if (sg_config_set(&cfg, name, value, err, sizeof err) != SG_EINVAL)
        fail_msg("%s = '%s' was accepted", name, value);
    snprintf(needle, sizeof needle, "setting '%s'", name);
    if (!strstr(err, needle))
        fail_msg("error for %s does not name it: %s", name, err);
    assert_int_equal(sg_config_get(&cfg, name, after, sizeof after), 0);
    assert_string_equal(before, after); /* a rejected value changes nothing */
    sg_config_free(&cfg);
}

static void check_ok(const char *name, const char *value, const char *expect)
{
    sg_config_t cfg;
    char err[512] = "", got[8192];
    sg_config_init(&cfg);
    if (sg_config_set(&cfg, name, value, err, sizeof err) != 0)
        fail_msg("%s = '%s' rejected: %s", name, value, err);
    assert_int_equal(sg_config_get(&cfg, name, got, sizeof got), 0);
    if (strcmp(got, expect) != 0)
        fail_msg("%s = '%s' gave '%s', expected '%s'", name, value, got, expect);
    sg_config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    sg_config_t cfg;
    sg_config_init(&cfg);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 3000);
    assert_string_equal(cfg.path, "/socket.io/");
    assert_int_equal(cfg.ping_interval, 25000);
    assert_int_equal(cfg.ping_timeout, 20000);
    assert_int_equal(cfg.upgrade_timeout, 10000);
    assert_int_equal(cfg.max_http_buffer_size, 1000000);
    assert_true(cfg.transport_polling && cfg.transport_websocket);
    assert_int_equal(cfg.max_payload_packets, 1000);
    assert_int_equal(cfg.connect_timeout, 45000);
    assert_int_equal(cfg.max_attachments, 10);
    assert_string_equal(cfg.namespaces, "");
    assert_string_equal(cfg.cors_origin, "");
    assert_false(cfg.cors_credentials);
    assert_true(cfg.serve_client);
    assert_non_null(cfg.client_dir);
    assert_non_null(cfg.static_dir);
    assert_int_equal(cfg.outq_hard_limit, 32u << 20);
    assert_int_equal(cfg.outq_soft_limit, 8u << 20);
    assert_int_equal(cfg.outq_soft_seconds, 60);
    assert_int_equal(cfg.max_sessions, 0);
    assert_int_equal(cfg.ws_rx_buffer, 256);
    assert_string_equal(cfg.app, "chat");
    assert_string_equal(cfg.adapter, "memory");
    assert_int_equal(cfg.log_level, SG_LOG_INFO);
    assert_int_equal(sg_config_check(&cfg, NULL, 0), 0);
    sg_config_free(&cfg);
    sg_config_free(&cfg); /* idempotent */
    assert_null(cfg.host);
}

/* The names follow one rule, so nobody has to guess an environment variable. */
static void test_env_names(void **state)
{
    (void)state;
    assert_true(sg_config_count() > 20);
    assert_null(sg_config_name(sg_config_count()));
    for (size_t i = 0; i < sg_config_count(); i++) {
        const char *n = sg_config_name(i);
        char want[128] = "SIOGATE_";
        size_t k = strlen(want);
        /* a capital after a small letter starts a word: allowEIO3 is
         * ALLOW_EIO3 */
        for (const char *p = n; *n && k + 2 < sizeof want; n++) {
            if (isupper((unsigned char)*n) && n > p && islower((unsigned char)n[-1]))
                want[k++] = '_';
            want[k++] = (char)toupper((unsigned char)*n);
        }
        want[k] = '\0';
        assert_string_equal(sg_config_env_name(i), want);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(sg_config_name(i), sg_config_name(j));
    }
}

/* conf/siogate.conf is the write_defaults output of a build without
 * SG_DEFAULT_*_DIR, so file and table cannot drift apart. */
static void test_conf_file_matches_table(void **state)
{
    (void)state;
    const char *src = getenv("SG_SOURCE_DIR");
    if (!src || !*src) {
        print_message("SG_SOURCE_DIR not set; skipping conf/siogate.conf check\n");
        skip();
    }
    char path[4096], err[1024] = "";
    snprintf(path, sizeof path, "%s/conf/siogate.conf", src);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *file = read_all(f);
    fclose(f);

    /* 1. Every row appears, active and at its default (build-dependent ones commented). */
    for (size_t i = 0; i < sg_config_count(); i++) {
        const char *name = sg_config_name(i);
        char key[160], *line = NULL;
        snprintf(key, sizeof key, "\n%s%s = ", build_dependent(name) ? "# " : "", name);
        if (!(line = strstr(file, key)))
            fail_msg("%s: no line for setting '%s' (regenerate: siogate --write-defaults)", path,
                     name);
        if (build_dependent(name))
            continue;
        char value[4096];
        line += strlen(key);
        size_t n = strcspn(line, "\n");
        assert_true(n < sizeof value);
        memcpy(value, line, n);
        value[n] = '\0';
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
            memmove(value, value + 1, n - 2);
            value[n - 2] = '\0';
        }
        sg_config_t one, def;
        char got[4096], want[4096];
        sg_config_init(&one);
        sg_config_init(&def);
        if (sg_config_set(&one, name, value, err, sizeof err) != 0)
            fail_msg("%s: %s", path, err);
        sg_config_get(&one, name, got, sizeof got);
        sg_config_get(&def, name, want, sizeof want);
        if (strcmp(got, want) != 0)
            fail_msg("%s: %s = %s, but the default is %s", path, name, got, want);
        sg_config_free(&one);
        sg_config_free(&def);
    }

    /* 2. The whole file loads cleanly (no unknown names) and leaves defaults. */
    sg_config_t cfg;
    sg_config_init(&cfg);
    if (sg_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_same_as_defaults(&cfg);
    sg_config_free(&cfg);

    /* 3. Byte for byte the generated text, except build-dependent lines. */
    char *gen = defaults_text(), *a = file, *b = gen;
    unsigned lineno = 1;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        int skip_line =
            (strncmp(a, "# clientDir = ", 14) == 0 && strncmp(b, "# clientDir = ", 14) == 0) ||
            (strncmp(a, "# staticDir = ", 14) == 0 && strncmp(b, "# staticDir = ", 14) == 0);
        if (!skip_line && (la != lb || memcmp(a, b, la) != 0))
            fail_msg("%s:%u differs from `siogate --write-defaults`:\n  file: %.*s\n  want: %.*s",
                     path, lineno, (int)la, a, (int)lb, b);
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
        lineno++;
    }
    free(gen);
    free(file);
}

static void load_example(sg_config_t *cfg, const char *name)
{
    char path[4096], err[1024] = "";
    snprintf(path, sizeof path, "%s/conf/examples/%s", getenv("SG_SOURCE_DIR"), name);
    sg_config_init(cfg);
    if (sg_config_load_file(cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(sg_config_check(cfg, err, sizeof err), 0);
}

static void test_examples(void **state)
{
    (void)state;
    const char *src = getenv("SG_SOURCE_DIR");
    if (!src || !*src)
        skip();
    sg_config_t cfg;
    load_example(&cfg, "conformance.conf");
    assert_string_equal(cfg.app, "conformance");
    assert_int_equal(cfg.ping_interval, 300);
    assert_int_equal(cfg.ping_timeout, 200);
    assert_int_equal(cfg.connect_timeout, 1000);
    sg_config_free(&cfg);
    load_example(&cfg, "cors.conf");
    assert_true(cfg.cors_origin[0] != '\0' && strcmp(cfg.cors_origin, "*") != 0);
    assert_true(cfg.cors_credentials);
    sg_config_free(&cfg);
}

static void test_write_defaults_round_trip(void **state)
{
    (void)state;
    char *text = defaults_text(), err[512] = "";
    char *path = temp_file(text);
    sg_config_t cfg;
    sg_config_init(&cfg);
    if (sg_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_same_as_defaults(&cfg);
    sg_config_free(&cfg);
    drop_file(path);
    free(text);
}

static void test_uint(void **state)
{
    (void)state;
    check_ok("pingInterval", "1234", "1234");
    check_ok("pingInterval", "3600000", "3600000");
    check_ok("port", "65535", "65535");
    check_ok("maxSessions", "0", "0");
    check_bad("pingInterval", "0");
    check_bad("pingInterval", "3600001");
    check_bad("pingInterval", "-1");
    check_bad("pingInterval", "12x");
    check_bad("pingInterval", "");
    check_bad("pingInterval", " 5");
    check_bad("pingInterval", "1k"); /* suffixes are for sizes only */
    check_bad("pingInterval", "99999999999999999999999999");
    check_bad("port", "0");
    check_bad("port", "65536");
    check_bad("maxAttachments", "10001");

    sg_config_t cfg;
    char err[256] = "";
    sg_config_init(&cfg);
    assert_int_equal(sg_config_set(&cfg, "pingInterval", "0", err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "1..3600000")); /* the range is in the message */
    sg_config_free(&cfg);
}

static void test_size(void **state)
{
    (void)state;
    check_ok("maxHttpBufferSize", "512", "512");
    check_ok("maxHttpBufferSize", "1k", "1024");
    check_ok("maxHttpBufferSize", "1KB", "1024");
    check_ok("maxHttpBufferSize", "2m", "2097152");
    check_ok("maxHttpBufferSize", "3Mb", "3145728");
    check_ok("maxHttpBufferSize", "1g", "1073741824");
    check_ok("outqHardLimit", "2gb", "2147483648");
    check_ok("wsRxBuffer", "128", "128");
    check_bad("maxHttpBufferSize", "0");
    check_bad("maxHttpBufferSize", "2g"); /* above 1gb */
    check_bad("maxHttpBufferSize", "1.5m");
    check_bad("maxHttpBufferSize", "10x");
    check_bad("maxHttpBufferSize", "1kbb");
    check_bad("maxHttpBufferSize", "k");
    check_bad("maxHttpBufferSize", "20000000000g"); /* overflows */
    check_bad("wsRxBuffer", "64");
    check_bad("outqSoftLimit", "1000");
}

static void test_bool(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1"};
    static const char *const no[] = {"false", "False", "no", "off", "0"};
    for (size_t i = 0; i < 5; i++) {
        check_ok("corsCredentials", yes[i], "true");
        check_ok("serveClient", no[i], "false");
    }
    check_bad("serveClient", "maybe");
    check_bad("serveClient", "");
    check_bad("corsCredentials", "2");
}

static void test_string_and_enum(void **state)
{
    (void)state;
    check_ok("host", "0.0.0.0", "0.0.0.0");
    check_ok("cors", "https://a.example,https://b.example", "https://a.example,https://b.example");
    check_ok("staticDir", "", "");
    check_bad("host", "");
    check_bad("host", "local host");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    check_bad("host", longname);
    check_bad("cors", "a\tb");

    check_ok("logLevel", "debug", "debug");
    check_ok("logLevel", "WARN", "warn");
    check_ok("app", "conformance", "conformance");
    check_ok("app", "None", "none");
    check_bad("logLevel", "verbose");
    check_bad("app", "");
    check_ok("adapter", "redis", "redis");
    check_bad("adapter", "cluster");

    sg_config_t cfg;
    sg_config_init(&cfg);
    assert_int_equal(sg_config_set(&cfg, "logLevel", "error", NULL, 0), 0);
    assert_int_equal(cfg.log_level, SG_LOG_ERROR);
    assert_int_equal(sg_config_set(&cfg, "app", "NONE", NULL, 0), 0);
    assert_string_equal(cfg.app, "none"); /* stored in canonical spelling */
    sg_config_free(&cfg);
}

static void test_path_and_namespaces(void **state)
{
    (void)state;
    check_ok("path", "/socket.io/", "/socket.io/");
    check_ok("path", "socket.io", "/socket.io/");
    check_ok("path", "/engine.io", "/engine.io/");
    check_ok("path", "x/", "/x/");
    check_ok("path", "/", "/");
    check_ok("path", "/a/b", "/a/b/");
    check_bad("path", "");
    check_bad("path", "/a b/");
    check_bad("path", "/a?b");

    check_ok("namespaces", "", "");
    check_ok("namespaces", "/admin", "/admin");
    check_ok("namespaces", " /a , /b,/c ", "/a,/b,/c");
    check_bad("namespaces", "admin");
    check_bad("namespaces", "/a,,/b");
    check_bad("namespaces", "/a,");
    check_bad("namespaces", "/a b");
}

static void test_transports(void **state)
{
    (void)state;
    sg_config_t cfg;
    sg_config_init(&cfg);
    assert_int_equal(sg_config_set(&cfg, "transports", "websocket", NULL, 0), 0);
    assert_false(cfg.transport_polling);
    assert_true(cfg.transport_websocket);
    assert_int_equal(sg_config_set(&cfg, "transports", "polling", NULL, 0), 0);
    assert_true(cfg.transport_polling);
    assert_false(cfg.transport_websocket);
    sg_config_free(&cfg);
    check_ok("transports", " websocket , polling ", "polling,websocket");
    check_ok("transports", "polling,polling", "polling");
    check_bad("transports", "");
    check_bad("transports", "polling,,websocket");
    check_bad("transports", "polling,");
    check_bad("transports", "webtransport");
}

static void test_unknown_setting(void **state)
{
    (void)state;
    sg_config_t cfg;
    char err[256] = "", buf[16];
    sg_config_init(&cfg);
    assert_int_equal(sg_config_set(&cfg, "pingintervall", "1", err, sizeof err), SG_ENOTFOUND);
    assert_non_null(strstr(err, "setting 'pingintervall'"));
    assert_int_equal(sg_config_get(&cfg, "nope", buf, sizeof buf), SG_ENOTFOUND);
    assert_int_equal(sg_config_get(&cfg, "path", buf, 4), SG_ETOOBIG);
    assert_string_equal(buf, "/so");
    sg_config_free(&cfg);
}

static void test_file(void **state)
{
    (void)state;
    char err[1024] = "";
    sg_config_t cfg;
    char *path = temp_file("# comment\n"
                           "\n"
                           "   \t\n"
                           "  port=4000  \n"
                           "host = \"0.0.0.0\"\r\n"
                           "cors = '*'\n"
                           "namespaces = \"\"\n"
                           "pingInterval = 1000\n"
                           "pingInterval = 2000\n" /* later lines win */
                           "  # indented comment\n");
    sg_config_init(&cfg);
    if (sg_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.port, 4000);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_string_equal(cfg.cors_origin, "*");
    assert_int_equal(cfg.ping_interval, 2000);
    sg_config_free(&cfg);
    drop_file(path);

    static const struct {
        const char *text, *want;
        int rc;
    } bad[] = {
        {"port = 1\n\npingInterval = 0\n", ":3: setting 'pingInterval': ", SG_EINVAL},
        {"# x\nnoSuchThing = 1\n", ":2: setting 'noSuchThing': unknown", SG_ENOTFOUND},
        {"port 3000\n", ":1: expected 'name = value'", SG_EINVAL},
        {"= 3\n", ":1: expected 'name = value'", SG_EINVAL},
        {"transports = \"\"\n", ":1: setting 'transports': ", SG_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = temp_file(bad[i].text);
        char want[4200];
        snprintf(want, sizeof want, "%s%s", path, bad[i].want);
        sg_config_init(&cfg);
        assert_int_equal(sg_config_load_file(&cfg, path, err, sizeof err), bad[i].rc);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("got '%s', want prefix '%s'", err, want);
        sg_config_free(&cfg);
        drop_file(path);
    }

    sg_config_init(&cfg);
    assert_int_equal(sg_config_load_file(&cfg, "/nonexistent/siogate.conf", err, sizeof err),
                     SG_EIO);
    assert_non_null(strstr(err, "/nonexistent/siogate.conf"));
    sg_config_free(&cfg);
}

static void test_env(void **state)
{
    (void)state;
    char err[512] = "";
    sg_config_t cfg;
    sg_config_init(&cfg);
    setenv("SIOGATE_PING_INTERVAL", "1234", 1);
    setenv("SIOGATE_MAX_HTTP_BUFFER_SIZE", "2mb", 1);
    setenv("SIOGATE_CORS", "", 1); /* set but empty is a value too */
    setenv("SIOGATE_TRANSPORTS", "websocket", 1);
    assert_int_equal(sg_config_load_env(&cfg, err, sizeof err), 0);
    assert_int_equal(cfg.ping_interval, 1234);
    assert_int_equal(cfg.max_http_buffer_size, 2u << 20);
    assert_false(cfg.transport_polling);
    sg_config_free(&cfg);

    setenv("SIOGATE_PORT", "http", 1);
    sg_config_init(&cfg);
    assert_int_equal(sg_config_load_env(&cfg, err, sizeof err), SG_EINVAL);
    assert_non_null(strstr(err, "SIOGATE_PORT"));
    assert_non_null(strstr(err, "'port'"));
    sg_config_free(&cfg);
    clear_env();
}

static int run_args(sg_config_t *cfg, char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "siogate";
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return sg_config_from_args(cfg, argc, argv, err, errlen);
}

/* Explicit settings are told apart from defaults (app defaults depend on it). */
static void test_is_set(void **state)
{
    (void)state;
    char err[512] = "";
    sg_config_t cfg;
    sg_config_init(&cfg);
    assert_false(sg_config_is_set(&cfg, "pingInterval"));
    assert_int_equal(sg_config_set(&cfg, "pingInterval", "25000", err, sizeof err), 0);
    assert_true(sg_config_is_set(&cfg, "pingInterval")); /* even at the default value */
    assert_false(sg_config_is_set(&cfg, "pingTimeout"));
    assert_int_equal(sg_config_set(&cfg, "pingTimeout", "nope", err, sizeof err), SG_EINVAL);
    assert_false(sg_config_is_set(&cfg, "pingTimeout"));
    assert_false(sg_config_is_set(&cfg, "noSuchSetting"));
    setenv("SIOGATE_CONNECT_TIMEOUT", "1000", 1);
    assert_int_equal(sg_config_load_env(&cfg, err, sizeof err), 0);
    assert_true(sg_config_is_set(&cfg, "connectTimeout"));
    sg_config_free(&cfg);
    clear_env();
}

static void test_args_precedence(void **state)
{
    (void)state;
    char err[1024] = "";
    sg_config_t cfg;
    char *file = temp_file("port = 4000\nhost = 10.0.0.1\npingInterval = 111\n");
    char *other = temp_file("port = 4001\n");

    assert_int_equal(run_args(&cfg, err, sizeof err, NULL), 0); /* no file, no env */
    assert_same_as_defaults(&cfg);
    sg_config_free(&cfg);

    assert_int_equal(run_args(&cfg, err, sizeof err, "--config", file, NULL), 0);
    assert_int_equal(cfg.port, 4000);
    assert_int_equal(cfg.ping_interval, 111);
    sg_config_free(&cfg);

    setenv("SIOGATE_CONFIG", other, 1); /* used only without --config */
    assert_int_equal(run_args(&cfg, err, sizeof err, NULL), 0);
    assert_int_equal(cfg.port, 4001);
    sg_config_free(&cfg);
    assert_int_equal(run_args(&cfg, err, sizeof err, "--config=", NULL), SG_EIO);
    assert_int_equal(run_args(&cfg, err, sizeof err, "--config", file, NULL), 0);
    assert_int_equal(cfg.port, 4000);
    sg_config_free(&cfg);
    unsetenv("SIOGATE_CONFIG");

    setenv("SIOGATE_PORT", "5000", 1); /* env beats file */
    assert_int_equal(run_args(&cfg, err, sizeof err, "--config", file, NULL), 0);
    assert_int_equal(cfg.port, 5000);
    assert_string_equal(cfg.host, "10.0.0.1");
    sg_config_free(&cfg);

    /* flags beat env, whatever their position relative to --config; last flag wins */
    assert_int_equal(run_args(&cfg, err, sizeof err, "--port", "6000", "--config", file,
                              "--host=::1", "--set", "pingInterval=5", "--set=port=7000", NULL),
                     0);
    assert_int_equal(cfg.port, 7000);
    assert_string_equal(cfg.host, "::1");
    assert_int_equal(cfg.ping_interval, 5);
    sg_config_free(&cfg);
    unsetenv("SIOGATE_PORT");

    assert_int_equal(run_args(&cfg, err, sizeof err, "--app", "conformance", "--adapter=memory",
                              "--log-level", "debug", "--path", "eio", "--static-dir", "/srv/www",
                              "--client-dir=/srv/client", NULL),
                     0);
    assert_string_equal(cfg.app, "conformance");
    assert_string_equal(cfg.adapter, "memory");
    assert_int_equal(cfg.log_level, SG_LOG_DEBUG);
    assert_string_equal(cfg.path, "/eio/");
    assert_string_equal(cfg.static_dir, "/srv/www");
    assert_string_equal(cfg.client_dir, "/srv/client");
    sg_config_free(&cfg);

    drop_file(file);
    drop_file(other);
}

static void test_args_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[4], *want;
    } bad[] = {
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"-x"}, "unknown option '-x'"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--port"}, "option '--port' needs a value"},
        {{"--port", "0"}, "--port: setting 'port': "},
        {{"--port=abc"}, "--port: setting 'port': "},
        {{"--set", "pingInterval"}, "--set: expected NAME=VALUE"},
        {{"--set", "=1"}, "--set: expected NAME=VALUE"},
        {{"--set", "nope=1"}, "--set: setting 'nope': unknown"},
        {{"--help=yes"}, "option '--help' takes no value"},
        {{"--set", "outqSoftLimit=64mb"}, "setting 'outqSoftLimit'"},
        {{"--config", "/nonexistent/x.conf"}, "/nonexistent/x.conf: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[6] = {"siogate"};
        int argc = 1;
        for (int j = 0; j < 4 && bad[i].args[j]; j++)
            argv[argc++] = (char *)bad[i].args[j];
        char err[512] = "";
        sg_config_t cfg;
        int rc = sg_config_from_args(&cfg, argc, argv, err, sizeof err);
        assert_true(rc < 0);
        if (!strstr(err, bad[i].want))
            fail_msg("args #%zu: got '%s', want '%s'", i, err, bad[i].want);
        sg_config_free(&cfg); /* safe after a failure */
    }

    setenv("SIOGATE_PING_TIMEOUT", "0", 1);
    char err[512] = "";
    sg_config_t cfg;
    assert_int_equal(run_args(&cfg, err, sizeof err, NULL), SG_EINVAL);
    assert_non_null(strstr(err, "SIOGATE_PING_TIMEOUT"));
    unsetenv("SIOGATE_PING_TIMEOUT");
}

static void test_help(void **state)
{
    (void)state;
    char err[256] = "";
    sg_config_t cfg;
    /* --help wins even after a bad setting value, and prints to stdout. */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), nul = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && nul >= 0);
    dup2(nul, STDOUT_FILENO);
    assert_int_equal(run_args(&cfg, err, sizeof err, "--help", NULL), 1);
    sg_config_free(&cfg);
    assert_int_equal(run_args(&cfg, err, sizeof err, "--port", "0", "-h", NULL), 1);
    sg_config_free(&cfg);
    assert_int_equal(run_args(&cfg, err, sizeof err, "--write-defaults", NULL), 1);
    sg_config_free(&cfg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(nul);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sg_config_print_help(f);
    fclose(f);
    static const char *const flags[] = {"--config",     "--host",      "--port", "--app",
                                        "--adapter",    "--log-level", "--path", "--static-dir",
                                        "--client-dir", "--set",       "--help", "-h"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        assert_non_null(strstr(text, flags[i]));
    for (size_t i = 0; i < sg_config_count(); i++) {
        char key[64];
        snprintf(key, sizeof key, "  %s ", sg_config_name(i));
        if (!strstr(text, key) || !strstr(text, sg_config_env_name(i)))
            fail_msg("help lacks %s", sg_config_name(i));
    }
    assert_non_null(strstr(text, "uint 1..3600000"));
    assert_non_null(strstr(text, "enum error|warn|info|debug"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_env_names, setup),
        cmocka_unit_test_setup(test_conf_file_matches_table, setup),
        cmocka_unit_test_setup(test_examples, setup),
        cmocka_unit_test_setup(test_write_defaults_round_trip, setup),
        cmocka_unit_test_setup(test_uint, setup),
        cmocka_unit_test_setup(test_size, setup),
        cmocka_unit_test_setup(test_bool, setup),
        cmocka_unit_test_setup(test_string_and_enum, setup),
        cmocka_unit_test_setup(test_path_and_namespaces, setup),
        cmocka_unit_test_setup(test_transports, setup),
        cmocka_unit_test_setup(test_unknown_setting, setup),
        cmocka_unit_test_setup(test_file, setup),
        cmocka_unit_test_setup(test_env, setup),
        cmocka_unit_test_setup(test_is_set, setup),
        cmocka_unit_test_setup(test_args_precedence, setup),
        cmocka_unit_test_setup(test_args_errors, setup),
        cmocka_unit_test_setup(test_help, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
