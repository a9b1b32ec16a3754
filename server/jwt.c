/* jwt.c - JWS compact token verification (HS256, RS256, ES256) on libcrypto. */
#include "jwt.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util.h"

#define SG_JWT_MAX_TOKEN_DEFAULT 8192
#define SG_JWT_HS256_LEN 32
#define SG_JWT_ES256_LEN 64 /* r || s, 32 bytes each (RFC 7518 3.4) */

typedef enum { SG_JWT_HS256, SG_JWT_RS256, SG_JWT_ES256 } sg_jwt_alg_t;

static const struct {
    const char *name;
    sg_jwt_alg_t alg;
} sg_jwt_algs[] = {
    {"HS256", SG_JWT_HS256},
    {"RS256", SG_JWT_RS256},
    {"ES256", SG_JWT_ES256},
};

struct sg_jwt_verifier {
    sg_jwt_alg_t alg;
    const char *alg_name;  /* from sg_jwt_algs */
    unsigned char *secret; /* HS256 */
    size_t secret_len;
    EVP_PKEY *pkey;          /* RS256, ES256 */
    char *issuer, *audience; /* NULL: not checked */
    char *iss_msg, *aud_msg; /* the *why for a mismatch, built once */
    unsigned leeway;
    size_t max_token;
};

static void sg_jwt_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *sg_jwt_concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = sg_malloc(la + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* A PEM read must never stop to ask for a passphrase on the terminal. */
static int sg_jwt_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* A PEM public key, else the key of a PEM certificate; NULL if neither. */
static EVP_PKEY *sg_jwt_read_pem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return NULL;
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, sg_jwt_no_passphrase, NULL);
    if (!pkey && BIO_reset(bio) == 1) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, sg_jwt_no_passphrase, NULL);
        if (cert) {
            pkey = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    BIO_free(bio);
    return pkey;
}

/* Load the public key and check that it is the kind alg signs with, so that
 * a misconfiguration shows at startup rather than as "invalid signature" on
 * every connection. */
static int sg_jwt_load_key(sg_jwt_verifier_t *v, const sg_jwt_opts_t *o, char *err, size_t errlen)
{
    if (!o->key || o->key_len == 0 || o->key_len > INT_MAX) {
        sg_jwt_seterr(err, errlen, "%s needs a PEM public key or certificate", v->alg_name);
        return SG_EINVAL;
    }
    v->pkey = sg_jwt_read_pem(o->key, o->key_len);
    if (!v->pkey) {
        sg_jwt_seterr(err, errlen, "%s key: not a PEM public key or certificate", v->alg_name);
        return SG_EINVAL;
    }
    const char *want = v->alg == SG_JWT_RS256 ? "RSA" : "EC";
    if (!EVP_PKEY_is_a(v->pkey, want)) {
        const char *got = EVP_PKEY_get0_type_name(v->pkey);
        sg_jwt_seterr(err, errlen, "%s needs an %s public key, this one is %s", v->alg_name, want,
                      got ? got : "of another type");
        return SG_EINVAL;
    }
    if (v->alg == SG_JWT_ES256) {
        char curve[64] = "";
        if (!EVP_PKEY_get_utf8_string_param(v->pkey, OSSL_PKEY_PARAM_GROUP_NAME, curve,
                                            sizeof(curve), NULL) ||
            strcmp(curve, "prime256v1") != 0) {
            sg_jwt_seterr(err, errlen, "ES256 needs an EC key on P-256 (prime256v1), not %s",
                          curve[0] ? curve : "an unnamed curve");
            return SG_EINVAL;
        }
    }
    return 0;
}

static int sg_jwt_set_secret(sg_jwt_verifier_t *v, const sg_jwt_opts_t *o, char *err, size_t errlen)
{
    if (!o->key || o->key_len == 0 || o->key_len > INT_MAX) {
        sg_jwt_seterr(err, errlen, "HS256 needs a non-empty secret");
        return SG_EINVAL;
    }
    /* Whoever holds the public key could sign with it: the very algorithm
     * confusion a single configured alg exists to prevent (jsonwebtoken
     * refuses an asymmetric key for HS256 too). */
    if (o->key_len >= 10 && memcmp(o->key, "-----BEGIN", 10) == 0) {
        sg_jwt_seterr(err, errlen, "HS256 needs a shared secret, not a PEM key");
        return SG_EINVAL;
    }
    v->secret = sg_malloc(o->key_len);
    memcpy(v->secret, o->key, o->key_len);
    v->secret_len = o->key_len;
    return 0;
}

