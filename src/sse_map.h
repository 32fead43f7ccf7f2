/*
 * sse_map: a chained hash table of byte-string keys, with the nodes
 * embedded in the caller's own structures (so a lookup allocates nothing).
 *
 * Keys come from clients and publishers, so the hash is seeded per table to
 * keep anyone from choosing keys that all land in one bucket. The table
 * doubles when it holds more keys than buckets.
 */
#ifndef SSE_MAP_H
#define SSE_MAP_H

#include <stddef.h>
#include <stdint.h>

struct sse_map_node {
    struct sse_map_node *chain;  /* next node in the bucket */
    uint64_t             hash;
    const char          *key;    /* owned by the caller, stable while in */
    size_t               len;
};

struct sse_map {
    struct sse_map_node **buckets;
    size_t                nbuckets;  /* a power of two */
    size_t                count;     /* nodes in the table */
    uint64_t              seed;
};

/* Set m up empty. */
void sse_map_init(struct sse_map *m);

/* Free m's buckets (not the nodes, which are the caller's). */
void sse_map_free(struct sse_map *m);

/* The node with key[0..len), or NULL. */
struct sse_map_node *sse_map_find(const struct sse_map *m, const char *key,
                                  size_t len);

/* Add n under key[0..len), which must stay valid while n is in m and must
 * not be in m already. */
void sse_map_insert(struct sse_map *m, struct sse_map_node *n,
                    const char *key, size_t len);

/* Take n out of m. */
void sse_map_remove(struct sse_map *m, struct sse_map_node *n);

/* Walk every node: start with *pos = 0 and prev = NULL; returns the next
 * node or NULL at the end. The node returned may be removed before the
 * next call only if its successor was read first (as in destroy loops). */
struct sse_map_node *sse_map_next(const struct sse_map *m,
                                  const struct sse_map_node *prev,
                                  size_t *pos);

#define sse_map_entry(node, type, member) \
    ((type *)((char *)(node) - offsetof(type, member)))

#endif /* SSE_MAP_H */
