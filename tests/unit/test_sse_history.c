/*
 * Unit tests for sse_history: replays after a kept id, a broker sequence
 * number and an unknown id; when "missed" is set (count, age and byte
 * limits, gap_below, the horizon of keys that let everything go); replay
 * size limits; repeated publisher ids; and the state file: round trips,
 * the age limit on load, a hand-written file in the documented grammar,
 * and refusals of damaged files fed from just before a guard page.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_history.h"
#include "sse_key.h"
#include "sse_event.h"
#include "sse_wire.h"

/* Every test event's bytes are "data: NNNNNNNN\n\n": EV_LEN bytes. */
#define EV_LEN   16
#define NOLIMIT  SIZE_MAX
#define MAXGOT   32

/* ---- helpers ------------------------------------------------------------ */

static struct sse_history *
make(size_t count, int64_t age_ms, size_t bytes, uint64_t gap_below)
{
    struct sse_history_limits lim = { count, age_ms, bytes };

    return sse_history_new(&lim, gap_below);
}

static int
sse_of(uint64_t seq, char *buf, size_t size)
{
    return snprintf(buf, size, "data: %08" PRIu64 "\n\n", seq);
}

/* Record seq under key at time t with id (NULL: the decimal seq). */
static void
add(struct sse_history *h, const char *key, uint64_t seq, int64_t t,
    const char *id, unsigned flags)
{
    char sse[32], idbuf[24];
    struct sse_history_event ev;

    if (id == NULL) {
        snprintf(idbuf, sizeof(idbuf), "%" PRIu64, seq);
        id = idbuf;
    }
    ev.seq = seq;
    ev.time_ms = t;
    ev.flags = flags;
    ev.id = id;
    ev.id_len = strlen(id);
    ev.sse = sse;
    ev.len = (size_t)sse_of(seq, sse, sizeof(sse));
    cr_assert_eq(ev.len, EV_LEN);
    sse_history_add(h, key, strlen(key), &ev);
}

/* Replay for the NULL-terminated key list keys. */
static void
replay_raw(const struct sse_history *h, const char *const *keys,
           const char *after_id, uint64_t after_seq, size_t max_bytes,
           struct sse_history_replay *out)
{
    size_t lens[8], n = 0;

    while (keys[n] != NULL) {
        lens[n] = strlen(keys[n]);
        n++;
    }
    sse_history_replay(h, keys, lens, n, after_id,
                       after_id != NULL ? strlen(after_id) : 0, after_seq,
                       max_bytes, out);
}

struct got {
    size_t   n;
    uint64_t seq[MAXGOT];
    int      missed;
};

/* Replay and keep the sequence numbers, checking each event's bytes and
 * that its id is NUL-terminated on the way. */
static struct got
replay(const struct sse_history *h, const char *const *keys,
       const char *after_id, uint64_t after_seq, size_t max_bytes)
{
    struct sse_history_replay r;
    struct got g = { 0 };
    char sse[32];

    replay_raw(h, keys, after_id, after_seq, max_bytes, &r);
    cr_assert_leq(r.n, MAXGOT);
    for (size_t i = 0; i < r.n; i++) {
        const struct sse_history_event *e = r.events[i];

        g.seq[i] = e->seq;
        cr_expect_eq(e->len, EV_LEN, "event %" PRIu64 " length", e->seq);
        sse_of(e->seq, sse, sizeof(sse));
        cr_expect(e->len == EV_LEN && memcmp(e->sse, sse, EV_LEN) == 0,
                  "event %" PRIu64 " bytes", e->seq);
        cr_expect_eq(e->id[e->id_len], '\0', "event %" PRIu64 " id ends in "
                     "NUL", e->seq);
    }
    g.n = r.n;
    g.missed = r.missed;
    sse_history_replay_free(&r);
    cr_expect_eq(r.n, 0, "replay_free empties the result");
    cr_expect_null(r.events, "replay_free clears the events");
    return g;
}

/* One replay and what it must return. want is 0-terminated. */
struct rcase {
    const char *row;
    const char *keys[4];    /* NULL-terminated */
    const char *after_id;   /* NULL: after_seq */
    uint64_t    after_seq;
    size_t      max_bytes;
    uint64_t    want[MAXGOT];
    int         missed;
};

static void
seqs_str(const uint64_t *s, size_t n, char *buf, size_t size)
{
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%" PRIu64,
                               i ? "," : "", s[i]);
}

static void
check_rows(const struct sse_history *h, const struct rcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++, c++) {
        struct got g = replay(h, c->keys, c->after_id, c->after_seq,
                              c->max_bytes);
        size_t nwant = 0;
        char want[256], got[256];

        while (c->want[nwant] != 0)
            nwant++;
        seqs_str(c->want, nwant, want, sizeof(want));
        seqs_str(g.seq, g.n, got, sizeof(got));
        cr_expect_str_eq(got, want, "%s: events [%s], want [%s]", c->row,
                         got, want);
        cr_expect_eq(g.missed, c->missed, "%s: missed %d, want %d", c->row,
                     g.missed, c->missed);
    }
}

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Both histories answer every replay in a grid alike, field by field;
 * report how many differ and the first. */
