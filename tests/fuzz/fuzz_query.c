/*
 * fuzz_query: sse_query_parse and sse_query_decode on what a browser sends.
 *
 * Input: QUERY_STRING, PATH_INFO and the Last-Event-ID header, separated by
 * NUL bytes, e.g. "key=a&key=b" NUL "/c" NUL "42"; a part left out is NULL.
 * The whole input is also percent-decoded as it is. Properties:
 *
 *   - sse_query_decode never returns more than n, writes only its n bytes
 *     of output, and agrees with an independent decoder;
 *   - on success every key passes sse_key_check, is NUL-terminated at its
 *     recorded length, and no two keys are equal;
 *   - sse_query_parse accepts exactly when a model of sse_query.h does,
 *     with the same keys in the same order and the same last event id;
 *   - sse_query_free leaves q empty.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_event.h"
#include "sse_key.h"
#include "sse_query.h"

/* What sse_query.h says a request means. Keys and the id point into the
 * request or into arena. */
struct model {
    size_t      nkeys;
    const char *keys[SSE_QUERY_KEYS_MAX];
    size_t      key_lens[SSE_QUERY_KEYS_MAX];
    const char *id;         /* NULL if none */
    size_t      id_len;
};

static int
model_add_key(struct model *m, const char *k, size_t n)
{
    if (!ref_key_ok(k, n, SSE_KEY_MAX))
        return -1;
    for (size_t i = 0; i < m->nkeys; i++)
        if (m->key_lens[i] == n && memcmp(m->keys[i], k, n) == 0)
            return 0;
    if (m->nkeys == SSE_QUERY_KEYS_MAX)
        return -1;
    m->keys[m->nkeys] = k;
    m->key_lens[m->nkeys++] = n;
    return 0;
}

