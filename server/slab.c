/* slab.c - see slab.h. Chunks are carved from one address range reserved
 * at first use (so "is this pointer ours" is a range check, and lws may hand
 * us pointers malloc made before); each chunk serves one class, and its map
 * of used slots lives in a table beside the range, so the allocator never
 * writes into the objects and never touches a page no object uses. */
#define _GNU_SOURCE
#include "slab.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SG_SLAB_VALGRIND 1
#endif
#endif
#ifndef SG_SLAB_VALGRIND
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MALLOCLIKE_BLOCK(p, n, rz, z) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SG_SLAB_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SG_SLAB_OFF 1
#endif
#endif

#define SG_SLAB_CHUNK ((size_t)64 * 1024)
/* Smallest and largest objects kept in slabs: a chunk holds at most
 * CHUNK / MIN slots (the size of its map), at least four. */
#define SG_SLAB_MIN 48u
#define SG_SLAB_MAX (SG_SLAB_CHUNK / 4)
#define SG_SLAB_WORDS ((SG_SLAB_CHUNK / SG_SLAB_MIN + 63) / 64)
#define SG_SLAB_CLASSES 16
/* Empty chunks a class may hold between two sg_slab_trim calls (32 MB):
 * 1,000 polling requests in flight hold ~125 chunks of header data, and a
 * lower bound dropped and faulted them in again as the requests came and
 * went (5% of the server's CPU in madvise). */
#define SG_SLAB_EMPTY_MAX 512
/* Under valgrind a freed slot is reused only after this many later frees,
 * so that memcheck still reports a use after free (of a wsi handed back to
 * lws, say), as it does for malloc's blocks, which it holds back too. */
#define SG_SLAB_QUARANTINE 4096

/* What lws allocates per connection and per request, by the reason
 * strings of lws 4.1 (an unknown reason goes to malloc). */
static const char *const sg_slab_reasons[] = {
    "new server wsi", /* the wsi */
    "uvh",            /* its libuv poll handle (the evlib plugin) */
    "ws struct",      /* the ws role's state */
    "rx_ubuf",        /* the receive buffer */
    "user space",     /* the protocol's per-session data (sg_pss_t) */
    "ah struct",      /* a request's header table... */
    "ah data",        /* ...and its data */
    "siogate",        /* ours: sg_slab_calloc */
};
#define SG_SLAB_OURS 7
#define SG_SLAB_NREASONS (sizeof(sg_slab_reasons) / sizeof(sg_slab_reasons[0]))

/* Chunk numbers are stored + 1 so that 0 means "none". */
typedef struct sg_slab_chunk {
    uint32_t next, prev;         /* the class's partial or empty list, or the clean list */
    uint16_t cls;                /* class + 1; 0 when the chunk serves no class */
    uint16_t used;               /* slots in use */
    uint16_t low;                /* no free slot in the map words below this one */
    uint64_t map[SG_SLAB_WORDS]; /* 1: slot in use (or past the last slot) */
} sg_slab_chunk_t;

typedef struct sg_slab_class {
    const char *reason; /* the pointer lws passed last (string compare otherwise) */
    unsigned rid;       /* index into sg_slab_reasons */
    size_t size;        /* bytes asked for */
    size_t stride;      /* slot: size rounded up to 8 bytes */
    unsigned slots;     /* per chunk */
    uint32_t partial;   /* chunks with used and free slots */
    uint32_t empty;     /* chunks with no object, kept for the next burst */
    size_t nempty;
    size_t nempty_low;  /* the fewest empty chunks since the last sg_slab_trim */
    size_t live;
} sg_slab_class_t;

