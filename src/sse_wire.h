/*
 * sse_wire: the messages the broker exchanges, each with a version byte.
 *
 * sse-push sends PUBLISH frames to the broker's ROUTER socket (over a
 * DEALER, so several may be in flight); the broker answers each with an ACK
 * once the event is on its PUB side, or a NACK with a reason. Workers get
 * DELIVER frames from the broker's XPUB socket, behind a topic frame (see
 * sse_key.h), each carrying the broker's instance and the event's sequence
 * number. A worker sends REPLAY requests upstream through its XSUB socket,
 * on the same pipe as its subscriptions, so the broker reads a request only
 * after the subscriptions sent before it are in force; the REPLAYED answer
 * comes back on the worker's own topic. The broker also sends a REPLAYED
 * with req 0 and no events (a hello) when a worker subscribes to its own
 * topic, which tells a reconnected worker which broker it now talks to.
 * Integers are big-endian. The version byte is 2 because an upstream XSUB
 * message starting with 0 or 1 would be taken for a subscription.
 *
 *   publish  = %x02 "P" flags seq32 key-len key
 *              name-len name id-len id retry data-len data
 *   ack      = %x02 "A" seq32 status reason-len reason
 *   deliver  = %x02 "D" flags instance seq sse-bytes
 *   replay   = %x02 "R" req topic-len topic after-kind after-len after
 *              key-count *(key-len key)
 *   replayed = %x02 "Y" rflags instance req seq-now count
 *              *(flags seq len32 sse-bytes)
 *   report   = %x02 "W" worker pid streams count *(key-len key streams)
 *   stats    = %x02 "S" seq32 key-len key [topic-len topic]
 *                                ; key-len 0: every key; a worker asking
 *                                ; upstream names its topic for the answer
 *   counts   = %x02 "T" seq32 json-len json     ; the broker's answer
 *
 *   flags      = OCTET          ; bit 0: close streams after, bit 1: all keys,
 *                                ; bit 2 (publish only): skip if unchanged
 *   rflags     = OCTET          ; bit 0: events after "after" were lost
 *   seq32      = 4OCTET         ; chosen by the publisher, echoed in the ack
 *   key-len    = OCTET          ; 0 with the "all keys" flag
 *   name-len   = OCTET          ; 0: no event field
 *   id-len     = 2OCTET         ; 0: no id field (the broker assigns one)
 *   retry      = 4OCTET         ; %xFFFFFFFF: no retry field
 *   data-len   = 4OCTET
 *   status     = OCTET          ; 0 accepted, 1 invalid data, 2 unavailable,
 *                                ; 3 unchanged (not published)
 *   reason-len = OCTET
 *   instance   = 8OCTET         ; random, new each time the broker starts
 *   seq        = 8OCTET         ; the event's place in the broker's order
 *   req        = 8OCTET         ; chosen by the worker, echoed
 *   after-kind = %x00 / %x01 / %x02 / %x03 ; none (from now) / after seq /
 *                                ; after id / each key's latest event
 *   seq-now    = 8OCTET         ; the broker's latest seq when it answered
 *   count      = 4OCTET         ; events that follow, oldest first
 *   sse-bytes  = *OCTET         ; one event exactly as streams send it
 *   worker     = 8OCTET         ; a worker's random id
 *   pid        = 4OCTET
 *   streams    = 4OCTET         ; open streams (of the worker, of a key)
 *
 * Workers send a report upstream every few seconds; the broker keeps the
 * latest of each and answers stats requests from sse-push with counts.
 */
#ifndef SSE_WIRE_H
#define SSE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sse_event.h"

struct sse_buf;

#define SSE_WIRE_VERSION 2

#define SSE_WIRE_CLOSE 0x01   /* end every matching stream after this event */
#define SSE_WIRE_ALL   0x02   /* broadcast: every stream, no key */
#define SSE_WIRE_IF_CHANGED 0x04 /* publish: skip if the same as the latest */
#define SSE_WIRE_MISSED 0x01  /* replayed: events after "after" were lost */
#define SSE_WIRE_KEYS_MAX 32  /* keys in one replay request */

