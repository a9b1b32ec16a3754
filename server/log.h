/* log.h - one line per event on stderr, filtered by logLevel. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdarg.h>

#include "config.h"

/** Write one line if lvl passes cfg->log_level (every level when cfg is
 *  NULL). One write per line, so processes sharing stderr do not interleave. */
void sg_log(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sg_logv(const sg_config_t *cfg, sg_log_level_t lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* c: a const sg_config_t * */
#define SG_ERR(c, ...) sg_log(c, SG_LOG_ERROR, __VA_ARGS__)
#define SG_WARN(c, ...) sg_log(c, SG_LOG_WARN, __VA_ARGS__)
#define SG_INFO(c, ...) sg_log(c, SG_LOG_INFO, __VA_ARGS__)
#define SG_DEBUG(c, ...) sg_log(c, SG_LOG_DEBUG, __VA_ARGS__)

#endif
