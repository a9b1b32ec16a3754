/* redis_link.h - one RESP connection to one Redis server on the libuv loop
 * (internal to the Redis connection layer).
 *
 * A link connects (host names resolved off the loop thread by libuv), runs
 * its handshake (AUTH, SELECT, then a PING whose answer makes it ready)
 * under one deadline, and then carries commands whose replies come back in
 * order, and pushes. It parses its own socket with a bare hiredis reader:
 * hiredis 0.14's async API drops the `smessage` pushes of sharded Pub/Sub
 * and never reports a refused connect, so it is not used.
 *
 * Pushes: every Pub/Sub message (message, pmessage, smessage) and every
 * reply that no command waits for. Subscription commands are sent with
 * sg_rlink_send, which expects no reply: their confirmations, and what Redis
 * sends unasked (a `sunsubscribe` when a slot moves, an error for a channel
 * this node does not own), reach on_push.
 *
 * Writes are batched: commands queued during one loop iteration leave in
 * one write just before the loop polls again. Replies are bounded: one that
 * needs more than reply_limit bytes buffered, or declares more than
 * SG_RLINK_MAX_ELEMENTS elements in all, ends the link (a hostile or broken
 * server cannot make this process allocate without bound).
 *
 * A link is used once: after on_lost it is dead and the owner frees it
 * (sg_rlink_free may be called from any callback of the link). Every
 * function must be called on the loop's thread. */
#ifndef SG_REDIS_LINK_H
#define SG_REDIS_LINK_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct sg_rlink sg_rlink_t;

/** Most array elements one reply may declare (all levels together). */
#define SG_RLINK_MAX_ELEMENTS (1u << 20)

/** Why a link ended. */
enum {
    SG_RLINK_FAILED = 0, /* connect, read or write error, closed by the server */
    SG_RLINK_REFUSED,    /* the handshake got an error (AUTH, SELECT) */
    SG_RLINK_TIMEOUT,    /* not ready within timeout_ms */
};

typedef struct sg_rlink_opts {
    const char *host;      /* TCP host (name or address), or NULL with unix_path */
    int port;
    const char *unix_path; /* a Unix socket instead */
    const char *user, *pass; /* AUTH [user] pass when pass is set */
    int db;                  /* SELECT db when > 0 */
    int expect_master;       /* 1: ROLE must say master (Sentinel: a demoted
                                master is refused, the address asked again) */
    unsigned timeout_ms;     /* connect + handshake must finish by then */
    size_t reply_limit;      /* bytes; 0 = 512 MB (Redis' own bulk limit) */
    void (*on_ready)(void *ud);
    /** A push (see above); reply is borrowed for the call. */
    void (*on_push)(void *ud, const redisReply *reply);
    /** The link failed or closed: reason is one of SG_RLINK_*, why readable
     *  text. Commands still waiting have had their callbacks (NULL reply)
     *  before. */
    void (*on_lost)(void *ud, int reason, const char *why);
    void *ud;
} sg_rlink_opts_t;

/** The reply of a command, or NULL when the link was lost or freed first. */
typedef void (*sg_rlink_reply_cb)(void *ud, const redisReply *reply);

/** Start connecting. Never fails at once: a failure is reported through
 *  on_lost, from the loop. The strings in o are copied. */
sg_rlink_t *sg_rlink_new(uv_loop_t *loop, const sg_rlink_opts_t *o);
/** Close the link: callbacks of waiting commands run now with NULL, no
 *  on_lost follows; memory goes once the loop has run the close callbacks.
 *  NULL is a no-op. */
void sg_rlink_free(sg_rlink_t *l);

/** 1 once the handshake is done and until the link is lost. */
int sg_rlink_ready(const sg_rlink_t *l);
/** Queue a command whose reply goes to cb (may be NULL: the reply is
 *  dropped). Commands queued before the link is ready leave after the
 *  handshake. Returns 0, or SG_ESTATE when the link is lost. */
int sg_rlink_command(sg_rlink_t *l, sg_rlink_reply_cb cb, void *ud, int argc, const char **argv,
                     const size_t *lens);
/** Queue a command that gets no reply in order (SUBSCRIBE and its kind):
 *  whatever Redis answers goes to on_push. 0 or SG_ESTATE. */
int sg_rlink_send(sg_rlink_t *l, int argc, const char **argv, const size_t *lens);
/** The RESP of a command (sg_free), its length in *len: what
 *  sg_rlink_command queues, for a caller that may send it again. */
char *sg_rlink_format(int argc, const char **argv, const size_t *lens, size_t *len);
/** Queue a command already in RESP (len bytes, copied), as
 *  sg_rlink_command. */
int sg_rlink_command_raw(sg_rlink_t *l, sg_rlink_reply_cb cb, void *ud, const char *resp,
                         size_t len);
/** Write what is queued now, if the socket takes it (at shutdown: the last
 *  commands reach the kernel before the link is freed). */
void sg_rlink_flush(sg_rlink_t *l);
/** "host:port" or the socket path, for log lines. */
const char *sg_rlink_where(const sg_rlink_t *l);
/** Commands sent and not yet answered. */
size_t sg_rlink_pending(const sg_rlink_t *l);

#endif
