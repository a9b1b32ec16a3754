/* Unit tests for protocol/buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"

static void test_new_and_refs(void **state)
{
    (void)state;
    sg_buf_t *b = sg_buf_new(10);
    assert_int_equal(b->refs, 1);
    assert_int_equal(b->flags, 0);
    assert_int_equal(b->len, 10);
    memset(b->data - SG_BUF_HEADROOM, 0xaa, SG_BUF_HEADROOM + 10); /* headroom is writable */
    assert_ptr_equal(sg_buf_ref(b), b);
    assert_int_equal(b->refs, 2);
    sg_buf_unref(b);
    assert_int_equal(b->refs, 1);
    sg_buf_unref(b);
    sg_buf_unref(NULL);

    b = sg_buf_new(0);
    assert_int_equal(b->len, 0);
    sg_buf_unref(b);
}

static void test_copy(void **state)
{
    (void)state;
    sg_buf_t *b = sg_buf_new_copy("a\0b", 3);
    assert_int_equal(b->len, 3);
    assert_memory_equal(b->data, "a\0b", 3);
    sg_buf_unref(b);
    b = sg_buf_new_copy(NULL, 0);
    assert_int_equal(b->len, 0);
    sg_buf_unref(b);
}

static void test_sbuf_basic(void **state)
{
    (void)state;
    sg_sbuf_t sb = {0};
    assert_null(sg_sbuf_data(&sb));
    sg_sbuf_putc(&sb, 'x');
    sg_sbuf_puts(&sb, "yz");
    sg_sbuf_append(&sb, "\0\1", 2);
    sg_sbuf_append(&sb, NULL, 0);
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sg_sbuf_data(&sb), "xyz\0\1", 5);
    sg_sbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_null(sb.base);
    sg_sbuf_reset(&sb); /* twice is fine */
}

static void test_sbuf_u64(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_put_u64(&sb, 0);
    sg_sbuf_putc(&sb, ' ');
    sg_sbuf_put_u64(&sb, 7);
    sg_sbuf_putc(&sb, ' ');
    sg_sbuf_put_u64(&sb, 1234567890);
    sg_sbuf_putc(&sb, ' ');
    sg_sbuf_put_u64(&sb, UINT64_MAX);
    const char *want = "0 7 1234567890 18446744073709551615";
    assert_int_equal(sb.len, strlen(want));
    assert_memory_equal(sg_sbuf_data(&sb), want, sb.len);
    sg_sbuf_reset(&sb);
}

static void test_sbuf_grow_and_finish(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    for (int i = 0; i < 10000; i++)
        sg_sbuf_putc(&sb, (char)('a' + i % 26));
    assert_true(sb.cap >= sb.len);
    sg_buf_t *b = sg_sbuf_finish(&sb);
    assert_int_equal(b->len, 10000);
    assert_int_equal(b->refs, 1);
    assert_int_equal(b->flags, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b->data[i], 'a' + i % 26);
    /* The headroom in front of the data belongs to the buffer. */
    memset(b->data - SG_BUF_HEADROOM, 0, SG_BUF_HEADROOM);
    assert_int_equal(sb.len, 0);
    assert_null(sb.base);

    /* The builder is reusable after finish. */
    sg_sbuf_puts(&sb, "again");
    sg_buf_t *c = sg_sbuf_finish(&sb);
    assert_int_equal(c->len, 5);
    assert_memory_equal(c->data, "again", 5);
    sg_buf_ref(c);
    sg_buf_unref(c);
    sg_buf_unref(c);
    sg_buf_unref(b);

    /* Finishing an empty builder gives an empty buffer. */
    sg_buf_t *e = sg_sbuf_finish(&sb);
    assert_int_equal(e->len, 0);
    sg_buf_unref(e);
}

static void test_sbuf_reserve(void **state)
{
    (void)state;
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_sbuf_reserve(&sb, 1000);
    assert_true(sb.cap >= 1000);
    size_t cap = sb.cap;
    unsigned char *d = sg_sbuf_data(&sb);
    memset(d, 'q', 1000);
    sb.len = 1000; /* encoders write into reserved space directly */
    sg_sbuf_reserve(&sb, 0);
    assert_int_equal(sb.cap, cap);
    sg_buf_t *b = sg_sbuf_finish(&sb);
    assert_int_equal(b->len, 1000);
    assert_int_equal(b->data[999], 'q');
    sg_buf_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_refs),     cmocka_unit_test(test_copy),
        cmocka_unit_test(test_sbuf_basic),       cmocka_unit_test(test_sbuf_u64),
        cmocka_unit_test(test_sbuf_grow_and_finish), cmocka_unit_test(test_sbuf_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
