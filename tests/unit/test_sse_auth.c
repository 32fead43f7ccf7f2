/*
 * Tests for sse_auth: tokens made with libjwt, checked against one fixed
 * algorithm and key; the keys a token allows; where tokens are found.
 * The keys below are test keys made for this file and used nowhere else.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <jwt.h>
#include <string.h>
#include <time.h>

#include "sse_auth.h"

static const char rsa_private[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDsQXu2x+xryH7i\n"
    "nhwZeX38mr6M9+xDEmg2O4/GAPH05cn+fAqW4ROKp+qQu55pw3nYdB1SuDneIXZp\n"
    "SF0pmOv3ZYfoMLJLrOeqgsZvNumZPoYuhI37lOZH/PwE2eUAmd+4FCkN7e27Vhc/\n"
    "OxEisgAArnWdM91AQD7Zh5xSaw4pES++YJTZX3zPTMJxqSyBAHRh/SPya2pfyq12\n"
    "DTLTcXqqimFtZnaEvDEN/iZ7Gu8EVDijDfz1/1RBZ26qoC8Uz5n/MEwBp6JJZWYL\n"
    "thsYLo4TWurY8ExOaxAuh06/0NOYNUtTPlroALdzBlKNXcGaXMi1dLvHfEOlqt03\n"
    "lxyuqcqzAgMBAAECggEAAVT/LxEifpsTSBDPJL+gG7f9ogrVzK0CZGfikCG6O4C+\n"
    "Kk6luqMLOqlms6kzI/KDsdo5vhkmzl9O7RoI2G6xyePLJ956at3PMpFpMABVwdTt\n"
    "6b46lLQKtlYxT4+w8FdtwPpwHtF8GSXLnMIm/xSU1mwlYp0DvtR95jkTAw3ydv3M\n"
    "il9BeGOLcfLnxo5B8AE+ZYqURvpHEfWmlSP2yUp7aAC9GXDbSJgPTWfICYt+3tTK\n"
    "ChMFZcMHygSdlOaz8chWXpJlW120U5+ccCWOsNOh55pv/JDT93JhujPCb6Fx4784\n"
    "SNWfHYD31cmoDqM1D0g632xF3lM0H1HkaYM1JfyREQKBgQD9TgWc5nMBjey67FMP\n"
    "hKMMZsS12IAlYhB7+NGhZUZdwgfgHnP2sthb9WNVBhK8i+h4E9IMAuNluQgzKvan\n"
    "vKN7jxJLW0ArVAuiZdBUeAMJnsqwy+JwLdWW5Y3moxlngXOVvBRI3pH3NXZ/hIWO\n"
    "1FCDhrXRbqkIEgU2R95ecIh6owKBgQDuxQWDdCA2Usyl2+q6xNAjMZ/Jg+I6x+FP\n"
    "FDyodqSRUFVmgpfuA4kky6SOuDas3+Nazu613P0Qy0vDoLiIDBzFePCr8YiWQUIq\n"
    "WrqWNUAkVdeGmzZeMEcQQ3DS4kFH7c3P4Vyuh3g3Osvch8uXPbTd2GNCnV19CGDm\n"
    "vhn5WE8AsQKBgAcA5T7VUFC2r9jrN9CyBiANp1qvxbtC3tnOo10nA68L8lPMA8DK\n"
    "aRkBy+FJ7bKw25iWU7RpUAg7+XIQugkhOhPsfMEAoOGRzVCMKBptxwe5EDmbKYOY\n"
    "gNNPPYEm+UjXV27IaHcrUDXZkJEuBNNSI3e/fb9wo9PJS8OYcRmDWwKpAoGAFtyQ\n"
    "eZSt3OWyqJLU98sObsA6n23cRGqM/Shf4nVxrmQ1uRn5+BUolXhWKkAjJAxP1YsI\n"
    "uisNpAUDHRkPch9Oxe2dhakbvd9DuZB0WxuAJ7p8Z2wHGZ+fvkPm0ppNS9jOIwBe\n"
    "AmwAK7GagWQTL0j+P1uPrXop0GXz+UPscr5s2hECgYEAq/W+/Js3OK5S5UfVUB3J\n"
    "bgU3y5HDOdj6qrYOCz4T9QT5me4iH3gWYWmXvcoEER2E6CYkFDk7PEIB+IZ0Et25\n"
    "r+S35kPuNHBi2muFgrdAOQdt81XDBumzGm0HWYl+QzcberLuB5goRsez7iy2lRMo\n"
    "RMZYPQt9aI3qnuk8bJFsoyM=\n"
    "-----END PRIVATE KEY-----\n";

static const char rsa_public[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7EF7tsfsa8h+4p4cGXl9\n"
    "/Jq+jPfsQxJoNjuPxgDx9OXJ/nwKluETiqfqkLueacN52HQdUrg53iF2aUhdKZjr\n"
    "92WH6DCyS6znqoLGbzbpmT6GLoSN+5TmR/z8BNnlAJnfuBQpDe3tu1YXPzsRIrIA\n"
    "AK51nTPdQEA+2YecUmsOKREvvmCU2V98z0zCcaksgQB0Yf0j8mtqX8qtdg0y03F6\n"
    "qophbWZ2hLwxDf4mexrvBFQ4ow389f9UQWduqqAvFM+Z/zBMAaeiSWVmC7YbGC6O\n"
    "E1rq2PBMTmsQLodOv9DTmDVLUz5a6AC3cwZSjV3BmlzItXS7x3xDpardN5ccrqnK\n"
    "swIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char ec_private[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIL353/q1q7LuymzqUX8PJ4qb50UBTKblBBA810hhS2tGoAoGCCqGSM49\n"
    "AwEHoUQDQgAET2LYbMFX/7J6sh+o8mNK/mvhhTNdGp1RYUBMRvZMFCE6ZxVlom2y\n"
    "qtK7ob1Ok2yaVbA8PHDlRcHJQOyj3BJKAQ==\n"
    "-----END EC PRIVATE KEY-----\n";

static const char ec_public[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAET2LYbMFX/7J6sh+o8mNK/mvhhTNd\n"
    "Gp1RYUBMRvZMFCE6ZxVlom2yqtK7ob1Ok2yaVbA8PHDlRcHJQOyj3BJKAQ==\n"
    "-----END PUBLIC KEY-----\n";

static const char secret[] = "correct horse battery staple";

/* A token with alg and key, sub (or NULL), claim json (or NULL), and exp
 * and nbf relative to now (0: none). */
