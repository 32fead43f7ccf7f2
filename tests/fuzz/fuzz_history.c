/*
 * fuzz_history: the broker's state file loader, and replays from what it
 * loaded with an id that comes from a browser's Last-Event-ID.
 *
 * Input: byte 0 flags (1: replay after an id, 2: replay byte limit 64,
 * 4: no age limit), byte 1 the length L of a replay spec, then L bytes of
 * spec split at NUL bytes into the after id and up to SSE_WIRE_KEYS_MAX
 * keys (invalid ones are skipped), then the rest as the state file. The
 * history keeps 4 events per key, one hour of them (now is fixed), and
 * 4096 bytes. Properties:
 *
 *   - a refused file comes with a reason and leaves the history empty;
 *   - an accepted file saves again, and that save loads into a new history
 *     with the same next sequence number, clean flag, events and bytes, and
 *     saves to as many bytes (saving is stable);
 *   - a replay returns events in strictly increasing sequence order, each
 *     with a valid, NUL-terminated id and after the sequence number asked
 *     for, no more bytes than the limit, and only events that are kept;
 *   - those events can be sent: sse_wire_replayed_encode takes them as the
 *     broker passes them, and sse_wire_replayed_decode (the worker) takes
 *     the frame, i.e. each has known flags and is one whole event.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_event.h"
#include "sse_history.h"
#include "sse_key.h"
#include "sse_wire.h"

#define NOW_MS  1700000000000LL     /* a fixed "now" keeps runs repeatable */
#define HEADER  2

static const struct sse_history_limits limits = { 4, 3600 * 1000, 4096 };
static const struct sse_history_limits no_age = { 4, 0, 4096 };

/* What a replay returns goes to a worker as the broker sends it: the
 * answer must encode, and the worker's decoder must take it. */
static void
check_sendable(const struct sse_history_replay *out)
{
    struct sse_wire_replayed hd = { .instance = 1, .req = 2, .seq_now = 3 };
    struct sse_wire_replayed back;
    struct sse_wire_item *items;
    struct sse_buf b;

    items = (struct sse_wire_item *)fuzz_malloc(out->n * sizeof *items);
    for (size_t i = 0; i < out->n; i++) {
        items[i].flags = out->events[i]->flags;
        items[i].seq = out->events[i]->seq;
        items[i].sse = out->events[i]->sse;
        items[i].len = out->events[i]->len;
    }
    hd.flags = out->missed ? SSE_WIRE_MISSED : 0;
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_replayed_encode(&hd, items, out->n, &b) == 0,
               "replayed events cannot be encoded (flags %#x ...)",
               out->n > 0 ? items[0].flags : 0);
    FUZZ_CHECK(sse_wire_replayed_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &back) == 0,
               "a worker refuses the replay of %zu loaded events", out->n);
    sse_buf_free(&b);
    free(items);
}

