/* proto4.c - what Socket.IO protocol 4 (the clients of Engine.IO v3,
 * socket.io-client 1.x/2.x) does differently, in the places client.c asks:
 * a namespace carries its auth as a query string ("/admin?token=abc"), and
 * a middleware refusal sends its data, or else its message, bare. */
#include <string.h>

#include "form.h"
#include "sio_internal.h"
#include "util.h"

/* A decoded form value as a JSON string; bytes that are not UTF-8 after
 * decoding become U+FFFD as in URLSearchParams (here: the whole value). */
static json_t *form_string(const char *p, size_t n)
{
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_form_decode(&sb, p, n);
    json_t *v = json_stringn(sb.len ? (const char *)sg_sbuf_data(&sb) : "", sb.len);
    sg_sbuf_reset(&sb);
    return v ? v : json_string("\xef\xbf\xbd");
}

json_t *sg_proto4__query_auth(const char *q, size_t n)
{
    json_t *auth = json_object();
    size_t pos = 0;
    sg_form_pair_t f;
    while (sg_form_next(q, n, &pos, &f)) {
        if (!f.klen && !f.has_eq)
            continue; /* "a&&b" */
        json_t *k = form_string(f.key, f.klen);
        json_t *v = f.has_eq ? form_string(f.val, f.vlen) : json_string("");
        /* the last of a repeated key wins, as Node's objectFromEntries */
        json_object_setn_new(auth, json_string_value(k), json_string_length(k), v);
        json_decref(k);
    }
    return auth;
}

json_t *sg_proto4__split_nsp(sg_sio_packet_t *pkt)
{
    char *q = strchr(pkt->nsp, '?');
    if (!q)
        return pkt->type == SG_SIO_CONNECT ? json_object() : NULL;
    *q++ = '\0';
    if (pkt->nsp[0] == '\0') {
        pkt->nsp[0] = '/'; /* "?x=1" names "/" */
        pkt->nsp[1] = '\0';
    }
    return pkt->type == SG_SIO_CONNECT ? sg_proto4__query_auth(q, strlen(q)) : NULL;
}

json_t *sg_proto4__error_payload(const char *message, json_t *data)
{
    if (data)
        return data;
    return json_string(message ? message : "error");
}
