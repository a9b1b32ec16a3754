/* map.h - a string-keyed hash map of pointers (sessions by sid, sockets by
 * id, rooms by name). Keys are not copied: each key must stay valid and
 * unchanged while its entry is in the map (it normally lives in the value). */
#ifndef SG_MAP_H
#define SG_MAP_H

#include <stddef.h>

typedef struct sg_map sg_map_t;

sg_map_t *sg_map_new(void);
/** Free the table only (values untouched). NULL is a no-op. */
void sg_map_free(sg_map_t *m);
size_t sg_map_count(const sg_map_t *m);
void *sg_map_get(const sg_map_t *m, const char *key, size_t klen);
/** Insert or replace; returns the previous value or NULL. */
void *sg_map_put(sg_map_t *m, const char *key, size_t klen, void *val);
/** Remove; returns the removed value or NULL. */
void *sg_map_del(sg_map_t *m, const char *key, size_t klen);

/** Iteration: for (sg_map_iter_t it = {0}; sg_map_next(m, &it);) use it.key/it.val.
 *  Deleting the current entry during iteration is allowed; inserting is not. */
typedef struct sg_map_iter {
    size_t pos;
    const char *key;
    size_t klen;
    void *val;
} sg_map_iter_t;
int sg_map_next(const sg_map_t *m, sg_map_iter_t *it);

#endif
