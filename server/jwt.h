/* jwt.h - JSON Web Token verification for connect-time authentication (the
 * Socket.IO client sends `auth: {token}`).
 *
 * A verifier accepts exactly one algorithm, HS256, RS256 or ES256, chosen by
 * configuration and never by the token: a token whose header names another
 * one ("none" included) is refused, so a public key can never be used as an
 * HMAC secret (algorithm confusion). Tokens are compact JWS
 * (header.payload.signature, strict base64url without padding). The claims
 * checked are exp, nbf, iss and aud, with the semantics and the error
 * messages of Node's jsonwebtoken 9 (verify()). The header's typ and crit
 * are ignored, as jsonwebtoken ignores them.
 *
 * Built on libcrypto (OpenSSL 3). No global state; a verifier is used from
 * one thread. */
#ifndef SG_JWT_H
#define SG_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct sg_jwt_verifier sg_jwt_verifier_t;

typedef struct sg_jwt_opts {
    /** "HS256", "RS256" or "ES256": the only algorithm accepted. */
    const char *alg;
    /** HS256: the shared secret (bytes, not NUL-terminated). RS256/ES256: a
     *  PEM public key ("-----BEGIN PUBLIC KEY-----") or a PEM certificate
     *  whose key is used; RS256 wants an RSA key, ES256 an EC P-256 key. */
    const char *key;
    size_t key_len;
    /** NULL or "": not checked; else the iss claim must equal it. */
    const char *issuer;
    /** NULL or "": not checked; else aud (a string, or an array of
     *  strings) must contain it. */
    const char *audience;
    /** Clock skew allowed on exp and nbf, in seconds. */
    unsigned leeway_s;
    /** Longer tokens are refused before any work; 0 means 8192. */
    size_t max_token;
} sg_jwt_opts_t;

/** Make a verifier; everything in o is copied. Returns 0 with *out, or
 *  SG_EINVAL with *out NULL and a message in err (truncated to errlen,
 *  always NUL-terminated when errlen > 0): unknown alg, empty HS256 secret
 *  (or a PEM key given as one), a PEM that does not parse, a key of the
 *  wrong type or curve for alg. */
int sg_jwt_verifier_new(const sg_jwt_opts_t *o, sg_jwt_verifier_t **out, char *err, size_t errlen);

/** NULL is a no-op. */
void sg_jwt_verifier_free(sg_jwt_verifier_t *v);

/** Verify token[0..len) at time now_s (seconds since the epoch; a parameter
 *  so that tests are deterministic). Checks, in jsonwebtoken's order: size,
 *  form (all three parts base64url, header a JSON object), algorithm,
 *  signature, then the payload (a JSON object, parsed only once signed),
 *  nbf, exp, aud, iss. exp and nbf may be fractional, as in JavaScript.
 *
 *  Success: 0, *claims = the payload object (a new reference, the caller
 *  decrefs it), *why = NULL.
 *  Failure: SG_EINVAL (SG_ETOOBIG when len > max_token), *claims = NULL and
 *  *why = one of these messages, static or owned by v (valid until
 *  sg_jwt_verifier_free):
 *    "jwt too long"         len > max_token
 *    "jwt malformed"        not three parts (also ""), bad base64url,
 *                           header or payload not a JSON object
 *    "invalid algorithm"    header alg is not the configured one
 *    "invalid signature"    (also an ES256 signature not of 64 bytes)
 *    "invalid nbf value"    nbf present but not a number
 *    "jwt not active"       now + leeway < nbf
 *    "invalid exp value"    exp present but not a number
 *    "jwt expired"          now >= exp + leeway
 *    "jwt audience invalid. expected: <audience>"
 *    "jwt issuer invalid. expected: <issuer>" */
int sg_jwt_verify(const sg_jwt_verifier_t *v, const char *token, size_t len, int64_t now_s,
                  json_t **claims, const char **why);

#endif
