/*
 * fuzz_fcgi_in: sse_fcgi_in, a FastCGI request as the worker reads it off
 * a connection, a few bytes at a time.
 *
 * Input: byte 0 chooses how the bytes are cut into many reads (0: one byte
 * at a time, else pieces of 1 to 16 bytes in a pattern it seeds), byte 1
 * where one cut into two reads falls (0: all in the second, 255: all in the
 * first), byte 2 a small ceiling on the parameters (1 to 256 bytes); the
 * rest is what the web server sent.
 *
 * The bytes are read four times: whole, in two reads, in many reads (the
 * reply cleared after each, as the worker does), all with a ceiling of
 * 4096, and whole with the small ceiling. Properties:
 *
 *   - the status, *why, begun, request_id, every byte answered in reply
 *     (over all the reads) and the parameters are the same however the
 *     bytes are cut;
 *   - they are exactly those of a reference reading of the records,
 *     written apart from the reader, over the whole input at once: records
 *     of id 0 are answered (FCGI_GET_VALUES_RESULT, FCGI_UNKNOWN_TYPE);
 *     the first FCGI_BEGIN_REQUEST of a nonzero id picks the request
 *     (a short one, or a role other than 1, refuses it, the latter with
 *     FCGI_END_REQUEST/FCGI_UNKNOWN_ROLE); only that id's FCGI_PARAMS count,
 *     up to the empty one, where the pairs must be whole; content past the
 *     ceiling or a record not of version 1 refuses;
 *   - a feed returns the status it leaves in the struct; the feed that
 *     turns BAD sets *why, one that returns MORE or DONE leaves it alone
 *     (a later feed may only give the same reason again); DONE implies
 *     begun and a nonzero request_id, and begun goes with a nonzero
 *     request_id; once DONE or BAD, later feeds change neither status,
 *     request_id, reply nor the parameters;
 *   - every name and value given to the callback lies inside in->params,
 *     the pairs follow each other there, they come only for a DONE request,
 *     and they hold no more than the ceiling.
 *
 * Inputs past 64 KiB are skipped: longer ones reach no other code.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_fcgi_in.h"

#define MAX         4096    /* the ordinary ceiling in these runs */
#define INPUT_MAX   65536   /* longest input taken */

/* What a reading gave, to compare runs. */
struct run {
    int           status, begun;
    unsigned      id;
    const char   *why;          /* the reason of the feed that turned BAD */
    struct sse_buf reply;       /* every byte answered, over all the feeds */
    struct sse_buf params;      /* per pair: nlen, name, vlen, value */
    size_t        param_bytes;  /* names and values in all */
};

static void
run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->status = SSE_FCGI_IN_MORE;
    sse_buf_init(&r->reply, 0);
    sse_buf_init(&r->params, 0);
}

static void
run_free(struct run *r)
{
    sse_buf_free(&r->reply);
    sse_buf_free(&r->params);
}

static void
log_pair(struct run *r, const void *name, size_t nlen, const void *value,
         size_t vlen)
{
    uint32_t len[2] = { (uint32_t)nlen, (uint32_t)vlen };

    sse_buf_append(&r->params, &len[0], sizeof(len[0]));
    sse_buf_append(&r->params, name, nlen);
    sse_buf_append(&r->params, &len[1], sizeof(len[1]));
    sse_buf_append(&r->params, value, vlen);
    r->param_bytes += nlen + vlen;
}

static int
same_buf(const struct sse_buf *a, const struct sse_buf *b)
{
    return sse_buf_len(a) == sse_buf_len(b) &&
        (sse_buf_len(a) == 0 ||
         memcmp(sse_buf_head(a), sse_buf_head(b), sse_buf_len(a)) == 0);
}

static const char *
status_name(int st)
{
    return st == SSE_FCGI_IN_MORE ? "MORE" : st == SSE_FCGI_IN_DONE ?
        "DONE" : st == SSE_FCGI_IN_BAD ? "BAD" : "?";
}

/* ---- driving the reader ------------------------------------------------- */

/* The callback's view of the reader: pairs must lie in params, one after
 * the other. */
struct walk {
    struct run   *r;
    const char   *base;
    size_t        len;
    const char   *next;     /* where the next pair's lengths may start */
};

static void
on_param(const char *name, size_t nlen, const char *value, size_t vlen,
         void *arg)
{
    struct walk *w = arg;

    FUZZ_CHECK(w->base != NULL && name >= w->next &&
                   nlen <= (size_t)(w->base + w->len - name) &&
                   value == name + nlen &&
                   vlen <= (size_t)(w->base + w->len - value),
               "pair (%zu, %zu bytes) not where it should be in the %zu "
               "bytes of in->params", nlen, vlen, w->len);
    /* Between two pairs lie only the next one's lengths: 2 to 8 bytes. */
    FUZZ_CHECK(name - w->next >= 2 && name - w->next <= 8,
               "%td bytes before a name", name - w->next);
    w->next = value + vlen;
    log_pair(w->r, name, nlen, value, vlen);
}

