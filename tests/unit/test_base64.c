/* Unit tests for protocol/base64.c (expected values from Node's Buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base64.h"
#include "util.h"

static void check_enc(const char *in, size_t n, const char *want)
{
    sg_sbuf_t sb = {0};
    sg_sbuf_puts(&sb, ">"); /* appends, does not overwrite */
    sg_b64_encode(&sb, in, n);
    assert_int_equal(sb.len, 1 + strlen(want));
    assert_int_equal(sg_b64_encoded_len(n), strlen(want));
    assert_memory_equal(sg_sbuf_data(&sb) + 1, want, strlen(want));
    sg_sbuf_reset(&sb);
}

static void check_dec(const char *in, const char *want, size_t n)
{
    sg_buf_t *b = NULL;
    assert_int_equal(sg_b64_decode(in, strlen(in), &b), 0);
    assert_non_null(b);
    assert_int_equal(b->len, n);
    if (n)
        assert_memory_equal(b->data, want, n);
    assert_int_equal(b->refs, 1);
    sg_buf_unref(b);
}

static void check_bad(const char *in)
{
    sg_buf_t *b = (sg_buf_t *)1;
    assert_int_equal(sg_b64_decode(in, strlen(in), &b), SG_EINVAL);
    assert_null(b);
}

static void test_encode(void **state)
{
    (void)state;
    check_enc("", 0, "");
    check_enc("f", 1, "Zg==");
    check_enc("fo", 2, "Zm8=");
    check_enc("foo", 3, "Zm9v");
    check_enc("foob", 4, "Zm9vYg==");
    check_enc("fooba", 5, "Zm9vYmE=");
    check_enc("foobar", 6, "Zm9vYmFy");
    check_enc("\x01\x02\x03\x04", 4, "AQIDBA==");
    check_enc("\xff\xfe\xfd\xfc\xfb", 5, "//79/Ps=");
    check_enc("\xfb\xef\xbe", 3, "++++");
    check_enc("\0", 1, "AA==");
}

static void test_decode(void **state)
{
    (void)state;
    check_dec("", "", 0);
    check_dec("Zg==", "f", 1);
    check_dec("Zm8=", "fo", 2);
    check_dec("Zm9v", "foo", 3);
    check_dec("Zm9vYmFy", "foobar", 6);
    check_dec("AQIDBA==", "\x01\x02\x03\x04", 4);
    check_dec("//79/Ps=", "\xff\xfe\xfd\xfc\xfb", 5);
    check_dec("++++", "\xfb\xef\xbe", 3);
    /* Missing padding is accepted, as Node does. */
    check_dec("AQIDBA", "\x01\x02\x03\x04", 4);
    check_dec("Zm8", "fo", 2);
    check_dec("Zg", "f", 1);
}

static void test_decode_invalid(void **state)
{
    (void)state;
    check_bad("A");         /* 6 bits cannot make a byte */
    check_bad("AQIDB");
    check_bad("AQ=D");      /* padding in the middle */
    check_bad("=AAA");
    check_bad("A===");
    check_bad("====");
    check_bad("AQID BA==");  /* whitespace */
    check_bad("AQIDBA-_");  /* URL-safe alphabet is not standard */
    check_bad("AQIDBA=");   /* padding that does not complete a quantum */
    check_bad("AQ\x80=");
    check_bad("Zg==Zg==");  /* data after padding */
    const char nul[] = {'A', 'A', '\0', 'A'};
    sg_buf_t *b;
    assert_int_equal(sg_b64_decode(nul, 4, &b), SG_EINVAL);
}

static void test_roundtrip(void **state)
{
    (void)state;
    unsigned char data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n < sizeof(data); n++) {
        sg_sbuf_t sb = {0};
        sg_b64_encode(&sb, data, n);
        sg_buf_t *b;
        assert_int_equal(sg_b64_decode((const char *)sg_sbuf_data(&sb), sb.len, &b), 0);
        assert_int_equal(b->len, n);
        if (n)
            assert_memory_equal(b->data, data, n);
        sg_buf_unref(b);
        sg_sbuf_reset(&sb);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_invalid),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
