/* config_internal.h - what config.c (parsing, the sources, help) and
 * config_table.c (the settings table) share. Nothing outside the config
 * module includes it. */
#ifndef SG_CONFIG_INTERNAL_H
#define SG_CONFIG_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "config.h"

typedef enum { CT_UINT, CT_SIZE, CT_BOOL, CT_STRING, CT_ENUM, CT_LIST } sg_ctype_t;

/* How the parsed value is stored in sg_config_t. */
typedef enum { ST_INT, ST_UINT, ST_SIZE, ST_STR, ST_LOG, ST_TRANSPORTS } sg_cstore_t;

/* The default depends on the build, so the generated file leaves the line
 * commented out: an installed siogate.conf must not override it. */
#define CF_BUILD 1u

typedef struct sg_cfg_row {
    const char *name; /* Node-style, as in the Socket.IO server options */
    const char *env;
    sg_ctype_t type;
    sg_cstore_t store;
    size_t off;
    unsigned long long min, max; /* numbers: value range; strings: length range */
    const char *def;             /* default, as text: parsed by sg_config_init */
    const char *const *choices;  /* enum and list values, NULL-terminated */
    /* Strings only: validate, and optionally put a normalised heap copy in *norm. */
    const char *(*check)(const char *v, char **norm);
    unsigned flags;
    const char *help;
} sg_cfg_row_t;

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

/* The settings table: one row per setting, in --help order. */
extern const sg_cfg_row_t sg_config__rows[];
extern const size_t sg_config__nrows;

/* Next item of a comma-separated list, blanks trimmed; 0 once the text is used up. */
static inline int sg_config__next_item(const char **p, const char **item, size_t *len)
{
    if (!*p)
        return 0;
    const char *s = *p + strspn(*p, " \t"), *e = s + strcspn(s, ","), *t = e;
    while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    *item = s;
    *len = (size_t)(t - s);
    *p = *e ? e + 1 : NULL;
    return 1;
}

#endif