static struct {
    pthread_mutex_t lock;
    int state;           /* 0: not set up, 1: on, -1: off (malloc only) */
    char *base;          /* the reserved range */
    size_t nchunks, top; /* chunks in the range; chunks ever made usable */
    sg_slab_chunk_t *meta;
    uint32_t clean; /* chunks returned to the kernel, ready for any class */
    sg_slab_class_t cls[SG_SLAB_CLASSES];
    size_t ncls;
    void **quarantine; /* under valgrind: freed slots not reused yet (a ring) */
    size_t qhead, qlen;
} sg_slab = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int sg_slab_setup(void)
{
#ifdef SG_SLAB_OFF
    return -1;
#else
    /* Address space only (PROT_NONE, no commit charge); chunks become
     * usable one by one. Smaller ranges for a process with an RLIMIT_AS. */
    static const size_t sizes[] = {(size_t)16 << 30, (size_t)2 << 30, (size_t)256 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i] / SG_SLAB_CHUNK;
        void *r = mmap(NULL, sizes[i] + SG_SLAB_CHUNK, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED)
            continue;
        void *m = mmap(NULL, n * sizeof(sg_slab_chunk_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            munmap(r, sizes[i] + SG_SLAB_CHUNK);
            continue;
        }
        uintptr_t a = ((uintptr_t)r + SG_SLAB_CHUNK - 1) & ~(uintptr_t)(SG_SLAB_CHUNK - 1);
        sg_slab.base = (char *)a;
        sg_slab.nchunks = n;
        sg_slab.meta = m;
        return 1;
    }
    return -1;
#endif
}

static sg_slab_chunk_t *chunk_of(uint32_t ci)
{
    return &sg_slab.meta[ci - 1];
}

static char *chunk_mem(uint32_t ci)
{
    return sg_slab.base + (size_t)(ci - 1) * SG_SLAB_CHUNK;
}

static void list_push(uint32_t *head, uint32_t ci)
{
    sg_slab_chunk_t *c = chunk_of(ci);
    c->prev = 0;
    c->next = *head;
    if (*head)
        chunk_of(*head)->prev = ci;
    *head = ci;
}

static void list_remove(uint32_t *head, uint32_t ci)
{
    sg_slab_chunk_t *c = chunk_of(ci);
    if (c->prev)
        chunk_of(c->prev)->next = c->next;
    else
        *head = c->next;
    if (c->next)
        chunk_of(c->next)->prev = c->prev;
    c->next = c->prev = 0;
}

/* A chunk for class k (its slots all free, on no list), or 0 when the
 * range is used up. */
static uint32_t chunk_new(sg_slab_class_t *k)
{
    uint32_t ci = sg_slab.clean;
    if (ci) {
        sg_slab.clean = chunk_of(ci)->next;
    } else {
        if (sg_slab.top == sg_slab.nchunks)
            return 0;
        ci = (uint32_t)++sg_slab.top;
        if (mprotect(chunk_mem(ci), SG_SLAB_CHUNK, PROT_READ | PROT_WRITE) != 0) {
            sg_slab.top--;
            return 0;
        }
    }
    sg_slab_chunk_t *c = chunk_of(ci);
    memset(c, 0, sizeof(*c));
    c->cls = (uint16_t)(k - sg_slab.cls + 1);
    /* Bits past the last slot read as used. */
    for (unsigned s = k->slots; s < SG_SLAB_WORDS * 64; s++)
        c->map[s / 64] |= 1ull << (s % 64);
    VALGRIND_MAKE_MEM_NOACCESS(chunk_mem(ci), SG_SLAB_CHUNK);
    return ci;
}

/* Empty chunks beyond keep go back to the kernel (the pages are dropped;
 * the range stays mapped and reads as zeros). */
static void trim(sg_slab_class_t *k, size_t keep)
{
    while (k->nempty > keep) {
        uint32_t ci = k->empty;
        list_remove(&k->empty, ci);
        k->nempty--;
        madvise(chunk_mem(ci), SG_SLAB_CHUNK, MADV_DONTNEED);
        chunk_of(ci)->cls = 0;
        chunk_of(ci)->next = sg_slab.clean;
        sg_slab.clean = ci;
    }
}

