/* redis_uv.h - runs a hiredis async context on a libuv loop (internal to the
 * Redis connection layer; redis_conn.c is its only user).
 *
 * Why not hiredis' own adapters/libuv.h: hiredis 0.14's poll callback returns
 * on any error status without telling hiredis, and libuv (unix/poll.c) turns
 * POLLERR into status UV_EBADF and stops the poll. A refused non-blocking
 * connect is reported exactly that way, so the context would wait forever:
 * no connect callback, no disconnect callback. Here an error status is handed
 * to hiredis, which then reads the socket's error itself (SO_ERROR while
 * connecting, read(2) afterwards) and fails the context through its usual
 * callbacks. */
#ifndef SG_REDIS_UV_H
#define SG_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/** Install the event hooks of ac (addRead/delRead/addWrite/delWrite/cleanup)
 *  for loop. Call once, right after the context is created and before any
 *  command or connect callback is set. Returns 0, or SG_ESTATE when ac
 *  already has hooks or libuv refuses its descriptor; ac is then untouched and
 *  the caller still owns it (redisAsyncFree).
 *
 *  Afterwards hiredis owns the glue: its cleanup hook (run by redisAsyncFree
 *  and by every disconnect) closes the poll handle, whose memory is released
 *  in the close callback, so it needs the loop to run once more. */
int sg_redis__uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
