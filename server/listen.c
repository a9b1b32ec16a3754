/* listen.c - the listening socket. We accept connections ourselves and hand
 * each one to libwebsockets (lws_adopt_socket_vhost), because lws' own
 * accept loop cannot survive running out of file descriptors: accept()
 * fails with EMFILE, the listening socket stays readable, and lws retries
 * at once, forever, logging each failure (100% CPU, 345 MB of log in 30 s).
 *
 * Here, the process keeps a reserve of descriptors: past maxConnections a
 * new connection is accepted and closed at once (the client learns right
 * away instead of hanging in the backlog), and if the process runs out of
 * descriptors anyway, one spare descriptor kept open for the purpose is
 * given up to accept-and-close the next connection, then accepting pauses
 * briefly. Each episode is logged once when it starts and once when it
 * ends; the clients already connected never notice. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "util.h"

/* Descriptors kept free for everything that is not a client connection:
 * Redis, static files, the loop's own, the log. */
#define SG_FD_RESERVE 64
/* maxSessions' default leaves this many connections for refusals. */
#define SG_SESSION_RESERVE 32
/* Accepts per readable event: a burst of connections must not starve the
 * clients already connected. */
#define SG_ACCEPT_BATCH 128
/* Pause after running out of descriptors. */
#define SG_ACCEPT_PAUSE_MS 100

static size_t fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1024 * 1024;
    return (size_t)rl.rlim_cur;
}

void sg_listen__limits(sg_config_t *cfg)
{
    size_t fds = fd_limit();
    if (!cfg->max_connections)
        cfg->max_connections = fds > 2 * SG_FD_RESERVE ? fds - SG_FD_RESERVE : fds / 2;
    if (!cfg->max_sessions)
        cfg->max_sessions = cfg->max_connections > 2 * SG_SESSION_RESERVE
                                ? cfg->max_connections - SG_SESSION_RESERVE
                                : cfg->max_connections / 2 + 1;
}

static int open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int sg_listen__open(sg_listener_t *l, const sg_config_t *cfg)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0) {
        SG_ERR(cfg, "cannot resolve host '%s': %s", cfg->host, gai_strerror(rc));
        return SG_EIO;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        SG_ERR(cfg, "cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return SG_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    l->port = getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 ? ntohs(sa.sin_port)
                                                                  : cfg->port;
    l->cfg = cfg;
    l->fd = fd;
    l->reserve = open_reserve();
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events);

static void resume(uv_timer_t *t)
{
    sg_listener_t *l = t->data;
    if (l->on && !l->closing)
        uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

/* Out of descriptors: tell the next client by closing it (with the spare
 * descriptor), then stop reading the backlog for a moment. */
static void out_of_fds(sg_listener_t *l, int err)
{
    if (!l->fd_episode) {
        l->fd_episode = 1;
        l->refused_fds = 0;
        SG_WARN(l->cfg, "out of file descriptors (%s, limit %zu): refusing new connections until "
                "some close; connected clients are not affected", strerror(err), fd_limit());
    }
    if (l->reserve >= 0) {
        close(l->reserve);
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            l->refused_fds++;
        }
        l->reserve = open_reserve();
    }
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, resume, SG_ACCEPT_PAUSE_MS, 0);
}

static void episode_over(sg_listener_t *l)
{
    if (l->fd_episode) {
        l->fd_episode = 0;
        SG_WARN(l->cfg, "accepting connections again (%llu refused for lack of file descriptors)",
                (unsigned long long)l->refused_fds);
    }
    if (l->full_episode && l->conns < l->cfg->max_connections) {
        l->full_episode = 0;
        SG_WARN(l->cfg, "below maxConnections again (%llu connections refused meanwhile)",
                (unsigned long long)l->refused_full);
    }
}

static void accept_one(sg_listener_t *l, int fd)
{
    if (l->conns >= l->cfg->max_connections) {
        if (!l->full_episode) {
            l->full_episode = 1;
            l->refused_full = 0;
            SG_WARN(l->cfg, "maxConnections (%zu) reached: new connections are closed at once",
                    l->cfg->max_connections);
        }
        l->refused_full++;
        close(fd);
        return;
    }
    episode_over(l);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* lws takes the descriptor, or closes it when it cannot. ALLOW_SSL:
     * TLS when the vhost has a certificate (tlsCert/tlsKey, loop.c), plain
     * HTTP otherwise -- what lws_adopt_socket_vhost() does, said out loud. */
    lws_sock_file_fd_type desc = {.sockfd = fd};
    lws_adopt_descriptor_vhost(l->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL,
                               desc, NULL, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    sg_listener_t *l = h->data;
    if (status < 0 || l->closing)
        return;
    for (int i = 0; i < SG_ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(l, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue; /* that client is gone; the next may be there */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            out_of_fds(l, errno);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            SG_DEBUG(l->cfg, "accept: %s", strerror(errno));
        return;
    }
}

void sg_listen__start(sg_listener_t *l, uv_loop_t *loop, struct lws_vhost *vhost)
{
    l->vhost = vhost;
    uv_poll_init(loop, &l->poll, l->fd);
    uv_timer_init(loop, &l->pause);
    l->poll.data = l->pause.data = l;
    l->on = 1;
    uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

void sg_listen__note(sg_listener_t *l, int created)
{
    if (created)
        l->conns++;
    else if (l->conns)
        l->conns--;
}

/* Stop accepting: the port is free again once this returns. */
void sg_listen__close(sg_listener_t *l)
{
    if (l->closing || l->fd < 0)
        return;
    l->closing = 1;
    if (l->on) {
        uv_close((uv_handle_t *)&l->poll, NULL);
        uv_close((uv_handle_t *)&l->pause, NULL);
    }
    close(l->fd);
    l->fd = -1;
    if (l->reserve >= 0)
        close(l->reserve);
    l->reserve = -1;
}
