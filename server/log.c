/* log.c - see log.h. */
#include "log.h"

#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* msg as the body of a JSON string: quotes, backslashes and control
 * characters escaped, bytes that are not UTF-8 as U+FFFD. */
static void json_text(FILE *f, const char *msg)
{
    const unsigned char *p = (const unsigned char *)msg;
    size_t n = strlen(msg);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, f);
            i++;
        } else {
            size_t k = sg_utf8_seq(p + i, n - i);
            if (k) {
                fwrite(p + i, 1, k, f);
                i += k;
            } else {
                fputs("\\ufffd", f);
                i++;
            }
        }
    }
}

void sg_logv(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, va_list ap)
{
    if (cfg && lvl > cfg->log_level)
        return;
    char when[96], msg[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (cfg && cfg->log_format && !strcmp(cfg->log_format, "json")) {
        /* one object per line, fields in this order: time, level, msg */
        flockfile(stderr);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", when, level_names[lvl]);
        json_text(stderr, msg);
        fputs("\"}\n", stderr);
        funlockfile(stderr);
        return;
    }
    fprintf(stderr, "%s %-5s %s\n", when, level_names[lvl], msg);
}

void sg_log(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_logv(cfg, lvl, fmt, ap);
    va_end(ap);
}
