/* Unit tests for protocol/eio.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "eio.h"
#include "util.h"

static void test_decode_text(void **state)
{
    (void)state;
    sg_eio_packet_t p;
    assert_int_equal(sg_eio_decode_text("4hello", 6, &p), 0);
    assert_int_equal(p.type, SG_EIO_MESSAGE);
    assert_int_equal(p.binary, 0);
    assert_null(p.bin);
    assert_int_equal(p.len, 5);
    assert_memory_equal(p.data, "hello", 5);

    assert_int_equal(sg_eio_decode_text("2probe", 6, &p), 0);
    assert_int_equal(p.type, SG_EIO_PING);
    assert_memory_equal(p.data, "probe", 5);

    for (char c = '0'; c <= '6'; c++) {
        assert_int_equal(sg_eio_decode_text(&c, 1, &p), 0);
        assert_int_equal(p.type, c - '0');
        assert_int_equal(p.len, 0);
    }
    /* Data may hold anything, NUL included. */
    assert_int_equal(sg_eio_decode_text("4a\0b", 4, &p), 0);
    assert_int_equal(p.len, 3);
}

static void test_decode_text_invalid(void **state)
{
    (void)state;
    sg_eio_packet_t p;
    assert_int_equal(sg_eio_decode_text("", 0, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text("7", 1, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text("abc", 3, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text("/4", 2, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text("b4", 2, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text("\0", 1, &p), SG_EINVAL);
    assert_int_equal(sg_eio_decode_text(" 4", 2, &p), SG_EINVAL);
}

/* Records what the payload callback sees. */
typedef struct rec {
    int n;
    int type[16];
    int binary[16];
    char data[16][32];
    size_t len[16];
    int stop_at;
} rec_t;

static int rec_cb(const sg_eio_packet_t *pkt, void *ud)
{
    rec_t *r = ud;
    assert_true(r->n < 16);
    r->type[r->n] = pkt->type;
    r->binary[r->n] = pkt->binary;
    r->len[r->n] = pkt->len;
    assert_true(pkt->len < 32);
    memcpy(r->data[r->n], pkt->data, pkt->len);
    if (pkt->binary) {
        assert_non_null(pkt->bin);
        assert_true(pkt->bin->flags & SG_BUF_BINARY);
        assert_ptr_equal(pkt->data, pkt->bin->data);
        assert_int_equal(pkt->len, pkt->bin->len);
    } else {
        assert_null(pkt->bin);
    }
    r->n++;
    return r->n == r->stop_at ? 42 : 0;
}

static void test_payload_single(void **state)
{
    (void)state;
    rec_t r = {0};
    assert_int_equal(sg_eio_decode_payload("40", 2, 0, rec_cb, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.type[0], SG_EIO_MESSAGE);
    assert_int_equal(r.len[0], 1);
    assert_memory_equal(r.data[0], "0", 1);
}

static void test_payload_mixed(void **state)
{
    (void)state;
    const char body[] = "4hi\x1e" "bAQIDBA==\x1e" "3\x1e" "42[\"a\"]";
    rec_t r = {0};
    assert_int_equal(sg_eio_decode_payload(body, sizeof(body) - 1, 0, rec_cb, &r), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.type[0], SG_EIO_MESSAGE);
    assert_int_equal(r.binary[0], 0);
    assert_memory_equal(r.data[0], "hi", 2);
    assert_int_equal(r.type[1], SG_EIO_MESSAGE);
    assert_int_equal(r.binary[1], 1);
    assert_int_equal(r.len[1], 4);
    assert_memory_equal(r.data[1], "\x01\x02\x03\x04", 4);
    assert_int_equal(r.type[2], SG_EIO_PONG);
    assert_int_equal(r.len[2], 0);
    assert_int_equal(r.type[3], SG_EIO_MESSAGE);
    assert_memory_equal(r.data[3], "2[\"a\"]", 6);
}

static void test_payload_empty_binary(void **state)
{
    (void)state;
    rec_t r = {0};
    assert_int_equal(sg_eio_decode_payload("b", 1, 0, rec_cb, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.binary[0], 1);
    assert_int_equal(r.len[0], 0);
}

#define B(x) {x, sizeof(x) - 1}

static void test_payload_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t len;
    } bad[] = {
        B(""),
        B("\x1e"),
        B("4a\x1e"),            /* trailing separator: empty segment */
        B("\x1e" "4a"),         /* leading separator */
        B("4a\x1e\x1e" "4b"),   /* empty segment in the middle */
        B("4a\x1e" "9"),        /* unknown type in a later segment */
        B("4a\x1e" "abc"),
        B("4a\x1e" "bAQ=D"),    /* bad base64 */
        B("4a\x1e" "bA"),
        B("4a\x1e" "b!!!!"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rec_t r = {0};
        if (sg_eio_decode_payload(bad[i].body, bad[i].len, 0, rec_cb, &r) != SG_EINVAL)
            fail_msg("case %zu accepted", i);
        /* Nothing is delivered from a malformed payload. */
        assert_int_equal(r.n, 0);
    }
}

static void test_payload_limit(void **state)
{
    (void)state;
    const char body[] = "2\x1e" "3\x1e" "4x";
    rec_t r = {0};
    assert_int_equal(sg_eio_decode_payload(body, sizeof(body) - 1, 2, rec_cb, &r), SG_ETOOBIG);
    assert_int_equal(r.n, 0);
    assert_int_equal(sg_eio_decode_payload(body, sizeof(body) - 1, 3, rec_cb, &r), 0);
    assert_int_equal(r.n, 3);
}

static void test_payload_stop(void **state)
{
    (void)state;
    const char body[] = "4a\x1e" "bAQID\x1e" "4c";
    rec_t r = {.stop_at = 2};
    assert_int_equal(sg_eio_decode_payload(body, sizeof(body) - 1, 0, rec_cb, &r), 42);
    assert_int_equal(r.n, 2);
}

static void test_payload_build(void **state)
{
    (void)state;
    sg_sbuf_t sb = {0};
    sg_eio_payload_add_text(&sb, SG_EIO_MESSAGE, "hi", 2);
    sg_eio_payload_add_binary(&sb, "\x01\x02\x03\x04", 4);
    sg_eio_payload_add_encoded(&sb, "2", 1);
    sg_eio_payload_add_text(&sb, SG_EIO_NOOP, NULL, 0);
    sg_eio_payload_add_binary(&sb, NULL, 0);
    const char want[] = "4hi\x1e" "bAQIDBA==\x1e" "2\x1e" "6\x1e" "b";
    assert_int_equal(sb.len, sizeof(want) - 1);
    assert_memory_equal(sg_sbuf_data(&sb), want, sb.len);

    /* What we build, we decode. */
    rec_t r = {0};
    assert_int_equal(sg_eio_decode_payload(sg_sbuf_data(&sb), sb.len, 0, rec_cb, &r), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.binary[1], 1);
    assert_memory_equal(r.data[1], "\x01\x02\x03\x04", 4);
    assert_int_equal(r.type[3], SG_EIO_NOOP);
    sg_sbuf_reset(&sb);

    /* The first packet gets no separator. */
    sg_eio_payload_add_binary(&sb, "\xff", 1);
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sg_sbuf_data(&sb), "b/w==", 5);
    sg_sbuf_reset(&sb);
}

static void test_encode_text(void **state)
{
    (void)state;
    sg_buf_t *b = sg_eio_encode_text(SG_EIO_MESSAGE, "hello", 5);
    assert_int_equal(b->len, 6);
    assert_memory_equal(b->data, "4hello", 6);
    assert_int_equal(b->refs, 1);
    assert_int_equal(b->flags & SG_BUF_BINARY, 0);
    sg_buf_unref(b);
    b = sg_eio_encode_text(SG_EIO_PONG, "probe", 5);
    assert_memory_equal(b->data, "3probe", 6);
    sg_buf_unref(b);
    b = sg_eio_encode_text(SG_EIO_PING, NULL, 0);
    assert_int_equal(b->len, 1);
    assert_memory_equal(b->data, "2", 1);
    sg_buf_unref(b);
}

static void test_encode_open(void **state)
{
    (void)state;
    sg_buf_t *b = sg_eio_encode_open("AbC-_123", 1, 300, 200, 1000000);
    const char *want = "0{\"sid\":\"AbC-_123\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,"
                       "\"pingTimeout\":200,\"maxPayload\":1000000}";
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    sg_buf_unref(b);
    b = sg_eio_encode_open("x\"y", 0, 25000, 20000, 0);
    want = "0{\"sid\":\"x\\\"y\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,"
           "\"maxPayload\":0}";
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    sg_buf_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_text),
        cmocka_unit_test(test_decode_text_invalid),
        cmocka_unit_test(test_payload_single),
        cmocka_unit_test(test_payload_mixed),
        cmocka_unit_test(test_payload_empty_binary),
        cmocka_unit_test(test_payload_invalid),
        cmocka_unit_test(test_payload_limit),
        cmocka_unit_test(test_payload_stop),
        cmocka_unit_test(test_payload_build),
        cmocka_unit_test(test_encode_text),
        cmocka_unit_test(test_encode_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
