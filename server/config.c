/* config.c - parsing, the sources (file, environment, flags), --help and
 * the generated conf/siogate.conf, all driven by the rows of the settings
 * table in config_table.c. */
#include "config.h"
#include "config_internal.h"

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const sg_cfg_row_t *find_row(const char *name)
{
    for (size_t i = 0; i < sg_config__nrows; i++)
        if (strcmp(sg_config__rows[i].name, name) == 0)
            return &sg_config__rows[i];
    return NULL;
}

#define FIELD(cfg, r) ((void *)((char *)(cfg) + (r)->off))
#define CFIELD(cfg, r) ((const void *)((const char *)(cfg) + (r)->off))

/* ---- parsing ------------------------------------------------------------ */

static void fmt_num(const sg_cfg_row_t *r, unsigned long long n, char *buf, size_t len)
{
    if (r->type == CT_SIZE && n && n % GB == 0)
        snprintf(buf, len, "%llugb", n / GB);
    else if (r->type == CT_SIZE && n && n % MB == 0)
        snprintf(buf, len, "%llumb", n / MB);
    else if (r->type == CT_SIZE && n && n % KB == 0)
        snprintf(buf, len, "%llukb", n / KB);
    else
        snprintf(buf, len, "%llu", n);
}

/* Digits with an optional k/kb/m/mb/g/gb suffix (sizes only). 0 ok, -1 bad
 * syntax, -2 does not fit. */
static int parse_number(const char *s, int suffixes, unsigned long long *out)
{
    unsigned long long n = 0, mult = 1;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (ULLONG_MAX - d) / 10)
            return -2;
        n = n * 10 + d;
    }
    if (*s && suffixes) {
        char c = (char)tolower((unsigned char)*s++);
        mult = c == 'k' ? KB : c == 'm' ? MB : c == 'g' ? GB : 0;
        if (*s == 'b' || *s == 'B')
            s++;
        if (!mult)
            return -1;
    }
    if (*s)
        return -1;
    if (n > ULLONG_MAX / mult)
        return -2;
    *out = n * mult;
    return 0;
}

static int find_choice(const char *const *choices, const char *v, size_t len)
{
    for (int i = 0; choices[i]; i++)
        if (strlen(choices[i]) == len && strncasecmp(choices[i], v, len) == 0)
            return i;
    return -1;
}

static void join_choices(const char *const *choices, const char *sep, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? sep : "", choices[i]);
}

static int parse_list(const sg_cfg_row_t *r, const char *v, unsigned long long *mask, char *why,
                      size_t wlen)
{
    const char *item;
    size_t len;
    char all[128];
    *mask = 0;
    for (const char *p = v; sg_config__next_item(&p, &item, &len);) {
        int i = find_choice(r->choices, item, len);
        if (i >= 0) {
            *mask |= 1ULL << i;
            continue;
        }
        join_choices(r->choices, ", ", all, sizeof all);
        if (len == 0)
            snprintf(why, wlen, "empty entry in the list (choose from %s)", all);
        else
            snprintf(why, wlen, "'%.*s' is not one of %s", (int)len, item, all);
        return -1;
    }
    return 0;
}

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* Parses v for row r into *n (numbers, bools, enum index, list mask) or *s
 * (a heap string). Nothing in cfg changes, so a bad value leaves it intact. */
