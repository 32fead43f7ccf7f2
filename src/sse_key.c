/*
 * sse_key: subscription keys and their ZeroMQ topics.
 *
 * Keys arrive from browsers and publishers alike, so the character set is
 * small and checked byte by byte, without the locale (isalnum would accept
 * more in some locales). Topics end in a NUL, which no key holds, so a
 * subscription matches exactly one key even though ZeroMQ matches prefixes.
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include <stdint.h>

#include "sse_key.h"

#define TOPIC_KEY 'k'   /* type byte of a key topic */
#define TOPIC_ALL '*'   /* type byte of the broadcast topic */
#define TOPIC_WORKER 'w' /* type byte of a worker's own topic */

static int
key_char(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-_.:@~+=", c) != NULL;
}

const char *
sse_key_check(const char *key, size_t n)
{
    size_t i;

    if (n == 0)
        return "key is empty";
    if (n > SSE_KEY_MAX)
        return "key is longer than 128 bytes";
    for (i = 0; i < n; i++)
        if (!key_char((unsigned char)key[i]))
            return "key contains a character outside [A-Za-z0-9-_.:@~+=]";
    return NULL;
}

size_t
sse_key_topic(const char *key, size_t n, char *out)
{
    /* A longer key would overrun out; callers check keys first. */
    assert(n >= 1 && n <= SSE_KEY_MAX);
    out[0] = TOPIC_KEY;
    memcpy(out + 1, key, n);
    out[n + 1] = '\0';
    return n + 2;
}

size_t
sse_key_topic_all(char *out)
{
    out[0] = TOPIC_ALL;
    out[1] = '\0';
    return 2;
}

size_t
sse_key_topic_worker(uint64_t worker, char *out)
{
    static const char hex[] = "0123456789abcdef";

    out[0] = TOPIC_WORKER;
    for (int i = 0; i < 16; i++)
        out[1 + i] = hex[(worker >> (60 - 4 * i)) & 15];
    out[17] = '\0';
    return SSE_TOPIC_WORKER_LEN;
}

int
sse_key_topic_is_worker(const char *topic, size_t n)
{
    if (n != SSE_TOPIC_WORKER_LEN || topic[0] != TOPIC_WORKER ||
        topic[n - 1] != '\0')
        return 0;
    for (size_t i = 1; i < n - 1; i++)
        if (!((topic[i] >= '0' && topic[i] <= '9') ||
              (topic[i] >= 'a' && topic[i] <= 'f')))
            return 0;
    return 1;
}

int
sse_key_from_topic(const char *topic, size_t n, const char **key,
                   size_t *keylen)
{
    *key = NULL;
    *keylen = 0;
    if (n < 2 || topic[n - 1] != '\0')
        return -1;
    if (topic[0] == TOPIC_ALL)
        return n == 2 ? 0 : -1;
    /* sse_key_check also refuses a NUL before the end, so a topic with
     * bytes after its terminator is malformed, not a shorter key. */
    if (topic[0] != TOPIC_KEY || sse_key_check(topic + 1, n - 2) != NULL)
        return -1;
    *key = topic + 1;
    *keylen = n - 2;
    return 1;
}