static char *
make(jwt_alg_t alg, const char *key, const char *sub, const char *keys,
     long exp, long nbf)
{
    jwt_t *jwt;
    char *tok;
    long now = (long)time(NULL);

    cr_assert_eq(jwt_new(&jwt), 0);
    cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key,
                             key != NULL ? (int)strlen(key) : 0), 0);
    if (sub != NULL)
        jwt_add_grant(jwt, "sub", sub);
    if (keys != NULL)
        cr_assert_eq(jwt_add_grants_json(jwt, keys), 0, "%s", keys);
    if (exp != 0)
        jwt_add_grant_int(jwt, "exp", now + exp);
    if (nbf != 0)
        jwt_add_grant_int(jwt, "nbf", now + nbf);
    tok = jwt_encode_str(jwt);
    cr_assert_not_null(tok);
    jwt_free(jwt);
    return tok;
}

static struct sse_auth *
verifier(const char *alg, const char *key)
{
    char err[256];
    struct sse_auth *a = sse_auth_new(alg, key, strlen(key), NULL, NULL, err,
                                      sizeof(err));

    cr_assert_not_null(a, "%s", err);
    return a;
}

static int
verify(struct sse_auth *a, const char *tok, struct sse_auth_grant *g,
       const char **reason)
{
    return sse_auth_verify(a, tok, strlen(tok), (int64_t)time(NULL), g,
                           reason);
}

Test(sse_auth, accepts_tokens_of_the_configured_algorithm_and_key)
{
    static const struct {
        const char *name;
        const char *alg;
        jwt_alg_t   jalg;
        const char *sign;
        const char *check;
    } rows[] = {
        { "HS256", "HS256", JWT_ALG_HS256, secret, secret },
        { "RS256", "RS256", JWT_ALG_RS256, rsa_private, rsa_public },
        { "ES256", "ES256", JWT_ALG_ES256, ec_private, ec_public },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sse_auth *a = verifier(rows[i].alg, rows[i].check);
        char *tok = make(rows[i].jalg, rows[i].sign, "user42", NULL, 60, 0);
        struct sse_auth_grant g;
        const char *reason = NULL;

        cr_expect_eq(verify(a, tok, &g, &reason), 0, "row %s: %s",
                     rows[i].name, reason);
        cr_expect_str_eq(g.sub, "user42", "row %s", rows[i].name);
        cr_expect_gt(g.exp, 0, "row %s: exp kept", rows[i].name);
        sse_auth_grant_free(&g);
        free(tok);
        sse_auth_destroy(&a);
        cr_expect_null(a);
    }
}