static int parse_value(const sg_cfg_row_t *r, const char *v, unsigned long long *n, char **s,
                       char *why, size_t wlen)
{
    char lo[32], hi[32], all[128];
    int rc, i;
    *s = NULL;
    switch (r->type) {
    case CT_UINT:
    case CT_SIZE:
        rc = parse_number(v, r->type == CT_SIZE, n);
        fmt_num(r, r->min, lo, sizeof lo);
        fmt_num(r, r->max, hi, sizeof hi);
        if (rc == -1) {
            snprintf(why, wlen, "'%s' is not %s", v,
                     r->type == CT_SIZE ? "a size (bytes, or a number with k/m/g)"
                                        : "a non-negative integer");
            return -1;
        }
        if (rc == -2 || *n < r->min || *n > r->max || *n > SIZE_MAX) {
            snprintf(why, wlen, "'%s' is out of range %s..%s", v, lo, hi);
            return -1;
        }
        return 0;
    case CT_BOOL:
        if ((i = parse_bool(v)) < 0) {
            snprintf(why, wlen, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", v);
            return -1;
        }
        *n = (unsigned long long)i;
        return 0;
    case CT_ENUM:
        if ((i = find_choice(r->choices, v, strlen(v))) < 0) {
            join_choices(r->choices, ", ", all, sizeof all);
            snprintf(why, wlen, "'%s' is not one of %s", v, all);
            return -1;
        }
        *n = (unsigned long long)i;
        return 0;
    case CT_LIST:
        return parse_list(r, v, n, why, wlen);
    case CT_STRING:
        break;
    }
    size_t len = strlen(v);
    if (len < r->min) {
        snprintf(why, wlen, "must not be empty");
        return -1;
    }
    if (len > r->max) {
        snprintf(why, wlen, "longer than %llu characters", r->max);
        return -1;
    }
    for (const char *c = v; *c; c++) {
        if (iscntrl((unsigned char)*c)) {
            snprintf(why, wlen, "contains a control character");
            return -1;
        }
    }
    const char *bad = r->check ? r->check(v, s) : NULL;
    if (bad) {
        snprintf(why, wlen, "'%s': %s", v, bad);
        return -1;
    }
    if (!*s)
        *s = sg_strdup(v);
    return 0;
}

static void store_value(sg_config_t *cfg, const sg_cfg_row_t *r, unsigned long long n, char *s)
{
    void *p = FIELD(cfg, r);
    switch (r->store) {
    case ST_INT:
        *(int *)p = (int)n;
        break;
    case ST_UINT:
        *(unsigned *)p = (unsigned)n;
        break;
    case ST_SIZE:
        *(size_t *)p = (size_t)n;
        break;
    case ST_STR:
        sg_free(*(char **)p);
        *(char **)p = s ? s : sg_strdup(r->choices[n]);
        break;
    case ST_LOG:
        *(sg_log_level_t *)p = (sg_log_level_t)n;
        break;
    case ST_TRANSPORTS:
        cfg->transport_polling = (n & 1) != 0;
        cfg->transport_websocket = (n & 2) != 0;
        break;
    }
}

static unsigned long long load_num(const sg_config_t *cfg, const sg_cfg_row_t *r)
{
    const void *p = CFIELD(cfg, r);
    switch (r->store) {
    case ST_INT:
        return (unsigned long long)*(const int *)p;
    case ST_UINT:
        return *(const unsigned *)p;
    case ST_SIZE:
        return *(const size_t *)p;
    case ST_LOG:
        return (unsigned long long)*(const sg_log_level_t *)p;
    case ST_TRANSPORTS:
        return (cfg->transport_polling ? 1u : 0u) | (cfg->transport_websocket ? 2u : 0u);
    case ST_STR:
        break;
    }
    return 0;
}

static void mark_set(sg_config_t *cfg, const sg_cfg_row_t *r)
{
    size_t i = (size_t)(r - sg_config__rows);
    cfg->explicit_set[i / 8] |= (unsigned char)(1u << (i % 8));
}

static int set_row(sg_config_t *cfg, const sg_cfg_row_t *r, const char *value, char *err,
                   size_t errlen)
{
    char why[512];
    unsigned long long n = 0;
    char *s = NULL;
    if (parse_value(r, value, &n, &s, why, sizeof why) != 0) {
        seterr(err, errlen, "setting '%s': %s", r->name, why);
        return SG_EINVAL;
    }
    store_value(cfg, r, n, s);
    return 0;
}

/* ---- public API --------------------------------------------------------- */

void sg_config_init(sg_config_t *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sg_config__nrows; i++) {
        if (set_row(cfg, &sg_config__rows[i], sg_config__rows[i].def, err, sizeof err) != 0) {
            /* A bad default in the table is a bug, not input: the unit test trips it. */
            fprintf(stderr, "siogate: bad built-in default: %s\n", err);
            abort();
        }
    }
}

void sg_config_free(sg_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < sg_config__nrows; i++) {
        if (sg_config__rows[i].store == ST_STR) {
            char **p = FIELD(cfg, &sg_config__rows[i]);
            sg_free(*p);
            *p = NULL;
        }
    }
}

int sg_config_copy(sg_config_t *dst, const sg_config_t *src)
{
    if (!dst || !src || dst == src)
        return SG_EINVAL;
    /* Numbers, booleans and the explicit-set bits copy as they are; each
     * string row gets its own heap copy, so a string setting added to the
     * table later is copied without anyone having to remember it. */
    *dst = *src;
    for (size_t i = 0; i < sg_config__nrows; i++) {
        if (sg_config__rows[i].store == ST_STR) {
            char **p = FIELD(dst, &sg_config__rows[i]);
            if (*p)
                *p = sg_strdup(*p);
        }
    }
    return 0;
}

