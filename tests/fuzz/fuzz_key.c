/*
 * fuzz_key: subscription keys and their ZeroMQ topics.
 *
 * Input: raw bytes, read both as a key and as a topic. Properties:
 *
 *   - sse_key_check accepts exactly the keys sse_key.h describes (1 to
 *     SSE_KEY_MAX bytes of [A-Za-z0-9-_.:@~+=]);
 *   - for a valid key, sse_key_topic writes key + 2 bytes ending in NUL,
 *     within SSE_TOPIC_MAX, and sse_key_from_topic gives the key back;
 *   - sse_key_from_topic on raw input never reads past it (the input is an
 *     exact-size heap block), and what it accepts is exactly a topic that
 *     sse_key_topic or sse_key_topic_all would write: the mapping is a
 *     bijection, so no two keys share a topic and no topic is a prefix of
 *     another's;
 *   - sse_key_topic_is_worker accepts exactly "w", 16 lowercase hex digits
 *     and a NUL, and the topic sse_key_topic_worker writes for the first 8
 *     input bytes; a worker topic never decodes as a key or broadcast topic.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_key.h"

/* A valid key survives key -> topic -> key. */
static void
check_round_trip(const char *key, size_t n)
{
    char *topic = fuzz_malloc(SSE_TOPIC_MAX);
    const char *k;
    size_t tlen, klen;

    tlen = sse_key_topic(key, n, topic);
    FUZZ_CHECK(tlen == n + 2 && tlen <= SSE_TOPIC_MAX,
               "topic of a %zu-byte key is %zu bytes", n, tlen);
    FUZZ_CHECK(topic[tlen - 1] == '\0', "topic does not end in NUL");
    FUZZ_CHECK(memchr(topic, '\0', tlen - 1) == NULL,
               "topic holds a NUL before its end");
    FUZZ_CHECK(sse_key_from_topic(topic, tlen, &k, &klen) == 1,
               "the topic of a valid key is not a key topic");
    FUZZ_CHECK(klen == n && memcmp(k, key, n) == 0,
               "key -> topic -> key gave \"%.*s\"", (int)klen, k);
    FUZZ_CHECK(k == topic + 1, "the key is not a view into the topic");
    /* A key topic is never the broadcast topic nor a prefix of another
     * key's topic: dropping the NUL leaves no topic at all. */
    FUZZ_CHECK(sse_key_from_topic(topic, tlen - 1, &k, &klen) == -1,
               "a topic without its NUL still decodes");
    free(topic);
}

/* Whatever decodes as a topic is one that the encoders would write. */
static void
check_from_topic(const char *t, size_t n)
{
    const char *key = "unset";
    size_t klen = 12345;
    char *again;
    int rc = sse_key_from_topic(t, n, &key, &klen);

    FUZZ_CHECK(rc >= -1 && rc <= 1, "sse_key_from_topic returned %d", rc);
    if (rc == -1) {
        FUZZ_CHECK(key == NULL && klen == 0, "a refused topic left a key");
        return;
    }
    if (rc == 0) {
        char all[SSE_TOPIC_MAX];
        size_t alen = sse_key_topic_all(all);

        FUZZ_CHECK(key == NULL && klen == 0, "broadcast topic gave a key");
        FUZZ_CHECK(n == alen && memcmp(t, all, n) == 0,
                   "%zu bytes decode as the broadcast topic", n);
        return;
    }
    FUZZ_CHECK(key == t + 1 && klen + 2 == n,
               "key is not the topic between type byte and NUL");
    FUZZ_CHECK(sse_key_check(key, klen) == NULL,
               "a decoded key fails sse_key_check");
    again = fuzz_malloc(SSE_TOPIC_MAX);
    FUZZ_CHECK(sse_key_topic(key, klen, again) == n &&
                   memcmp(again, t, n) == 0,
               "topic -> key -> topic changed the bytes");
    free(again);
}

/* A worker topic by its grammar: "w" 16HEXDIG-lowercase %x00. */
static int
model_is_worker(const char *t, size_t n)
{
    if (n != 18 || t[0] != 'w' || t[17] != '\0')
        return 0;
    for (size_t i = 1; i < 17; i++)
        if (memchr("0123456789abcdef", t[i], 16) == NULL)
            return 0;
    return 1;
}

static void
check_worker(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data, *key;
    char *topic = fuzz_malloc(SSE_TOPIC_MAX);
    uint64_t w = 0;
    size_t klen, tlen;
    int is = sse_key_topic_is_worker(t, size);

    FUZZ_CHECK(is == model_is_worker(t, size), "is_worker says %d", is);
    if (is)
        FUZZ_CHECK(sse_key_from_topic(t, size, &key, &klen) == -1,
                   "a worker topic decodes as a key or broadcast topic");
    if (size >= 8) {
        for (int i = 0; i < 8; i++)
            w = w << 8 | data[i];
        tlen = sse_key_topic_worker(w, topic);
        FUZZ_CHECK(tlen == SSE_TOPIC_WORKER_LEN && tlen <= SSE_TOPIC_MAX,
                   "worker topic of %zu bytes", tlen);
        FUZZ_CHECK(sse_key_topic_is_worker(topic, tlen) == 1,
                   "the topic of worker %016llx is not a worker topic",
                   (unsigned long long)w);
        FUZZ_CHECK(strtoull(topic + 1, NULL, 16) == w,
                   "the topic of worker %016llx reads back as another",
                   (unsigned long long)w);
    }
    free(topic);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *why = sse_key_check(s, size);
    int want = ref_key_ok(s, size, SSE_KEY_MAX);

    FUZZ_CHECK((why == NULL) == want, "sse_key_check says %s, model %s",
               why ? why : "valid", want ? "valid" : "invalid");
    if (why == NULL)
        check_round_trip(s, size);
    check_from_topic(s, size);
    check_worker(data, size);
    return 0;
}