static void *slot_alloc(sg_slab_class_t *k)
{
    /* Partly used chunks first: objects stay packed in few pages. */
    uint32_t ci = k->partial;
    if (!ci && (ci = k->empty) != 0) {
        list_remove(&k->empty, ci);
        k->nempty--;
        if (k->nempty < k->nempty_low)
            k->nempty_low = k->nempty;
    } else if (!ci && !(ci = chunk_new(k))) {
        return NULL;
    }
    sg_slab_chunk_t *c = chunk_of(ci);
    unsigned w = c->low;
    while (!~c->map[w])
        w++; /* the chunk has a free slot */
    unsigned bit = (unsigned)__builtin_ctzll(~c->map[w]);
    c->map[w] |= 1ull << bit;
    c->low = (uint16_t)w;
    c->used++;
    if (c->used == 1 && c->used < k->slots)
        list_push(&k->partial, ci);
    else if (c->used == k->slots && c->used > 1)
        list_remove(&k->partial, ci);
    k->live++;
    void *p = chunk_mem(ci) + (size_t)(w * 64 + bit) * k->stride;
    VALGRIND_MALLOCLIKE_BLOCK(p, k->size, 0, 0);
    return p;
}

static sg_slab_class_t *class_of_ptr(const void *p, uint32_t *ci)
{
    *ci = (uint32_t)(((const char *)p - sg_slab.base) / SG_SLAB_CHUNK) + 1;
    return &sg_slab.cls[chunk_of(*ci)->cls - 1];
}

static void slot_release(void *p);

