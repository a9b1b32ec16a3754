/* static.h - files over plain HTTP (static.c). */
#ifndef SG_STATIC_H
#define SG_STATIC_H

#include <libwebsockets.h>

/** Serve dir/rel (GET, or HEAD when head_only): 200 with an ETag, 304 when
 *  If-None-Match matches, 404 when missing, outside dir or over 16 MB.
 *  Returns what the lws callback should return. */
int sg_static_serve(struct lws *wsi, const char *dir, const char *rel, int head_only);
/** Serve the client bundle file `name` from dir if it is one of the
 *  official bundle's names; returns 1 (nothing sent) when it is not. */
int sg_static_client(struct lws *wsi, const char *dir, const char *name, int head_only);

#endif