enum sse_wire_after {
    SSE_WIRE_AFTER_NONE = 0,  /* a new stream: only what comes from now */
    SSE_WIRE_AFTER_SEQ = 1,   /* everything after a sequence number */
    SSE_WIRE_AFTER_ID = 2,    /* everything after an event id */
    SSE_WIRE_AFTER_LATEST = 3, /* each key's latest event, then live */
};

enum sse_wire_status {
    SSE_WIRE_OK = 0,          /* accepted and handed to the PUB side */
    SSE_WIRE_INVALID = 1,     /* the message was refused as invalid */
    SSE_WIRE_UNAVAILABLE = 2, /* the broker could not forward it */
    SSE_WIRE_UNCHANGED = 3,   /* --if-changed: the same as the latest one */
};

struct sse_wire_publish {
    unsigned         flags;     /* SSE_WIRE_CLOSE | SSE_WIRE_ALL |
                                   SSE_WIRE_IF_CHANGED */
    uint32_t         seq;       /* echoed in the ack */
    const char      *key;       /* NULL/0 with SSE_WIRE_ALL */
    size_t           key_len;
    struct sse_event ev;        /* fields point into the decoded frame */
};

struct sse_wire_ack {
    uint32_t    seq;
    int         status;         /* enum sse_wire_status */
    const char *reason;         /* not NUL-terminated; NULL/0 if none */
    size_t      reason_len;
};

/* Append the publish frame for m to out. Returns 0, or -1 if a field is too
 * long for its length prefix or out would pass its ceiling (out unchanged). */
int sse_wire_publish_encode(const struct sse_wire_publish *m,
                            struct sse_buf *out);

/* Decode a publish frame; m's pointers are views into frame. The fields are
 * checked (key, name, id, retry, data with data_max). Returns 0, or -1 with
 * *reason set to a static reason. */
int sse_wire_publish_decode(const void *frame, size_t n,
                            struct sse_wire_publish *m, size_t data_max,
                            const char **reason);

/* Append an ack frame. reason may be NULL; it is cut to 255 bytes. */
int sse_wire_ack_encode(const struct sse_wire_ack *a, struct sse_buf *out);

/* Decode an ack frame (reason points into frame). Returns 0 or -1. */
int sse_wire_ack_decode(const void *frame, size_t n, struct sse_wire_ack *a);

struct sse_wire_deliver {
    unsigned    flags;      /* SSE_WIRE_CLOSE | SSE_WIRE_ALL */
    uint64_t    instance;   /* the broker that sent it */
    uint64_t    seq;        /* the event's sequence number */
    const char *sse;        /* the event's bytes, one whole event */
    size_t      len;
};

struct sse_wire_replay {
    uint64_t    req;        /* echoed in the answer */
    const char *topic;      /* the worker's own topic, for the answer */
    size_t      topic_len;
    int         after;      /* enum sse_wire_after */
    uint64_t    after_seq;  /* with SSE_WIRE_AFTER_SEQ */
    const char *after_id;   /* with SSE_WIRE_AFTER_ID (a valid id) */
    size_t      after_id_len;
    size_t      nkeys;
    const char *keys[SSE_WIRE_KEYS_MAX];     /* valid keys */
    size_t      key_lens[SSE_WIRE_KEYS_MAX];
};

struct sse_wire_item {
    unsigned    flags;      /* SSE_WIRE_CLOSE | SSE_WIRE_ALL */
    uint64_t    seq;
    const char *sse;        /* one whole event */
    size_t      len;
};

struct sse_wire_replayed {
    unsigned             flags;     /* SSE_WIRE_MISSED */
    uint64_t             instance;
    uint64_t             req;       /* 0 for a hello */
    uint64_t             seq_now;
    uint32_t             count;     /* items */
    const unsigned char *items;     /* the encoded items, for iteration */
    size_t               items_len;
    const unsigned char *next;      /* iteration state */
    size_t               left;
};

