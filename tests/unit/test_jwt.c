/* Unit tests for server/jwt.c.
 *
 * The keys and tokens come from an independent signer, Node's built-in
 * crypto, through tests/unit/fixtures/jwt/make.js; regenerate them (new keys,
 * the same cases) from the repository root with
 *
 *     node tests/unit/fixtures/jwt/make.js
 *
 * which rewrites fixtures/jwt/test_jwt_fixtures.h and the PEM files. Every
 * time is relative to JWT_NOW, passed as "now" to sg_jwt_verify. Variants
 * that need no signer (a part swapped, a signature of another length) are
 * spliced here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "fixtures/jwt/test_jwt_fixtures.h"
#include "jwt.h"
#include "util.h"

#define ISS "https://issuer.test"

static sg_jwt_verifier_t *mk(const char *alg, const char *key, const char *iss, const char *aud,
                             unsigned leeway, size_t max)
{
    sg_jwt_opts_t o = {.alg = alg,
                       .key = key,
                       .key_len = strlen(key),
                       .issuer = iss,
                       .audience = aud,
                       .leeway_s = leeway,
                       .max_token = max};
    sg_jwt_verifier_t *v = NULL;
    char err[256];
    int rc = sg_jwt_verifier_new(&o, &v, err, sizeof(err));
    if (rc != 0)
        fail_msg("sg_jwt_verifier_new(%s): %s", alg, err);
    return v;
}

/* "ok" when the token is accepted (checking the result's shape), else why. */
static const char *check_n(const sg_jwt_verifier_t *v, const char *tok, size_t len, int64_t now)
{
    json_t *claims = (json_t *)&claims;
    const char *why = "unset";
    int rc = sg_jwt_verify(v, tok, len, now, &claims, &why);
    if (rc == 0) {
        assert_non_null(claims);
        assert_true(json_is_object(claims));
        assert_null(why);
        json_decref(claims);
        return "ok";
    }
    assert_null(claims);
    assert_non_null(why);
    assert_int_equal(rc, strcmp(why, "jwt too long") == 0 ? SG_ETOOBIG : SG_EINVAL);
    assert_int_equal(ERR_peek_error(), 0); /* nothing left on OpenSSL's queue */
    return why;
}

static const char *check(const sg_jwt_verifier_t *v, const char *tok, int64_t now)
{
    return check_n(v, tok, strlen(tok), now);
}

static void b64url(const unsigned char *p, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = 0;
}