/* One feed of p[0..n), from an exact-size copy; checks what the contract
 * says of a single call and adds the new reply bytes to r. With clear, the
 * reply is then emptied, as the worker does once it has sent it. */
static void
feed(struct sse_fcgi_in *in, struct run *r, const uint8_t *p, size_t n,
     int clear)
{
    char *copy = fuzz_memdup(p, n);
    const char *why = NULL;
    int before = in->status;
    unsigned id_before = in->request_id;
    size_t had = sse_buf_len(&in->reply);
    int st;

    st = sse_fcgi_in_feed(in, copy, n, &why);
    free(copy);
    FUZZ_CHECK(st == in->status, "returned %s, left %s", status_name(st),
               status_name(in->status));
    FUZZ_CHECK(st == SSE_FCGI_IN_MORE || st == SSE_FCGI_IN_DONE ||
               st == SSE_FCGI_IN_BAD, "status %d", st);
    FUZZ_CHECK(sse_buf_len(&in->reply) >= had, "reply shrank");
    if (before != SSE_FCGI_IN_MORE) {
        FUZZ_CHECK(st == before, "%s became %s", status_name(before),
                   status_name(st));
        FUZZ_CHECK(in->request_id == id_before, "request_id changed after "
                   "%s", status_name(before));
        FUZZ_CHECK(sse_buf_len(&in->reply) == had, "answered after %s",
                   status_name(before));
        /* Left alone, or the same reason again. */
        FUZZ_CHECK(why == NULL || (st == SSE_FCGI_IN_BAD && why == r->why),
                   "a later feed gave another reason");
    } else if (st == SSE_FCGI_IN_BAD) {
        FUZZ_CHECK(why != NULL, "BAD without a reason");
        r->why = why;
    } else {
        FUZZ_CHECK(why == NULL, "%s with a reason: %s", status_name(st),
                   why);
    }
    FUZZ_CHECK(!in->begun == (in->request_id == 0),
               "begun %d with request_id %u", in->begun, in->request_id);
    if (st == SSE_FCGI_IN_DONE)
        FUZZ_CHECK(in->begun && in->request_id != 0, "DONE before a "
                   "BEGIN_REQUEST");
    if (sse_buf_len(&in->reply) > had)
        sse_buf_append(&r->reply, sse_buf_head(&in->reply) + had,
                       sse_buf_len(&in->reply) - had);
    if (clear)
        sse_buf_clear(&in->reply);
}

/* What a reading ended with; the parameters with their checks. Then feeds
 * the input once more, which must change nothing once DONE or BAD. */
static void
finish(struct sse_fcgi_in *in, struct run *r, size_t max, const uint8_t *s,
       size_t n)
{
    struct walk w = { r, sse_buf_head(&in->params), sse_buf_len(&in->params),
                      sse_buf_head(&in->params) };
    size_t params_len = w.len;

    r->status = in->status;
    r->begun = in->begun;
    r->id = in->request_id;
    FUZZ_CHECK(params_len <= max, "%zu bytes of parameters, ceiling %zu",
               params_len, max);
    sse_fcgi_in_params(in, on_param, &w);
    FUZZ_CHECK(r->status == SSE_FCGI_IN_DONE || sse_buf_len(&r->params) == 0,
               "parameters of a %s request", status_name(r->status));
    FUZZ_CHECK(r->param_bytes <= params_len && r->param_bytes <= max,
               "%zu bytes of names and values in %zu, ceiling %zu",
               r->param_bytes, params_len, max);
    if (r->status == SSE_FCGI_IN_DONE)
        FUZZ_CHECK(w.next == (w.base ? w.base + w.len : NULL),
                   "the pairs of a DONE request stop short of its params");

    if (r->status != SSE_FCGI_IN_MORE && n > 0) {
        struct run again;
        struct walk w2;

        run_init(&again);
        again.why = r->why;
        feed(in, &again, s, n, 0);
        w2 = (struct walk){ &again, sse_buf_head(&in->params),
                            sse_buf_len(&in->params),
                            sse_buf_head(&in->params) };
        sse_fcgi_in_params(in, on_param, &w2);
        FUZZ_CHECK(in->status == r->status && in->request_id == r->id &&
                       sse_buf_len(&again.reply) == 0 &&
                       same_buf(&again.params, &r->params),
                   "feeding after %s changed the request",
                   status_name(r->status));
        run_free(&again);
    }
}

static void
read_whole(struct run *r, size_t max, const uint8_t *s, size_t n)
{
    struct sse_fcgi_in in;

    sse_fcgi_in_init(&in, max);
    feed(&in, r, s, n, 0);
    finish(&in, r, max, s, n);
    sse_fcgi_in_free(&in);
}

