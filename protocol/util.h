/* util.h - allocation wrappers and error codes shared by every siogate module.
 *
 * Allocation failure is not recoverable in a server that must never corrupt
 * another client's state half-way through an operation, so the wrappers abort
 * (the way redis zmalloc does). Input sizes must be checked against the
 * configured limits before any of these is called. */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stddef.h>

/** Error codes: functions return 0 on success or one of these (negative). */
enum {
    SG_OK = 0,
    SG_EINVAL = -1,   /* malformed input */
    SG_ETOOBIG = -2,  /* input over a configured limit */
    SG_ENOTFOUND = -3,
    SG_ESTATE = -4,   /* operation not valid in the current state */
    SG_EIO = -5,      /* transport / system error */
    SG_ETIMEOUT = -6,
    SG_EAGAIN = -7,   /* more input needed */
};

/** Static description of an SG_E* code; never NULL. */
const char *sg_strerror(int err);

/** malloc/calloc/realloc/strdup that abort on failure. sg_free(NULL) is a no-op. */
void *sg_malloc(size_t n);
void *sg_calloc(size_t n, size_t size);
void *sg_realloc(void *p, size_t n);
char *sg_strdup(const char *s);
char *sg_strndup(const char *s, size_t n);
void sg_free(void *p);

/** n random characters of [A-Za-z0-9_-] (URL-safe base64, as Node's base64id
 *  and uid2 draw ids) from the kernel's CSPRNG, then a NUL: out holds n + 1. */
void sg_random_id(char *out, size_t n);

/** Bytes of the well-formed UTF-8 sequence at p (n >= 1 bytes there), or 0
 *  when it is not one (overlong, surrogate, over U+10FFFF, truncated). */
size_t sg_utf8_seq(const unsigned char *p, size_t n);

#endif
