/*
 * sse_auth: JWT verification with libjwt and the keys a token allows.
 */
#include "config.h"

#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_auth.h"
#include "sse_key.h"
#include "sse_xmalloc.h"

#define TOKEN_MAX 8192   /* bytes in a token we look at */

struct sse_auth {
    jwt_alg_t      alg;
    unsigned char *key;
    size_t         keylen;
    char          *claim;
    char          *cookie;
};

struct sse_auth *
sse_auth_new(const char *alg, const void *key, size_t len, const char *claim,
             const char *cookie, char *err, size_t errlen)
{
    struct sse_auth *a;
    jwt_alg_t which;

    if (alg == NULL || strcmp(alg, "HS256") == 0)
        which = JWT_ALG_HS256;
    else if (strcmp(alg, "RS256") == 0)
        which = JWT_ALG_RS256;
    else if (strcmp(alg, "ES256") == 0)
        which = JWT_ALG_ES256;
    else {
        snprintf(err, errlen, "unsupported JWT algorithm '%s': use HS256, "
                 "RS256 or ES256", alg);
        return NULL;
    }
    if (len == 0) {
        snprintf(err, errlen, "the JWT key is empty");
        return NULL;
    }
    if (which != JWT_ALG_HS256 && memmem(key, len, "-----BEGIN", 10) == NULL) {
        snprintf(err, errlen, "%s needs a PEM public key", alg);
        return NULL;
    }
    a = xcalloc(1, sizeof(*a));
    a->alg = which;
    a->key = xmalloc(len + 1);
    memcpy(a->key, key, len);
    a->key[len] = '\0';
    a->keylen = len;
    a->claim = xstrdup(claim != NULL ? claim : "sse_keys");
    a->cookie = xstrdup(cookie != NULL ? cookie : "sse_token");
    return a;
}

void
sse_auth_destroy(struct sse_auth **ap)
{
    struct sse_auth *a = *ap;

    if (a == NULL)
        return;
    /* The key is a secret: do not leave it in freed memory. */
    explicit_bzero(a->key, a->keylen);
    free(a->key);
    free(a->claim);
    free(a->cookie);
    free(a);
    *ap = NULL;
}

/* The value of cookie name in a Cookie header ("a=1; b=2"), or NULL. */
static const char *
find_cookie(const char *header, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end;

        while (*p == ' ' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
            p[nlen] == '=') {
            *len = (size_t)(end - p) - nlen - 1;
            return p + nlen + 1;
        }
        p = end;
    }
    return NULL;
}

const char *
sse_auth_find_token(const struct sse_auth *a, const char *authorization,
                    const char *cookie_header, const char *query_token,
                    size_t *len)
{
    const char *t;

    if (authorization != NULL && strncasecmp(authorization, "Bearer ", 7)
        == 0) {
        t = authorization + 7;
        while (*t == ' ')
            t++;
        *len = strlen(t);
        return t;
    }
    if (cookie_header != NULL &&
        (t = find_cookie(cookie_header, a->cookie, len)) != NULL)
        return t;
    if (query_token != NULL) {
        *len = strlen(query_token);
        return query_token;
    }
    return NULL;
}

static int
is_pattern(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*')
        return 1;
    if (n > 1 && s[n - 1] == '*')
        n--;
    return sse_key_check(s, n) == NULL;
}

static void
add_pattern(struct sse_auth_grant *g, const char *s, size_t n)
{
    if (!is_pattern(s, n))
        return;
    g->patterns = xrealloc(g->patterns, (g->npatterns + 1) *
                           sizeof(*g->patterns));
    g->patterns[g->npatterns++] = xstrndup(s, n);
}

/* Read a JSON string at *p; set *s, *n to its contents if it has no
 * escapes (*s NULL if it has some). Returns 0, or -1 if malformed. */
