/* log.c - see log.h. */
#include "log.h"

#include <stdio.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sg_logv(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, va_list ap)
{
    if (cfg && lvl > cfg->log_level)
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
    fprintf(stderr, "%s\n", line);
}

void sg_log(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_logv(cfg, lvl, fmt, ap);
    va_end(ap);
}
