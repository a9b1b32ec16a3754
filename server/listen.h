/* listen.h - the listening socket (listen.c). */
#ifndef SG_LISTEN_H
#define SG_LISTEN_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

/* The listening socket (listen.c). */
typedef struct sg_listener {
    int fd;                 /* listening socket, -1 when closed */
    int reserve;            /* spare descriptor for accept-and-close when out of them */
    int port;               /* actual port (port 0 picks one) */
    uv_poll_t poll;
    uv_timer_t pause;       /* accepting paused after running out of descriptors */
    size_t conns;           /* client connections lws holds */
    unsigned long long refused_fds, refused_full; /* in the current episode */
    uint8_t on, closing, fd_episode, full_episode;
    const sg_config_t *cfg;
    struct lws_vhost *vhost;
} sg_listener_t;

/** Derive maxConnections / maxSessions left at 0 from the fd limit. */
void sg_listen__limits(sg_config_t *cfg);
/** Bind and listen (fails cleanly when the port is taken): 0 or SG_EIO. */
int sg_listen__open(sg_listener_t *l, const sg_config_t *cfg);
/** Start accepting into vhost. */
void sg_listen__start(sg_listener_t *l, uv_loop_t *loop, struct lws_vhost *vhost);
/** lws created (1) or destroyed (0) a connection. */
void sg_listen__note(sg_listener_t *l, int created);
void sg_listen__close(sg_listener_t *l);

#endif
