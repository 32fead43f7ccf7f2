/*
 * fuzz_last_event_id: every way a stream's last event id comes in.
 *
 * A reconnecting browser sends its last id in the Last-Event-ID header; a
 * polyfill or a first load puts it in ?lastEventId= instead, maybe more
 * than once. The id is later written back into "id:" lines and replayed
 * from, so it must never carry a line break or invalid UTF-8.
 *
 * Input: byte 0 bit 0 says whether the header is present; the rest is split
 * at NUL bytes into the header (when present) and then up to four
 * lastEventId values, written into the query as they are (an '&' becomes
 * "%26", so it stays inside its value). The query starts with "key=k".
 * Properties:
 *
 *   - sse_event_check_id on the raw input accepts exactly what is at most
 *     SSE_EVENT_ID_MAX bytes of valid UTF-8 without CR, LF or NUL;
 *   - an accepted id (q.last_event_id) holds no CR, LF or NUL, is valid
 *     UTF-8, is at most SSE_EVENT_ID_MAX bytes and NUL-terminated at its
 *     recorded length;
 *   - the header wins over the parameter, and the last parameter wins over
 *     earlier ones; a request is refused exactly when the id that counts
 *     (or any escape) is bad.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_event.h"
#include "sse_query.h"

#define PARAMS_MAX 4

/* The accepted id must be safe to write as an "id:" line. */
static void
check_id(const char *id, size_t n)
{
    FUZZ_CHECK(strlen(id) == n, "id: strlen %zu, recorded %zu",
               strlen(id), n);
    FUZZ_CHECK(n <= SSE_EVENT_ID_MAX, "id of %zu bytes", n);
    FUZZ_CHECK(memchr(id, '\r', n) == NULL && memchr(id, '\n', n) == NULL,
               "id holds CR or LF");
    FUZZ_CHECK(ref_utf8_valid(id, n), "id is not valid UTF-8");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[1 + PARAMS_MAX];
    size_t len[1 + PARAMS_MAX], k, nparams, qlen = 0;
    const char *raw = (const char *)data, *reason = "unset";
    char *header = NULL, *query, *val = NULL, *want = NULL, *decoded;
    size_t want_len = 0;
    int has_header, ok = 1, rc;
    struct sse_query q;

    FUZZ_CHECK((sse_event_check_id(raw, size) == NULL) ==
                   ref_id_ok(raw, size, SSE_EVENT_ID_MAX),
               "sse_event_check_id on %zu raw bytes says %s", size,
               sse_event_check_id(raw, size) ? "bad" : "good");
    if (size == 0)
        return 0;

    has_header = data[0] & 1;
    k = fuzz_split(data + 1, size - 1, 1 + PARAMS_MAX, piece, len);
    if (has_header && k > 0) {
        size_t n = strnlen((const char *)piece[0], len[0]);

        header = fuzz_strdup(piece[0], n);
        if (!ref_id_ok(header, n, SSE_EVENT_ID_MAX))
            ok = 0;
        want = header;
        want_len = n;
    }
    nparams = k - (header != NULL);

    /* "key=k" and "&lastEventId=" + value for each, '&' as "%26". */
    query = fuzz_malloc(5 + (size - 1) * 3 + nparams * 13 + 1);
    decoded = fuzz_malloc(size);
    memcpy(query, "key=k", 5);
    qlen = 5;
    for (size_t i = header != NULL; i < k; i++) {
        const char *p = (const char *)piece[i];
        size_t n = strnlen(p, len[i]);
        long dlen;

        memcpy(query + qlen, "&lastEventId=", 13);
        qlen += 13;
        val = query + qlen;
        for (size_t j = 0; j < n; j++) {
            if (p[j] == '&') {
                memcpy(query + qlen, "%26", 3);
                qlen += 3;
            } else {
                query[qlen++] = p[j];
            }
        }
        /* The model: a bad escape anywhere refuses the request; without
         * the header, each value must be a good id and the last wins. */
        dlen = ref_pct_decode(val, (size_t)(query + qlen - val), decoded);
        if (dlen < 0)
            ok = 0;
        else if (header == NULL) {
            if (!ref_id_ok(decoded, (size_t)dlen, SSE_EVENT_ID_MAX))
                ok = 0;
            free(want);
            want = fuzz_memdup(decoded, (size_t)dlen);
            want_len = (size_t)dlen;
        }
    }
    query[qlen] = '\0';

    rc = sse_query_parse(&q, query, NULL, header, &reason);
    FUZZ_CHECK(rc == (ok ? 0 : -1), "parse returned %d (%s), the model %d",
               rc, reason ? reason : "no reason", ok ? 0 : -1);
    if (rc == 0) {
        FUZZ_CHECK((q.last_event_id != NULL) == (want != NULL),
                   "last event id %s, want %s",
                   q.last_event_id ? "set" : "NULL", want ? "set" : "NULL");
        if (q.last_event_id != NULL) {
            check_id(q.last_event_id, q.last_event_id_len);
            FUZZ_CHECK(q.last_event_id_len == want_len &&
                           memcmp(q.last_event_id, want, want_len) == 0,
                       "id is not the one that should win");
        }
    }
    sse_query_free(&q);

    if (want != header)
        free(want);
    free(header);
    free(decoded);
    free(query);
    return 0;
}
