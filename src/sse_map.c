/*
 * sse_map: seeded chained hashing for the hub's and the history's keys.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sse_map.h"
#include "sse_xmalloc.h"

#define FIRST_BUCKETS 64

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

void
sse_map_init(struct sse_map *m)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    m->nbuckets = FIRST_BUCKETS;
    m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->count = 0;
    m->seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
        ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)m;
}

void
sse_map_free(struct sse_map *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
}

static struct sse_map_node **
slot(const struct sse_map *m, const char *key, size_t len, uint64_t hv)
{
    struct sse_map_node **np = &m->buckets[hv & (m->nbuckets - 1)];

    for (; *np != NULL; np = &(*np)->chain)
        if ((*np)->hash == hv && (*np)->len == len &&
            memcmp((*np)->key, key, len) == 0)
            break;
    return np;
}

struct sse_map_node *
sse_map_find(const struct sse_map *m, const char *key, size_t len)
{
    return *slot(m, key, len, hash(m->seed, key, len));
}

static void
grow(struct sse_map *m)
{
    size_t n = m->nbuckets * 2;
    struct sse_map_node **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct sse_map_node *e = m->buckets[i], *next; e != NULL;
             e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void
sse_map_insert(struct sse_map *m, struct sse_map_node *n, const char *key,
               size_t len)
{
    struct sse_map_node **b;

    n->hash = hash(m->seed, key, len);
    n->key = key;
    n->len = len;
    b = &m->buckets[n->hash & (m->nbuckets - 1)];
    n->chain = *b;
    *b = n;
    if (++m->count > m->nbuckets)
        grow(m);
}

void
sse_map_remove(struct sse_map *m, struct sse_map_node *n)
{
    struct sse_map_node **np = &m->buckets[n->hash & (m->nbuckets - 1)];

    for (; *np != NULL; np = &(*np)->chain)
        if (*np == n) {
            *np = n->chain;
            m->count--;
            return;
        }
}

struct sse_map_node *
sse_map_next(const struct sse_map *m, const struct sse_map_node *prev,
             size_t *pos)
{
    if (prev != NULL && prev->chain != NULL)
        return prev->chain;
    if (prev != NULL)
        (*pos)++;
    for (; *pos < m->nbuckets; (*pos)++)
        if (m->buckets[*pos] != NULL)
            return m->buckets[*pos];
    return NULL;
}
