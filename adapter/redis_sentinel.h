/* redis_sentinel.h - finding and following a master through Redis Sentinel
 * (internal to the Redis connection layer).
 *
 * Resolve: the sentinels are asked in turn, starting with the last one that
 * answered, `SENTINEL get-master-addr-by-name <name>`; the first address
 * given wins. Follow: one connection to a sentinel stays subscribed to
 * `+switch-master`; a switch of our master is reported at once, and so is
 * the master's address each time that connection is (re)established, since
 * a switch may have happened while it was down. The connection moves to the
 * next sentinel after a failure, after a delay.
 *
 * Every function must be called on the loop's thread. */
#ifndef SG_REDIS_SENTINEL_H
#define SG_REDIS_SENTINEL_H

#include <stddef.h>
#include <uv.h>

typedef struct sg_rsentinel sg_rsentinel_t;

/** host is NULL when no sentinel gave an address. Borrowed for the call. */
typedef void (*sg_rsentinel_addr_cb)(void *ud, const char *host, int port);

typedef struct sg_rsentinel_opts {
    char **hosts; /* the sentinels (copied) */
    const int *ports;
    size_t n;
    const char *master;      /* the master's name */
    const char *user, *pass; /* of the sentinels, when they require AUTH */
    unsigned timeout_ms;     /* per sentinel asked */
    unsigned retry_ms;       /* before the follower tries the next sentinel */
    sg_rsentinel_addr_cb on_master; /* from the follower: the master's address */
    void *ud;
    void (*log)(void *ud, int level, const char *msg);
    void *log_ud;
} sg_rsentinel_opts_t;

sg_rsentinel_t *sg_rsentinel_new(uv_loop_t *loop, const sg_rsentinel_opts_t *o);
/** Stop; a resolve in flight answers NULL now. NULL is a no-op. */
void sg_rsentinel_free(sg_rsentinel_t *s);
/** Ask for the master's address; cb runs once, later (never inside the
 *  call). One resolve at a time: a second call while one is in flight
 *  replaces its callback (the connection layer asks for both of its
 *  connections through one callback). */
void sg_rsentinel_resolve(sg_rsentinel_t *s, sg_rsentinel_addr_cb cb, void *ud);

#endif