int sg_config_set(sg_config_t *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    const sg_cfg_row_t *r = find_row(name);
    if (!r) {
        seterr(err, errlen, "setting '%s': unknown setting (see --help)", name);
        return SG_ENOTFOUND;
    }
    int rc = set_row(cfg, r, value, err, errlen);
    if (rc == 0)
        mark_set(cfg, r);
    return rc;
}

int sg_config_is_set(const sg_config_t *cfg, const char *name)
{
    const sg_cfg_row_t *r = find_row(name);
    if (!r)
        return 0;
    size_t i = (size_t)(r - sg_config__rows);
    return (cfg->explicit_set[i / 8] >> (i % 8)) & 1;
}

int sg_config_get(const sg_config_t *cfg, const char *name, char *buf, size_t len)
{
    const sg_cfg_row_t *r = find_row(name);
    if (!r)
        return SG_ENOTFOUND;
    unsigned long long n = load_num(cfg, r);
    int k;
    if (r->store == ST_STR) {
        const char *s = *(char *const *)CFIELD(cfg, r);
        k = snprintf(buf, len, "%s", s ? s : "");
    } else if (r->type == CT_BOOL) {
        k = snprintf(buf, len, "%s", n ? "true" : "false");
    } else if (r->type == CT_ENUM) {
        k = snprintf(buf, len, "%s", r->choices[n]);
    } else if (r->type == CT_LIST) {
        char all[128];
        size_t j = 0;
        all[0] = '\0';
        for (int i = 0; r->choices[i]; i++)
            if (n & (1ULL << i))
                j += (size_t)snprintf(all + j, sizeof all - j, "%s%s", j ? "," : "", r->choices[i]);
        k = snprintf(buf, len, "%s", all);
    } else {
        k = snprintf(buf, len, "%llu", n);
    }
    return (size_t)k < len ? 0 : SG_ETOOBIG;
}

size_t sg_config_count(void)
{
    return sg_config__nrows;
}

const char *sg_config_name(size_t i)
{
    return i < sg_config__nrows ? sg_config__rows[i].name : NULL;
}

const char *sg_config_env_name(size_t i)
{
    return i < sg_config__nrows ? sg_config__rows[i].env : NULL;
}

int sg_config_check(const sg_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->outq_soft_limit > cfg->outq_hard_limit) {
        seterr(err, errlen, "setting 'outqSoftLimit': %zu is above outqHardLimit (%zu)",
               cfg->outq_soft_limit, cfg->outq_hard_limit);
        return SG_EINVAL;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return s;
}

static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

int sg_config_load_file(sg_config_t *cfg, const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        seterr(err, errlen, "%s: %s", file, strerror(errno));
        return SG_EIO;
    }
    char line[8192], msg[600];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            seterr(err, errlen, "%s:%u: line longer than %zu bytes", file, lineno, sizeof line - 2);
            rc = SG_ETOOBIG;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq || eq == s) {
            seterr(err, errlen, "%s:%u: expected 'name = value'", file, lineno);
            rc = SG_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = unquote(trim(eq + 1));
        rc = sg_config_set(cfg, name, value, msg, sizeof msg);
        if (rc != 0)
            seterr(err, errlen, "%s:%u: %s", file, lineno, msg);
    }
    if (rc == 0 && ferror(f)) {
        seterr(err, errlen, "%s: read error", file);
        rc = SG_EIO;
    }
    fclose(f);
    return rc;
}

int sg_config_load_env(sg_config_t *cfg, char *err, size_t errlen)
{
    char msg[600];
    for (size_t i = 0; i < sg_config__nrows; i++) {
        const char *v = getenv(sg_config__rows[i].env);
        if (!v)
            continue;
        int rc = set_row(cfg, &sg_config__rows[i], v, msg, sizeof msg);
        if (rc != 0) {
            seterr(err, errlen, "%s: %s", sg_config__rows[i].env, msg);
            return rc;
        }
        mark_set(cfg, &sg_config__rows[i]);
    }
    return 0;
}

/* ---- command line ------------------------------------------------------- */

typedef enum { FL_SETTING, FL_SET, FL_CONFIG, FL_HELP, FL_DEFAULTS } sg_flag_kind_t;

