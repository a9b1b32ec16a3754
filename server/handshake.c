/* handshake.c - see handshake.h. Layout of the shared blob: records, each a
 * type byte followed by NUL-terminated strings, and a final 0 byte:
 *   'A' address (when not in the session) | 'S' (over TLS) | 'U' url |
 *   'H' <lws token + 1> value | 'K' (Sec-WebSocket-Key: the session's) |
 *   'C' name value | 'Q' name value (one query parameter, already
 *   URL-decoded by lws). */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "handshake.h"
#include "http.h"
#include "util.h"

static void put_str(sg_sbuf_t *sb, const char *s)
{
    sg_sbuf_append(sb, s, strlen(s) + 1);
}

static int skipped_token(int t)
{
    return t == WSI_TOKEN_GET_URI || t == WSI_TOKEN_POST_URI || t == WSI_TOKEN_OPTIONS_URI ||
           t == WSI_TOKEN_PUT_URI || t == WSI_TOKEN_PATCH_URI || t == WSI_TOKEN_DELETE_URI ||
           t == WSI_TOKEN_HEAD_URI || t == WSI_TOKEN_HTTP_URI_ARGS || t == WSI_TOKEN_HTTP ||
           t == WSI_TOKEN_HTTP1_0 || t == WSI_TOKEN_CONNECT;
}

/* The peer's address in binary when it is a dotted quad that prints back
 * the same (always, for the IPv4 listener); else it stays a string. */
static int addr_pack(const char *a, uint32_t *out)
{
    struct in_addr in;
    char back[INET_ADDRSTRLEN];
    if (inet_pton(AF_INET, a, &in) != 1 || !inet_ntop(AF_INET, &in, back, sizeof(back)) ||
        strcmp(back, a))
        return 0;
    *out = in.s_addr;
    return 1;
}

/* A Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 4.1): kept
 * decoded when it encodes back to the very same characters. */
static int key_pack(const char *k, uint8_t out[16])
{
    char raw[18], back[32];
    if (strlen(k) != 24 || lws_b64_decode_string_len(k, 24, raw, sizeof(raw)) != 16 ||
        lws_b64_encode_string(raw, 16, back, sizeof(back)) != 24 || memcmp(back, k, 24))
        return 0;
    memcpy(out, raw, 16);
    return 1;
}

struct sg_hs_shared {
    sg_map_t *table; /* where it is interned (its key is blob) */
    uint32_t refs;
    uint32_t len;
    char blob[];
};

static sg_hs_shared_t *intern(sg_map_t *table, const char *blob, size_t len)
{
    sg_hs_shared_t *sh = sg_map_get(table, blob, len);
    if (sh) {
        sh->refs++;
        return sh;
    }
    sh = sg_malloc(sizeof(*sh) + len);
    sh->table = table;
    sh->refs = 1;
    sh->len = (uint32_t)len;
    memcpy(sh->blob, blob, len);
    sg_map_put(table, sh->blob, len, sh);
    return sh;
}

void sg_handshake_release(sg_handshake_t *hs)
{
    sg_hs_shared_t *sh = hs->shared;
    hs->shared = NULL;
    if (sh && --sh->refs == 0) {
        sg_map_del(sh->table, sh->blob, sh->len);
        sg_free(sh);
    }
}

