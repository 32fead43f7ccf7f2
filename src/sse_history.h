/*
 * sse_history: the broker's bounded memory of recent events, per key and
 * for broadcasts, from which a reconnecting stream is replayed.
 *
 * Every event has the broker's sequence number, which orders all events of
 * all keys, and a visible id (the publisher's, or the decimal sequence
 * number). Limits: a count per key, an age, and a total size; the oldest
 * go first. For each key the history remembers the newest sequence number
 * it has let go, so a replay knows whether events after a stream's last id
 * are gone ("missed") or simply never existed.
 */
#ifndef SSE_HISTORY_H
#define SSE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct sse_buf;
struct sse_history;

struct sse_history_event {
    uint64_t    seq;
    int64_t     time_ms;    /* wall clock when published */
    unsigned    flags;      /* SSE_WIRE_CLOSE | SSE_WIRE_ALL */
    const char *id;         /* visible id, NUL-terminated */
    size_t      id_len;
    const char *sse;        /* the event's bytes */
    size_t      len;
};

struct sse_history_limits {
    size_t  count;          /* events kept per key (and for broadcasts) */
    int64_t age_ms;         /* events older than this go; 0: no age limit */
    size_t  bytes;          /* bytes kept in all; 0: no limit */
};

/* Make an empty history. gap_below: a stream whose last event has a lower
 * sequence number may have missed events this history never saw (the
 * broker's first sequence number when it starts without saved state).
 * The caller owns the result. */
struct sse_history *sse_history_new(const struct sse_history_limits *lim,
                                    uint64_t gap_below);

/* Free h and set *hp to NULL. Safe on NULL. */
void sse_history_destroy(struct sse_history **hp);

/* Record an event under key[0..klen) (klen 0 for a broadcast). The id and
 * bytes are copied. Older events go if a limit is passed. */
void sse_history_add(struct sse_history *h, const char *key, size_t klen,
                     const struct sse_history_event *ev);

/* Let go of events older than the age limit at now_ms. */
void sse_history_expire(struct sse_history *h, int64_t now_ms);

/* The latest event kept for key[0..klen) (klen 0: broadcasts), or NULL.
 * Borrowed until h changes. */
const struct sse_history_event *sse_history_latest(
    const struct sse_history *h, const char *key, size_t klen);

/* Events kept, and their bytes. */
size_t sse_history_count(const struct sse_history *h);
size_t sse_history_bytes(const struct sse_history *h);

struct sse_history_replay {
    size_t                           n;       /* events, oldest first */
    const struct sse_history_event **events;  /* borrowed from h */
    int                              missed;  /* events after the point
                                                 were let go or never seen */
};

/* Collect the events of keys[0..nkeys) and the broadcasts that come after
 * the stream's last event: after_id if non-NULL (an id it saw), else
 * after_seq. An id not kept is read as a sequence number when it is one,
 * else everything kept is replayed and missed is set. At most max_bytes of
 * events are returned (the newest; missed is set if some are left out).
 * out->events stays valid until h changes; free it with
 * sse_history_replay_free. */
void sse_history_replay(const struct sse_history *h, const char *const *keys,
                        const size_t *key_lens, size_t nkeys,
                        const char *after_id, size_t after_id_len,
                        uint64_t after_seq, size_t max_bytes,
                        struct sse_history_replay *out);
void sse_history_replay_free(struct sse_history_replay *out);

/* Raise the sequence number below which streams may have missed events. */
void sse_history_set_gap_below(struct sse_history *h, uint64_t gap_below);

/* Append h's contents, with next_seq (the next sequence number the broker
 * would assign), to out in the state file format. clean says the broker
 * stops here and publishes nothing more; a state saved while running is
 * not clean, since events may follow that it lacks. Returns 0 or -1. */
int sse_history_save(const struct sse_history *h, uint64_t next_seq,
                     int clean, struct sse_buf *out);

/* Load a state file's bytes into the empty history h; events past the age
 * limit at now_ms are dropped. Sets *next_seq and *clean. Returns 0, or -1
 * with *reason set if the bytes are not a state file (h is then left as it
 * was). */
int sse_history_load(struct sse_history *h, const void *p, size_t n,
                     int64_t now_ms, uint64_t *next_seq, int *clean,
                     const char **reason);

#endif /* SSE_HISTORY_H */
