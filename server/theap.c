/* theap.c - see theap.h. */
#include "theap.h"
#include "util.h"

static void place(sg_theap_t *h, uint32_t i, sg_tnode_t *t)
{
    h->v[i] = t;
    t->idx = i + 1;
}

static void sift_up(sg_theap_t *h, uint32_t i)
{
    sg_tnode_t *t = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->v[p]->due <= t->due)
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(sg_theap_t *h, uint32_t i)
{
    sg_tnode_t *t = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->due < h->v[c]->due)
            c++;
        if (t->due <= h->v[c]->due)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void sg_theap_set(sg_theap_t *h, sg_tnode_t *t, uint64_t due)
{
    if (t->idx) {
        uint64_t old = t->due;
        t->due = due;
        if (due < old)
            sift_up(h, t->idx - 1);
        else if (due > old)
            sift_down(h, t->idx - 1);
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = sg_realloc(h->v, h->cap * sizeof(*h->v));
    }
    t->due = due;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
}

void sg_theap_remove(sg_theap_t *h, sg_tnode_t *t)
{
    if (!t->idx)
        return;
    uint32_t i = t->idx - 1;
    t->idx = 0;
    sg_tnode_t *last = h->v[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_down(h, i);
    if (last->idx - 1 == i)
        sift_up(h, i);
}

void sg_theap_free(sg_theap_t *h)
{
    sg_free(h->v);
    h->v = 0;
    h->n = h->cap = 0;
}
