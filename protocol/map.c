/* map.c - string-keyed hash map.
 *
 * Entries live in a dense array; a separate open-addressing index (linear
 * probing, slots hold entry number + 1, 0 = empty) finds them. Deleting moves
 * the last entry into the hole, and iteration runs from the last entry to the
 * first, so deleting the current entry only ever moves an entry the iterator
 * has already visited: that is what makes delete-while-iterating safe, even
 * when the delete shrinks the table. */
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SG_MAP_MIN_SLOTS 16

/* 24 bytes: one exists per session, socket and room. The low 32 bits of the
 * hash are enough to place an entry (tables never reach 2^32 slots). */
typedef struct sg_map_entry {
    const char *key;
    void *val;
    uint32_t klen;
    uint32_t hash;
} sg_map_entry_t;

struct sg_map {
    sg_map_entry_t *ents;
    size_t count;
    size_t ents_cap;
    uint32_t *slots; /* entry index + 1 */
    size_t nslots;   /* power of two */
    uint64_t seed;
};

/* Keys include room names a client may choose, so the hash is seeded per
 * map (from ASLR-dependent addresses: no I/O in protocol/) to make collision
 * floods harder to precompute. FNV-1a with a final avalanche mix. */
static uint64_t sg_map_hash(const sg_map_t *m, const char *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull ^ m->seed;
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

sg_map_t *sg_map_new(void)
{
    sg_map_t *m = sg_calloc(1, sizeof(*m));
    uint64_t a = (uint64_t)(uintptr_t)m, b = (uint64_t)(uintptr_t)&sg_map_new;
    m->seed = (a * 0x9e3779b97f4a7c15ull) ^ (b << 17) ^ (b >> 7);
    m->nslots = SG_MAP_MIN_SLOTS;
    m->slots = sg_calloc(m->nslots, sizeof(*m->slots));
    return m;
}

void sg_map_free(sg_map_t *m)
{
    if (!m)
        return;
    sg_free(m->ents);
    sg_free(m->slots);
    sg_free(m);
}

size_t sg_map_count(const sg_map_t *m)
{
    return m->count;
}

/* Slot holding key, or the empty slot where it would go. */
static size_t sg_map_find_slot(const sg_map_t *m, const char *key, size_t klen, uint64_t h)
{
    size_t mask = m->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (!s)
            return i;
        const sg_map_entry_t *e = &m->ents[s - 1];
        if (e->hash == (uint32_t)h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return i;
    }
}

static void sg_map_rehash(sg_map_t *m, size_t nslots)
{
    sg_free(m->slots);
    m->nslots = nslots;
    m->slots = sg_calloc(nslots, sizeof(*m->slots));
    size_t mask = nslots - 1;
    for (size_t e = 0; e < m->count; e++) {
        size_t i = (size_t)m->ents[e].hash & mask;
        while (m->slots[i])
            i = (i + 1) & mask;
        m->slots[i] = (uint32_t)(e + 1);
    }
}

void *sg_map_get(const sg_map_t *m, const char *key, size_t klen)
{
    size_t i = sg_map_find_slot(m, key, klen, sg_map_hash(m, key, klen));
    return m->slots[i] ? m->ents[m->slots[i] - 1].val : NULL;
}

void *sg_map_put(sg_map_t *m, const char *key, size_t klen, void *val)
{
    uint64_t h = sg_map_hash(m, key, klen);
    size_t i = sg_map_find_slot(m, key, klen, h);
    if (m->slots[i]) {
        sg_map_entry_t *e = &m->ents[m->slots[i] - 1];
        void *old = e->val;
        /* The caller's new key replaces the old one, which may be about to
         * be freed together with the old value. */
        e->key = key;
        e->val = val;
        return old;
    }
    if (m->count == UINT32_MAX - 1)
        abort();
    if (m->count == m->ents_cap) {
        m->ents_cap = m->ents_cap ? m->ents_cap * 2 : 8;
        m->ents = sg_realloc(m->ents, m->ents_cap * sizeof(*m->ents));
    }
    m->ents[m->count] = (sg_map_entry_t){key, val, (uint32_t)klen, (uint32_t)h};
    m->count++;
    /* Load factor at most 1/2 keeps linear probe runs short. */
    if (m->count * 2 > m->nslots)
        sg_map_rehash(m, m->nslots * 2);
    else
        m->slots[i] = (uint32_t)m->count;
    return NULL;
}

/* Backward-shift deletion: no tombstones, so lookups never slow down after
 * churn (sessions come and go all day). */
static void sg_map_slot_remove(sg_map_t *m, size_t hole)
{
    size_t mask = m->nslots - 1;
    size_t i = hole;
    m->slots[hole] = 0;
    for (;;) {
        i = (i + 1) & mask;
        uint32_t s = m->slots[i];
        if (!s)
            return;
        size_t home = (size_t)m->ents[s - 1].hash & mask;
        /* Move s into the hole unless its home lies cyclically in (hole, i]. */
        int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            m->slots[hole] = s;
            m->slots[i] = 0;
            hole = i;
        }
    }
}

void *sg_map_del(sg_map_t *m, const char *key, size_t klen)
{
    uint64_t h = sg_map_hash(m, key, klen);
    size_t i = sg_map_find_slot(m, key, klen, h);
    if (!m->slots[i])
        return NULL;
    size_t e = m->slots[i] - 1;
    void *val = m->ents[e].val;
    sg_map_slot_remove(m, i);
    size_t last = m->count - 1;
    if (e != last) {
        /* Move the last entry into the hole and repoint its slot. */
        size_t j = sg_map_find_slot(m, m->ents[last].key, m->ents[last].klen, m->ents[last].hash);
        m->ents[e] = m->ents[last];
        m->slots[j] = (uint32_t)(e + 1);
    }
    m->count--;
    if (m->nslots > SG_MAP_MIN_SLOTS && m->count * 8 < m->nslots) {
        sg_map_rehash(m, m->nslots / 2);
        if (m->ents_cap > 8 && m->count * 4 < m->ents_cap) {
            m->ents_cap /= 2;
            m->ents = sg_realloc(m->ents, m->ents_cap * sizeof(*m->ents));
        }
    }
    return val;
}

int sg_map_next(const sg_map_t *m, sg_map_iter_t *it)
{
    /* it->pos is 0 before the first call, SIZE_MAX once finished, else the
     * index + 1 of the entry returned last, which is also the number of
     * entries still to visit (see the file comment: we walk backwards). */
    if (it->pos == SIZE_MAX)
        return 0;
    size_t left = it->pos ? it->pos - 1 : m->count;
    if (left > m->count)
        left = m->count;
    if (left == 0) {
        it->pos = SIZE_MAX;
        return 0;
    }
    size_t i = left - 1;
    it->pos = i + 1;
    it->key = m->ents[i].key;
    it->klen = m->ents[i].klen;
    it->val = m->ents[i].val;
    return 1;
}