/* Decode a NUL-terminated base64url string (the fixtures' own, so valid). */
static size_t unb64url(const char *s, unsigned char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    size_t o = 0, k = 0;
    for (; *s; s++) {
        acc = acc << 6 | (uint32_t)(strchr(a, *s) - a);
        if (++k % 4 == 0) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (k % 4 == 2)
        out[o++] = (unsigned char)(acc >> 4);
    else if (k % 4 == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    return o;
}

/* tok with its part `part` (0 header, 1 payload, 2 signature) replaced. */
static const char *splice(const char *tok, int part, const char *with)
{
    static char out[16384];
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    const char *from[3] = {tok, d1 + 1, d2 + 1}, *to[3] = {d1, d2, tok + strlen(tok)};
    out[0] = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(out);
        if (i == part)
            snprintf(out + n, sizeof(out) - n, "%s", with);
        else
            snprintf(out + n, sizeof(out) - n, "%.*s", (int)(to[i] - from[i]), from[i]);
        if (i < 2)
            strcat(out, ".");
    }
    return out;
}

/* tok with a signature of n bytes, each `fill`. */
static const char *with_sig(const char *tok, size_t n, unsigned char fill)
{
    unsigned char sig[600];
    char enc[801];
    memset(sig, fill, sizeof(sig));
    b64url(sig, n, enc);
    return splice(tok, 2, enc);
}

static void test_valid(void **state)
{
    (void)state;
    json_t *want = json_loads(JWT_CLAIMS, 0, NULL);
    struct {
        const char *alg, *key, *tok;
    } c[] = {
        {"HS256", JWT_HS_SECRET, JWT_TOK_HS256},
        {"RS256", JWT_PEM_RSA_PUB, JWT_TOK_RS256},
        {"RS256", JWT_PEM_RSA_CERT, JWT_TOK_RS256}, /* the key of a certificate */
        {"ES256", JWT_PEM_EC_PUB, JWT_TOK_ES256},
        {"HS256", JWT_HS_SECRET, JWT_TOK_HS256_TYP_AT}, /* typ is ignored */
        {"HS256", JWT_HS_SECRET, JWT_TOK_HS256_NO_TYP},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        sg_jwt_verifier_t *v = mk(c[i].alg, c[i].key, ISS, "siogate", 0, 0);
        json_t *claims = NULL;
        const char *why = "unset";
        assert_int_equal(sg_jwt_verify(v, c[i].tok, strlen(c[i].tok), JWT_NOW, &claims, &why), 0);
        assert_null(why);
        assert_true(json_equal(claims, want));
        assert_int_equal(claims->refcount, 1);
        json_decref(claims);
        sg_jwt_verifier_free(v);
    }
    json_decref(want);
    sg_jwt_verifier_free(NULL);
}

static void test_wrong_key(void **state)
{
    (void)state;
    sg_jwt_verifier_t *hs = mk("HS256", "another-secret", NULL, NULL, 0, 0);
    sg_jwt_verifier_t *rs = mk("RS256", JWT_PEM_RSA_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *rs2 = mk("RS256", JWT_PEM_RSA2_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *es = mk("ES256", JWT_PEM_EC_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *es2 = mk("ES256", JWT_PEM_EC2_PUB, NULL, NULL, 0, 0);
    assert_string_equal(check(hs, JWT_TOK_HS256, JWT_NOW), "invalid signature");
    assert_string_equal(check(rs2, JWT_TOK_RS256, JWT_NOW), "invalid signature");
    assert_string_equal(check(rs, JWT_TOK_RS256_RSA2, JWT_NOW), "invalid signature");
    assert_string_equal(check(rs2, JWT_TOK_RS256_RSA2, JWT_NOW), "ok");
    assert_string_equal(check(es2, JWT_TOK_ES256, JWT_NOW), "invalid signature");
    assert_string_equal(check(es, JWT_TOK_ES256_EC2, JWT_NOW), "invalid signature");
    assert_string_equal(check(es2, JWT_TOK_ES256_EC2, JWT_NOW), "ok");
    sg_jwt_verifier_free(hs);
    sg_jwt_verifier_free(rs);
    sg_jwt_verifier_free(rs2);
    sg_jwt_verifier_free(es);
    sg_jwt_verifier_free(es2);
}

static void test_tampered(void **state)
{
    (void)state;
    const char *forged = "{\"sub\":\"user-1\",\"admin\":true}";
    char payload[128], header[64];
    b64url((const unsigned char *)forged, strlen(forged), payload);
    b64url((const unsigned char *)"{\"alg\":\"HS256\"}", 15, header);
    struct {
        const char *alg, *key, *tok;
    } c[] = {
        {"HS256", JWT_HS_SECRET, JWT_TOK_HS256},
        {"RS256", JWT_PEM_RSA_PUB, JWT_TOK_RS256},
        {"ES256", JWT_PEM_EC_PUB, JWT_TOK_ES256},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        sg_jwt_verifier_t *v = mk(c[i].alg, c[i].key, NULL, NULL, 0, 0);
        assert_string_equal(check(v, splice(c[i].tok, 1, payload), JWT_NOW), "invalid signature");
        /* another payload, signed for the same key */
        const char *other = strchr(JWT_TOK_NO_CLAIMS, '.') + 1;
        char p2[2048];
        snprintf(p2, sizeof(p2), "%.*s", (int)(strchr(other, '.') - other), other);
        assert_string_equal(check(v, splice(c[i].tok, 1, p2), JWT_NOW), "invalid signature");
        /* one bit of the signature's first, then of its last byte */
        unsigned char sig[300];
        char enc[401];
        size_t n = unb64url(strrchr(c[i].tok, '.') + 1, sig);
        for (size_t at = 0; at < n; at += n - 1) {
            sig[at] ^= 1;
            b64url(sig, n, enc);
            assert_string_equal(check(v, splice(c[i].tok, 2, enc), JWT_NOW), "invalid signature");
            sig[at] ^= 1;
        }
        b64url(sig, n, enc); /* and back: the decoder above is right */
        assert_string_equal(check(v, splice(c[i].tok, 2, enc), JWT_NOW), "ok");
        sg_jwt_verifier_free(v);
    }
    /* the header is signed too */
    sg_jwt_verifier_t *hs = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    assert_string_equal(check(hs, splice(JWT_TOK_HS256, 0, header), JWT_NOW), "invalid signature");
    sg_jwt_verifier_free(hs);
}

static void test_alg_confusion(void **state)
{
    (void)state;
    sg_jwt_verifier_t *hs = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *rs = mk("RS256", JWT_PEM_RSA_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *es = mk("ES256", JWT_PEM_EC_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *all[] = {hs, rs, es};
    for (int i = 0; i < 3; i++)
        assert_string_equal(check(all[i], JWT_TOK_NONE, JWT_NOW), "invalid algorithm");
    /* HMAC keyed with the public key PEM, shown to an RS256 verifier */
    assert_string_equal(check(rs, JWT_TOK_HS256_PUBKEY, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(rs, JWT_TOK_HS256, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(rs, JWT_TOK_ES256, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(es, JWT_TOK_RS256, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(hs, JWT_TOK_RS256, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(hs, JWT_TOK_HS256_NO_ALG, JWT_NOW), "invalid algorithm");
    assert_string_equal(check(hs, JWT_TOK_HS256_ALG_LOWER, JWT_NOW), "invalid algorithm");
    sg_jwt_verifier_free(hs);
    sg_jwt_verifier_free(rs);
    sg_jwt_verifier_free(es);
}

/* JWT_TOK_HS256 has nbf = JWT_NOW - 60 and exp = JWT_NOW + 3600. */
static void test_times(void **state)
{
    (void)state;
    sg_jwt_verifier_t *v = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *l = mk("HS256", JWT_HS_SECRET, NULL, NULL, 30, 0);
    const char *t = JWT_TOK_HS256;
    assert_string_equal(check(v, t, JWT_NOW + 3599), "ok");
    assert_string_equal(check(v, t, JWT_NOW + 3600), "jwt expired"); /* now >= exp */
    assert_string_equal(check(v, t, INT64_MAX), "jwt expired");
    assert_string_equal(check(l, t, JWT_NOW + 3629), "ok");
    assert_string_equal(check(l, t, JWT_NOW + 3630), "jwt expired");
    assert_string_equal(check(v, t, JWT_NOW - 60), "ok"); /* nbf == now is active */
    assert_string_equal(check(v, t, JWT_NOW - 61), "jwt not active");
    assert_string_equal(check(v, t, INT64_MIN), "jwt not active");
    assert_string_equal(check(l, t, JWT_NOW - 90), "ok");
    assert_string_equal(check(l, t, JWT_NOW - 91), "jwt not active");
    assert_string_equal(check(v, JWT_TOK_EXP_STRING, JWT_NOW), "invalid exp value");
    assert_string_equal(check(v, JWT_TOK_EXP_NULL, JWT_NOW), "invalid exp value");
    assert_string_equal(check(v, JWT_TOK_NBF_STRING, JWT_NOW), "invalid nbf value");
    assert_string_equal(check(v, JWT_TOK_EXP_FRACTION, JWT_NOW), "ok"); /* exp = now + 0.5 */
    assert_string_equal(check(v, JWT_TOK_EXP_FRACTION, JWT_NOW + 1), "jwt expired");
    assert_string_equal(check(v, JWT_TOK_NO_CLAIMS, INT64_MAX), "ok"); /* no exp: never expires */
    sg_jwt_verifier_free(v);
    sg_jwt_verifier_free(l);
}

static void test_iss_aud(void **state)
{
    (void)state;
    sg_jwt_verifier_t *ok = mk("HS256", JWT_HS_SECRET, ISS, "siogate", 0, 0);
    sg_jwt_verifier_t *iss = mk("HS256", JWT_HS_SECRET, "https://other.test", NULL, 0, 0);
    sg_jwt_verifier_t *aud = mk("HS256", JWT_HS_SECRET, NULL, "other-app", 0, 0);
    sg_jwt_verifier_t *none = mk("HS256", JWT_HS_SECRET, "", "", 0, 0);
    assert_string_equal(check(ok, JWT_TOK_HS256, JWT_NOW), "ok");
    assert_string_equal(check(ok, JWT_TOK_AUD_ARRAY, JWT_NOW), "ok");
    assert_string_equal(check(iss, JWT_TOK_HS256, JWT_NOW),
                        "jwt issuer invalid. expected: https://other.test");
    assert_string_equal(check(aud, JWT_TOK_HS256, JWT_NOW),
                        "jwt audience invalid. expected: other-app");
    assert_string_equal(check(aud, JWT_TOK_AUD_ARRAY, JWT_NOW),
                        "jwt audience invalid. expected: other-app");
    assert_string_equal(check(ok, JWT_TOK_AUD_ARRAY_OTHER, JWT_NOW),
                        "jwt audience invalid. expected: siogate");
    assert_string_equal(check(ok, JWT_TOK_AUD_NUMBER, JWT_NOW),
                        "jwt audience invalid. expected: siogate");
    /* absent claims fail a configured check; audience comes before issuer */
    assert_string_equal(check(ok, JWT_TOK_NO_CLAIMS, JWT_NOW),
                        "jwt audience invalid. expected: siogate");
    assert_string_equal(check(iss, JWT_TOK_NO_CLAIMS, JWT_NOW),
                        "jwt issuer invalid. expected: https://other.test");
    assert_string_equal(check(none, JWT_TOK_NO_CLAIMS, JWT_NOW), "ok");
    assert_string_equal(check(none, JWT_TOK_AUD_NUMBER, JWT_NOW), "ok");
    sg_jwt_verifier_free(ok);
    sg_jwt_verifier_free(iss);
    sg_jwt_verifier_free(aud);
    sg_jwt_verifier_free(none);
}

static void test_malformed(void **state)
{
    (void)state;
    sg_jwt_verifier_t *v = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    const char *t = JWT_TOK_HS256;
    char buf[4096];
    const char *bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "...",
        ".",
        JWT_TOK_HS256 ".x",
        JWT_TOK_HEADER_NOT_JSON,
        JWT_TOK_HEADER_ARRAY,
        /* signed, so the payload is parsed, and it is no JSON object */
        JWT_TOK_PAYLOAD_ARRAY,
        JWT_TOK_PAYLOAD_STRING,
        JWT_TOK_PAYLOAD_NOT_JSON,
        JWT_TOK_PAYLOAD_TRAILING,
    };
    /* headers spliced into t */
    const char *bad_header[] = {
        "eyJhbGciOiJIUzI1NiJ9!", /* not base64url */
        "eyJhbGciOiJIUzI1NiJ9+", /* base64, not base64url */
        "eyJhbGciOiJIUzI1NiJ9 ",
        "eyJhbGciOiJIUzI1NiJ9IB",   /* '{"alg":"HS256"} ' with a spare bit set */
        "eyJhbGciOiJIUzI1NiJ9ICB",  /* '{"alg":"HS256"}  ' with a spare bit set */
        "eyJhbGciOiJIUzI1NiJ9A",    /* a length of 4n + 1 */
        "eyJhbGciOiJIUzI1NiJ9IA==", /* padded */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = check(v, bad[i], JWT_NOW);
        if (strcmp(why, "jwt malformed") != 0)
            fail_msg("case %zu (%s): %s", i, bad[i], why);
    }
    for (size_t i = 0; i < sizeof(bad_header) / sizeof(bad_header[0]); i++) {
        const char *why = check(v, splice(t, 0, bad_header[i]), JWT_NOW);
        if (strcmp(why, "jwt malformed") != 0)
            fail_msg("header \"%s\": %s", bad_header[i], why);
    }
    /* padding or a NUL inside the signature */
    snprintf(buf, sizeof(buf), "%s=", t);
    assert_string_equal(check(v, buf, JWT_NOW), "jwt malformed");
    assert_string_equal(check_n(v, t, strlen(t) + 1, JWT_NOW), "jwt malformed");
    /* the same headers spelt canonically pass the form check */
    assert_string_equal(check(v, splice(t, 0, "eyJhbGciOiJIUzI1NiJ9IA"), JWT_NOW),
                        "invalid signature");
    assert_string_equal(check(v, splice(t, 0, "eyJhbGciOiJIUzI1NiJ9ICA"), JWT_NOW),
                        "invalid signature");
    /* the payload is parsed only under a valid signature */
    assert_string_equal(check(v, splice(t, 1, "aGVsbG8"), JWT_NOW), "invalid signature");
    sg_jwt_verifier_free(v);
}

static void test_too_long(void **state)
{
    (void)state;
    size_t n = strlen(JWT_TOK_HS256);
    sg_jwt_opts_t o = {
        .alg = "HS256", .key = JWT_HS_SECRET, .key_len = strlen(JWT_HS_SECRET), .max_token = n};
    sg_jwt_verifier_t *exact = NULL, *dflt = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    assert_int_equal(sg_jwt_verifier_new(&o, &exact, NULL, 0), 0);
    sg_jwt_verifier_t *small = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, n - 1);
    assert_string_equal(check(exact, JWT_TOK_HS256, JWT_NOW), "ok");
    assert_string_equal(check(small, JWT_TOK_HS256, JWT_NOW), "jwt too long");
    static char big[8194];
    memset(big, 'a', sizeof(big) - 1);
    assert_string_equal(check(dflt, big, JWT_NOW), "jwt too long"); /* 8193 */
    big[8192] = 0;
    assert_string_equal(check(dflt, big, JWT_NOW), "jwt malformed"); /* 8192: allowed in */
    sg_jwt_verifier_free(exact);
    sg_jwt_verifier_free(small);
    sg_jwt_verifier_free(dflt);
}

static void test_sig_length(void **state)
{
    (void)state;
    sg_jwt_verifier_t *es = mk("ES256", JWT_PEM_EC_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *rs = mk("RS256", JWT_PEM_RSA_PUB, NULL, NULL, 0, 0);
    sg_jwt_verifier_t *hs = mk("HS256", JWT_HS_SECRET, NULL, NULL, 0, 0);
    assert_string_equal(check(es, JWT_TOK_ES256_DER, JWT_NOW), "invalid signature");
    static const size_t es_len[] = {0, 1, 63, 65, 72, 128};
    for (size_t i = 0; i < sizeof(es_len) / sizeof(es_len[0]); i++)
        assert_string_equal(check(es, with_sig(JWT_TOK_ES256, es_len[i], 0x11), JWT_NOW),
                            "invalid signature");
    /* 64 bytes, but r = s = 0, or both past the group order */
    assert_string_equal(check(es, with_sig(JWT_TOK_ES256, 64, 0), JWT_NOW), "invalid signature");
    assert_string_equal(check(es, with_sig(JWT_TOK_ES256, 64, 0xff), JWT_NOW), "invalid signature");
    assert_string_equal(check(rs, with_sig(JWT_TOK_RS256, 0, 0), JWT_NOW), "invalid signature");
    assert_string_equal(check(rs, with_sig(JWT_TOK_RS256, 255, 0x11), JWT_NOW),
                        "invalid signature");
    assert_string_equal(check(rs, with_sig(JWT_TOK_RS256, 256, 0xff), JWT_NOW),
                        "invalid signature");
    assert_string_equal(check(rs, with_sig(JWT_TOK_RS256, 512, 0x11), JWT_NOW),
                        "invalid signature");
    assert_string_equal(check(hs, with_sig(JWT_TOK_HS256, 0, 0), JWT_NOW), "invalid signature");
    assert_string_equal(check(hs, with_sig(JWT_TOK_HS256, 31, 0), JWT_NOW), "invalid signature");
    assert_string_equal(check(hs, with_sig(JWT_TOK_HS256, 64, 0), JWT_NOW), "invalid signature");
    /* RS256 signatures are exactly as long as the modulus (OpenSSL checks).
     * This one's first byte is zero: without it, the same number one byte
     * short; with another zero, one byte too many. */
    unsigned char sig[300];
    char enc[401];
    assert_string_equal(check(rs, JWT_TOK_RS256_LEADING_ZERO, JWT_NOW), "ok");
    size_t n = unb64url(strrchr(JWT_TOK_RS256_LEADING_ZERO, '.') + 1, sig + 1);
    assert_int_equal(n, 256);
    assert_int_equal(sig[1], 0);
    b64url(sig + 2, n - 1, enc);
    assert_string_equal(check(rs, splice(JWT_TOK_RS256_LEADING_ZERO, 2, enc), JWT_NOW),
                        "invalid signature");
    sig[0] = 0;
    b64url(sig, n + 1, enc);
    assert_string_equal(check(rs, splice(JWT_TOK_RS256_LEADING_ZERO, 2, enc), JWT_NOW),
                        "invalid signature");
    /* HS256 and ES256: a byte after the right signature */
    n = unb64url(strrchr(JWT_TOK_HS256, '.') + 1, sig);
    sig[n] = 0;
    b64url(sig, n + 1, enc);
    assert_string_equal(check(hs, splice(JWT_TOK_HS256, 2, enc), JWT_NOW), "invalid signature");
    n = unb64url(strrchr(JWT_TOK_ES256, '.') + 1, sig);
    sig[n] = 0;
    b64url(sig, n + 1, enc);
    assert_string_equal(check(es, splice(JWT_TOK_ES256, 2, enc), JWT_NOW), "invalid signature");
    sg_jwt_verifier_free(es);
    sg_jwt_verifier_free(rs);
    sg_jwt_verifier_free(hs);
}

static void expect_new_error(const char *alg, const char *key, size_t key_len, const char *msg)
{
    sg_jwt_opts_t o = {.alg = alg, .key = key, .key_len = key_len};
    sg_jwt_verifier_t *v = (sg_jwt_verifier_t *)&o;
    char err[256];
    assert_int_equal(sg_jwt_verifier_new(&o, &v, err, sizeof(err)), SG_EINVAL);
    assert_null(v);
    if (!strstr(err, msg))
        fail_msg("%s: got \"%s\", want \"%s\"", alg ? alg : "(null)", err, msg);
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_new_errors(void **state)
{
    (void)state;
    const char *pem = JWT_PEM_EC_PUB;
    char cut[512];
    snprintf(cut, sizeof(cut), "%.*s", (int)strlen(pem) / 2, pem);
    expect_new_error("HS512", "k", 1, "unknown JWT algorithm \"HS512\"");
    expect_new_error("none", "k", 1, "unknown JWT algorithm \"none\"");
    expect_new_error("hs256", "k", 1, "unknown JWT algorithm");
    expect_new_error(NULL, "k", 1, "unknown JWT algorithm");
    expect_new_error("HS256", "", 0, "HS256 needs a non-empty secret");
    expect_new_error("HS256", NULL, 0, "HS256 needs a non-empty secret");
    expect_new_error("HS256", JWT_PEM_RSA_PUB, strlen(JWT_PEM_RSA_PUB), "not a PEM key");
    expect_new_error("RS256", "not a pem", 9, "not a PEM public key");
    expect_new_error("ES256", cut, strlen(cut), "not a PEM public key");
    expect_new_error("ES256", "", 0, "ES256 needs a PEM public key");
    expect_new_error("ES256", JWT_PEM_RSA_PUB, strlen(JWT_PEM_RSA_PUB),
                     "ES256 needs an EC public key, this one is RSA");
    expect_new_error("ES256", JWT_PEM_RSA_CERT, strlen(JWT_PEM_RSA_CERT),
                     "ES256 needs an EC public key");
    expect_new_error("RS256", JWT_PEM_EC_PUB, strlen(JWT_PEM_EC_PUB),
                     "RS256 needs an RSA public key, this one is EC");
    expect_new_error("ES256", JWT_PEM_P384_PUB, strlen(JWT_PEM_P384_PUB),
                     "ES256 needs an EC key on P-256 (prime256v1), not secp384r1");
    /* err is truncated, NUL-terminated, or absent */
    sg_jwt_opts_t o = {.alg = "XX"};
    sg_jwt_verifier_t *v;
    char small[8];
    assert_int_equal(sg_jwt_verifier_new(&o, &v, small, sizeof(small)), SG_EINVAL);
    assert_string_equal(small, "unknown");
    assert_int_equal(sg_jwt_verifier_new(&o, &v, NULL, 0), SG_EINVAL);
    /* a key of key_len bytes, not a C string: the rest is not read */
    char hs[] = JWT_HS_SECRET "trailing";
    sg_jwt_opts_t ho = {.alg = "HS256", .key = hs, .key_len = strlen(JWT_HS_SECRET)};
    assert_int_equal(sg_jwt_verifier_new(&ho, &v, NULL, 0), 0);
    assert_string_equal(check(v, JWT_TOK_HS256, JWT_NOW), "ok");
    sg_jwt_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),      cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered),   cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_times),      cmocka_unit_test(test_iss_aud),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_sig_length), cmocka_unit_test(test_new_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