int sg_jwt_verifier_new(const sg_jwt_opts_t *o, sg_jwt_verifier_t **out, char *err, size_t errlen)
{
    *out = NULL;
    sg_jwt_seterr(err, errlen, "%s", "");
    sg_jwt_verifier_t *v = sg_calloc(1, sizeof(*v));
    size_t i = 0;
    while (i < sizeof(sg_jwt_algs) / sizeof(sg_jwt_algs[0]) &&
           !(o->alg && strcmp(o->alg, sg_jwt_algs[i].name) == 0))
        i++;
    if (i == sizeof(sg_jwt_algs) / sizeof(sg_jwt_algs[0])) {
        sg_jwt_seterr(err, errlen, "unknown JWT algorithm \"%s\" (HS256, RS256 or ES256)",
                      o->alg ? o->alg : "");
        goto fail;
    }
    v->alg = sg_jwt_algs[i].alg;
    v->alg_name = sg_jwt_algs[i].name;
    if (v->alg == SG_JWT_HS256 ? sg_jwt_set_secret(v, o, err, errlen)
                               : sg_jwt_load_key(v, o, err, errlen))
        goto fail;
    if (o->issuer && o->issuer[0]) {
        v->issuer = sg_strdup(o->issuer);
        v->iss_msg = sg_jwt_concat("jwt issuer invalid. expected: ", o->issuer);
    }
    if (o->audience && o->audience[0]) {
        v->audience = sg_strdup(o->audience);
        v->aud_msg = sg_jwt_concat("jwt audience invalid. expected: ", o->audience);
    }
    v->leeway = o->leeway_s;
    v->max_token = o->max_token ? o->max_token : SG_JWT_MAX_TOKEN_DEFAULT;
    *out = v;
    return 0;
fail:
    /* The error queue is per thread and shared with lws' TLS, whose
     * SSL_get_error() would read our leftovers as its own. */
    ERR_clear_error();
    sg_jwt_verifier_free(v);
    return SG_EINVAL;
}

void sg_jwt_verifier_free(sg_jwt_verifier_t *v)
{
    if (!v)
        return;
    if (v->secret)
        OPENSSL_cleanse(v->secret, v->secret_len);
    sg_free(v->secret);
    EVP_PKEY_free(v->pkey);
    sg_free(v->issuer);
    sg_free(v->audience);
    sg_free(v->iss_msg);
    sg_free(v->aud_msg);
    sg_free(v);
}

static int sg_jwt_b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    return c == '_' ? 63 : -1;
}

/* Strict base64url (RFC 7515 2): no padding, no other characters, and the
 * unused low bits of the last character zero, so that each token has one
 * spelling (a token string may be used as a key, in a deny list say).
 * out holds at least n * 3 / 4 bytes. */
static int sg_jwt_b64url_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
    uint32_t acc = 0;
    size_t k = 0, o = 0;
    if (n % 4 == 1)
        return SG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int d = sg_jwt_b64url_val((unsigned char)s[i]);
        if (d < 0)
            return SG_EINVAL;
        acc = acc << 6 | (uint32_t)d;
        if (++k == 4) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
            k = 0;
        }
    }
    if (k == 2) {
        if (acc & 0xf)
            return SG_EINVAL;
        out[o++] = (unsigned char)(acc >> 4);
    } else if (k == 3) {
        if (acc & 0x3)
            return SG_EINVAL;
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    *outlen = o;
    return 0;
}

/* EVP_DigestVerify with SHA-256: PKCS#1 v1.5 for an RSA key (its default
 * padding), ECDSA for an EC key. */