Test(sse_auth, refuses_bad_tokens_with_a_reason)
{
    struct sse_auth *a = verifier("HS256", secret);
    struct sse_auth *rs = verifier("RS256", rsa_public);
    struct {
        const char *name;
        struct sse_auth *a;
        char *tok;
        const char *reason;
    } rows[] = {
        { "wrong secret", a, make(JWT_ALG_HS256, "other", "u", NULL, 60, 0),
          "invalid token" },
        { "expired", a, make(JWT_ALG_HS256, secret, "u", NULL, -10, 0),
          "token expired" },
        { "not yet valid", a, make(JWT_ALG_HS256, secret, "u", NULL, 60, 60),
          "token not valid yet" },
        { "unsigned", a, make(JWT_ALG_NONE, NULL, "u", NULL, 60, 0),
          "invalid token" },
        { "HMAC over the public key", rs,
          make(JWT_ALG_HS256, rsa_public, "u", NULL, 60, 0),
          "invalid token" },
        { "RS256 where HS256 is configured", a,
          make(JWT_ALG_RS256, rsa_private, "u", NULL, 60, 0),
          "invalid token" },
        { "garbage", a, strdup("not.a.token"), "invalid token" },
        { "empty", a, strdup(""), "invalid token" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sse_auth_grant g;
        const char *reason = NULL;

        cr_expect_eq(verify(rows[i].a, rows[i].tok, &g, &reason), -1,
                     "row %s accepted", rows[i].name);
        cr_expect_str_eq(reason != NULL ? reason : "(none)", rows[i].reason,
                         "row %s", rows[i].name);
        cr_expect_null(g.sub, "row %s: nothing kept", rows[i].name);
        free(rows[i].tok);
    }
    sse_auth_destroy(&a);
    sse_auth_destroy(&rs);
}

Test(sse_auth, the_keys_claim_allows_keys_and_prefixes)
{
    struct sse_auth *a = verifier("HS256", secret);
    char *tok = make(JWT_ALG_HS256, secret, "user42",
                     "{\"sse_keys\": [\"news:*\", \"team7\", \"bad key\", "
                     "\"esc\\\"aped\"]}", 60, 0);
    struct sse_auth_grant g;
    const char *reason;
    static const struct {
        const char *key;
        int         want;
    } rows[] = {
        { "user42", 1 }, { "user4", 0 }, { "user420", 0 },
        { "news:sport", 1 }, { "news:", 1 }, { "news", 0 },
        { "team7", 1 }, { "team77", 0 }, { "bad key", 0 }, { "esc", 0 },
    };

    cr_assert_eq(verify(a, tok, &g, &reason), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        cr_expect_eq(sse_auth_allows(&g, rows[i].key, strlen(rows[i].key)),
                     rows[i].want, "row %s", rows[i].key);
    sse_auth_grant_free(&g);
    free(tok);
    sse_auth_destroy(&a);
}

Test(sse_auth, pattern_claims_parse_strings_and_arrays_only)
{
    static const struct {
        const char *json;
        int         rc;
        size_t      n;
    } rows[] = {
        { "\"k1\"", 0, 1 }, { "[]", 0, 0 }, { "[\"a\",\"b*\",\"*\"]", 0, 3 },
        { " [ \"a\" , \"b\" ] ", 0, 2 }, { "[\"a\",]", -1, 0 },
        { "[\"a\"", -1, 0 }, { "{\"a\":1}", -1, 0 }, { "[1]", -1, 0 },
        { "\"a\" x", -1, 0 }, { "[\"a\\\"\"]", 0, 0 }, { "", -1, 0 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sse_auth_grant g = { 0 };

        cr_expect_eq(sse_auth_parse_patterns(&g, rows[i].json), rows[i].rc,
                     "row %s", rows[i].json);
        if (rows[i].rc == 0)
            cr_expect_eq(g.npatterns, rows[i].n, "row %s", rows[i].json);
        sse_auth_grant_free(&g);
    }
}

Test(sse_auth, finds_the_token_in_header_then_cookie_then_query)
{
    struct sse_auth *a = verifier("HS256", secret);
    size_t len = 0;
    const char *t;

    t = sse_auth_find_token(a, "Bearer AAA", "sse_token=BBB", "CCC", &len);
    cr_expect(t != NULL && len == 3 && strncmp(t, "AAA", 3) == 0);
    t = sse_auth_find_token(a, "Basic xyz", "x=1; sse_token=BBB; y=2", "CCC",
                            &len);
    cr_expect(t != NULL && len == 3 && strncmp(t, "BBB", 3) == 0);
    t = sse_auth_find_token(a, NULL, "my_sse_token=ZZZ", "CCC", &len);
    cr_expect(t != NULL && len == 3 && strncmp(t, "CCC", 3) == 0,
              "a cookie whose name only ends the same is not ours");
    cr_expect_null(sse_auth_find_token(a, NULL, NULL, NULL, &len));
    sse_auth_destroy(&a);
}

Test(sse_auth, refuses_bad_configuration)
{
    char err[256];

    cr_expect_null(sse_auth_new("HS512", "k", 1, NULL, NULL, err,
                                sizeof(err)));
    cr_expect_null(sse_auth_new("HS256", "", 0, NULL, NULL, err,
                                sizeof(err)));
    cr_expect_null(sse_auth_new("RS256", secret, strlen(secret), NULL, NULL,
                                err, sizeof(err)), "RS256 needs a PEM key");
}
