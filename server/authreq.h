/* authreq.h - a tiny non-blocking HTTP/1.1 client for gateway mode's auth
 * endpoint: POST a JSON body to authUrl, hand back the status and the body.
 *
 * It runs on the server's libuv loop and never blocks it: an IP literal is
 * connected to directly, a name goes through uv_getaddrinfo (libuv's thread
 * pool); each address the name has is tried in turn. One request per
 * connection (Connection: close). The answer may be framed by
 * Content-Length, by chunked transfer coding, or by the server closing.
 *
 * Only http:// is spoken, there is no TLS: the handshake summary it sends
 * (and the verdict it receives) travels in clear, so put the endpoint on a
 * trusted network, or behind a local TLS proxy (stunnel, nginx, envoy) that
 * listens on 127.0.0.1.
 *
 * Everything read is bounded: 8 kB of response head (interim 1xx heads
 * included), max_body bytes of body, 8 kB of chunked trailers, and
 * timeout_ms for the whole exchange. */
#ifndef SG_AUTHREQ_H
#define SG_AUTHREQ_H

#include <stddef.h>
#include <uv.h>

typedef struct sg_authreq sg_authreq_t;

typedef struct sg_authreq_url {
    char host[256];  /* a name or an IPv4/IPv6 literal (brackets stripped) */
    unsigned port;   /* default 80 */
    char path[1024]; /* "/..." with query, default "/" */
} sg_authreq_url_t;

/** Parse "http://host[:port][/path][?query]" (a "#fragment" is dropped).
 *  Refused with SG_EINVAL and a reason in err (if err is non-NULL): any
 *  other scheme (https:// included, see above), credentials ("user@"), an
 *  empty or over-long host, an invalid [IPv6] literal, a port outside
 *  1..65535, a path with spaces or control characters. 0 on success. */
int sg_authreq_parse_url(const char *url, sg_authreq_url_t *out, char *err, size_t errlen);

/** The answer. status is the HTTP status (100..599; interim 1xx answers are
 *  skipped, so in practice 200..599) with body/len the response body:
 *  borrowed for the call, never NULL, NUL-terminated after len bytes
 *  (len may be 0). Or a negative error with body NULL and len 0:
 *    SG_ETIMEOUT  no complete answer within timeout_ms, counted from the call
 *    SG_EIO       name lookup failed, connect refused/reset on every address,
 *                 connection closed before the answer was complete,
 *                 malformed response (a 101 included)
 *    SG_ETOOBIG   response head over 8 kB, body over max_body, trailers
 *                 over 8 kB
 *  Called exactly once, always asynchronously (never from inside
 *  sg_authreq_post), after the connection is closed, unless cancelled. */
typedef void (*sg_authreq_cb)(void *ud, int status, const char *body, size_t len);

/** Start a POST of body to url with Host, Content-Type: application/json,
 *  Content-Length, Connection: close, plus the extra header lines in headers
 *  if non-NULL (each "Name: value\r\n"). The body is copied; headers and url
 *  are not kept. timeout_ms must be > 0; max_body may be 0 (any body is then
 *  SG_ETOOBIG). Returns 0 with *out, a handle for sg_authreq_cancel that is
 *  valid until cb has returned; or SG_EINVAL (NULL loop/url/cb/out, bad
 *  host/port/path, headers not ending in "\r\n" or holding an empty line,
 *  timeout_ms 0), and then cb is never called. */
int sg_authreq_post(uv_loop_t *loop, const sg_authreq_url_t *url, const char *headers,
                    const void *body, size_t len, unsigned timeout_ms, size_t max_body,
                    sg_authreq_cb cb, void *ud, sg_authreq_t **out);

/** Stop a request (the client went away): cb is not called; the memory is
 *  freed once libuv has closed the handles (and a name lookup under way has
 *  returned), so the loop must keep running. Safe until cb has run, and
 *  from inside cb (a no-op there); not after. NULL is a no-op. */
void sg_authreq_cancel(sg_authreq_t *r);

#endif