static void
expect_same_replays(const struct sse_history *x, const struct sse_history *y,
                    const char *what)
{
    static const char *const keysets[][4] = {
        { "a", NULL }, { "b", NULL }, { "gone", NULL }, { "a", "b", NULL },
        { NULL }, { "nobody", NULL }, { "b", "a", "gone", NULL },
    };
    static const char *const ids[] = {
        NULL, "pub-8", "bye", "7", "8", "10", "11", "x",
    };
    char first[256] = "";
    int ndiff = 0, total = 0;

    for (size_t k = 0; k < NROWS(keysets); k++)
        for (size_t d = 0; d < NROWS(ids); d++)
            for (uint64_t s = 0; s < 16; s++) {
                struct sse_history_replay rx, ry;
                char why[96] = "";
                const char *const *ks = keysets[k];

                if (ids[d] != NULL && s > 0)
                    break;
                total++;
                replay_raw(x, ks, ids[d], s, NOLIMIT, &rx);
                replay_raw(y, ks, ids[d], s, NOLIMIT, &ry);
                if (rx.missed != ry.missed)
                    snprintf(why, sizeof(why), "missed %d vs %d", rx.missed,
                             ry.missed);
                else if (rx.n != ry.n)
                    snprintf(why, sizeof(why), "%zu events vs %zu", rx.n,
                             ry.n);
                for (size_t i = 0; why[0] == '\0' && i < rx.n; i++) {
                    const struct sse_history_event *a = rx.events[i];
                    const struct sse_history_event *b = ry.events[i];

                    if (a->seq != b->seq || a->time_ms != b->time_ms ||
                        a->flags != b->flags || a->id_len != b->id_len ||
                        a->len != b->len ||
                        memcmp(a->id, b->id, a->id_len) != 0 ||
                        memcmp(a->sse, b->sse, a->len) != 0)
                        snprintf(why, sizeof(why), "event %zu (seq %" PRIu64
                                 " vs %" PRIu64 ")", i, a->seq, b->seq);
                }
                if (why[0] != '\0' && ndiff++ == 0)
                    snprintf(first, sizeof(first), "keys %s%s%s%s%s after "
                             "%s%s%" PRIu64 ": %s",
                             ks[0] ? ks[0] : "(none)",
                             ks[0] && ks[1] ? "," : "",
                             ks[0] && ks[1] ? ks[1] : "",
                             ks[0] && ks[1] && ks[2] ? "," : "",
                             ks[0] && ks[1] && ks[2] ? ks[2] : "",
                             ids[d] ? ids[d] : "seq ", ids[d] ? " " : "",
                             s, why);
                sse_history_replay_free(&rx);
                sse_history_replay_free(&ry);
            }
    cr_expect_eq(ndiff, 0, "%s: %d of %d replays differ; first: %s", what,
                 ndiff, total, first);
}

