/* Unit tests for protocol/eio3.c (Engine.IO v3) and eio_jsonp.c. The
 * expected bytes are those Node's engine.io 6 (parser-v3, polling-jsonp)
 * produces and accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "eio.h"
#include "util.h"

#define MAXP 8
typedef struct {
    size_t n;
    sg_eio_type_t type[MAXP];
    int binary[MAXP];
    char data[MAXP][64];
    size_t len[MAXP];
} rec_t;

static int rec_cb(const sg_eio_packet_t *p, void *ud)
{
    rec_t *r = ud;
    if (r->n >= MAXP || p->len >= 64)
        return 99;
    r->type[r->n] = p->type;
    r->binary[r->n] = p->binary;
    memcpy(r->data[r->n], p->data, p->len);
    r->len[r->n] = p->len;
    r->n++;
    return 0;
}

static int decode(const char *body, size_t len, int binary, rec_t *r)
{
    memset(r, 0, sizeof(*r));
    return sg_eio_v3.decode_payload(body, len, binary, 0, rec_cb, r);
}

static void test_versions(void **state)
{
    (void)state;
    assert_ptr_equal(sg_eio_version_find("4", 1, 0), &sg_eio_v4);
    assert_null(sg_eio_version_find("3", 1, 0));
    assert_ptr_equal(sg_eio_version_find("3", 1, 1), &sg_eio_v3);
    assert_null(sg_eio_version_find("03", 2, 1));
    assert_null(sg_eio_version_find("2", 1, 1));
    assert_null(sg_eio_version_find("", 0, 1));
    assert_ptr_equal(sg_eio_version_get(3), &sg_eio_v3);
    assert_int_equal(sg_eio_v3.server_pings, 0);
    assert_int_equal(sg_eio_v4.server_pings, 1);
}

static void test_string_payload(void **state)
{
    (void)state;
    rec_t r;
    const char body[] = "2:4013:42[\"auth\",{}]";
    assert_int_equal(decode(body, sizeof(body) - 1, 0, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.type[0], SG_EIO_MESSAGE);
    assert_memory_equal(r.data[0], "0", 1);
    assert_int_equal(r.len[1], 12);
    /* lengths count UTF-16 code units: e-acute and euro 1 each, the emoji 2 */
    const char utf[] = "5:4\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "1:2";
    assert_int_equal(decode(utf, sizeof(utf) - 1, 0, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.len[0], 9);
    assert_int_equal(r.type[1], SG_EIO_PING);
    /* "0:" is an empty payload, as Node sends when it has nothing */
    assert_int_equal(decode("0:", 2, 0, &r), 0);
    assert_int_equal(r.n, 0);
    /* base64 binary: b4 + base64 */
    assert_int_equal(decode("6:b4AQID", 8, 0, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.binary[0], 1);
    assert_memory_equal(r.data[0], "\x01\x02\x03", 3);
}

static void test_string_payload_invalid(void **state)
{
    (void)state;
    rec_t r;
    static const char *const bad[] = {
        "",                        /* empty */
        ":4a",                     /* no length */
        "a:4",                     /* not digits */
        "3:4a",                    /* longer than the rest */
        "2:4a1",                   /* trailing length without ':' */
        "4:4\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", /* ends inside a surrogate pair */
        "2:4\xc3",                 /* not UTF-8 */
        "2:4\xed\xa0\x80",         /* a UTF-8-encoded surrogate */
        "1:9",                     /* unknown type */
        "2:b2",                    /* binary that is not a message */
        "5:b4A!==",                /* bad base64 */
        "12345678901:4",           /* absurd length */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = decode(bad[i], strlen(bad[i]), 0, &r);
        if (rc != SG_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
        assert_int_equal(r.n, 0); /* nothing delivered from a bad payload */
    }
    /* A bad packet after a good one delivers neither. */
    assert_int_equal(decode("2:401:9", 7, 0, &r), SG_EINVAL);
    assert_int_equal(r.n, 0);
    /* the packet bound */
    memset(&r, 0, sizeof(r));
    assert_int_equal(sg_eio_v3.decode_payload("1:21:21:2", 9, 0, 2, rec_cb, &r), SG_ETOOBIG);
}

static void test_binary_payload(void **state)
{
    (void)state;
    rec_t r;
    /* "40" as text, then binary 01 02 03 (type byte 4 first) */
    const char body[] = "\x00\x02\xff" "40" "\x01\x04\xff\x04\x01\x02\x03";
    assert_int_equal(decode(body, sizeof(body) - 1, 1, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.binary[0], 0);
    assert_memory_equal(r.data[0], "0", 1);
    assert_int_equal(r.binary[1], 1);
    assert_int_equal(r.len[1], 3);
    /* lengths over 9 take one byte per digit: 1, 0 is ten */
    const char ten[] = "\x00\x01\x00\xff" "4abcdefghi";
    assert_int_equal(decode(ten, sizeof(ten) - 1, 1, &r), 0);
    assert_int_equal(r.len[0], 9);
    const char eleven[] = "\x00\x01\x01\xff" "4abcdefghi"; /* says 11, has 10 */
    assert_int_equal(decode(eleven, sizeof(eleven) - 1, 1, &r), SG_EINVAL);
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"\x02\x01\xff" "4", 4},       /* kind byte neither 0 nor 1 */
        {"\x00\x0a\xff" "4", 4},       /* a digit byte over 9 */
        {"\x00\x05\xff" "4", 4},       /* longer than the rest */
        {"\x00\x01", 2},               /* no 0xff */
        {"\x01\x01\xff\x02", 4},       /* binary that is not a message */
        {"\x00\x02\xff" "4\xff", 5},   /* text that is not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (decode(bad[i].b, bad[i].n, 1, &r) != SG_EINVAL)
            fail_msg("binary case %zu", i);
}

static void add(sg_sbuf_t *sb, const char *s, size_t n, int binary, sg_eio_form_t form)
{
    sg_buf_t *b = sg_buf_new_copy(s, n);
    if (binary)
        b->flags |= SG_BUF_BINARY;
    sg_eio_v3.payload_add(sb, b, form);
    sg_buf_unref(b);
}

static void test_encode(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    add(&sb, "40", 2, 0, SG_EIO_FORM_TEXT);
    add(&sb, "4\xc3\xa9\xf0\x9f\x98\x80", 7, 0, SG_EIO_FORM_TEXT);
    add(&sb, "\x01\x02\x03", 3, 1, SG_EIO_FORM_TEXT);
    const char want[] = "2:404:4\xc3\xa9\xf0\x9f\x98\x80" "6:b4AQID";
    assert_int_equal(sb.len, sizeof(want) - 1);
    assert_memory_equal(sg_sbuf_data(&sb), want, sb.len);
    /* and it decodes back */
    rec_t r;
    assert_int_equal(decode((const char *)sg_sbuf_data(&sb), sb.len, 0, &r), 0);
    assert_int_equal(r.n, 3);
    sg_sbuf_reset(&sb);

    add(&sb, "4\xc3\xa9", 3, 0, SG_EIO_FORM_BINARY);
    add(&sb, "\x01\x02\x03", 3, 1, SG_EIO_FORM_BINARY);
    const char wantb[] = "\x00\x03\xff" "4\xc3\xa9" "\x01\x04\xff\x04\x01\x02\x03";
    assert_int_equal(sb.len, sizeof(wantb) - 1);
    assert_memory_equal(sg_sbuf_data(&sb), wantb, sb.len);
    assert_int_equal(decode((const char *)sg_sbuf_data(&sb), sb.len, 1, &r), 0);
    assert_int_equal(r.n, 2);
    sg_sbuf_reset(&sb);
}

static void test_frames(void **state)
{
    (void)state;
    sg_eio_packet_t p;
    assert_int_equal(sg_eio_v3.decode_frame("\x04\x01\x02", 3, 1, &p), 0);
    assert_int_equal(p.binary, 1);
    assert_int_equal(p.len, 2);
    assert_memory_equal(p.data, "\x01\x02", 2);
    sg_buf_unref(p.bin);
    assert_int_equal(sg_eio_v3.decode_frame("\x01\x02", 2, 1, &p), SG_EINVAL);
    assert_int_equal(sg_eio_v3.decode_frame("", 0, 1, &p), SG_EINVAL);
    assert_int_equal(sg_eio_v3.decode_frame("b4AQID", 6, 0, &p), 0);
    assert_int_equal(p.len, 3);
    sg_buf_unref(p.bin);
    assert_int_equal(sg_eio_v3.decode_frame("2", 1, 0, &p), 0);
    assert_int_equal(p.type, SG_EIO_PING);
    assert_null(p.bin);
    /* v4 binary frames have no type byte */
    assert_int_equal(sg_eio_v4.decode_frame("\x01\x02", 2, 1, &p), 0);
    assert_int_equal(p.len, 2);
    sg_buf_unref(p.bin);
    assert_int_equal(sg_eio_v4.decode_frame("b4AQID", 6, 0, &p), SG_EINVAL);
}

static void test_jsonp_wrap(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    const char pl[] = "4\"\\\n\x1e\x7f\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9";
    sg_eio_jsonp_wrap(&sb, 3, pl, sizeof(pl) - 1);
    const char want[] = "___eio[3](\"4\\\"\\\\\\n\\u001e\x7f\\u2028\\u2029\xc3\xa9\");";
    assert_int_equal(sb.len, sizeof(want) - 1);
    assert_memory_equal(sg_sbuf_data(&sb), want, sb.len);
    sg_sbuf_reset(&sb);
}

static void test_jsonp_body(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    const char b1[] = "d=5%3A42%5B1%5D";
    assert_int_equal(sg_eio_jsonp_body(b1, sizeof(b1) - 1, &sb), 0);
    assert_int_equal(sb.len, 7);
    assert_memory_equal(sg_sbuf_data(&sb), "5:42[1]", 7);
    sg_sbuf_reset(&sb);
    /* "\n" (backslash n) is a newline; "\\n" is the two characters \n */
    const char b2[] = "x=1&d=a\\nb+c\\\\nd";
    assert_int_equal(sg_eio_jsonp_body(b2, sizeof(b2) - 1, &sb), 0);
    assert_int_equal(sb.len, 8);
    assert_memory_equal(sg_sbuf_data(&sb), "a\nb c\\nd", 8);
    sg_sbuf_reset(&sb);
    assert_int_equal(sg_eio_jsonp_body("x=1", 3, &sb), SG_ENOTFOUND);
    assert_int_equal(sg_eio_jsonp_body("d=1&d=2", 7, &sb), SG_ENOTFOUND);
    assert_int_equal(sg_eio_jsonp_body("d=%zz", 5, &sb), 0);
    assert_memory_equal(sg_sbuf_data(&sb), "%zz", 3);
    sg_sbuf_reset(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),     cmocka_unit_test(test_string_payload),
        cmocka_unit_test(test_string_payload_invalid), cmocka_unit_test(test_binary_payload),
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_frames),
        cmocka_unit_test(test_jsonp_wrap),   cmocka_unit_test(test_jsonp_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
