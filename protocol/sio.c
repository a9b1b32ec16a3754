/* sio.c - Socket.IO v5 packet codec, following socket.io-parser 4.2. */
#include "sio.h"

#include <stdint.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define SG_SIO_DEFAULT_MAX_ATTACHMENTS 10
#define SG_SIO_MAX_ID_DIGITS 15

void sg_sio_packet_init(sg_sio_packet_t *p)
{
    memset(p, 0, sizeof(*p));
    p->id = -1;
}

void sg_sio_packet_clear(sg_sio_packet_t *p)
{
    sg_free(p->nsp);
    json_decref(p->data);
    for (size_t i = 0; i < p->nbins; i++)
        sg_buf_unref(p->bins[i]);
    sg_free(p->bins);
    sg_sio_packet_init(p);
}

static const char *const sg_sio_reserved[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

static int sg_sio_is_reserved_n(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(sg_sio_reserved) / sizeof(sg_sio_reserved[0]); i++)
        if (strlen(sg_sio_reserved[i]) == len && memcmp(sg_sio_reserved[i], name, len) == 0)
            return 1;
    return 0;
}

int sg_sio_is_reserved_event(const char *name)
{
    return name && sg_sio_is_reserved_n(name, strlen(name));
}

/* What data a packet of this type may carry. For input, socket.io-parser's
 * isPayloadValid with one tightening: EVENT and ACK must carry their array
 * (Node lets "42" through and then hands the application an undefined event
 * name). For our own output, an EVENT needs its array (its name is the
 * caller's business) and an ACK may carry nothing (written as "[]"). */
static int sg_sio_data_ok(sg_sio_type_t type, const json_t *d, int input)
{
    switch (type) {
    case SG_SIO_CONNECT:
        return !d || json_is_object(d);
    case SG_SIO_DISCONNECT:
        return !d;
    case SG_SIO_CONNECT_ERROR:
        return !d || json_is_object(d) || json_is_string(d);
    case SG_SIO_EVENT:
    case SG_SIO_BINARY_EVENT: {
        if (!input)
            return json_array_size(d) > 0;
        const json_t *name = json_array_get(d, 0);
        if (json_is_number(name))
            return 1;
        return json_is_string(name) &&
               !sg_sio_is_reserved_n(json_string_value(name), json_string_length(name));
    }
    case SG_SIO_ACK:
    case SG_SIO_BINARY_ACK:
        return json_is_array(d) || (!input && !d);
    }
    return 0;
}

int sg_sio_decode(const void *s, size_t len, const sg_sio_limits_t *limits, sg_sio_packet_t *p)
{
    const char *c = s;
    size_t max_att = limits ? limits->max_attachments : SG_SIO_DEFAULT_MAX_ATTACHMENTS;
    size_t i = 0;
    int rc = SG_EINVAL;

    sg_sio_packet_init(p);
    if (len == 0 || c[0] < '0' || c[0] > '6')
        goto fail;
    p->type = (sg_sio_type_t)(c[i++] - '0');

    if (p->type == SG_SIO_BINARY_EVENT || p->type == SG_SIO_BINARY_ACK) {
        size_t n = 0, start = i;
        for (; i < len && c[i] >= '0' && c[i] <= '9'; i++) {
            /* Saturate: a long digit run is over any limit, not a wrap. */
            n = n > (SIZE_MAX - 9) / 10 ? SIZE_MAX : n * 10 + (size_t)(c[i] - '0');
        }
        if (i == start || i >= len || c[i] != '-' || n < 1)
            goto fail;
        if (n > max_att) {
            rc = SG_ETOOBIG;
            goto fail;
        }
        i++;
        p->attachments = n;
    }

    if (i < len && c[i] == '/') {
        size_t start = i;
        const char *comma = memchr(c + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - c) : len;
        /* A NUL would make the C string name a different namespace. */
        if (memchr(c + start, '\0', end - start))
            goto fail;
        p->nsp = sg_strndup(c + start, end - start);
        i = comma ? end + 1 : end;
    } else {
        p->nsp = sg_strdup("/");
    }

    if (i < len && c[i] >= '0' && c[i] <= '9') {
        int64_t id = 0;
        size_t start = i;
        for (; i < len && c[i] >= '0' && c[i] <= '9'; i++) {
            if (i - start >= SG_SIO_MAX_ID_DIGITS)
                goto fail;
            id = id * 10 + (c[i] - '0');
        }
        p->id = id;
    }

    if (i < len && sg_json_parse(c + i, len - i, &p->data) != 0)
        goto fail;
    if (!sg_sio_data_ok(p->type, p->data, 1))
        goto fail;

    if (p->attachments)
        p->bins = sg_calloc(p->attachments, sizeof(*p->bins));
    return 0;
fail:
    sg_sio_packet_clear(p);
    return rc;
}

