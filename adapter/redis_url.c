/* redis_url.c - see redis_url.h. */
#include "redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *pct_decode(const char *s, size_t n)
{
    char *out = sg_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* user:password (or password alone) of [p, at), percent-decoded. */
static void parse_userinfo(const char *p, const char *at, char **user, char **pass)
{
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
        if (colon > p)
            *user = pct_decode(p, (size_t)(colon - p));
        *pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
    } else {
        *pass = pct_decode(p, (size_t)(at - p)); /* redis://password@host */
    }
}

/* The value of `name=` in query string q (up to '#' or the end), new, or NULL. */
static char *query_value(const char *q, const char *name)
{
    size_t nl = strlen(name);
    while (q && *q && *q != '#') {
        size_t n = strcspn(q, "&#");
        if (n > nl && !strncmp(q, name, nl) && q[nl] == '=')
            return pct_decode(q + nl + 1, n - nl - 1);
        q += n;
        if (*q == '&')
            q++;
    }
    return NULL;
}

/* "db=N" in a query string; 0 or SG_EINVAL. */
static int parse_db_query(const char *q, int *db)
{
    char *v = query_value(q, "db");
    if (!v)
        return 0;
    char *e;
    long n = strtol(v, &e, 10);
    int bad = e == v || *e || n < 0 || n > 100000;
    sg_free(v);
    if (bad)
        return SG_EINVAL;
    *db = (int)n;
    return 0;
}

/* unix:/path, unix:///path, or unix://[[user]:password@]/path[?db=N] (the
 * redis-py form): a socket path alone cannot carry AUTH and SELECT. */
static int parse_unix(sg_rurl_t *u, const char *url)
{
    const char *p = url + 5;
    if (p[0] == '/' && p[1] == '/' && p[2] != '/') {
        const char *at = strstr(p + 2, "@/");
        if (!at)
            return SG_EINVAL;
        parse_userinfo(p + 2, at, &u->user, &u->pass);
        p = at + 1;
    }
    while (p[0] == '/' && p[1] == '/')
        p++; /* unix:///path and unix:/path alike */
    size_t n = strcspn(p, "?");
    if (!n)
        return SG_EINVAL;
    if (p[n] == '?' && parse_db_query(p + n + 1, &u->db) != 0)
        return SG_EINVAL;
    u->kind = SG_RURL_UNIX;
    u->unix_path = sg_strndup(p, n);
    u->where = sg_strdup(u->unix_path);
    return 0;
}

/* host[:port] or [v6][:port] in [p, end); 0 or SG_EINVAL. */
static int parse_hostport(const char *p, const char *end, int dflt, char **host, int *port)
{
    const char *hend, *ps = NULL;
    if (p < end && *p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (!hend || hend == p + 1)
            return SG_EINVAL;
        *host = sg_strndup(p + 1, (size_t)(hend - p - 1));
        if (hend + 1 < end) {
            if (hend[1] != ':')
                goto bad;
            ps = hend + 2;
        }
    } else {
        hend = memchr(p, ':', (size_t)(end - p));
        if (hend)
            ps = hend + 1;
        else
            hend = end;
        *host = hend > p ? sg_strndup(p, (size_t)(hend - p)) : sg_strdup("127.0.0.1");
    }
    *port = dflt;
    if (ps) {
        char *e;
        long v = strtol(ps, &e, 10);
        if (e != end || v < 1 || v > 65535 || ps == end)
            goto bad;
        *port = (int)v;
    }
    return 0;
bad:
    sg_free(*host);
    *host = NULL;
    return SG_EINVAL;
}

/* A "/N" database path component at p (up to '?', '#' or the end). */
static int parse_db_path(const char *p, int *db)
{
    if (*p != '/' || !p[1] || p[1] == '?' || p[1] == '#')
        return 0;
    char *e;
    long v = strtol(p + 1, &e, 10);
    if (e == p + 1 || v < 0 || v > 100000 || (*e && *e != '?' && *e != '#'))
        return SG_EINVAL;
    *db = (int)v;
    return 0;
}

static int parse_tcp(sg_rurl_t *u, const char *url)
{
    const char *p = url + 8, *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        parse_userinfo(p, at, &u->user, &u->pass);
        p = at + 1;
    }
    if (parse_hostport(p, end, 6379, &u->host, &u->port) != 0 || parse_db_path(end, &u->db) != 0)
        return SG_EINVAL;
    char where[300];
    snprintf(where, sizeof where, "%s:%d", u->host, u->port);
    u->where = sg_strdup(where);
    return 0;
}

