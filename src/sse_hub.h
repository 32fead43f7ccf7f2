/*
 * sse_hub: the worker's map from key to the streams subscribed to it.
 *
 * Each key a stream holds is one struct sse_sub, embedded in the stream, so
 * joining and leaving allocate nothing but the key's entry. The hub calls
 * back when a key gets its first subscriber and when it loses its last, which
 * is when the worker subscribes and unsubscribes its ZeroMQ topic: each
 * worker receives only the keys its own clients hold.
 */
#ifndef SSE_HUB_H
#define SSE_HUB_H

#include <stddef.h>

struct sse_hub;
struct sse_hub_key;

struct sse_sub {
    struct sse_hub_key *key;    /* NULL while not in the hub */
    struct sse_sub     *prev;   /* neighbours on the same key */
    struct sse_sub     *next;
    void               *owner;  /* the stream this belongs to */
};

/* Called with a key (not NUL-terminated) that just got its first
 * subscriber, or lost its last. */
typedef void (*sse_hub_key_fn)(const char *key, size_t len, void *arg);

/* Called for each subscriber of a key by sse_hub_foreach. It may remove sub
 * itself and subscriptions to other keys, but no other subscriber of the key
 * being walked. */
typedef void (*sse_hub_sub_fn)(struct sse_sub *sub, void *arg);

/* Make an empty hub. on_first and on_last may be NULL. The caller owns it. */
struct sse_hub *sse_hub_new(sse_hub_key_fn on_first, sse_hub_key_fn on_last,
                            void *arg);

/* Free the hub and its key entries (subs still in it are left detached) and
 * set *hp to NULL. Safe on NULL. */
void sse_hub_destroy(struct sse_hub **hp);

/* Add sub, which must not be in a hub, under key[0..len) for owner. */
void sse_hub_add(struct sse_hub *h, struct sse_sub *sub, const char *key,
                 size_t len, void *owner);

/* Remove sub from its key; a no-op if sub is not in the hub. */
void sse_hub_remove(struct sse_hub *h, struct sse_sub *sub);

/* Call fn for each subscriber of key, in the order they joined. Returns the
 * number of subscribers visited. */
size_t sse_hub_foreach(struct sse_hub *h, const char *key, size_t len,
                       sse_hub_sub_fn fn, void *arg);

/* The key sub is subscribed under (not NUL-terminated; *len set), or NULL
 * if sub is not in the hub. Borrowed until sub leaves. */
const char *sse_hub_sub_key(const struct sse_sub *sub, size_t *len);

/* Called for each key of the hub with its number of subscribers. */
typedef void (*sse_hub_count_fn)(const char *key, size_t len, size_t count,
                                 void *arg);

/* Call fn for every key with subscribers, in no particular order. */
void sse_hub_each_key(const struct sse_hub *h, sse_hub_count_fn fn,
                      void *arg);

/* Number of subscribers of key, and number of keys with any. */
size_t sse_hub_count(const struct sse_hub *h, const char *key, size_t len);
size_t sse_hub_keys(const struct sse_hub *h);

#endif /* SSE_HUB_H */
