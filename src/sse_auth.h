/*
 * sse_auth: subscriber tokens (JWT) that decide which keys a stream may
 * hold.
 *
 * A token comes as "Authorization: Bearer TOKEN", as a cookie, or as the
 * "token" query parameter (EventSource cannot set headers), in that order.
 * It is verified with libjwt against one configured algorithm and key:
 * HS256 with a shared secret, RS256 or ES256 with a PEM public key. The
 * algorithm is fixed by configuration, never taken from the token, so a
 * token signed with HMAC over a public key is refused. The token allows
 * the key in its "sub" claim and every key matching the entries of one
 * more claim (default "sse_keys"), a string or an array of strings, where
 * an entry ending in '*' matches every key with that prefix. "exp" and
 * "nbf" are honoured.
 */
#ifndef SSE_AUTH_H
#define SSE_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct sse_auth;

struct sse_auth_grant {
    int64_t exp;          /* expiry, Unix seconds; 0 if the token has none */
    char   *sub;          /* the "sub" claim, or NULL; owned */
    char  **patterns;     /* entries of the keys claim; owned */
    size_t  npatterns;
};

/* Make a verifier for alg ("HS256", "RS256" or "ES256") with key[0..len)
 * (the secret, or a PEM public key), taking allowed keys from the claim
 * named claim (NULL: "sse_keys") and tokens from the cookie named cookie
 * (NULL: "sse_token"). Returns it (the caller owns it), or NULL with a
 * one-line message in err. */
struct sse_auth *sse_auth_new(const char *alg, const void *key, size_t len,
                              const char *claim, const char *cookie,
                              char *err, size_t errlen);

/* Free a and set *ap to NULL. Safe on NULL. */
void sse_auth_destroy(struct sse_auth **ap);

/* Find the request's token: from authorization (the Authorization header,
 * or NULL) if it is "Bearer TOKEN", else from the cookie header, else
 * query_token. Returns a pointer into one of them with *len set, or NULL
 * if there is none. */
const char *sse_auth_find_token(const struct sse_auth *a,
                                const char *authorization,
                                const char *cookie_header,
                                const char *query_token, size_t *len);

/* Verify token[0..len) at now (Unix seconds) and fill g. Returns 0, or -1
 * with *reason set to a static one-line reason for a 401 answer ("invalid
 * token", "token expired", ...). Call sse_auth_grant_free afterwards. */
int sse_auth_verify(const struct sse_auth *a, const char *token, size_t len,
                    int64_t now, struct sse_auth_grant *g,
                    const char **reason);

/* 1 if g allows key[0..len), else 0. */
int sse_auth_allows(const struct sse_auth_grant *g, const char *key,
                    size_t len);

/* Parse a JSON string or array of strings (a claim's value) into
 * g->patterns, skipping entries that are not key patterns. Returns 0, or
 * -1 if json is not such a value. Pure; exposed for tests. */
int sse_auth_parse_patterns(struct sse_auth_grant *g, const char *json);

/* Free what g owns and zero it. */
void sse_auth_grant_free(struct sse_auth_grant *g);

#endif /* SSE_AUTH_H */