/* Load p[0..n) copied to just before a guard page. */
static int
load_guarded(struct sse_history *h, const void *p, size_t n, int64_t now,
             uint64_t *next_seq, int *clean, const char **reason)
{
    struct guarded g;
    const char *q = guard_copy(&g, p, n);
    int rc;

    cr_assert_not_null(q);
    rc = sse_history_load(h, q, n, now, next_seq, clean, reason);
    guard_free(&g);
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

Test(sse_history, destroy_frees_clears_the_pointer_and_accepts_null)
{
    struct sse_history *h = make(10, 0, 0, 0);

    add(h, "a", 1, 0, NULL, 0);
    cr_expect_eq(sse_history_count(h), 1);
    sse_history_destroy(&h);
    cr_expect_null(h);
    sse_history_destroy(&h);
    cr_expect_null(h);
}

Test(sse_history, add_copies_the_id_and_the_bytes)
{
    struct sse_history *h = make(10, 0, 0, 0);
    char id[] = "ev-1", sse[] = "data: 00000001\n\n";
    struct sse_history_event ev = { 1, 1234, SSE_WIRE_CLOSE, id, 4, sse,
                                    EV_LEN };
    const char *keys[] = { "a", NULL };
    struct sse_history_replay r;

    sse_history_add(h, "a", 1, &ev);
    memset(id, 'X', 4);
    memset(sse, 'X', EV_LEN);
    replay_raw(h, keys, NULL, 0, NOLIMIT, &r);
    cr_assert_eq(r.n, 1);
    cr_expect_eq(r.events[0]->seq, 1);
    cr_expect_eq(r.events[0]->time_ms, 1234);
    cr_expect_eq(r.events[0]->flags, SSE_WIRE_CLOSE);
    cr_expect_eq(r.events[0]->id_len, 4);
    cr_expect_str_eq(r.events[0]->id, "ev-1");
    cr_expect_eq(r.events[0]->len, EV_LEN);
    cr_expect(memcmp(r.events[0]->sse, "data: 00000001\n\n", EV_LEN) == 0);
    cr_expect_eq(sse_history_count(h), 1);
    cr_expect_eq(sse_history_bytes(h), EV_LEN + 4,
                 "bytes count the event's bytes and its id");
    sse_history_replay_free(&r);
    sse_history_destroy(&h);
}

/* ---- replay ------------------------------------------------------------- */

/*
 * seq 10 a, 11 b, 12 broadcast, 13 a (id "pub-x"), 14 c, 15 b,
 * 16 broadcast, 17 a; nothing let go, gap_below 1.
 */
static struct sse_history *
mixed(void)
{
    struct sse_history *h = make(100, 0, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    add(h, "b", 11, 0, NULL, 0);
    add(h, "", 12, 0, NULL, SSE_WIRE_ALL);
    add(h, "a", 13, 0, "pub-x", 0);
    add(h, "c", 14, 0, NULL, 0);
    add(h, "b", 15, 0, NULL, 0);
    add(h, "", 16, 0, NULL, SSE_WIRE_ALL);
    add(h, "a", 17, 0, NULL, 0);
    return h;
}

Test(sse_history, replay_after_a_kept_id_returns_later_events_of_the_keys)
{
    static const struct rcase rows[] = {
        { "one key after its first id", { "a" }, "10", 0, NOLIMIT,
          { 12, 13, 16, 17 }, 0 },
        { "two keys merged by seq", { "a", "b" }, "11", 0, NOLIMIT,
          { 12, 13, 15, 16, 17 }, 0 },
        { "keys in the other order", { "b", "a" }, "11", 0, NOLIMIT,
          { 12, 13, 15, 16, 17 }, 0 },
        { "three keys after a broadcast's id", { "a", "b", "c" }, "12", 0,
          NOLIMIT, { 13, 14, 15, 16, 17 }, 0 },
        { "after a publisher id", { "a" }, "pub-x", 0, NOLIMIT, { 16, 17 },
          0 },
        { "after the newest id", { "a" }, "17", 0, NOLIMIT, { 0 }, 0 },
        { "other keys never appear", { "c" }, "14", 0, NOLIMIT, { 16 }, 0 },
        { "broadcasts only without keys", { NULL }, "12", 0, NOLIMIT,
          { 16 }, 0 },
        { "after_seq is ignored when an id is given", { "a" }, "16", 3,
          NOLIMIT, { 17 }, 0 },
    };
    struct sse_history *h = mixed();

    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, replay_after_a_seq_or_an_id_not_kept)
{
    static const struct rcase rows[] = {
        { "after_seq without an id", { "c" }, NULL, 13, NOLIMIT,
          { 14, 16 }, 0 },
        { "after_seq between a key's events", { "a", "b" }, NULL, 14,
          NOLIMIT, { 15, 16, 17 }, 0 },
        { "decimal id of another key's event", { "a" }, "14", 0, NOLIMIT,
          { 16, 17 }, 0 },
        { "decimal seq whose event has a publisher id", { "a" }, "13", 0,
          NOLIMIT, { 16, 17 }, 0 },
        { "decimal seq never used", { "a" }, "9", 0, NOLIMIT,
          { 10, 12, 13, 16, 17 }, 0 },
        { "unknown id replays everything and is missed", { "a" }, "nope", 0,
          NOLIMIT, { 10, 12, 13, 16, 17 }, 1 },
        { "unknown id with several keys", { "b", "c" }, "x17", 0, NOLIMIT,
          { 11, 12, 14, 15, 16 }, 1 },
        { "a key with no history after a seq", { "zzz" }, NULL, 12,
          NOLIMIT, { 16 }, 0 },
        { "a key with no history after an unknown id", { "zzz" }, "q", 0,
          NOLIMIT, { 12, 16 }, 1 },
        { "after_seq below gap_below", { "a" }, NULL, 0, NOLIMIT,
          { 10, 12, 13, 16, 17 }, 1 },
        { "after_seq at gap_below", { "a" }, NULL, 1, NOLIMIT,
          { 10, 12, 13, 16, 17 }, 0 },
    };
    struct sse_history *h = mixed();

    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, max_bytes_keeps_the_newest_events_that_fit)
{
    static const struct rcase rows[] = {
        { "room for all four", { "a" }, NULL, 10, 4 * EV_LEN,
          { 12, 13, 16, 17 }, 0 },
        { "one byte short of four", { "a" }, NULL, 10, 4 * EV_LEN - 1,
          { 13, 16, 17 }, 1 },
        { "room for two", { "a" }, NULL, 10, 2 * EV_LEN, { 16, 17 }, 1 },
        { "room for two and a half", { "a" }, NULL, 10, 2 * EV_LEN + 8,
          { 16, 17 }, 1 },
        { "room for less than one", { "a" }, NULL, 10, EV_LEN - 1, { 0 }, 1 },
        { "nothing to send fits anyway", { "a" }, "17", 0, 1, { 0 }, 0 },
    };
    struct sse_history *h = mixed();

    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, gap_below_marks_older_points_missed_and_only_rises)
{
    static const struct rcase before[] = {
        { "below gap_below", { "a" }, NULL, 99, NOLIMIT, { 100, 101 }, 1 },
        { "at gap_below", { "a" }, NULL, 100, NOLIMIT, { 101 }, 0 },
        { "decimal id below gap_below", { "a" }, "50", 0, NOLIMIT,
          { 100, 101 }, 1 },
    };
    static const struct rcase lowered[] = {
        { "a lower gap_below is ignored", { "a" }, NULL, 99, NOLIMIT,
          { 100, 101 }, 1 },
    };
    static const struct rcase raised[] = {
        { "raised past a kept id", { "a" }, "100", 0, NOLIMIT, { 101 }, 1 },
        { "at the raised gap_below", { "a" }, NULL, 101, NOLIMIT, { 0 }, 0 },
    };
    struct sse_history *h = make(10, 0, 0, 100);

    add(h, "a", 100, 0, NULL, 0);
    add(h, "a", 101, 0, NULL, 0);
    check_rows(h, before, NROWS(before));
    sse_history_set_gap_below(h, 50);
    check_rows(h, lowered, NROWS(lowered));
    sse_history_set_gap_below(h, 101);
    check_rows(h, raised, NROWS(raised));
    sse_history_destroy(&h);
}

Test(sse_history, a_repeated_publisher_id_means_its_newest_event)
{
    static const struct rcase rows[] = {
        { "same key", { "a" }, "x", 0, NOLIMIT, { 13 }, 0 },
    };
    struct sse_history *h = make(10, 0, 0, 1);

    add(h, "a", 10, 0, "x", 0);
    add(h, "a", 11, 0, "y", 0);
    add(h, "a", 12, 0, "x", 0);
    add(h, "a", 13, 0, "z", 0);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, a_repeated_publisher_id_means_its_newest_event_on_any_key)
{
    static const struct rcase rows[] = {
        { "newer on the second key", { "a", "b" }, "x", 0, NOLIMIT, { 12 },
          0 },
        { "newer on the first key", { "b", "a" }, "x", 0, NOLIMIT, { 12 },
          0 },
    };
    static const struct rcase bcast[] = {
        { "newer on a broadcast", { "a" }, "x", 0, NOLIMIT, { 12 }, 0 },
    };
    struct sse_history *h = make(10, 0, 0, 1);

    add(h, "a", 10, 0, "x", 0);
    add(h, "b", 11, 0, "x", 0);
    add(h, "a", 12, 0, "y", 0);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);

    h = make(10, 0, 0, 1);
    add(h, "a", 10, 0, "x", 0);
    add(h, "", 11, 0, "x", SSE_WIRE_ALL);
    add(h, "a", 12, 0, "y", 0);
    check_rows(h, bcast, NROWS(bcast));
    sse_history_destroy(&h);
}

/* ---- limits ------------------------------------------------------------- */

Test(sse_history, count_limit_keeps_the_newest_per_key)
{
    static const struct rcase rows[] = {
        { "a keeps its newest three", { "a" }, NULL, 1, NOLIMIT,
          { 18, 19, 20, 25, 26, 27 }, 1 },
        { "b keeps both", { "b" }, NULL, 1, NOLIMIT,
          { 21, 22, 25, 26, 27 }, 1 },
        { "b after a let-go broadcast", { "b" }, NULL, 22, NOLIMIT,
          { 25, 26, 27 }, 1 },
        { "b after the newest let-go broadcast", { "b" }, NULL, 24,
          NOLIMIT, { 25, 26, 27 }, 0 },
        { "a after its newest let go", { "a" }, NULL, 24, NOLIMIT,
          { 25, 26, 27 }, 0 },
        { "broadcasts keep their newest three", { "zzz" }, NULL, 1, NOLIMIT,
          { 25, 26, 27 }, 1 },
    };
    struct sse_history *h = make(3, 0, 0, 1);

    for (uint64_t s = 11; s <= 20; s++)
        add(h, "a", s, 0, NULL, 0);
    add(h, "b", 21, 0, NULL, 0);
    add(h, "b", 22, 0, NULL, 0);
    for (uint64_t s = 23; s <= 27; s++)
        add(h, "", s, 0, NULL, SSE_WIRE_ALL);
    cr_expect_eq(sse_history_count(h), 8);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, count_limit_marks_missed_only_if_later_events_went)
{
    static const struct rcase rows[] = {
        { "after the oldest let go", { "a" }, "10", 0, NOLIMIT, { 12, 13 },
          1 },
        { "after the newest let go", { "a" }, "11", 0, NOLIMIT, { 12, 13 },
          0 },
        { "after the oldest kept", { "a" }, "12", 0, NOLIMIT, { 13 }, 0 },
        { "another key is not affected", { "b" }, "10", 0, NOLIMIT, { 14 },
          0 },
    };
    struct sse_history *h = make(2, 0, 0, 1);

    for (uint64_t s = 10; s <= 13; s++)
        add(h, "a", s, 0, NULL, 0);
    add(h, "b", 14, 0, NULL, 0);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, expire_lets_old_events_go_and_later_ones_stay)
{
    static const struct rcase rows[] = {
        { "after the first expired", { "a" }, "10", 0, NOLIMIT, { 12, 14 },
          1 },
        { "after the last expired", { "a" }, "11", 0, NOLIMIT, { 12, 14 },
          0 },
        { "b lost nothing", { "b" }, "11", 0, NOLIMIT, { 13, 14 }, 0 },
    };
    struct sse_history *h = make(100, 1000, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    add(h, "a", 11, 100, NULL, 0);
    add(h, "a", 12, 3000, NULL, 0);
    add(h, "b", 13, 3000, NULL, 0);
    add(h, "", 14, 3000, NULL, SSE_WIRE_ALL);
    sse_history_expire(h, 1100);
    cr_expect_eq(sse_history_count(h), 4, "exactly the age limit stays");
    sse_history_expire(h, 2500);
    cr_expect_eq(sse_history_count(h), 3);
    check_rows(h, rows, NROWS(rows));
    sse_history_expire(h, 100000);
    cr_expect_eq(sse_history_count(h), 0);
    cr_expect_eq(sse_history_bytes(h), 0);
    sse_history_destroy(&h);
}

Test(sse_history, expire_without_an_age_limit_keeps_everything)
{
    struct sse_history *h = make(100, 0, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    sse_history_expire(h, INT64_MAX / 2);
    cr_expect_eq(sse_history_count(h), 1);
    sse_history_destroy(&h);
}

Test(sse_history, bytes_limit_lets_the_oldest_of_any_key_go)
{
    static const struct rcase rows[] = {
        { "a after its let-go id", { "a" }, "10", 0, NOLIMIT, { 12, 14 },
          0 },
        { "a after a seq before it", { "a" }, "9", 0, NOLIMIT, { 12, 14 },
          1 },
        { "b lost 11", { "b" }, "10", 0, NOLIMIT, { 13 }, 1 },
        { "both after 11", { "a", "b" }, "11", 0, NOLIMIT, { 12, 13, 14 },
          0 },
    };
    /* Each event is EV_LEN bytes with a two-byte id: three fit. */
    struct sse_history *h = make(100, 0, 3 * (EV_LEN + 2), 1);

    add(h, "a", 10, 0, NULL, 0);
    add(h, "b", 11, 0, NULL, 0);
    add(h, "a", 12, 0, NULL, 0);
    cr_expect_eq(sse_history_count(h), 3);
    add(h, "b", 13, 0, NULL, 0);
    add(h, "a", 14, 0, NULL, 0);
    cr_expect_eq(sse_history_count(h), 3);
    cr_expect_leq(sse_history_bytes(h), 3 * (EV_LEN + 2));
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, a_key_that_lets_everything_go_raises_the_horizon)
{
    static const struct rcase rows[] = {
        { "emptied key before the horizon", { "a" }, NULL, 10, NOLIMIT,
          { 13 }, 1 },
        { "emptied key at the horizon", { "a" }, NULL, 11, NOLIMIT,
          { 13 }, 0 },
        { "never-seen key before the horizon", { "zzz" }, NULL, 10,
          NOLIMIT, { 13 }, 1 },
        { "never-seen key at the horizon", { "zzz" }, NULL, 11, NOLIMIT,
          { 13 }, 0 },
        { "kept key and broadcasts before the horizon", { "c" }, NULL, 10,
          NOLIMIT, { 12, 13 }, 0 },
        { "emptied key among kept ones", { "c", "b" }, NULL, 10, NOLIMIT,
          { 12, 13 }, 1 },
    };
    struct sse_history *h = make(100, 1000, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    add(h, "b", 11, 0, NULL, 0);
    add(h, "c", 12, 5000, NULL, 0);
    add(h, "", 13, 5000, NULL, SSE_WIRE_ALL);
    sse_history_expire(h, 2000);
    cr_expect_eq(sse_history_count(h), 2);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, a_key_that_comes_back_after_the_horizon_is_missed_before_it)
{
    static const struct rcase rows[] = {
        { "returning key before the horizon", { "a" }, NULL, 10, NOLIMIT,
          { 12, 13 }, 1 },
        { "returning key at the horizon", { "a" }, NULL, 11, NOLIMIT,
          { 12, 13 }, 0 },
    };
    struct sse_history *h = make(100, 1000, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    add(h, "b", 11, 0, NULL, 0);
    sse_history_expire(h, 2000);
    add(h, "a", 12, 5000, NULL, 0);
    add(h, "", 13, 5000, NULL, SSE_WIRE_ALL);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

Test(sse_history, many_keys_survive_the_table_growing_and_emptying)
{
    struct sse_history *h = make(2, 1000, 0, 1);
    char key[16];
    uint64_t seq = 10, bseq, last[300];

    /* 300 keys with three events each: first the even keys, old, then the
     * odd keys, recent; then a recent broadcast, so the broadcasts are
     * never an absent key. */
    for (int odd = 0; odd < 2; odd++)
        for (int k = odd; k < 300; k += 2) {
            snprintf(key, sizeof(key), "user%d", k);
            for (int i = 0; i < 3; i++)
                add(h, key, seq++, odd ? 5000 : 0, NULL, 0);
            last[k] = seq - 1;
        }
    bseq = seq;
    add(h, "", bseq, 5000, NULL, SSE_WIRE_ALL);
    cr_expect_eq(sse_history_count(h), 601, "two kept per key");
    sse_history_expire(h, 2000);
    cr_expect_eq(sse_history_count(h), 301, "even keys emptied");
    for (int k = 0; k < 300; k++) {
        const char *keys[] = { key, NULL };
        struct got g;

        snprintf(key, sizeof(key), "user%d", k);
        g = replay(h, keys, NULL, last[k] - 2, NOLIMIT);
        if (k % 2) {
            cr_expect(g.n == 3 && g.seq[0] == last[k] - 1 &&
                      g.seq[1] == last[k] && g.seq[2] == bseq,
                      "%s keeps its newest two", key);
            cr_expect_eq(g.missed, 0, "%s after its let-go event", key);
        } else {
            cr_expect(g.n == 1 && g.seq[0] == bseq, "%s is empty", key);
            cr_expect_eq(g.missed, 1, "%s is below the horizon", key);
        }
    }
    sse_history_destroy(&h);
}

Test(sse_history, without_a_horizon_a_key_with_no_history_lost_nothing)
{
    static const struct rcase rows[] = {
        { "unknown key, no broadcasts", { "zzz" }, NULL, 1, NOLIMIT, { 0 },
          0 },
        { "known and unknown key", { "a", "zzz" }, NULL, 1, NOLIMIT,
          { 10 }, 0 },
    };
    struct sse_history *h = make(100, 0, 0, 1);

    add(h, "a", 10, 0, NULL, 0);
    check_rows(h, rows, NROWS(rows));
    sse_history_destroy(&h);
}

/* ---- state file --------------------------------------------------------- */

/*
 * gap_below 5; "gone" (seq 6) expired, so the horizon is 6; "a" let 7 and
 * 8 go by the count limit; ids repeat; flags on 9 and 11.
 */
static struct sse_history *
saved_fixture(int64_t age_ms)
{
    struct sse_history *h = make(2, age_ms, 0, 5);

    add(h, "gone", 6, 0, NULL, 0);
    sse_history_expire(h, 15000);
    add(h, "a", 7, 20000, NULL, 0);
    add(h, "a", 8, 20001, "pub-8", 0);
    add(h, "b", 9, 20002, NULL, SSE_WIRE_CLOSE);
    add(h, "a", 10, 20003, NULL, 0);
    add(h, "", 11, 20004, "bye", SSE_WIRE_ALL | SSE_WIRE_CLOSE);
    add(h, "a", 12, 20005, "pub-8", 0);
    add(h, "b", 13, 20006, "", 0);
    cr_assert_eq(sse_history_count(h), 5);
    return h;
}

static void
save(const struct sse_history *h, uint64_t next_seq, int clean,
     struct sse_buf *b)
{
    sse_buf_init(b, 0);
    cr_assert_eq(sse_history_save(h, next_seq, clean, b), 0);
}

Test(sse_history, save_and_load_round_trip_events_floors_and_flags)
{
    static const struct rcase rows[] = {
        { "below gap_below", { "a" }, NULL, 4, NOLIMIT, { 10, 11, 12 }, 1 },
        { "a before its floor", { "a" }, NULL, 7, NOLIMIT, { 10, 11, 12 },
          1 },
        { "a at its floor", { "a" }, NULL, 8, NOLIMIT, { 10, 11, 12 }, 0 },
        { "repeated id", { "a" }, "pub-8", 0, NOLIMIT, { 0 }, 0 },
        { "emptied key before the horizon", { "gone" }, NULL, 5, NOLIMIT,
          { 11 }, 1 },
        { "emptied key at the horizon", { "gone" }, NULL, 6, NOLIMIT,
          { 11 }, 0 },
        { "b after the broadcast's id", { "b" }, "bye", 0, NOLIMIT, { 13 },
          0 },
    };
    struct sse_history *h = saved_fixture(10000);
    struct sse_history *l = make(2, 10000, 0, 0);
    struct sse_buf b, again;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;

    save(h, 14, 1, &b);
    cr_assert_eq(load_guarded(l, sse_buf_head(&b), sse_buf_len(&b), 20010,
                              &next, &clean, &reason), 0, "%s", reason);
    cr_expect_eq(next, 14);
    cr_expect_eq(clean, 1);
    cr_expect_eq(sse_history_count(l), sse_history_count(h));
    cr_expect_eq(sse_history_bytes(l), sse_history_bytes(h));
    expect_same_replays(h, l, "loaded");
    check_rows(l, rows, NROWS(rows));
    save(l, 14, 1, &again);
    cr_expect_eq(sse_buf_len(&again), sse_buf_len(&b),
                 "saving the loaded history gives a file of the same size");
    sse_buf_free(&again);
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

Test(sse_history, a_state_saved_while_running_loads_as_not_clean)
{
    struct sse_history *h = saved_fixture(10000);
    struct sse_history *l = make(2, 10000, 0, 0);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;

    save(h, 99, 0, &b);
    cr_assert_eq(load_guarded(l, sse_buf_head(&b), sse_buf_len(&b), 20010,
                              &next, &clean, &reason), 0, "%s", reason);
    cr_expect_eq(next, 99);
    cr_expect_eq(clean, 0);
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

Test(sse_history, save_appends_after_what_the_buffer_holds)
{
    struct sse_history *h = saved_fixture(10000);
    struct sse_history *l = make(2, 10000, 0, 0);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;

    sse_buf_init(&b, 0);
    sse_buf_append(&b, "prefix", 6);
    cr_assert_eq(sse_history_save(h, 14, 1, &b), 0);
    cr_expect(memcmp(sse_buf_head(&b), "prefix", 6) == 0);
    cr_expect_eq(load_guarded(l, sse_buf_head(&b) + 6, sse_buf_len(&b) - 6,
                              20010, &next, &clean, &reason), 0);
    cr_expect_eq(sse_history_count(l), 5);
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

Test(sse_history, save_refuses_a_buffer_too_small_and_leaves_it_unchanged)
{
    struct sse_history *h = make(10, 0, 0, 1);
    struct sse_buf full;
    size_t total;

    add(h, "a", 10, 0, NULL, 0);
    save(h, 11, 1, &full);
    total = sse_buf_len(&full);

    /* Ceilings that fall inside the event's bytes, on a field boundary,
     * and exactly at the end. */
    struct {
        const char *row;
        size_t      max;
        int         want;
    } rows[] = {
        { "ceiling inside the event's bytes", total - EV_LEN / 2, -1 },
        { "ceiling just before the event's bytes", total - EV_LEN, -1 },
        { "ceiling one byte short", total - 1, -1 },
        { "ceiling inside the header", 20, -1 },
        { "ceiling exactly the file", total, 0 },
        { "ceiling one byte more", total + 1, 0 },
    };

    for (size_t i = 0; i < NROWS(rows); i++) {
        struct sse_buf b;
        int rc;

        sse_buf_init(&b, rows[i].max + 1);     /* the "x" and the file */
        sse_buf_append(&b, "x", 1);
        rc = sse_history_save(h, 11, 1, &b);
        cr_expect_eq(rc, rows[i].want, "%s (max %zu of %zu): returned %d, "
                     "want %d", rows[i].row, rows[i].max, total, rc,
                     rows[i].want);
        if (rows[i].want == -1)
            cr_expect_eq(sse_buf_len(&b), 1, "%s: buffer holds %zu bytes, "
                         "want only the 1 it had", rows[i].row,
                         sse_buf_len(&b));
        sse_buf_free(&b);
    }
    sse_buf_free(&full);
    sse_history_destroy(&h);
}

Test(sse_history, load_drops_events_past_the_age_limit_as_expire_would)
{
    static const struct rcase rows[] = {
        { "a after a seq before its dropped events", { "a" }, NULL, 9,
          NOLIMIT, { 12, 13 }, 1 },
        { "a after its dropped id", { "a" }, "10", 0, NOLIMIT, { 12, 13 },
          0 },
        { "b after a seq before its dropped event", { "b" }, NULL, 10,
          NOLIMIT, { 13 }, 1 },
        { "b after its dropped id", { "b" }, "11", 0, NOLIMIT, { 13 }, 0 },
    };
    struct sse_history *kept = make(100, 0, 0, 1);
    struct sse_history *live = make(100, 2000, 0, 1);
    struct sse_history *l = make(100, 2000, 0, 1);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;

    for (int i = 0; i < 2; i++) {
        struct sse_history *x = i ? live : kept;

        add(x, "a", 10, 0, NULL, 0);
        add(x, "b", 11, 1000, NULL, 0);
        add(x, "a", 12, 5000, NULL, 0);
        add(x, "", 13, 5000, NULL, SSE_WIRE_ALL);
    }
    save(kept, 14, 1, &b);
    cr_assert_eq(load_guarded(l, sse_buf_head(&b), sse_buf_len(&b), 6000,
                              &next, &clean, &reason), 0, "%s", reason);
    sse_history_expire(live, 6000);
    cr_expect_eq(sse_history_count(l), 2, "10 and 11 are older than 2000 ms");
    cr_expect_eq(sse_history_count(live), 2);
    check_rows(live, rows, NROWS(rows));
    check_rows(l, rows, NROWS(rows));
    expect_same_replays(live, l, "loaded vs expired");
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&live);
    sse_history_destroy(&kept);
}

Test(sse_history, load_keeps_at_most_the_count_limit)
{
    static const struct rcase rows[] = {
        { "newest two of a", { "a" }, NULL, 1, NOLIMIT, { 12, 13 }, 1 },
        { "after the newest let go", { "a" }, "11", 0, NOLIMIT, { 12, 13 },
          0 },
    };
    struct sse_history *h = make(100, 0, 0, 1);
    struct sse_history *l = make(2, 0, 0, 1);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;

    for (uint64_t s = 10; s <= 13; s++)
        add(h, "a", s, 0, NULL, 0);
    save(h, 14, 1, &b);
    cr_assert_eq(load_guarded(l, sse_buf_head(&b), sse_buf_len(&b), 0,
                              &next, &clean, &reason), 0, "%s", reason);
    cr_expect_eq(sse_history_count(l), 2);
    check_rows(l, rows, NROWS(rows));
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

/* A hand-written state file, as the grammar in sse_history.c spells it. */

static void
be(struct sse_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];

    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    sse_buf_append(b, x, (size_t)bytes);
}

static void
st_head(struct sse_buf *b, int clean, uint64_t next, uint64_t gap,
        uint64_t horizon, uint32_t nkeys)
{
    sse_buf_append(b, "SSEGW-STATE", 12);   /* with its NUL */
    be(b, 1, 1);
    be(b, (uint64_t)clean, 1);
    be(b, next, 8);
    be(b, gap, 8);
    be(b, horizon, 8);
    be(b, nkeys, 4);
}

static void
st_key(struct sse_buf *b, const char *key, uint64_t floor)
{
    be(b, strlen(key), 1);
    sse_buf_append(b, key, strlen(key));
    be(b, floor, 8);
}

static void
st_event(struct sse_buf *b, const char *key, uint64_t seq, int64_t t,
         unsigned flags, const char *id, size_t id_len)
{
    char sse[32];

    be(b, strlen(key), 1);
    sse_buf_append(b, key, strlen(key));
    be(b, seq, 8);
    be(b, (uint64_t)t, 8);
    be(b, flags, 1);
    be(b, id_len, 2);
    sse_buf_append(b, id, id_len);
    be(b, EV_LEN, 4);
    sse_of(seq, sse, sizeof(sse));
    sse_buf_append(b, sse, EV_LEN);
}

Test(sse_history, a_hand_written_state_file_loads_as_the_grammar_says)
{
    static const struct rcase rows[] = {
        { "a after its floor", { "a" }, NULL, 10, NOLIMIT, { 20, 21 }, 0 },
        { "a before its floor", { "a" }, NULL, 9, NOLIMIT, { 20, 21 }, 1 },
        { "below gap_below", { "b" }, NULL, 2, NOLIMIT, { 21 }, 1 },
        { "absent key below the horizon", { "b" }, NULL, 6, NOLIMIT, { 21 },
          1 },
        { "absent key at the horizon", { "b" }, NULL, 7, NOLIMIT, { 21 },
          0 },
        { "after a publisher id", { "a" }, "p", 0, NOLIMIT, { 21 }, 0 },
    };
    struct sse_history *h = make(100, 0, 0, 0);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason = NULL;
    struct sse_history_replay r;
    const char *keys[] = { "a", NULL };

    sse_buf_init(&b, 0);
    st_head(&b, 1, 22, 3, 7, 2);
    st_key(&b, "a", 10);
    st_key(&b, "", 0);
    be(&b, 2, 4);
    st_event(&b, "a", 20, 1234, SSE_WIRE_CLOSE, "p", 1);
    st_event(&b, "", 21, 1235, SSE_WIRE_ALL, "21", 2);
    cr_assert_eq(load_guarded(h, sse_buf_head(&b), sse_buf_len(&b), 2000,
                              &next, &clean, &reason), 0, "%s", reason);
    cr_expect_eq(next, 22);
    cr_expect_eq(clean, 1);
    cr_expect_eq(sse_history_count(h), 2);
    check_rows(h, rows, NROWS(rows));
    replay_raw(h, keys, NULL, 10, NOLIMIT, &r);
    cr_assert_eq(r.n, 2);
    cr_expect_eq(r.events[0]->time_ms, 1234);
    cr_expect_eq(r.events[0]->flags, SSE_WIRE_CLOSE);
    cr_expect_str_eq(r.events[0]->id, "p");
    cr_expect_eq(r.events[1]->flags, SSE_WIRE_ALL);
    sse_history_replay_free(&r);
    sse_buf_free(&b);
    sse_history_destroy(&h);
}

/* The history is still empty and knows no floor, horizon or gap. */
static void
expect_untouched(const struct sse_history *h, const char *row)
{
    static const char *const keys[] = { "a", "b", "gone", NULL };
    struct sse_history_replay r;

    cr_expect_eq(sse_history_count(h), 0, "%s: history gained events", row);
    cr_expect_eq(sse_history_bytes(h), 0, "%s: history gained bytes", row);
    replay_raw(h, keys, NULL, 0, NOLIMIT, &r);
    cr_expect_eq(r.n, 0, "%s: replay found events", row);
    cr_expect_eq(r.missed, 0, "%s: a floor, horizon or gap_below changed",
                 row);
    sse_history_replay_free(&r);
}

Test(sse_history, load_refuses_every_strict_prefix_of_a_state_file)
{
    struct sse_history *h = saved_fixture(10000);
    struct sse_history *l = make(2, 10000, 0, 0);
    struct sse_buf b;
    uint64_t next = 0;
    int clean = -1;
    const char *reason;

    save(h, 14, 1, &b);
    for (size_t n = 0; n < sse_buf_len(&b); n++) {
        char row[64];
        int rc;

        snprintf(row, sizeof(row), "prefix of %zu of %zu bytes", n,
                 sse_buf_len(&b));
        reason = NULL;
        rc = load_guarded(l, sse_buf_head(&b), n, 20010, &next, &clean,
                          &reason);
        cr_expect_eq(rc, -1, "%s: returned %d", row, rc);
        cr_expect(reason != NULL && reason[0] != '\0', "%s: no reason", row);
        cr_expect(next == 0 && clean == -1, "%s: outputs set", row);
        expect_untouched(l, row);
    }
    cr_expect_eq(load_guarded(l, sse_buf_head(&b), sse_buf_len(&b), 20010,
                              &next, &clean, &reason), 0,
                 "the whole file still loads");
    cr_expect_eq(sse_history_count(l), 5);
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

Test(sse_history, load_refuses_a_wrong_magic_or_version)
{
    struct sse_history *h = saved_fixture(10000);
    struct sse_history *l = make(2, 10000, 0, 0);
    struct sse_buf b;
    char *copy;
    size_t n;

    save(h, 14, 1, &b);
    n = sse_buf_len(&b);
    copy = malloc(n);
    cr_assert_not_null(copy);
    /* Bytes 0..11 are the magic with its NUL, byte 12 the version. */
    for (size_t i = 0; i <= 12; i++)
        for (unsigned bit = 0x01; bit <= 0x80; bit <<= 1) {
            uint64_t next = 0;
            int clean = -1, rc;
            const char *reason = NULL;
            char row[64];

            snprintf(row, sizeof(row), "byte %zu bit 0x%02x flipped", i, bit);
            memcpy(copy, sse_buf_head(&b), n);
            copy[i] = (char)(copy[i] ^ bit);
            rc = load_guarded(l, copy, n, 20010, &next, &clean, &reason);
            cr_expect_eq(rc, -1, "%s: returned %d", row, rc);
            cr_expect_not_null(reason, "%s: no reason", row);
            expect_untouched(l, row);
        }
    free(copy);
    sse_buf_free(&b);
    sse_history_destroy(&l);
    sse_history_destroy(&h);
}

Test(sse_history, load_refuses_damaged_fields_and_leaves_the_history_alone)
{
    char longkey[SSE_KEY_MAX + 2], longid[SSE_EVENT_ID_MAX + 2];
    struct dcase {
        const char *row;
        const char *list_key;   /* the one key in the key list */
        const char *ev_key;     /* key of both events */
        uint64_t    seq1, seq2, next;
        const char *id2;        /* NULL: longer than SSE_EVENT_ID_MAX */
        size_t      id2_len;    /* 0: strlen(id2) */
        uint32_t    nevents;    /* the count the file claims */
        int         trailing;   /* bytes after the last event */
        int         want;
    } rows[] = {
        { "valid", "a", "a", 10, 11, 12, "11", 0, 2, 0, 0 },
        { "valid broadcasts", "", "", 10, 11, 12, "11", 0, 2, 0, 0 },
        { "valid longest key", NULL, NULL, 10, 11, 12, "11", 0, 2, 0, 0 },
        { "second seq equal to the first", "a", "a", 10, 10, 12, "11", 0,
          2, 0, -1 },
        { "second seq below the first", "a", "a", 10, 9, 12, "11", 0, 2, 0,
          -1 },
        { "seq not below next_seq", "a", "a", 10, 11, 11, "11", 0, 2, 0,
          -1 },
        { "key list holds an invalid key", "a b", "a", 10, 11, 12, "11", 0,
          2, 0, -1 },
        { "event's key is invalid", "a", "a/b", 10, 11, 12, "11", 0, 2, 0,
          -1 },
        { "key longer than SSE_KEY_MAX", NULL, "a", 10, 11, 12, "11", 0, 2,
          0, -1 },
        { "event key longer than SSE_KEY_MAX", "a", NULL, 10, 11, 12, "11",
          0, 2, 0, -1 },
        { "id holds a LF", "a", "a", 10, 11, 12, "1\n1", 0, 2, 0, -1 },
        { "id holds a NUL", "a", "a", 10, 11, 12, "1\0001", 3, 2, 0, -1 },
        { "id longer than SSE_EVENT_ID_MAX", "a", "a", 10, 11, 12, NULL, 0,
          2, 0, -1 },
        { "event count claims one more", "a", "a", 10, 11, 12, "11", 0, 3,
          0, -1 },
        { "event count claims one fewer", "a", "a", 10, 11, 12, "11", 0, 1,
          0, -1 },
        { "a trailing byte", "a", "a", 10, 11, 12, "11", 0, 2, 1, -1 },
    };

    memset(longkey, 'k', sizeof(longkey));
    longkey[SSE_KEY_MAX + 1] = '\0';        /* SSE_KEY_MAX + 1 bytes */
    memset(longid, 'i', sizeof(longid));
    longid[SSE_EVENT_ID_MAX + 1] = '\0';
    for (size_t i = 0; i < NROWS(rows); i++) {
        struct dcase *c = &rows[i];
        struct sse_history *h = make(100, 0, 0, 0);
        struct sse_buf b;
        uint64_t next = 0;
        int clean = -1, rc;
        const char *reason = NULL;
        const char *lk = c->list_key, *ek = c->ev_key;
        const char *id2 = c->id2 ? c->id2 : longid;

        if (lk == NULL)
            lk = c->want == 0 ? longkey + 1 : longkey;
        if (ek == NULL)
            ek = c->want == 0 ? longkey + 1 : longkey;
        sse_buf_init(&b, 0);
        st_head(&b, 1, c->next, 0, 0, 1);
        st_key(&b, lk, 0);
        be(&b, c->nevents, 4);
        st_event(&b, ek, c->seq1, 0, 0, "10", 2);
        st_event(&b, ek, c->seq2, 0, 0, id2,
                 c->id2_len ? c->id2_len : strlen(id2));
        if (c->trailing)
            be(&b, 0, 1);
        rc = load_guarded(h, sse_buf_head(&b), sse_buf_len(&b), 0, &next,
                          &clean, &reason);
        cr_expect_eq(rc, c->want, "%s: returned %d, want %d (%s)", c->row,
                     rc, c->want, reason ? reason : "no reason");
        if (c->want == -1) {
            cr_expect_not_null(reason, "%s: no reason", c->row);
            cr_expect(next == 0 && clean == -1, "%s: outputs set", c->row);
            expect_untouched(h, c->row);
        } else {
            cr_expect_eq(sse_history_count(h), 2, "%s: events loaded",
                         c->row);
            cr_expect_eq(next, c->next, "%s: next_seq", c->row);
        }
        sse_buf_free(&b);
        sse_history_destroy(&h);
    }
}
