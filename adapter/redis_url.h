/* redis_url.h - the redisUrl setting, parsed (internal to the Redis
 * connection layer; pure, unit-tested).
 *
 *   redis://[[user]:password@]host[:port][/db]
 *   unix:/path, unix:///path, unix://[[user]:password@]/path[?db=N]
 *   redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]
 *       [?sentinelUsername=U&sentinelPassword=P]
 *     the sentinels (default port 26379) and the master's name; user and
 *     password are the master's, the query's those of the sentinels.
 *   redis+cluster://[[user]:password@]host:port[,host:port...][/]
 *     seed nodes of a Redis Cluster (default port 6379); no database.
 * Credentials are percent-decoded. IPv6 hosts go in brackets. */
#ifndef SG_REDIS_URL_H
#define SG_REDIS_URL_H

#include <stddef.h>

typedef enum {
    SG_RURL_TCP = 0,
    SG_RURL_UNIX,
    SG_RURL_SENTINEL,
    SG_RURL_CLUSTER,
} sg_rurl_kind_t;

#define SG_RURL_MAX_HOSTS 64

typedef struct sg_rurl {
    sg_rurl_kind_t kind;
    char *host; /* TCP: the server */
    int port;
    char *unix_path;
    char *user, *pass; /* of the data nodes, or NULL */
    int db;
    /* sentinel: the sentinels; cluster: the seeds */
    char **hosts;
    int *ports;
    size_t n;
    char *master;            /* sentinel: the master's name */
    char *s_user, *s_pass;   /* sentinel: their own credentials, or NULL */
    char *where;             /* for log lines: "host:port", the path, "sentinel <master>",
                                "cluster <first seed>" */
} sg_rurl_t;

/** 0 with *u filled, or SG_EINVAL with err (naming the expected forms). */
int sg_rurl_parse(const char *url, sg_rurl_t *u, char *err, size_t errlen);
void sg_rurl_clear(sg_rurl_t *u);

#endif
