/*
 * sse_hub: key -> subscribers: key entries in an sse_map, each holding an
 * intrusive list of struct sse_sub.
 *
 * An entry is freed when its last subscriber leaves, except while
 * sse_hub_foreach walks it: then it is freed when the walk ends, so a
 * callback may end streams freely.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sse_hub.h"
#include "sse_map.h"
#include "sse_xmalloc.h"

struct sse_hub_key {
    struct sse_map_node node;
    struct sse_sub     *head;    /* subscribers, oldest first */
    struct sse_sub     *tail;
    size_t              count;   /* subscribers */
    unsigned            walking; /* sse_hub_foreach calls in progress */
    size_t              len;
    char                name[];  /* the key, NUL-terminated */
};

struct sse_hub {
    struct sse_map  keys;
    sse_hub_key_fn  on_first;
    sse_hub_key_fn  on_last;
    void           *arg;
};

struct sse_hub *
sse_hub_new(sse_hub_key_fn on_first, sse_hub_key_fn on_last, void *arg)
{
    struct sse_hub *h = xcalloc(1, sizeof(*h));

    sse_map_init(&h->keys);
    h->on_first = on_first;
    h->on_last = on_last;
    h->arg = arg;
    return h;
}

void
sse_hub_destroy(struct sse_hub **hp)
{
    struct sse_hub *h = *hp;
    struct sse_map_node *n, *next;
    size_t pos = 0;

    if (h == NULL)
        return;
    for (n = sse_map_next(&h->keys, NULL, &pos); n != NULL; n = next) {
        struct sse_hub_key *k = sse_map_entry(n, struct sse_hub_key, node);

        next = sse_map_next(&h->keys, n, &pos);
        for (struct sse_sub *s = k->head; s != NULL; s = s->next)
            s->key = NULL;
        free(k);
    }
    sse_map_free(&h->keys);
    free(h);
    *hp = NULL;
}

static struct sse_hub_key *
find(const struct sse_hub *h, const char *key, size_t len)
{
    struct sse_map_node *n = sse_map_find(&h->keys, key, len);

    return n != NULL ? sse_map_entry(n, struct sse_hub_key, node) : NULL;
}

void
sse_hub_add(struct sse_hub *h, struct sse_sub *sub, const char *key,
            size_t len, void *owner)
{
    struct sse_hub_key *k = find(h, key, len);

    if (k == NULL) {
        k = xcalloc(1, sizeof(*k) + len + 1);
        k->len = len;
        memcpy(k->name, key, len);
        sse_map_insert(&h->keys, &k->node, k->name, len);
    }
    sub->key = k;
    sub->owner = owner;
    sub->next = NULL;
    sub->prev = k->tail;
    if (k->tail != NULL)
        k->tail->next = sub;
    else
        k->head = sub;
    k->tail = sub;
    if (k->count++ == 0 && h->on_first != NULL)
        h->on_first(k->name, k->len, h->arg);
}

/* Unlink and free an entry with no subscribers. */
static void
drop_key(struct sse_hub *h, struct sse_hub_key *k)
{
    sse_map_remove(&h->keys, &k->node);
    free(k);
}

void
sse_hub_remove(struct sse_hub *h, struct sse_sub *sub)
{
    struct sse_hub_key *k = sub->key;

    if (k == NULL)
        return;
    if (sub->prev != NULL)
        sub->prev->next = sub->next;
    else
        k->head = sub->next;
    if (sub->next != NULL)
        sub->next->prev = sub->prev;
    else
        k->tail = sub->prev;
    sub->key = NULL;
    sub->prev = sub->next = NULL;
    if (--k->count == 0) {
        if (h->on_last != NULL)
            h->on_last(k->name, k->len, h->arg);
        if (k->walking == 0)
            drop_key(h, k);
    }
}

size_t
sse_hub_foreach(struct sse_hub *h, const char *key, size_t len,
                sse_hub_sub_fn fn, void *arg)
{
    struct sse_hub_key *k = find(h, key, len);
    struct sse_sub *s, *stop;
    size_t visited = 0;

    if (k == NULL)
        return 0;
    /* Visit only those present at the start; a callback may add more. The
     * next subscriber is read before fn runs, since fn may remove sub. */
    k->walking++;
    stop = k->tail;
    s = k->head;
    while (s != NULL) {
        struct sse_sub *next = s->next;
        int last = s == stop;

        fn(s, arg);
        visited++;
        if (last)
            break;
        assert(next == NULL || next->key == k);
        s = next;
    }
    if (--k->walking == 0 && k->count == 0)
        drop_key(h, k);
    return visited;
}

const char *
sse_hub_sub_key(const struct sse_sub *sub, size_t *len)
{
    if (sub->key == NULL) {
        *len = 0;
        return NULL;
    }
    *len = sub->key->len;
    return sub->key->name;
}

size_t
sse_hub_count(const struct sse_hub *h, const char *key, size_t len)
{
    struct sse_hub_key *k = find(h, key, len);

    return k != NULL ? k->count : 0;
}

size_t
sse_hub_keys(const struct sse_hub *h)
{
    return h->keys.count;
}

void
sse_hub_each_key(const struct sse_hub *h, sse_hub_count_fn fn, void *arg)
{
    struct sse_map_node *n;
    size_t pos = 0;

    for (n = sse_map_next(&h->keys, NULL, &pos); n != NULL;
         n = sse_map_next(&h->keys, n, &pos)) {
        struct sse_hub_key *k = sse_map_entry(n, struct sse_hub_key, node);

        if (k->count > 0)
            fn(k->name, k->len, k->count, arg);
    }
}
