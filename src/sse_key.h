/*
 * sse_key: subscription keys and their ZeroMQ topics.
 *
 * A key is 1 to SSE_KEY_MAX bytes of [A-Za-z0-9] and "-_.:@~+=". ZeroMQ
 * matches subscriptions by prefix, so a key's topic ends in a NUL byte that
 * no key may contain: the topic of "user1" is never a prefix of the topic of
 * "user10". A one-byte type in front keeps broadcasts apart from keys.
 *
 *   topic        = key-topic / all-topic / worker-topic
 *   key-topic    = "k" key %x00
 *   all-topic    = "*" %x00
 *   worker-topic = "w" 16HEXDIG-lowercase %x00   ; one worker's answers
 */
#ifndef SSE_KEY_H
#define SSE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define SSE_KEY_MAX   128                 /* bytes in a key */
#define SSE_TOPIC_MAX (SSE_KEY_MAX + 2)   /* bytes in a topic */
#define SSE_TOPIC_WORKER_LEN 18           /* bytes in a worker topic */

/* Return NULL if key[0..n) is a valid key, else a static reason such as
 * "key is empty" or "key contains a character outside [A-Za-z0-9-_.:@~+=]". */
const char *sse_key_check(const char *key, size_t n);

/* Write the topic of key (which must be valid) to out, which has room for
 * SSE_TOPIC_MAX bytes. Returns the topic length. */
size_t sse_key_topic(const char *key, size_t n, char *out);

/* Write the broadcast topic to out (SSE_TOPIC_MAX bytes). Returns its length. */
size_t sse_key_topic_all(char *out);

/* Write the topic of the worker with the given id to out (SSE_TOPIC_MAX
 * bytes). Returns its length, SSE_TOPIC_WORKER_LEN. */
size_t sse_key_topic_worker(uint64_t worker, char *out);

/* Return 1 if topic[0..n) is a worker topic, else 0. */
int sse_key_topic_is_worker(const char *topic, size_t n);

/* Decode a topic. Returns 1 for a key topic (*key, *keylen point into
 * topic), 0 for the broadcast topic, -1 for anything else. */
int sse_key_from_topic(const char *topic, size_t n, const char **key,
                       size_t *keylen);

#endif /* SSE_KEY_H */