/* Append a deliver frame. Returns 0, or -1 for unknown flags or if out
 * would pass its ceiling. */
int sse_wire_deliver_encode(const struct sse_wire_deliver *d,
                            struct sse_buf *out);

/* Bytes of a deliver frame before the event's bytes. */
#define SSE_WIRE_DELIVER_HEAD 19

/* Append only the first SSE_WIRE_DELIVER_HEAD bytes of a deliver frame
 * (d->sse and d->len are not read); the caller appends the event's bytes
 * right after, e.g. with sse_event_encode, so that the event is encoded
 * straight into the frame instead of being copied there. Returns 0 or -1
 * as sse_wire_deliver_encode. */
int sse_wire_deliver_head(const struct sse_wire_deliver *d,
                          struct sse_buf *out);

/* Decode a deliver frame into views of it. Returns 0, or -1 if it is not a
 * deliver frame holding exactly one whole event. */
int sse_wire_deliver_decode(const void *frame, size_t n,
                            struct sse_wire_deliver *d);

/* Append a replay request. Returns 0, or -1 if a field does not fit. */
int sse_wire_replay_encode(const struct sse_wire_replay *r,
                           struct sse_buf *out);

/* Decode a replay request; keys and id are checked. Returns 0 or -1. */
int sse_wire_replay_decode(const void *frame, size_t n,
                           struct sse_wire_replay *r);

/* Append a replayed answer with items[0..n), oldest first. Returns 0 or
 * -1. */
int sse_wire_replayed_encode(const struct sse_wire_replayed *h,
                             const struct sse_wire_item *items, size_t n,
                             struct sse_buf *out);

/* Decode a replayed answer and check every item in it. Returns 0 or -1. */
int sse_wire_replayed_decode(const void *frame, size_t n,
                             struct sse_wire_replayed *h);

/* Take the next item of a decoded answer into *item (views into the
 * frame). Returns 1, or 0 after the last one. */
int sse_wire_replayed_next(struct sse_wire_replayed *h,
                           struct sse_wire_item *item);

/* ---- counts -------------------------------------------------------- */

struct sse_wire_report {
    uint64_t             worker;
    uint32_t             pid;
    uint32_t             streams;    /* open streams of the worker */
    uint32_t             count;      /* keys that follow */
    const unsigned char *next;       /* iteration over the keys */
    size_t               left;
};

/* Start a report in out; add keys with sse_wire_report_key, then finish
 * with sse_wire_report_end (which writes the key count). Returns 0 or -1
 * at out's ceiling. */
int sse_wire_report_begin(struct sse_buf *out, uint64_t worker, uint32_t pid,
                          uint32_t streams);
int sse_wire_report_key(struct sse_buf *out, const char *key, size_t len,
                        uint32_t streams);
void sse_wire_report_end(struct sse_buf *out, size_t begin, uint32_t count);

/* Decode a report; every key is checked. Returns 0 or -1. */
int sse_wire_report_decode(const void *frame, size_t n,
                           struct sse_wire_report *r);

/* Take the next key of a decoded report (a view into the frame). Returns
 * 1, or 0 after the last. */
int sse_wire_report_next(struct sse_wire_report *r, const char **key,
                         size_t *len, uint32_t *streams);

/* A stats request (key NULL/0: every key; topic NULL/0: none) and the
 * broker's JSON answer. */
int sse_wire_stats_encode(uint32_t seq, const char *key, size_t len,
                          const char *topic, size_t topic_len,
                          struct sse_buf *out);
int sse_wire_stats_decode(const void *frame, size_t n, uint32_t *seq,
                          const char **key, size_t *len, const char **topic,
                          size_t *topic_len);
int sse_wire_counts_encode(uint32_t seq, const char *json, size_t len,
                           struct sse_buf *out);
int sse_wire_counts_decode(const void *frame, size_t n, uint32_t *seq,
                           const char **json, size_t *len);

#endif /* SSE_WIRE_H */
