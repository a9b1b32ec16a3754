/* misc.c - logging, clock and id generation for the server. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void vlog(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, va_list ap)
{
    if (srv && lvl > srv->cfg.log_level)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* One write per line so concurrent processes do not interleave lines. */
    fprintf(stderr, "%s\n", line);
}

void sg_log(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(srv, lvl, fmt, ap);
    va_end(ap);
}

void sg_server_log(const sg_server_t *srv, sg_log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(srv, lvl, fmt, ap);
    va_end(ap);
}

uint64_t sg_now_ms(const sg_server_t *srv)
{
    return uv_now(srv->loop);
}