/* [[user]:password@]host:port[,host:port...] up to the first '/', '?' or
 * '#'; *rest is what follows. */
static int parse_list(sg_rurl_t *u, const char *p, int dflt, const char **rest)
{
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        parse_userinfo(p, at, &u->user, &u->pass);
        p = at + 1;
    }
    u->hosts = sg_calloc(SG_RURL_MAX_HOSTS, sizeof(char *));
    u->ports = sg_calloc(SG_RURL_MAX_HOSTS, sizeof(int));
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (u->n == SG_RURL_MAX_HOSTS || e == p ||
            parse_hostport(p, e, dflt, &u->hosts[u->n], &u->ports[u->n]) != 0)
            return SG_EINVAL;
        u->n++;
        p = comma ? comma + 1 : end;
    }
    *rest = end;
    return u->n ? 0 : SG_EINVAL;
}

static int parse_sentinel(sg_rurl_t *u, const char *url)
{
    const char *rest;
    if (parse_list(u, url + strlen("redis+sentinel://"), 26379, &rest) != 0 || *rest != '/')
        return SG_EINVAL;
    const char *name = rest + 1;
    size_t n = strcspn(name, "/?#");
    if (!n)
        return SG_EINVAL;
    u->master = pct_decode(name, n);
    if (parse_db_path(name + n, &u->db) != 0)
        return SG_EINVAL;
    const char *q = strchr(name, '?');
    if (q) {
        u->s_user = query_value(q + 1, "sentinelUsername");
        u->s_pass = query_value(q + 1, "sentinelPassword");
    }
    u->kind = SG_RURL_SENTINEL;
    char where[300];
    snprintf(where, sizeof where, "sentinel %s", u->master);
    u->where = sg_strdup(where);
    return 0;
}

static int parse_cluster(sg_rurl_t *u, const char *url)
{
    const char *rest;
    if (parse_list(u, url + strlen("redis+cluster://"), 6379, &rest) != 0)
        return SG_EINVAL;
    if (*rest == '/' && rest[1] && rest[1] != '?' && rest[1] != '#')
        return SG_EINVAL; /* a cluster has database 0 only */
    u->kind = SG_RURL_CLUSTER;
    char where[300];
    snprintf(where, sizeof where, "cluster %s:%d", u->hosts[0], u->ports[0]);
    u->where = sg_strdup(where);
    return 0;
}

int sg_rurl_parse(const char *url, sg_rurl_t *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    int rc;
    const char *expect;
    if (!strncmp(url, "unix:", 5)) {
        rc = parse_unix(u, url);
        expect = "unix:/path or unix://[[user]:password@]/path[?db=N]";
    } else if (!strncmp(url, "redis+sentinel://", 17)) {
        rc = parse_sentinel(u, url);
        expect = "redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]"
                 "[?sentinelPassword=...]";
    } else if (!strncmp(url, "redis+cluster://", 16)) {
        rc = parse_cluster(u, url);
        expect = "redis+cluster://[[user]:password@]host:port[,host:port...]";
    } else if (!strncmp(url, "redis://", 8)) {
        rc = parse_tcp(u, url);
        expect = "redis://[[user]:password@]host[:port][/db]";
    } else {
        rc = SG_EINVAL;
        expect = "redis://, unix:, redis+sentinel:// or redis+cluster://";
    }
    if (rc != 0) {
        snprintf(err, errlen, "redisUrl '%s': expected %s", url, expect);
        sg_rurl_clear(u);
        return SG_EINVAL;
    }
    return 0;
}

void sg_rurl_clear(sg_rurl_t *u)
{
    sg_free(u->host);
    sg_free(u->unix_path);
    sg_free(u->user);
    sg_free(u->pass);
    for (size_t i = 0; u->hosts && i < u->n; i++)
        sg_free(u->hosts[i]);
    sg_free(u->hosts);
    sg_free(u->ports);
    sg_free(u->master);
    sg_free(u->s_user);
    sg_free(u->s_pass);
    sg_free(u->where);
    memset(u, 0, sizeof(*u));
}