static void
check_replay(const struct sse_history *h, const uint8_t *spec, size_t n,
             unsigned flags)
{
    const uint8_t *piece[1 + SSE_WIRE_KEYS_MAX];
    size_t len[1 + SSE_WIRE_KEYS_MAX], k, nkeys = 0, bytes = 0;
    const char *keys[SSE_WIRE_KEYS_MAX], *after_id = NULL;
    size_t key_lens[SSE_WIRE_KEYS_MAX], after_len = 0, max_bytes;
    uint64_t after_seq = 0;
    struct sse_history_replay out;

    k = fuzz_split(spec, n, 1 + SSE_WIRE_KEYS_MAX, piece, len);
    if (k > 0 && (flags & 1) &&
        sse_event_check_id((const char *)piece[0], len[0]) == NULL) {
        after_id = (const char *)piece[0];
        after_len = len[0];
    } else if (k > 0) {
        for (size_t i = 0; i < len[0] && i < 8; i++)
            after_seq = after_seq << 8 | piece[0][i];
    }
    for (size_t i = 1; i < k; i++)
        if (sse_key_check((const char *)piece[i], len[i]) == NULL) {
            keys[nkeys] = (const char *)piece[i];
            key_lens[nkeys++] = len[i];
        }
    max_bytes = (flags & 2) ? 64 : 0;

    sse_history_replay(h, keys, key_lens, nkeys, after_id, after_len,
                       after_seq, max_bytes, &out);
    FUZZ_CHECK(out.n <= sse_history_count(h), "%zu events of %zu kept",
               out.n, sse_history_count(h));
    FUZZ_CHECK(out.missed == 0 || out.missed == 1, "missed %d", out.missed);
    for (size_t i = 0; i < out.n; i++) {
        const struct sse_history_event *e = out.events[i];

        FUZZ_CHECK(i == 0 || out.events[i - 1]->seq < e->seq,
                   "event %zu: seq %llu after %llu", i,
                   (unsigned long long)e->seq,
                   (unsigned long long)out.events[i - 1]->seq);
        FUZZ_CHECK(after_id != NULL || e->seq > after_seq,
                   "event %zu: seq %llu is not after %llu", i,
                   (unsigned long long)e->seq,
                   (unsigned long long)after_seq);
        FUZZ_CHECK(e->id != NULL && strlen(e->id) == e->id_len &&
                       sse_event_check_id(e->id, e->id_len) == NULL,
                   "event %zu: bad id", i);
        bytes += e->len;
    }
    FUZZ_CHECK(max_bytes == 0 || bytes <= max_bytes,
               "%zu bytes replayed, limit %zu", bytes, max_bytes);
    check_sendable(&out);
    sse_history_replay_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct sse_history_limits *lim;
    struct sse_history *h, *h2, *empty;
    struct sse_buf saved, again, blank, first;
    const char *reason = NULL;
    const uint8_t *spec, *file;
    char *spec_copy;
    size_t spec_len, file_len;
    uint64_t next = 0, next2 = 0;
    int clean = -1, clean2 = -1, rc;
    char *copy;

    if (size < HEADER)
        return 0;
    lim = (data[0] & 4) ? &no_age : &limits;
    spec = data + HEADER;
    spec_len = data[1] < size - HEADER ? data[1] : size - HEADER;
    file = spec + spec_len;
    file_len = size - HEADER - spec_len;
    copy = fuzz_memdup(file, file_len);
    /* The spec too in its own block, so its last piece is guarded. */
    spec = (const uint8_t *)(spec_copy = fuzz_memdup(spec, spec_len));

    h = sse_history_new(lim, 0);
    rc = sse_history_load(h, copy, file_len, NOW_MS, &next, &clean, &reason);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && reason != NULL, "load returned %d", rc);
        FUZZ_CHECK(sse_history_count(h) == 0 && sse_history_bytes(h) == 0,
                   "a refused file left %zu events",
                   sse_history_count(h));
        /* Left as it was: it saves exactly as a new history does. */
        empty = sse_history_new(lim, 0);
        sse_buf_init(&blank, 0);
        sse_buf_init(&first, 0);
        sse_history_save(h, 1, 0, &first);
        sse_history_save(empty, 1, 0, &blank);
        FUZZ_CHECK(sse_buf_len(&first) == sse_buf_len(&blank) &&
                       memcmp(sse_buf_head(&first), sse_buf_head(&blank),
                              sse_buf_len(&blank)) == 0,
                   "a refused file changed the history");
        sse_buf_free(&first);
        sse_buf_free(&blank);
        sse_history_destroy(&empty);
        goto out;
    }
    FUZZ_CHECK(clean == 0 || clean == 1, "clean is %d", clean);

    check_replay(h, spec, spec_len, data[0]);

    sse_buf_init(&saved, 0);
    FUZZ_CHECK(sse_history_save(h, next, clean, &saved) == 0, "save failed");
    h2 = sse_history_new(lim, 0);
    reason = NULL;
    FUZZ_CHECK(sse_history_load(h2, sse_buf_head(&saved), sse_buf_len(&saved),
                                NOW_MS, &next2, &clean2, &reason) == 0,
               "a saved history does not load: %s", reason);
    FUZZ_CHECK(next2 == next && clean2 == clean, "next %llu/%llu clean %d/%d",
               (unsigned long long)next2, (unsigned long long)next, clean2,
               clean);
    FUZZ_CHECK(sse_history_count(h2) == sse_history_count(h) &&
                   sse_history_bytes(h2) == sse_history_bytes(h),
               "reloaded %zu events, %zu bytes; had %zu, %zu",
               sse_history_count(h2), sse_history_bytes(h2),
               sse_history_count(h), sse_history_bytes(h));
    sse_buf_init(&again, 0);
    FUZZ_CHECK(sse_history_save(h2, next2, clean2, &again) == 0,
               "second save failed");
    FUZZ_CHECK(sse_buf_len(&again) == sse_buf_len(&saved),
               "saved %zu bytes, then %zu", sse_buf_len(&saved),
               sse_buf_len(&again));
    sse_buf_free(&again);
    sse_buf_free(&saved);
    sse_history_destroy(&h2);
out:
    sse_history_destroy(&h);
    FUZZ_CHECK(h == NULL, "destroy left the pointer set");
    free(spec_copy);
    free(copy);
    return 0;
}