static void
read_two(struct run *r, size_t max, const uint8_t *s, size_t n, size_t cut)
{
    struct sse_fcgi_in in;

    sse_fcgi_in_init(&in, max);
    feed(&in, r, s, cut, 0);
    feed(&in, r, s + cut, n - cut, 0);
    finish(&in, r, max, s, n);
    sse_fcgi_in_free(&in);
}

static void
read_pieces(struct run *r, size_t max, const uint8_t *s, size_t n,
            uint8_t pattern)
{
    struct sse_fcgi_in in;
    size_t i = 0, k = 0;

    sse_fcgi_in_init(&in, max);
    while (i < n) {
        size_t len = pattern == 0 ? 1 :
            1 + (size_t)((pattern * (k + 3)) % 16);

        if (len > n - i)
            len = n - i;
        feed(&in, r, s + i, len, 1);
        i += len;
        k++;
    }
    finish(&in, r, max, s, n);
    sse_fcgi_in_free(&in);
}

/* ---- the reference reading ---------------------------------------------- */

/* A name-value length at p (left bytes there): one byte below 128, else
 * four with the top bit cleared. Returns the bytes it took, 0 if cut. */
static size_t
ref_length(const uint8_t *p, size_t left, size_t *len)
{
    if (left >= 1 && !(p[0] & 0x80)) {
        *len = p[0];
        return 1;
    }
    if (left < 4)
        return 0;
    *len = (size_t)(p[0] - 0x80) * 0x1000000 + (size_t)p[1] * 0x10000 +
        (size_t)p[2] * 0x100 + p[3];
    return 4;
}

/* The pair at c[*at] of c[0..n): 1 with its name and value, or 0. */
static int
ref_pair(const uint8_t *c, size_t n, size_t *at, size_t *name, size_t *nlen,
         size_t *value, size_t *vlen)
{
    size_t i = *at, k;

    if ((k = ref_length(c + i, n - i, nlen)) == 0)
        return 0;
    i += k;
    if ((k = ref_length(c + i, n - i, vlen)) == 0)
        return 0;
    i += k;
    if (*nlen > n - i || *vlen > n - i - *nlen)
        return 0;
    *name = i;
    *value = i + *nlen;
    *at = i + *nlen + *vlen;
    return 1;
}

static void
ref_answer(struct run *r, unsigned type, unsigned id, const void *body,
           size_t len)
{
    uint8_t h[8] = { 1, (uint8_t)type, (uint8_t)(id / 256), (uint8_t)id,
                     (uint8_t)(len / 256), (uint8_t)len, 0, 0 };

    sse_buf_append(&r->reply, h, 8);
    sse_buf_append(&r->reply, body, len);
}

/* FCGI_GET_VALUES: FCGI_MPXS_CONNS is answered "0" if one of the whole
 * pairs before any cut one names it; nothing else is answered. */
static void
ref_get_values(struct run *r, const uint8_t *c, size_t n)
{
    static const uint8_t mpxs[] = "\x0f\x01" "FCGI_MPXS_CONNS" "0";
    size_t at = 0, name, nlen, value, vlen;
    int asked = 0;

    while (at < n && ref_pair(c, n, &at, &name, &nlen, &value, &vlen))
        if (nlen == 15 && memcmp(c + name, "FCGI_MPXS_CONNS", 15) == 0)
            asked = 1;
    ref_answer(r, 10, 0, mpxs, asked ? sizeof(mpxs) - 1 : 0);
}

/* The whole input at once, record by record, with ceiling max. */
static void
ref_read(struct run *r, size_t max, const uint8_t *s, size_t n)
{
    uint8_t *params = (uint8_t *)fuzz_malloc(n);   /* content <= input */
    size_t plen = 0, at = 0;

    r->status = SSE_FCGI_IN_MORE;
    while (r->status == SSE_FCGI_IN_MORE && n - at >= 8) {
        const uint8_t *h = s + at, *c = h + 8;
        unsigned type = h[1], id = h[2] * 256u + h[3];
        size_t clen = h[4] * 256u + h[5];

        if (h[0] != 1) {
            r->status = SSE_FCGI_IN_BAD;
            break;
        }
        if (n - at - 8 < clen + h[6])
            break;                      /* wait for the rest */
        at += 8 + clen + h[6];

        if (id == 0) {                  /* a management record */
            if (type == 9) {
                ref_get_values(r, c, clen);
            } else {
                uint8_t body[8] = { (uint8_t)type };

                ref_answer(r, 11, 0, body, 8);
            }
        } else if (!r->begun) {
            if (type != 1)
                continue;               /* before any request: skipped */
            if (clen < 8) {
                r->status = SSE_FCGI_IN_BAD;
            } else if (c[0] != 0 || c[1] != 1) {
                uint8_t body[8] = { 0, 0, 0, 0, 3 };

                ref_answer(r, 3, id, body, 8);
                r->status = SSE_FCGI_IN_BAD;
            } else {
                r->begun = 1;
                r->id = id;
            }
        } else if (id == r->id && type == 4 && clen > 0) {
            if (clen > max - plen) {
                r->status = SSE_FCGI_IN_BAD;
            } else {
                memcpy(params + plen, c, clen);
                plen += clen;
            }
        } else if (id == r->id && type == 4) {
            size_t p = 0, name, nlen, value, vlen;

            while (p < plen &&
                   ref_pair(params, plen, &p, &name, &nlen, &value, &vlen))
                log_pair(r, params + name, nlen, params + value, vlen);
            r->status = p == plen ? SSE_FCGI_IN_DONE : SSE_FCGI_IN_BAD;
        }
    }
    if (r->status != SSE_FCGI_IN_DONE) {
        sse_buf_free(&r->params);
        r->param_bytes = 0;
    }
    free(params);
}