static int sg_jwt_pkey_verify(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
                              const char *msg, size_t len)
{
    int ok = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
        ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* JWS carries ECDSA as r || s (IEEE P1363); OpenSSL verifies DER. */
static int sg_jwt_es256_verify(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
                               const char *msg, size_t len)
{
    int ok = 0, derlen;
    unsigned char *der = NULL;
    if (siglen != SG_JWT_ES256_LEN)
        return 0;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, SG_JWT_ES256_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + SG_JWT_ES256_LEN / 2, SG_JWT_ES256_LEN / 2, NULL);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
        goto fail;
    r = s = NULL; /* es owns them now */
    derlen = i2d_ECDSA_SIG(es, &der);
    if (derlen > 0)
        ok = sg_jwt_pkey_verify(pkey, der, (size_t)derlen, msg, len);
fail:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

/* A comparison that stops at the first difference would tell an attacker
 * how many leading bytes of a forged MAC are right: CRYPTO_memcmp. */
static int sg_jwt_hs256_verify(const sg_jwt_verifier_t *v, const unsigned char *sig, size_t siglen,
                               const char *msg, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    return siglen == SG_JWT_HS256_LEN &&
           HMAC(EVP_sha256(), v->secret, (int)v->secret_len, (const unsigned char *)msg, len, mac,
                &maclen) &&
           maclen == SG_JWT_HS256_LEN && CRYPTO_memcmp(mac, sig, SG_JWT_HS256_LEN) == 0;
}

/* RS256 needs no length check of its own: OpenSSL refuses a signature that
 * is not exactly the modulus' size. */
static int sg_jwt_sig_ok(const sg_jwt_verifier_t *v, const unsigned char *sig, size_t siglen,
                         const char *msg, size_t len)
{
    int ok = v->alg == SG_JWT_HS256   ? sg_jwt_hs256_verify(v, sig, siglen, msg, len)
             : v->alg == SG_JWT_RS256 ? sg_jwt_pkey_verify(v->pkey, sig, siglen, msg, len)
                                      : sg_jwt_es256_verify(v->pkey, sig, siglen, msg, len);
    if (!ok)
        ERR_clear_error(); /* see sg_jwt_verifier_new */
    return ok;
}

static int sg_jwt_aud_ok(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *e;
    json_array_foreach(aud, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
            return 1;
    }
    return 0;
}

/* The registered claims, as jsonwebtoken checks them: times in doubles (a
 * JavaScript number), so that fractional and huge values compare alike. */
static const char *sg_jwt_claims_why(const sg_jwt_verifier_t *v, const json_t *p, int64_t now)
{
    const json_t *nbf = json_object_get(p, "nbf");
    const json_t *exp = json_object_get(p, "exp");
    if (nbf && !json_is_number(nbf))
        return "invalid nbf value";
    if (nbf && json_number_value(nbf) > (double)now + v->leeway)
        return "jwt not active";
    if (exp && !json_is_number(exp))
        return "invalid exp value";
    if (exp && (double)now >= json_number_value(exp) + v->leeway)
        return "jwt expired";
    if (v->audience && !sg_jwt_aud_ok(json_object_get(p, "aud"), v->audience))
        return v->aud_msg;
    const json_t *iss = json_object_get(p, "iss");
    if (v->issuer && !(json_is_string(iss) && strcmp(json_string_value(iss), v->issuer) == 0))
        return v->iss_msg;
    return NULL;
}

/* Only an object is a JWT header or claims set. Without JSON_ALLOW_NUL,
 * jansson refuses "\u0000", so strcmp on its strings is exact. */
static json_t *sg_jwt_parse_object(const unsigned char *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, 0, NULL);
    if (json_is_object(j))
        return j;
    json_decref(j);
    return NULL;
}

int sg_jwt_verify(const sg_jwt_verifier_t *v, const char *token, size_t len, int64_t now_s,
                  json_t **claims, const char **why)
{
    json_t *hdr = NULL, *payload = NULL;
    unsigned char *buf = NULL, *h, *p, *s;
    size_t hl, pl, sl;
    const json_t *alg;
    int rc = SG_EINVAL;
    *claims = NULL;
    *why = "jwt malformed";
    if (len > v->max_token) {
        *why = "jwt too long";
        return SG_ETOOBIG;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return SG_EINVAL;
    /* The three parts decode into one buffer: decoded is shorter than
     * encoded, and len is already bounded by max_token. */
    buf = h = sg_malloc(len);
    if (sg_jwt_b64url_decode(token, (size_t)(d1 - token), h, &hl))
        goto fail;
    p = h + hl;
    if (sg_jwt_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), p, &pl))
        goto fail;
    s = p + pl;
    if (sg_jwt_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), s, &sl))
        goto fail;
    if (!(hdr = sg_jwt_parse_object(h, hl)))
        goto fail;
    /* The token never chooses the algorithm: the configuration does. */
    alg = json_object_get(hdr, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), v->alg_name) != 0) {
        *why = "invalid algorithm";
        goto fail;
    }
    if (!sg_jwt_sig_ok(v, s, sl, token, (size_t)(d2 - token))) {
        *why = "invalid signature";
        goto fail;
    }
    /* Parsed only now, so that the JSON parser sees no unsigned claims. */
    if (!(payload = sg_jwt_parse_object(p, pl)))
        goto fail;
    if ((*why = sg_jwt_claims_why(v, payload, now_s)))
        goto fail;
    *claims = payload;
    payload = NULL;
    rc = 0;
fail:
    json_decref(payload);
    json_decref(hdr);
    sg_free(buf);
    return rc;
}
