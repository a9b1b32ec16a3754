/* util.c - allocation wrappers and error strings. */
#include "util.h"

#include <pthread.h>
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

/* Ids come from getrandom(2). One call per id made two of the ~25 system
 * calls of every new connection (its sid and its socket id), so each thread
 * keeps a pool refilled SG_RND_POOL bytes at a time; a byte is handed out
 * once and wiped. A forked child forgets the pool it inherited, or it would
 * hand out its parent's next ids. */
#define SG_RND_POOL 512
static _Thread_local struct {
    unsigned char b[SG_RND_POOL];
    size_t left;
} rnd_pool;
static pthread_once_t rnd_once = PTHREAD_ONCE_INIT;

static void rnd_forget(void)
{
    memset(rnd_pool.b, 0, sizeof(rnd_pool.b));
    rnd_pool.left = 0;
}

static void rnd_init(void)
{
    pthread_atfork(NULL, NULL, rnd_forget);
}

void sg_random_id(char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    pthread_once(&rnd_once, rnd_init);
    for (size_t done = 0; done < n;) {
        if (!rnd_pool.left) {
            ssize_t got = getrandom(rnd_pool.b, sizeof(rnd_pool.b), 0);
            if (got <= 0)
                continue; /* EINTR; the kernel pool never runs dry once seeded */
            rnd_pool.left = (size_t)got;
        }
        unsigned char *r = rnd_pool.b + sizeof(rnd_pool.b) - rnd_pool.left;
        out[done++] = alphabet[*r & 63];
        *r = 0;
        rnd_pool.left--;
    }
    out[n] = '\0';
}

/* Overlongs, surrogates and values past U+10FFFF are not UTF-8: the second
 * byte's range depends on the first (RFC 3629 section 4). */
size_t sg_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