static const struct {
    const char *flag, *alias, *arg, *setting;
    sg_flag_kind_t kind;
    const char *help;
} flags[] = {
    {"--config", NULL, "FILE", NULL, FL_CONFIG,
     "read settings from FILE (default: $SIOGATE_CONFIG)"},
    {"--host", NULL, "HOST", "host", FL_SETTING, NULL},
    {"--port", NULL, "PORT", "port", FL_SETTING, NULL},
    {"--path", NULL, "PATH", "path", FL_SETTING, NULL},
    {"--app", NULL, "NAME", "app", FL_SETTING, NULL},
    {"--adapter", NULL, "NAME", "adapter", FL_SETTING, NULL},
    {"--redis-url", NULL, "URL", "redisUrl", FL_SETTING, NULL},
    {"--log-level", NULL, "LEVEL", "logLevel", FL_SETTING, NULL},
    {"--static-dir", NULL, "DIR", "staticDir", FL_SETTING, NULL},
    {"--client-dir", NULL, "DIR", "clientDir", FL_SETTING, NULL},
    {"--set", NULL, "NAME=VALUE", NULL, FL_SET, "set any setting listed below (repeatable)"},
    {"--write-defaults", NULL, NULL, NULL, FL_DEFAULTS,
     "print a config file with every setting at its default, then exit"},
    {"--help", "-h", NULL, NULL, FL_HELP, "print this help, then exit"},
};

#define NFLAGS (sizeof flags / sizeof flags[0])

/* Reads the flag at argv[*i] (and its value, "--x v" or "--x=v"), advancing *i. */
static int next_flag(int argc, char **argv, int *i, size_t *which, const char **value, char *err,
                     size_t errlen)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    size_t alen = eq && a[0] == '-' && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    for (size_t f = 0; f < NFLAGS; f++) {
        int hit = strlen(flags[f].flag) == alen && strncmp(flags[f].flag, a, alen) == 0;
        if (!hit && !(flags[f].alias && strcmp(flags[f].alias, a) == 0))
            continue;
        *which = f;
        *value = NULL;
        if (!flags[f].arg) {
            if (hit && a[alen]) {
                seterr(err, errlen, "option '%s' takes no value", flags[f].flag);
                return SG_EINVAL;
            }
        } else if (a[alen] == '=') {
            *value = a + alen + 1;
        } else if (*i + 1 < argc) {
            *value = argv[++*i];
        } else {
            seterr(err, errlen, "option '%s' needs a value (%s)", flags[f].flag, flags[f].arg);
            return SG_EINVAL;
        }
        return 0;
    }
    if (a[0] == '-')
        seterr(err, errlen, "unknown option '%s' (see --help)", a);
    else
        seterr(err, errlen, "unexpected argument '%s' (see --help)", a);
    return SG_EINVAL;
}

static int apply_flag(sg_config_t *cfg, size_t f, const char *value, char *err, size_t errlen)
{
    char msg[600];
    int rc = 0;
    if (flags[f].kind == FL_SETTING) {
        rc = sg_config_set(cfg, flags[f].setting, value, msg, sizeof msg);
    } else if (flags[f].kind == FL_SET) {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value) {
            seterr(err, errlen, "--set: expected NAME=VALUE, got '%s'", value);
            return SG_EINVAL;
        }
        char *name = sg_strndup(value, (size_t)(eq - value));
        rc = sg_config_set(cfg, name, eq + 1, msg, sizeof msg);
        sg_free(name);
    }
    if (rc != 0)
        seterr(err, errlen, "%s: %s", flags[f].flag, msg);
    return rc;
}

int sg_config_from_args(sg_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    const char *file = NULL, *value;
    size_t f;
    int rc, exit_kind = -1;
    memset(cfg, 0, sizeof *cfg);
    /* First pass: syntax, --help and --config, before anything is read. */
    for (int i = 1; i < argc; i++) {
        if ((rc = next_flag(argc, argv, &i, &f, &value, err, errlen)) != 0)
            return rc;
        if (flags[f].kind == FL_CONFIG)
            file = value;
        if ((flags[f].kind == FL_HELP || flags[f].kind == FL_DEFAULTS) && exit_kind < 0)
            exit_kind = (int)flags[f].kind;
    }
    if (exit_kind == FL_HELP) {
        sg_config_print_help(stdout);
        return 1;
    }
    if (exit_kind == FL_DEFAULTS) {
        sg_config_write_defaults(stdout);
        return 1;
    }
    if (!file && (file = getenv("SIOGATE_CONFIG")) && !*file)
        file = NULL;
    sg_config_init(cfg);
    if (file && (rc = sg_config_load_file(cfg, file, err, errlen)) != 0)
        goto fail;
    if ((rc = sg_config_load_env(cfg, err, errlen)) != 0)
        goto fail;
    for (int i = 1; i < argc; i++) {
        next_flag(argc, argv, &i, &f, &value, NULL, 0);
        if ((rc = apply_flag(cfg, f, value, err, errlen)) != 0)
            goto fail;
    }
    if ((rc = sg_config_check(cfg, err, errlen)) != 0)
        goto fail;
    return 0;
fail:
    sg_config_free(cfg);
    return rc;
}

