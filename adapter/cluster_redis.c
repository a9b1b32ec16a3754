/* cluster_redis.c - see cluster_redis.h. */
#include "cluster_redis.h"

#include <string.h>

#include "util.h"

typedef struct pending {
    sg_cluster_published_cb published;
    sg_cluster_count_cb counted;
    void *ud;
} pending_t;

static void on_published(void *ud, const redisReply *rep)
{
    pending_t *p = ud;
    int ok = rep && rep->type == REDIS_REPLY_INTEGER;
    p->published(p->ud, ok ? 0 : SG_EIO, ok ? "" : NULL);
    sg_free(p);
}

int sg_cluster_redis_publish(sg_redis_t *r, const char *verb, const char *ch, size_t chlen,
                             const void *data, size_t len, sg_cluster_published_cb cb, void *ud)
{
    const char *argv[3] = {verb, ch, data};
    size_t lens[3] = {strlen(verb), chlen, len};
    pending_t *p = NULL;
    if (cb) {
        p = sg_malloc(sizeof(*p));
        *p = (pending_t){cb, NULL, ud};
    }
    int rc = sg_redis_command(r, p ? on_published : NULL, p, 3, argv, lens);
    if (rc != 0)
        sg_free(p);
    return rc;
}

/* [channel, count] */
static void on_count(void *ud, const redisReply *rep)
{
    pending_t *p = ud;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER && rep->element[1]->integer >= 0)
        p->counted(p->ud, 0, (size_t)rep->element[1]->integer);
    else
        p->counted(p->ud, SG_EIO, 0);
    sg_free(p);
}

int sg_cluster_redis_count(sg_redis_t *r, const char *sub, const char *ch, size_t chlen,
                           sg_cluster_count_cb cb, void *ud)
{
    const char *argv[3] = {"PUBSUB", sub, ch};
    size_t lens[3] = {6, strlen(sub), chlen};
    pending_t *p = sg_malloc(sizeof(*p));
    *p = (pending_t){NULL, cb, ud};
    int rc = sg_redis_command(r, on_count, p, 3, argv, lens);
    if (rc != 0)
        sg_free(p);
    return rc;
}