void sg_handshake_capture(sg_handshake_t *hs, sg_map_t *table, const sg_config_t *cfg,
                          struct lws *wsi)
{
    _Static_assert(WSI_TOKEN_COUNT < 255, "lws tokens fit in one byte");
    sg_sbuf_t sb;
    char val[2048], name[64];
    sg_sbuf_init(&sb);
    sg_handshake_release(hs);
    *hs = (sg_handshake_t){0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    hs->issued = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    char addr[64] = "";
    lws_get_peer_simple(wsi, addr, sizeof(addr));
    if (addr_pack(addr, &hs->addr)) {
        hs->have |= SG_HS_ADDR;
    } else {
        sg_sbuf_putc(&sb, 'A');
        put_str(&sb, addr);
    }
    if (lws_is_ssl(wsi))
        sg_sbuf_putc(&sb, 'S'); /* over TLS: handshake.secure */
    if (sg_http_header(wsi, WSI_TOKEN_GET_URI, val, sizeof(val)) < 0 &&
        sg_http_header(wsi, WSI_TOKEN_POST_URI, val, sizeof(val)) < 0)
        val[0] = '\0';
    sg_sbuf_putc(&sb, 'U');
    sg_sbuf_puts(&sb, val);
    /* The query part, rebuilt from lws' decoded fragments. */
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, val, sizeof(val), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        sg_sbuf_putc(&sb, i ? '&' : '?');
        sg_sbuf_append(&sb, val, (size_t)n);
    }
    sg_sbuf_putc(&sb, '\0');
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, val, sizeof(val), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        char *eq = strchr(val, '=');
        if (eq)
            *eq = '\0';
        sg_sbuf_putc(&sb, 'Q');
        put_str(&sb, val);
        put_str(&sb, eq ? eq + 1 : "");
    }
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        if (skipped_token(t) || sg_http_header(wsi, (enum lws_token_indexes)t, val, sizeof(val)) < 0)
            continue;
        if (t == WSI_TOKEN_KEY && !(hs->have & SG_HS_KEY) && key_pack(val, hs->key)) {
            /* its place among the headers; the value is the session's */
            hs->have |= SG_HS_KEY;
            sg_sbuf_putc(&sb, 'K');
            continue;
        }
        sg_sbuf_putc(&sb, 'H');
        sg_sbuf_putc(&sb, (char)(t + 1));
        put_str(&sb, val);
    }
    /* lws indexes only the headers it knows; others must be asked by name. */
    const char *extra = cfg->handshake_headers;
    while (extra && *extra) {
        const char *e = strchr(extra, ',');
        size_t l = e ? (size_t)(e - extra) : strlen(extra);
        if (l && l + 2 < sizeof(name)) {
            for (size_t i = 0; i < l; i++)
                name[i] = (char)tolower((unsigned char)extra[i]);
            name[l] = ':';
            name[l + 1] = '\0';
            if (lws_hdr_custom_copy(wsi, val, sizeof(val), name, (int)l + 1) >= 0) {
                name[l] = '\0';
                sg_sbuf_putc(&sb, 'C');
                put_str(&sb, name);
                put_str(&sb, val);
            }
        }
        extra = e ? e + 1 : NULL;
    }
    sg_sbuf_putc(&sb, '\0');
    hs->shared = intern(table, (const char *)sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
}

/* Header name of an lws token: lower case, without the trailing colon. */
static int token_name(int t, char *out, size_t len)
{
    const char *tn = (const char *)lws_token_to_string((enum lws_token_indexes)t);
    if (!tn || tn[0] == ':')
        return -1;
    size_t l = strlen(tn);
    if (l && tn[l - 1] == ':')
        l--;
    if (!l || l >= len)
        return -1;
    for (size_t i = 0; i < l; i++)
        out[i] = (char)tolower((unsigned char)tn[i]);
    out[l] = '\0';
    return 0;
}

json_t *sg_handshake_json(const sg_handshake_t *cap)
{
    json_t *hs = json_object(), *headers = json_object(), *query = json_object();
    const char *addr = "", *url = "";
    char abuf[INET_ADDRSTRLEN];
    int xdomain = 0, secure = 0;
    uint64_t issued = 0;
    if (!cap || !cap->shared)
        goto done;
    issued = cap->issued;
    if ((cap->have & SG_HS_ADDR) && inet_ntop(AF_INET, &cap->addr, abuf, sizeof(abuf)))
        addr = abuf;
    const char *p = cap->shared->blob;
    while (*p) {
        char type = *p++;
        if (type == 'K') {
            char name[64], key[32];
            if (token_name(WSI_TOKEN_KEY, name, sizeof(name)) == 0 &&
                lws_b64_encode_string((const char *)cap->key, 16, key, sizeof(key)) == 24)
                json_object_set_new(headers, name, json_string(key));
        } else if (type == 'S') {
            secure = 1;
        } else if (type == 'A' || type == 'U') {
            *(type == 'A' ? &addr : &url) = p;
            p += strlen(p) + 1;
        } else if (type == 'H') {
            int t = (unsigned char)*p++ - 1;
            char name[64];
            if (t == WSI_TOKEN_ORIGIN)
                xdomain = 1;
            if (token_name(t, name, sizeof(name)) == 0)
                json_object_set_new(headers, name, json_string(p));
            p += strlen(p) + 1;
        } else { /* 'C' or 'Q': name, value */
            const char *name = p, *value = p + strlen(p) + 1;
            json_object_set_new(type == 'C' ? headers : query, name, json_string(value));
            p = value + strlen(value) + 1;
        }
    }
done:;
    /* JavaScript's Date#toString in UTC, as Node prints it on a UTC host. */
    time_t secs = (time_t)(issued / 1000);
    struct tm tm;
    char tbuf[128];
    gmtime_r(&secs, &tm);
    strftime(tbuf, sizeof(tbuf), "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)",
             &tm);
    json_object_set_new(hs, "headers", headers);
    json_object_set_new(hs, "time", json_string(tbuf));
    json_object_set_new(hs, "address", json_string(addr));
    json_object_set_new(hs, "xdomain", json_boolean(xdomain));
    json_object_set_new(hs, "secure", json_boolean(secure));
    json_object_set_new(hs, "issued", json_integer((json_int_t)issued));
    json_object_set_new(hs, "url", json_string(url));
    json_object_set_new(hs, "query", query);
    return hs;
}