/* ---- help and the generated config file --------------------------------- */

static void describe(const sg_cfg_row_t *r, char *buf, size_t len)
{
    char lo[32], hi[32], all[128];
    if (r->type == CT_UINT || r->type == CT_SIZE) {
        fmt_num(r, r->min, lo, sizeof lo);
        fmt_num(r, r->max, hi, sizeof hi);
        snprintf(buf, len, "%s %s..%s", r->type == CT_SIZE ? "size" : "uint", lo, hi);
    } else if (r->choices) {
        join_choices(r->choices, r->type == CT_ENUM ? "|" : ",", all, sizeof all);
        snprintf(buf, len, "%s %s", r->type == CT_ENUM ? "enum" : "list", all);
    } else {
        snprintf(buf, len, "%s", r->type == CT_BOOL ? "bool" : "string");
    }
}

void sg_config_print_help(FILE *out)
{
    char desc[160];
    fputs("Usage: siogate [options]\n\nOptions:\n", out);
    for (size_t f = 0; f < NFLAGS; f++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", flags[f].alias ? flags[f].alias : "",
                 flags[f].alias ? ", " : "", flags[f].flag, flags[f].arg ? " " : "",
                 flags[f].arg ? flags[f].arg : "");
        if (flags[f].help)
            fprintf(out, "  %-24s %s\n", left, flags[f].help);
        else
            fprintf(out, "  %-24s same as --set %s=%s\n", left, flags[f].setting, flags[f].arg);
    }
    fputs("\nSources apply in this order, later ones winning: built-in defaults, the config\n"
          "file, SIOGATE_* environment variables, command-line options.\n"
          "Sizes take a k, m or g suffix (1024-based); booleans take true/false, yes/no,\n"
          "on/off or 1/0.\n\nSettings:\n",
          out);
    fprintf(out, "  %-19s %-29s %-27s %s\n", "NAME", "ENVIRONMENT", "TYPE", "DEFAULT");
    for (size_t i = 0; i < sg_config__nrows; i++) {
        const sg_cfg_row_t *r = &sg_config__rows[i];
        describe(r, desc, sizeof desc);
        fprintf(out, "  %-19s %-29s %-27s %s%s%s\n", r->name, r->env, desc, *r->def ? "" : "\"",
                r->def, *r->def ? "" : "\"");
        fprintf(out, "  %-19s %s\n", "", r->help);
    }
}

void sg_config_write_defaults(FILE *out)
{
    char desc[160];
    fputs("# siogate.conf - every setting at its built-in default.\n"
          "#\n"
          "# Generated by `siogate --write-defaults`; tests/unit/test_config.c checks that\n"
          "# conf/siogate.conf is exactly this output, so regenerate it after changing the\n"
          "# settings table in server/config.c.\n"
          "#\n"
          "# Format: one \"name = value\" per line; lines starting with '#' are comments;\n"
          "# the value may be in single or double quotes. Sizes take a k, m or g suffix\n"
          "# (1024-based). Each setting can be overridden by its environment variable or\n"
          "# on the command line (--set name=value); see `siogate --help`.\n",
          out);
    for (size_t i = 0; i < sg_config__nrows; i++) {
        const sg_cfg_row_t *r = &sg_config__rows[i];
        describe(r, desc, sizeof desc);
        fprintf(out, "\n# %s\n# %s; env %s\n", r->help, desc, r->env);
        if (r->flags & CF_BUILD) {
            /* The default is a path of the build: not written into the file. */
            fprintf(out, "# %s = (set at build time)\n", r->name);
            continue;
        }
        fprintf(out, "%s = %s%s%s\n", r->name, *r->def ? "" : "\"", r->def, *r->def ? "" : "\"");
    }
}
