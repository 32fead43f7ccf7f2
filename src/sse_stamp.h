/*
 * sse_stamp: the payload sse-bench publishes and checks on arrival.
 *
 *   stamp   = t_us SP seq SP key [ SP padding ]
 *   t_us    = 1*19DIGIT   ; CLOCK_REALTIME in microseconds, taken just
 *                         ; before the publisher hands the event over
 *   seq     = 1*10DIGIT   ; 1, 2, 3, ... per key (or per broadcast)
 *   key     = 1*(any byte but SP) ; the key published to, "*" for all
 *   padding = *OCTET      ; 'x' bytes up to the requested size
 *
 * and the per-stream bookkeeping of which seqs arrived: in order, after a
 * gap, late (out of order) or again (duplicate). A stream that only ever
 * sees seqs in order keeps two counters; a bitmap of the seqs seen exists
 * only while a gap is open, so ten thousand well-behaved streams cost
 * nothing extra. The module does no I/O.
 */
#ifndef SSE_STAMP_H
#define SSE_STAMP_H

#include <stddef.h>
#include <stdint.h>

#define SSE_STAMP_KEY_MAX 128   /* longest key in a stamp */
#define SSE_STAMP_MIN_LEN 64    /* bytes a stamp may need before padding */

/* A decoded stamp; key is a view into the data. */
struct sse_stamp {
    uint64_t    t_us;
    uint32_t    seq;
    const char *key;
    size_t      key_len;
};

/* Write the stamp for t_us, seq and key[0..key_len) into out (room for cap
 * bytes), padded with a space and 'x' bytes to size bytes in all when size
 * is larger than the bare stamp. No NUL is written. Returns the length, or
 * 0 if it does not fit in cap or key is empty, over SSE_STAMP_KEY_MAX or
 * holds a space. */
size_t sse_stamp_encode(char *out, size_t cap, uint64_t t_us, uint32_t seq,
                        const char *key, size_t key_len, size_t size);

/* Decode data[0..len) into *st. Returns 0, or -1 if it is not a stamp (no
 * digits, a zero or overflowing seq, no key, a key over SSE_STAMP_KEY_MAX,
 * extra spaces). */
int sse_stamp_decode(const char *data, size_t len, struct sse_stamp *st);

enum sse_stamp_verdict {
    SSE_STAMP_IN_ORDER,     /* the seq after the highest so far */
    SSE_STAMP_GAP,          /* past the next one: some are missing */
    SSE_STAMP_LATE,         /* fills an earlier gap: out of order */
    SSE_STAMP_DUPLICATE,    /* already received */
    SSE_STAMP_INVALID,      /* 0 or over the limit */
};

/* Which seqs of one stream arrived. Zero it to start. */
struct sse_stamp_seq {
    uint32_t high;          /* highest seq received */
    uint32_t distinct;      /* seqs received at least once */
    uint32_t nbits;         /* bits in seen, or 0 */
    uint8_t *seen;          /* received seqs while a gap is open, or NULL */
};

/* Record the arrival of seq, where seqs go from 1 to limit. Returns the
 * verdict; only SSE_STAMP_IN_ORDER, SSE_STAMP_GAP and SSE_STAMP_LATE add to
 * s->distinct. Aborts if memory runs out. */
enum sse_stamp_verdict sse_stamp_seq_add(struct sse_stamp_seq *s,
                                         uint32_t seq, uint32_t limit);

/* Free s's storage and zero it. */
void sse_stamp_seq_free(struct sse_stamp_seq *s);

#endif /* SSE_STAMP_H */