static int
json_string(const char **p, const char **s, size_t *n)
{
    const char *q = *p + 1;
    int escaped = 0;

    if (**p != '"')
        return -1;
    for (; *q != '"'; q++) {
        if (*q == '\0')
            return -1;
        if (*q == '\\') {
            escaped = 1;
            if (*++q == '\0')
                return -1;
        }
    }
    *s = escaped ? NULL : *p + 1;
    *n = (size_t)(q - (*p + 1));
    *p = q + 1;
    return 0;
}

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

int
sse_auth_parse_patterns(struct sse_auth_grant *g, const char *json)
{
    const char *p = skip_ws(json), *s;
    size_t n;

    if (*p == '"') {
        if (json_string(&p, &s, &n) != 0 || *skip_ws(p) != '\0')
            return -1;
        if (s != NULL)
            add_pattern(g, s, n);
        return 0;
    }
    if (*p++ != '[')
        return -1;
    p = skip_ws(p);
    if (*p == ']')
        return *skip_ws(p + 1) == '\0' ? 0 : -1;
    for (;;) {
        p = skip_ws(p);
        if (json_string(&p, &s, &n) != 0)
            return -1;
        /* Escapes never spell a key; such an entry allows nothing. */
        if (s != NULL)
            add_pattern(g, s, n);
        p = skip_ws(p);
        if (*p == ']')
            return *skip_ws(p + 1) == '\0' ? 0 : -1;
        if (*p++ != ',')
            return -1;
    }
}

int
sse_auth_verify(const struct sse_auth *a, const char *token, size_t len,
                int64_t now, struct sse_auth_grant *g, const char **reason)
{
    jwt_t *jwt = NULL;
    char *copy, *json;
    const char *sub;
    long exp, nbf;
    int rc = -1;

    memset(g, 0, sizeof(*g));
    if (len == 0 || len > TOKEN_MAX) {
        *reason = "invalid token";
        return -1;
    }
    copy = xstrndup(token, len);
    if (jwt_decode(&jwt, copy, a->key, (int)a->keylen) != 0 || jwt == NULL) {
        *reason = "invalid token";
        goto out;
    }
    /* The configured algorithm, not the token's own claim, decides. */
    if (jwt_get_alg(jwt) != a->alg) {
        *reason = "invalid token";
        goto out;
    }
    errno = 0;
    exp = jwt_get_grant_int(jwt, "exp");
    if (errno == 0) {
        if (exp <= now) {
            *reason = "token expired";
            goto out;
        }
        g->exp = exp;
    }
    errno = 0;
    nbf = jwt_get_grant_int(jwt, "nbf");
    if (errno == 0 && nbf > now) {
        *reason = "token not valid yet";
        goto out;
    }
    if ((sub = jwt_get_grant(jwt, "sub")) != NULL)
        g->sub = xstrdup(sub);
    if ((json = jwt_get_grants_json(jwt, a->claim)) != NULL) {
        int bad = sse_auth_parse_patterns(g, json);

        free(json);
        if (bad) {
            *reason = "invalid token";
            goto out;
        }
    }
    rc = 0;
out:
    if (rc != 0)
        sse_auth_grant_free(g);
    jwt_free(jwt);
    free(copy);
    return rc;
}

int
sse_auth_allows(const struct sse_auth_grant *g, const char *key, size_t len)
{
    if (g->sub != NULL && strlen(g->sub) == len &&
        memcmp(g->sub, key, len) == 0)
        return 1;
    for (size_t i = 0; i < g->npatterns; i++) {
        const char *p = g->patterns[i];
        size_t n = strlen(p);

        if (p[n - 1] == '*') {
            if (len >= n - 1 && memcmp(p, key, n - 1) == 0)
                return 1;
        } else if (n == len && memcmp(p, key, len) == 0) {
            return 1;
        }
    }
    return 0;
}

void
sse_auth_grant_free(struct sse_auth_grant *g)
{
    for (size_t i = 0; i < g->npatterns; i++)
        free(g->patterns[i]);
    free(g->patterns);
    free(g->sub);
    memset(g, 0, sizeof(*g));
}