/* ---- the target --------------------------------------------------------- */

/* a and b read the same bytes the same way. */
static void
check_same(const struct run *a, const struct run *b, const char *what)
{
    FUZZ_CHECK(a->status == b->status, "%s: %s, whole: %s", what,
               status_name(b->status), status_name(a->status));
    FUZZ_CHECK(a->begun == b->begun && a->id == b->id,
               "%s: begun %d id %u, whole: begun %d id %u", what, b->begun,
               b->id, a->begun, a->id);
    FUZZ_CHECK(same_buf(&a->reply, &b->reply),
               "%s: %zu bytes answered, whole: %zu", what,
               sse_buf_len(&b->reply), sse_buf_len(&a->reply));
    FUZZ_CHECK(same_buf(&a->params, &b->params) &&
                   a->param_bytes == b->param_bytes,
               "%s: other parameters (%zu bytes), whole: %zu", what,
               b->param_bytes, a->param_bytes);
}

/* The reader against the reference, which gives no reason. */
static void
check_ref(const struct run *a, const struct run *ref, size_t max)
{
    FUZZ_CHECK(a->status == ref->status, "max %zu: %s (%s), reference: %s",
               max, status_name(a->status), a->why ? a->why : "",
               status_name(ref->status));
    FUZZ_CHECK(a->begun == ref->begun && a->id == ref->id,
               "max %zu: begun %d id %u, reference: begun %d id %u", max,
               a->begun, a->id, ref->begun, ref->id);
    FUZZ_CHECK(same_buf(&a->reply, &ref->reply),
               "max %zu: %zu bytes answered, reference: %zu", max,
               sse_buf_len(&a->reply), sse_buf_len(&ref->reply));
    FUZZ_CHECK(same_buf(&a->params, &ref->params),
               "max %zu: other parameters (%zu bytes), reference: %zu", max,
               a->param_bytes, ref->param_bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run whole, two, pieces, ref, small, small_ref;
    const uint8_t *s;
    size_t n, cut, small_max;
    uint8_t pattern;

    if (size < 3 || size - 3 > INPUT_MAX)
        return 0;
    pattern = data[0];
    s = data + 3;
    n = size - 3;
    cut = (size_t)data[1] * n / 255;
    small_max = (size_t)data[2] + 1;

    run_init(&whole);
    run_init(&two);
    run_init(&pieces);
    run_init(&ref);
    run_init(&small);
    run_init(&small_ref);

    read_whole(&whole, MAX, s, n);
    FUZZ_CHECK(whole.status != SSE_FCGI_IN_BAD || whole.why != NULL,
               "BAD without a reason");
    read_two(&two, MAX, s, n, cut);
    check_same(&whole, &two, "two reads");
    FUZZ_CHECK(two.status != SSE_FCGI_IN_BAD || strcmp(two.why, whole.why)
               == 0, "two reads: \"%s\", whole: \"%s\"", two.why, whole.why);
    read_pieces(&pieces, MAX, s, n, pattern);
    check_same(&whole, &pieces, "pieces");
    FUZZ_CHECK(pieces.status != SSE_FCGI_IN_BAD ||
               strcmp(pieces.why, whole.why) == 0,
               "pieces: \"%s\", whole: \"%s\"", pieces.why, whole.why);
    ref_read(&ref, MAX, s, n);
    check_ref(&whole, &ref, MAX);

    read_whole(&small, small_max, s, n);
    ref_read(&small_ref, small_max, s, n);
    check_ref(&small, &small_ref, small_max);

    run_free(&whole);
    run_free(&two);
    run_free(&pieces);
    run_free(&ref);
    run_free(&small);
    run_free(&small_ref);
    return 0;
}
