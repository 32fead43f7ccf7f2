/*
 * sse_hub: key -> subscribers, a chained hash table of key entries, each
 * holding an intrusive list of struct sse_sub.
 *
 * Keys come from clients, so the hash is seeded per process to keep a
 * client from choosing keys that all land in one bucket. An entry is freed
 * when its last subscriber leaves, except while sse_hub_foreach walks it:
 * then it is freed when the walk ends, so a callback may end streams freely.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sse_hub.h"
#include "sse_xmalloc.h"

struct sse_hub_key {
    struct sse_hub_key *chain;  /* next entry in the bucket */
    uint64_t            hash;
    struct sse_sub     *head;   /* subscribers, oldest first */
    struct sse_sub     *tail;
    size_t              count;  /* subscribers */
    unsigned            walking; /* sse_hub_foreach calls in progress */
    size_t              len;
    char                name[]; /* the key, NUL-terminated */
};

struct sse_hub {
    struct sse_hub_key **buckets;
    size_t               nbuckets;  /* a power of two */
    size_t               nkeys;
    uint64_t             seed;
    sse_hub_key_fn       on_first;
    sse_hub_key_fn       on_last;
    void                *arg;
};

/* FNV-1a over the seed and the key, then a 64-bit finaliser to spread the
 * bits the bucket mask keeps. */
static uint64_t
hash(uint64_t seed, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t
make_seed(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
        ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&ts;
}

struct sse_hub *
sse_hub_new(sse_hub_key_fn on_first, sse_hub_key_fn on_last, void *arg)
{
    struct sse_hub *h = xcalloc(1, sizeof(*h));

    h->nbuckets = 64;
    h->buckets = xcalloc(h->nbuckets, sizeof(*h->buckets));
    h->seed = make_seed();
    h->on_first = on_first;
    h->on_last = on_last;
    h->arg = arg;
    return h;
}

void
sse_hub_destroy(struct sse_hub **hp)
{
    struct sse_hub *h = *hp;

    if (h == NULL)
        return;
    for (size_t i = 0; i < h->nbuckets; i++) {
        struct sse_hub_key *k = h->buckets[i], *next;

        for (; k != NULL; k = next) {
            next = k->chain;
            for (struct sse_sub *s = k->head; s != NULL; s = s->next)
                s->key = NULL;
            free(k);
        }
    }
    free(h->buckets);
    free(h);
    *hp = NULL;
}

static struct sse_hub_key **
find(const struct sse_hub *h, const char *key, size_t len, uint64_t hv)
{
    struct sse_hub_key **kp = &h->buckets[hv & (h->nbuckets - 1)];

    for (; *kp != NULL; kp = &(*kp)->chain)
        if ((*kp)->hash == hv && (*kp)->len == len &&
            memcmp((*kp)->name, key, len) == 0)
            break;
    return kp;
}

static void
grow(struct sse_hub *h)
{
    size_t n = h->nbuckets * 2;
    struct sse_hub_key **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < h->nbuckets; i++) {
        struct sse_hub_key *k = h->buckets[i], *next;

        for (; k != NULL; k = next) {
            next = k->chain;
            k->chain = b[k->hash & (n - 1)];
            b[k->hash & (n - 1)] = k;
        }
    }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = n;
}

void
sse_hub_add(struct sse_hub *h, struct sse_sub *sub, const char *key,
            size_t len, void *owner)
{
    uint64_t hv = hash(h->seed, key, len);
    struct sse_hub_key **kp = find(h, key, len, hv);
    struct sse_hub_key *k = *kp;

    if (k == NULL) {
        k = xcalloc(1, sizeof(*k) + len + 1);
        k->hash = hv;
        k->len = len;
        memcpy(k->name, key, len);
        *kp = k;
        h->nkeys++;
        if (h->nkeys > h->nbuckets)
            grow(h);
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
    struct sse_hub_key **kp = find(h, k->name, k->len, k->hash);

    *kp = k->chain;
    h->nkeys--;
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
    struct sse_hub_key *k = *find(h, key, len, hash(h->seed, key, len));
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
    struct sse_hub_key *k = *find(h, key, len, hash(h->seed, key, len));

    return k != NULL ? k->count : 0;
}

size_t
sse_hub_keys(const struct sse_hub *h)
{
    return h->nkeys;
}