static int
same(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Returns 0 if the request is acceptable, else -1. arena holds at least
 * strlen(query) bytes: each pair decodes into the arena bytes under it. */
static int
model_parse(struct model *m, const char *query, const char *path,
            const char *lei, char *arena)
{
    size_t qlen;
    const char *ps, *pe, *end;

    memset(m, 0, sizeof *m);
    if (query == NULL)
        query = "";
    if ((qlen = strlen(query)) > SSE_QUERY_LEN_MAX)
        return -1;
    if (path != NULL) {
        const char *k = path + (path[0] == '/');

        if (*k != '\0' && model_add_key(m, k, strlen(k)) == -1)
            return -1;
    }
    if (lei != NULL) {
        if (!ref_id_ok(lei, strlen(lei), SSE_EVENT_ID_MAX))
            return -1;
        m->id = lei;
        m->id_len = strlen(lei);
    }

    end = query + qlen;
    for (ps = query; ps < end; ps = pe + 1) {
        const char *eq;
        char *name = arena + (ps - query), *val;
        long nlen, vlen = 0;

        if ((pe = memchr(ps, '&', (size_t)(end - ps))) == NULL)
            pe = end;
        if ((eq = memchr(ps, '=', (size_t)(pe - ps))) == NULL)
            eq = pe;
        if ((nlen = ref_pct_decode(ps, (size_t)(eq - ps), name)) < 0)
            return -1;
        val = name + nlen;
        if (eq < pe &&
            (vlen = ref_pct_decode(eq + 1, (size_t)(pe - eq - 1), val)) < 0)
            return -1;

        if (same(name, (size_t)nlen, "key")) {
            if (vlen == 0 || model_add_key(m, val, (size_t)vlen) == -1)
                return -1;
        } else if (same(name, (size_t)nlen, "lastEventId") && lei == NULL) {
            if (!ref_id_ok(val, (size_t)vlen, SSE_EVENT_ID_MAX))
                return -1;
            m->id = val;
            m->id_len = (size_t)vlen;
        }
    }
    return m->nkeys > 0 ? 0 : -1;
}

static void
check_decode(const uint8_t *data, size_t size)
{
    /* Exactly n bytes of room, as the contract promises and no more. */
    char *out = fuzz_memdup(data, size), *want = fuzz_memdup(data, size);
    long n, wn;

    n = sse_query_decode((const char *)data, size, out);
    wn = ref_pct_decode((const char *)data, size, want);
    FUZZ_CHECK(n >= -1 && (n < 0 || (size_t)n <= size),
               "decode returned %ld for %zu bytes", n, size);
    FUZZ_CHECK(n == wn, "decode returned %ld, the model %ld", n, wn);
    FUZZ_CHECK(n <= 0 || memcmp(out, want, (size_t)n) == 0,
               "decoded bytes differ from the model's");
    free(out);
    free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[3];
    size_t len[3], k;
    char *part[3] = { NULL, NULL, NULL }, *arena;
    struct sse_query q;
    struct model m;
    const char *reason = "unset";
    int rc, want;

    check_decode(data, size);

    k = fuzz_split(data, size, 3, piece, len);
    for (size_t i = 0; i < k; i++) {
        /* Only the last part can hold a NUL; it ends the C string there. */
        size_t n = strnlen((const char *)piece[i], len[i]);

        part[i] = fuzz_strdup(piece[i], n);
    }

    rc = sse_query_parse(&q, part[0], part[1], part[2], &reason);
    arena = fuzz_malloc(size);
    want = model_parse(&m, part[0], part[1], part[2], arena);

    FUZZ_CHECK(rc == 0 || rc == -1, "parse returned %d", rc);
    FUZZ_CHECK((rc == 0) == (reason == NULL), "rc %d with reason %s", rc,
               reason ? reason : "(null)");
    FUZZ_CHECK(rc == want, "parse returned %d (%s), the model %d", rc,
               reason ? reason : "no reason", want);

    if (rc == 0) {
        FUZZ_CHECK(q.nkeys >= 1 && q.nkeys <= SSE_QUERY_KEYS_MAX,
                   "%zu keys", q.nkeys);
        FUZZ_CHECK(q.nkeys == m.nkeys, "%zu keys, the model %zu", q.nkeys,
                   m.nkeys);
        for (size_t i = 0; i < q.nkeys; i++) {
            FUZZ_CHECK(q.keys[i] != NULL, "key %zu is NULL", i);
            FUZZ_CHECK(strlen(q.keys[i]) == q.key_lens[i],
                       "key %zu: strlen %zu, recorded %zu", i,
                       strlen(q.keys[i]), q.key_lens[i]);
            FUZZ_CHECK(sse_key_check(q.keys[i], q.key_lens[i]) == NULL,
                       "key %zu \"%s\" fails sse_key_check", i, q.keys[i]);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(strcmp(q.keys[i], q.keys[j]) != 0,
                           "keys %zu and %zu are both \"%s\"", j, i,
                           q.keys[i]);
            FUZZ_CHECK(q.key_lens[i] == m.key_lens[i] &&
                           memcmp(q.keys[i], m.keys[i], m.key_lens[i]) == 0,
                       "key %zu \"%s\" is not the model's \"%.*s\"", i,
                       q.keys[i], (int)m.key_lens[i], m.keys[i]);
        }
        FUZZ_CHECK((q.last_event_id == NULL) == (m.id == NULL),
                   "last event id %s, the model's %s",
                   q.last_event_id ? "set" : "NULL", m.id ? "set" : "NULL");
        if (q.last_event_id != NULL) {
            FUZZ_CHECK(strlen(q.last_event_id) == q.last_event_id_len,
                       "id: strlen %zu, recorded %zu",
                       strlen(q.last_event_id), q.last_event_id_len);
            FUZZ_CHECK(sse_event_check_id(q.last_event_id,
                                          q.last_event_id_len) == NULL,
                       "id fails sse_event_check_id");
            FUZZ_CHECK(q.last_event_id_len == m.id_len &&
                           memcmp(q.last_event_id, m.id, m.id_len) == 0,
                       "id is not the model's");
        }
    }

    sse_query_free(&q);
    FUZZ_CHECK(q.nkeys == 0 && q.last_event_id == NULL,
               "sse_query_free left q not empty");
    free(arena);
    for (size_t i = 0; i < 3; i++)
        free(part[i]);
    return 0;
}
