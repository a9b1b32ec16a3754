/* slab.h - dense storage for the objects every connection keeps, and the
 * allocator libwebsockets uses.
 *
 * An idle WebSocket client is mostly fixed-size heap objects: lws' wsi (864
 * bytes in 4.1), its libuv poll handle (160), its ws state (224) and its
 * receive buffer (wsRxBuffer + 20), our per-wsi state, our session and
 * socket; its handshake adds two short-lived ones (the header table, 976
 * bytes, and 8 KB of header data). From glibc malloc, each long-lived
 * object pays an 8-byte header and rounding to 16 bytes; the short-lived
 * ones, freed between long-lived ones while thousands of clients connect,
 * leave holes that stay resident; and the receive buffer, which lws writes
 * only for the payload of control frames (data frames are handed over from
 * its shared read buffer), shares its pages with objects that are written,
 * so it is resident anyway. At 10,000 clients that was ~650 of the ~2,550
 * bytes per client.
 *
 * Here each kind of object (named by the reason string lws passes to its
 * allocator, and by its size) has its own 64 KB chunks of equal slots, with
 * the free/used map kept outside the objects: no header, no rounding past 8
 * bytes; the receive buffers of clients that send no control frame share
 * pages nobody writes, so they cost address space only; and a burst of
 * handshakes fills and empties chunks of its own, which go back to the
 * kernel once empty (sg_slab_trim keeps some slack for the next burst).
 * Everything else lws allocates goes to malloc.
 *
 * lws_set_allocator() is process-wide and carries no user pointer, so the
 * slab state is one per process (the single exception to "no mutable
 * globals"), guarded by a mutex for embedders that run lws in threads. A
 * process that cannot reserve the address space, and AddressSanitizer
 * builds (whose own allocator checks these objects), use malloc throughout;
 * under valgrind the slots are announced to memcheck as heap blocks. */
#ifndef SG_SLAB_H
#define SG_SLAB_H

#include <stddef.h>

/** Route libwebsockets' allocations through the slabs (before the first
 *  lws context; idempotent). Replaces an allocator set earlier with
 *  lws_set_allocator(). */
void sg_slab_lws_install(void);

/** Memory for one of our own per-connection objects (sessions, sockets),
 *  zeroed: from the slab of objects of exactly that size, else calloc.
 *  Aborts when out of memory, as sg_calloc. */
void *sg_slab_calloc(size_t size);
/** Release p from sg_slab_calloc (NULL is a no-op). */
void sg_slab_free(void *p);

/** Give the pages of empty chunks back to the kernel, keeping a little
 *  slack per kind of object. The server calls it once a second (server.c):
 *  a burst of handshakes reuses its chunks in between. */
void sg_slab_trim(void);

#endif