static void slot_free(void *p)
{
    VALGRIND_FREELIKE_BLOCK(p, 0);
    if (RUNNING_ON_VALGRIND) {
        if (!sg_slab.quarantine) {
            /* mapped, not malloc'd: memcheck's heap holds nothing at exit */
            void *m = mmap(NULL, SG_SLAB_QUARANTINE * sizeof(void *), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            sg_slab.quarantine = m == MAP_FAILED ? NULL : m;
        }
        if (sg_slab.quarantine) {
            void **q = sg_slab.quarantine;
            if (sg_slab.qlen < SG_SLAB_QUARANTINE) {
                q[(sg_slab.qhead + sg_slab.qlen++) % SG_SLAB_QUARANTINE] = p;
                return;
            }
            void *old = q[sg_slab.qhead];
            q[sg_slab.qhead] = p;
            sg_slab.qhead = (sg_slab.qhead + 1) % SG_SLAB_QUARANTINE;
            p = old;
        }
    }
    slot_release(p);
}

/* p's slot is free again. */
static void slot_release(void *p)
{
    uint32_t ci;
    sg_slab_class_t *k = class_of_ptr(p, &ci);
    sg_slab_chunk_t *c = chunk_of(ci);
    size_t s = (size_t)((char *)p - chunk_mem(ci)) / k->stride;
    c->map[s / 64] &= ~(1ull << (s % 64));
    if (s / 64 < c->low)
        c->low = (uint16_t)(s / 64);
    k->live--;
    if (c->used == k->slots && c->used > 1)
        list_push(&k->partial, ci); /* was full */
    if (--c->used)
        return;
    if (k->slots > 1)
        list_remove(&k->partial, ci);
    list_push(&k->empty, ci);
    k->nempty++;
    /* Empty chunks are dropped by sg_slab_trim, not here: a burst that comes
     * and goes (handshakes) reuses its chunks instead of dropping and
     * faulting them in again, and each madvise costs a TLB shootdown on
     * every CPU (12% of the server's CPU while 10k clients connect). Past a
     * few megabytes, though, without waiting for it. */
    if (k->nempty > SG_SLAB_EMPTY_MAX)
        trim(k, SG_SLAB_EMPTY_MAX / 2);
}

static int ours(const void *p)
{
    return sg_slab.state > 0 && (const char *)p >= sg_slab.base &&
           (const char *)p < sg_slab.base + sg_slab.top * SG_SLAB_CHUNK;
}

/* The class for an allocation of size for reason, or NULL (malloc it). */
static sg_slab_class_t *class_for(const char *reason, size_t size)
{
    if (!reason || size < SG_SLAB_MIN || size > SG_SLAB_MAX)
        return NULL;
    for (size_t i = 0; i < sg_slab.ncls; i++) {
        sg_slab_class_t *k = &sg_slab.cls[i];
        if (k->size == size && (k->reason == reason || !strcmp(sg_slab_reasons[k->rid], reason))) {
            k->reason = reason;
            return k;
        }
    }
    for (unsigned r = 0; r < SG_SLAB_NREASONS; r++) {
        if (strcmp(sg_slab_reasons[r], reason))
            continue;
        if (sg_slab.ncls == SG_SLAB_CLASSES)
            return NULL;
        sg_slab_class_t *k = &sg_slab.cls[sg_slab.ncls++];
        k->reason = reason;
        k->rid = r;
        k->size = size;
        k->stride = (size + 7) & ~(size_t)7;
        k->slots = (unsigned)(SG_SLAB_CHUNK / k->stride);
        return k;
    }
    return NULL;
}

/* lws' allocator: realloc semantics, size 0 frees. */
static void *lws_alloc(void *ptr, size_t size, const char *reason)
{
    if (ptr && ours(ptr)) {
        void *moved = NULL;
        pthread_mutex_lock(&sg_slab.lock);
        if (size) {
            /* Grown or shrunk: to malloc (lws does not resize these). */
            uint32_t ci;
            size_t had = class_of_ptr(ptr, &ci)->size;
            moved = malloc(size);
            if (moved)
                memcpy(moved, ptr, had < size ? had : size);
        }
        if (!size || moved)
            slot_free(ptr); /* else realloc failed: ptr stays */
        pthread_mutex_unlock(&sg_slab.lock);
        return moved;
    }
    if (!ptr && size) {
        void *p = NULL;
        pthread_mutex_lock(&sg_slab.lock);
        sg_slab_class_t *k = sg_slab.state > 0 ? class_for(reason, size) : NULL;
        if (k)
            p = slot_alloc(k);
        pthread_mutex_unlock(&sg_slab.lock);
        return p ? p : malloc(size);
    }
    if (!size) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

void sg_slab_lws_install(void)
{
    pthread_mutex_lock(&sg_slab.lock);
    if (!sg_slab.state)
        sg_slab.state = sg_slab_setup();
    pthread_mutex_unlock(&sg_slab.lock);
    if (sg_slab.state > 0)
        lws_set_allocator(lws_alloc);
}

void *sg_slab_calloc(size_t size)
{
    void *p = NULL;
    pthread_mutex_lock(&sg_slab.lock);
    if (!sg_slab.state)
        sg_slab.state = sg_slab_setup();
    sg_slab_class_t *k = sg_slab.state > 0 ? class_for(sg_slab_reasons[SG_SLAB_OURS], size) : NULL;
    if (k)
        p = slot_alloc(k);
    pthread_mutex_unlock(&sg_slab.lock);
    if (!p)
        return sg_calloc(1, size);
    memset(p, 0, size);
    return p;
}

void sg_slab_free(void *p)
{
    if (!ours(p)) {
        sg_free(p);
        return;
    }
    pthread_mutex_lock(&sg_slab.lock);
    slot_free(p);
    pthread_mutex_unlock(&sg_slab.lock);
}

void sg_slab_trim(void)
{
    pthread_mutex_lock(&sg_slab.lock);
    for (size_t i = 0; i < sg_slab.ncls; i++) {
        sg_slab_class_t *k = &sg_slab.cls[i];
        /* One empty chunk per class, plus one for every eight chunks its
         * live objects fill: slack for a population that moves a little.
         * And only chunks no allocation needed since the last trim (the
         * low-water mark of empties): requests that come and go (a polling
         * client's header table, every GET) otherwise had chunks dropped
         * and faulted in again every second, 6% of the server's CPU in
         * madvise and page faults at 14k requests/s. */
        size_t keep = 1 + k->live / k->slots / 8;
        size_t idle = k->nempty_low;
        if (k->nempty > idle && k->nempty - idle > keep)
            keep = k->nempty - idle;
        trim(k, keep);
        k->nempty_low = k->nempty;
    }
    pthread_mutex_unlock(&sg_slab.lock);
}