/* Every object marked as a placeholder must name an attachment we hold;
 * socket.io-parser throws "illegal attachments" otherwise. */
static int sg_sio_check_placeholders(const json_t *v, size_t nbins)
{
    if (json_is_object(v)) {
        if (json_object_get(v, "_placeholder") == json_true()) {
            long num;
            if (!sg_json_is_placeholder(v, &num) || (size_t)num >= nbins)
                return SG_EINVAL;
            return 0;
        }
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if (sg_sio_check_placeholders(m, nbins))
                return SG_EINVAL;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (sg_sio_check_placeholders(json_array_get(v, i), nbins))
                return SG_EINVAL;
    }
    return 0;
}

int sg_sio_add_attachment(sg_sio_packet_t *p, sg_buf_t *b)
{
    if (!p->attachments)
        return SG_ESTATE;
    /* bins was sized for the announced count when the text was decoded. */
    p->bins[p->nbins++] = sg_buf_ref(b);
    b->flags |= SG_BUF_BINARY;
    if (--p->attachments)
        return 0;
    return sg_sio_check_placeholders(p->data, p->nbins) ? SG_EINVAL : 1;
}

/* ---- encoder ---------------------------------------------------------- */

typedef struct sg_sio_enc_ctx {
    const sg_sio_packet_t *p;
    sg_sio_encoded_t *out;
} sg_sio_enc_ctx_t;

/* Placeholders that index p->bins, counted in the order sg_json_dump meets
 * them (it does not descend into a placeholder object). */
static size_t sg_sio_count_placeholders(const json_t *v, size_t nbins)
{
    size_t n = 0;
    long num;
    if (json_is_object(v)) {
        /* One that indexes nothing is dumped as a plain object, whose
         * members the dump then visits, so we must visit them too. */
        if (sg_json_is_placeholder(v, &num) && (size_t)num < nbins)
            return 1;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
            n += sg_sio_count_placeholders(m, nbins);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            n += sg_sio_count_placeholders(json_array_get(v, i), nbins);
    }
    return n;
}

static long sg_sio_renumber(long num, void *ud)
{
    sg_sio_enc_ctx_t *ctx = ud;
    if ((size_t)num >= ctx->p->nbins)
        return -1;
    sg_buf_t *b = ctx->p->bins[num];
    /* Attachments are always binary Engine.IO messages, so setting the flag
     * on a shared buffer tells every holder the truth. */
    b->flags |= SG_BUF_BINARY;
    ctx->out->bins[ctx->out->nbins] = sg_buf_ref(b);
    return (long)ctx->out->nbins++;
}

int sg_sio_encode(const sg_sio_packet_t *p, sg_sio_encoded_t *out)
{
    sg_sio_enc_ctx_t ctx = {p, out};
    sg_sio_type_t type = p->type;
    size_t nph = 0;
    sg_sbuf_t sb;

    memset(out, 0, sizeof(*out));
    if ((unsigned)type > SG_SIO_BINARY_ACK || !sg_sio_data_ok(type, p->data, 0))
        return SG_EINVAL;
    int ack = type == SG_SIO_ACK || type == SG_SIO_BINARY_ACK;
    int evt = type == SG_SIO_EVENT || type == SG_SIO_BINARY_EVENT;
    if ((ack || evt) && p->nbins)
        nph = sg_sio_count_placeholders(p->data, p->nbins);
    if (evt)
        type = nph ? SG_SIO_BINARY_EVENT : SG_SIO_EVENT;
    else if (ack)
        type = nph ? SG_SIO_BINARY_ACK : SG_SIO_ACK;

    sg_sbuf_init(&sb);
    sg_sbuf_putc(&sb, '4');
    sg_sbuf_putc(&sb, (char)('0' + type));
    if (nph) {
        sg_sbuf_put_u64(&sb, nph);
        sg_sbuf_putc(&sb, '-');
        out->bins = sg_malloc(nph * sizeof(*out->bins));
    }
    if (p->nsp && strcmp(p->nsp, "/") != 0) {
        sg_sbuf_puts(&sb, p->nsp);
        sg_sbuf_putc(&sb, ',');
    }
    if (p->id >= 0)
        sg_sbuf_put_u64(&sb, (uint64_t)p->id);
    if (p->data)
        sg_json_dump(&sb, p->data, nph ? sg_sio_renumber : NULL, &ctx);
    else if (ack)
        sg_sbuf_puts(&sb, "[]");
    out->text = sg_sbuf_finish(&sb);
    return 0;
}

void sg_sio_encoded_clear(sg_sio_encoded_t *e)
{
    sg_buf_unref(e->text);
    for (size_t i = 0; i < e->nbins; i++)
        sg_buf_unref(e->bins[i]);
    sg_free(e->bins);
    memset(e, 0, sizeof(*e));
}
