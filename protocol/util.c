/* util.c - allocation wrappers and error strings. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *sg_strerror(int err)
{
    switch (err) {
    case SG_OK: return "success";
    case SG_EINVAL: return "malformed input";
    case SG_ETOOBIG: return "over a configured limit";
    case SG_ENOTFOUND: return "not found";
    case SG_ESTATE: return "invalid in the current state";
    case SG_EIO: return "I/O error";
    case SG_ETIMEOUT: return "timed out";
    case SG_EAGAIN: return "more input needed";
    default: return "unknown error";
    }
}

/* A server that half-applies an operation for lack of memory can corrupt
 * another client's state, so running out of memory ends the process. */
static void sg_oom(size_t n)
{
    fprintf(stderr, "siogate: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sg_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        sg_oom(n);
    return p;
}

void *sg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        sg_oom(n * size);
    return p;
}

void *sg_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        sg_oom(n);
    return q;
}

char *sg_strdup(const char *s)
{
    return sg_strndup(s, strlen(s));
}

char *sg_strndup(const char *s, size_t n)
{
    /* Not strndup: callers pass lengths of buffers that may hold NUL. */
    char *p = sg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sg_free(void *p)
{
    free(p);
}

void sg_random_id(char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[64];
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < sizeof(rnd) ? n - done : sizeof(rnd);
        ssize_t got = getrandom(rnd, want, 0);
        if (got <= 0)
            continue; /* EINTR; the kernel pool never runs dry once seeded */
        for (ssize_t i = 0; i < got; i++)
            out[done++] = alphabet[rnd[i] & 63];
    }
    out[n] = '\0';
}
