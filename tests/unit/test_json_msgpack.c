/* Unit tests for protocol/json_msgpack.c. Expected bytes come from
 * notepack.io 3.x encode() of the same JavaScript value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "json_msgpack.h"
#include "util.h"


static const struct {
    const char *json;
    const char *bytes;
    size_t len;
} pack_cases[] = {
#define C(j, b) {j, b, sizeof(b) - 1}
    C("null", "\xc0"),
    C("true", "\xc3"),
    C("false", "\xc2"),
    C("0", "\x00"),
    C("-0", "\x00"),
    C("1", "\x01"),
    C("127", "\x7f"),
    C("128", "\xcc\x80"),
    C("255", "\xcc\xff"),
    C("256", "\xcd\x01\x00"),
    C("65535", "\xcd\xff\xff"),
    C("65536", "\xce\x00\x01\x00\x00"),
    C("4294967295", "\xce\xff\xff\xff\xff"),
    C("4294967296", "\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
    C("-1", "\xff"),
    C("-32", "\xe0"),
    C("-33", "\xd0\xdf"),
    C("-128", "\xd0\x80"),
    C("-129", "\xd1\xff\x7f"),
    C("-32768", "\xd1\x80\x00"),
    C("-32769", "\xd2\xff\xff\x7f\xff"),
    C("-2147483648", "\xd2\x80\x00\x00\x00"),
    C("-2147483649", "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff"),
    C("1.5", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"),
    C("0.1", "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"),
    C("-1.5", "\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00"),
    C("9007199254740993", "\xcf\x00\x20\x00\x00\x00\x00\x00\x00"),
    C("\"\"", "\xa0"),
    C("\"abc\"", "\xa3\x61\x62\x63"),
    C("\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", "\xbf\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78"),
    C("\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", "\xd9\x20\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78\x78"),
    C("\"é\"", "\xa2\xc3\xa9"),
    C("[]", "\x90"),
    C("[1,[2,[]]]", "\x92\x01\x92\x02\x90"),
    C("{}", "\x80"),
    C("{\"b\":1,\"a\":[true,null]}", "\x82\xa1\x62\x01\xa1\x61\x92\xc3\xc0"),
    C("{\"b\":1,\"2\":2,\"1\":3}", "\x83\xa1\x31\x03\xa1\x32\x02\xa1\x62\x01"),
    C("[\"message\",{\"x\":1.25,\"y\":\"z\"}]", "\x92\xa7\x6d\x65\x73\x73\x61\x67\x65\x82\xa1\x78\xcb\x3f\xf4\x00\x00\x00\x00\x00\x00\xa1\x79\xa1\x7a"),
    /* notepack writes numbers >= 2^64 as a mangled uint64; we keep the value
     * as float64 instead. */
    C("1e21", "\xcb\x44\x4b\x1a\xe4\xd6\xe2\xef\x50"),
    C("[\"a\\u0000b\"]", "\x91\xa3\x61\x00\x62"),
#undef C
};

static void pack_to(sg_sbuf_t *sb, const json_t *v, sg_buf_t *const *bins, size_t nbins)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    sg_jmp_pack(&pk, v, bins, nbins);
    sg_sbuf_append(sb, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
}

static char *dump(const json_t *v)
{
    sg_sbuf_t sb = {0};
    sg_json_dump(&sb, v, NULL, NULL);
    sg_sbuf_putc(&sb, '\0');
    char *s = sg_strdup((const char *)sg_sbuf_data(&sb));
    sg_sbuf_reset(&sb);
    return s;
}

static void test_pack(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pack_cases) / sizeof(pack_cases[0]); i++) {
        json_t *v;
        assert_int_equal(sg_json_parse(pack_cases[i].json, strlen(pack_cases[i].json), &v), 0);
        sg_sbuf_t sb = {0};
        pack_to(&sb, v, NULL, 0);
        if (sb.len != pack_cases[i].len || memcmp(sg_sbuf_data(&sb), pack_cases[i].bytes, sb.len))
            fail_msg("case %zu (%s): wrong bytes (%zu long)", i, pack_cases[i].json, sb.len);

        /* And back: the JSON text is what Node would print for the value. */
        json_t *back = NULL;
        sg_buf_t **bins = NULL;
        size_t nbins = 0;
        assert_int_equal(sg_jmp_unpack_bytes(sg_sbuf_data(&sb), sb.len, 0, &back, &bins, &nbins), 0);
        assert_int_equal(nbins, 0);
        char *a = dump(v), *b = dump(back);
        assert_string_equal(a, b);
        sg_free(a);
        sg_free(b);
        sg_free(bins);
        json_decref(back);
        json_decref(v);
        sg_sbuf_reset(&sb);
    }
}

static void test_pack_sizes(void **state)
{
    (void)state;
    json_t *a = json_array();
    json_t *o = json_object();
    char key[8];
    for (int i = 0; i < 16; i++) {
        json_array_append_new(a, json_integer(i));
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(o, key, json_integer(i));
    }
    sg_sbuf_t sb = {0};
    pack_to(&sb, a, NULL, 0);
    assert_memory_equal(sg_sbuf_data(&sb), "\xdc\x00\x10\x00", 4);
    sg_sbuf_reset(&sb);
    pack_to(&sb, o, NULL, 0);
    assert_memory_equal(sg_sbuf_data(&sb), "\xde\x00\x10\xa2", 4);
    sg_sbuf_reset(&sb);
    json_decref(a);
    json_decref(o);

    char s[257];
    memset(s, 'x', sizeof(s));
    json_t *str = json_stringn(s, 255);
    pack_to(&sb, str, NULL, 0);
    assert_memory_equal(sg_sbuf_data(&sb), "\xd9\xff\x78", 3);
    sg_sbuf_reset(&sb);
    json_decref(str);
    str = json_stringn(s, 256);
    pack_to(&sb, str, NULL, 0);
    assert_memory_equal(sg_sbuf_data(&sb), "\xda\x01\x00\x78", 4);
    sg_sbuf_reset(&sb);
    json_decref(str);

    pack_to(&sb, NULL, NULL, 0);
    assert_int_equal(sb.len, 1);
    assert_memory_equal(sg_sbuf_data(&sb), "\xc0", 1);
    sg_sbuf_reset(&sb);
}

static void test_pack_bins(void **state)
{
    (void)state;
    /* notepack.encode(["up", Buffer.from([1,2,3]), {a: Buffer.alloc(0)}]) */
    static const char want[] = "\x93\xa2\x75\x70\xc4\x03\x01\x02\x03\x81\xa1\x61\xc4\x00";
    const char *js = "[\"up\",{\"_placeholder\":true,\"num\":1},{\"a\":{\"_placeholder\":true,"
                     "\"num\":0}}]";
    json_t *v;
    assert_int_equal(sg_json_parse(js, strlen(js), &v), 0);
    sg_buf_t *bins[2] = {sg_buf_new_copy("", 0), sg_buf_new_copy("\x01\x02\x03", 3)};
    sg_sbuf_t sb = {0};
    pack_to(&sb, v, bins, 2);
    assert_int_equal(sb.len, sizeof(want) - 1);
    assert_memory_equal(sg_sbuf_data(&sb), want, sb.len);

    /* Unpack: bins come back in order of appearance, as placeholders. */
    json_t *back;
    sg_buf_t **ub = NULL;
    size_t nub = 0;
    assert_int_equal(sg_jmp_unpack_bytes(sg_sbuf_data(&sb), sb.len, 0, &back, &ub, &nub), 0);
    assert_int_equal(nub, 2);
    assert_int_equal(ub[0]->len, 3);
    assert_memory_equal(ub[0]->data, "\x01\x02\x03", 3);
    assert_true(ub[0]->flags & SG_BUF_BINARY);
    assert_int_equal(ub[1]->len, 0);
    assert_int_equal(ub[0]->refs, 1);
    char *s = dump(back);
    assert_string_equal(s, "[\"up\",{\"_placeholder\":true,\"num\":0},{\"a\":{\"_placeholder\":"
                           "true,\"num\":1}}]");
    sg_free(s);
    /* Repacking with the new bins gives the same bytes. */
    sg_sbuf_t sb2 = {0};
    pack_to(&sb2, back, ub, nub);
    assert_int_equal(sb2.len, sb.len);
    assert_memory_equal(sg_sbuf_data(&sb2), sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb2);

    /* A placeholder without a bin behind it is packed as a map. */
    pack_to(&sb2, back, ub, 1);
    assert_memory_equal(sg_sbuf_data(&sb2) + 9, "\x81\xa1\x61\x82\xac_placeholder\xc3\xa3num\x01",
                        21);
    sg_sbuf_reset(&sb2);

    for (size_t i = 0; i < nub; i++)
        sg_buf_unref(ub[i]);
    sg_free(ub);
    json_decref(back);
    sg_buf_unref(bins[0]);
    sg_buf_unref(bins[1]);
    json_decref(v);
    sg_sbuf_reset(&sb);
}

typedef struct ucase {
    const char *bytes;
    size_t len;
    const char *json; /* NULL: must fail with rc */
    int rc;
} ucase_t;

#define U(b, j) {b, sizeof(b) - 1, j, 0}
#define UBAD(b, rc) {b, sizeof(b) - 1, NULL, rc}

static const ucase_t unpack_cases[] = {
    U("\xc0", "null"),
    U("\xc2", "false"),
    U("\xca\x3f\xc0\x00\x00", "1.5"),                      /* float32 */
    U("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "null"),     /* NaN */
    U("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", "null"),     /* Infinity */
    U("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "18446744073709552000"),
    U("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", "-9223372036854776000"),
    U("\x91\xd4\x00\x00", "[null]"),                       /* undefined */
    /* Timestamp ext (notepack 3 Dates) -> Date#toJSON; expectations from
     * JSON.stringify(notepack.decode(bytes)) in Node. */
    U("\xd7\xff\x1d\x53\x53\x00\x65\x53\xf1\x00", "\"2023-11-14T22:13:20.123Z\""),
    U("\xd6\xff\x65\x53\xf1\x00", "\"2023-11-14T22:13:20.000Z\""),
    U("\xd6\xff\x00\x00\x00\x01", "\"1970-01-01T00:00:01.000Z\""),
    U("\xd6\xff\x00\x00\x00\x00", "\"1970-01-01T00:00:00.000Z\""),
    U("\xd6\xff\x38\xbb\x0c\x00", "\"2000-02-29T00:00:00.000Z\""),
    U("\xd6\xff\xff\xff\xff\xff", "\"2106-02-07T06:28:15.000Z\""),
    U("\xd7\xff\x00\x00\x00\x01\x00\x00\x00\x00", "\"2106-02-07T06:28:16.000Z\""),
    U("\xd7\xff\xee\x6b\x27\xfc\x00\x00\x00\x01", "\"1970-01-01T00:00:01.999Z\""),
    U("\xc7\x0c\xff\x3b\x8b\x87\xc0\xff\xff\xff\xff\xff\xff\xff\xff",
      "\"1969-12-31T23:59:59.999Z\""),
    U("\xc7\x0c\xff\x1d\xcd\x65\x00\xff\xff\xff\xff\xff\xff\xff\xfe",
      "\"1969-12-31T23:59:58.500Z\""),
    U("\xc7\x0c\xff\x00\x00\x00\x00\xff\xff\xff\xf1\x84\xaa\x50\x80",
      "\"-000001-01-01T00:00:00.000Z\""),
    U("\xc7\x0c\xff\x3b\x8b\x87\xc0\xff\xff\xff\xf1\x86\x8b\x83\xff",
      "\"-000001-12-31T23:59:59.999Z\""),
    U("\xc7\x0c\xff\x3b\x8b\x87\xc0\x00\x00\x00\x3a\xff\xf4\x41\x7f",
      "\"9999-12-31T23:59:59.999Z\""),
    U("\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x3a\xff\xf4\x41\x80",
      "\"+010000-01-01T00:00:00.000Z\""),
    U("\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00",
      "\"2514-05-30T01:53:04.000Z\""),
    U("\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x07\xdb\xa8\x21\x80\x00",
      "\"+275760-09-13T00:00:00.000Z\""),                  /* the last valid Date */
    U("\xc7\x0c\xff\x00\x00\x00\x00\xff\xff\xf8\x24\x57\xde\x80\x00",
      "\"-271821-04-20T00:00:00.000Z\""),                  /* the first */
    U("\xc7\x0c\xff\x00\x00\x00\x00\x7f\xff\xff\xff\xff\xff\xff\xff", "null"), /* invalid Date */
    U("\x92\xd6\xff\x65\x53\xf1\x00\xc0", "[\"2023-11-14T22:13:20.000Z\",null]"),
    U("\xd6\x01\x65\x53\xf1\x00", "null"),                 /* other ext types stay null */
    U("\xd7\x00\x00\x00\x01\x8b\xcf\xe5\x68\x00", "null"),
    U("\xc7\x05\xff\x00\x00\x00\x00\x01", "null"),          /* type -1, not a timestamp size */
    U("\xc7\x00\x05", "null"),                             /* empty ext8 */
    U("\x81\xa0\x01", "{\"\":1}"),
    U("\x82\xa1\x62\x01\xa1\x62\x02", "{\"b\":2}"),        /* duplicate key: last wins */
    U("\xa3\x61\x00\x62", "\"a\\u0000b\""),
    U("\xd9\x01\x78", "\"x\""),                            /* non-minimal str8 */
    UBAD("", SG_EINVAL),
    UBAD("\xc1", SG_EINVAL),
    UBAD("\x81\x01\x02", SG_EINVAL),                       /* integer key */
    UBAD("\x81\xc0\x02", SG_EINVAL),
    UBAD("\xa2\xff\xfe", SG_EINVAL),                       /* not UTF-8 */
    UBAD("\x81\xa1\xff\x01", SG_EINVAL),                   /* key not UTF-8 */
    UBAD("\xc0\xc0", SG_EINVAL),                           /* trailing bytes */
    UBAD("\x92\x01", SG_EINVAL),                           /* truncated */
    UBAD("\xdd\xff\xff\xff\xff", SG_EINVAL),               /* lying array32 count */
    UBAD("\xdf\xff\xff\xff\xff\x01", SG_EINVAL),           /* lying map32 count */
    UBAD("\xdb\xff\xff\xff\xff", SG_EINVAL),               /* lying str32 length */
    UBAD("\xc6\x7f\xff\xff\xff\x00", SG_EINVAL),           /* lying bin32 length */
    UBAD("\xc9\xff\xff\xff\xff\x01", SG_EINVAL),           /* lying ext32 length */
    UBAD("\xcb\x00\x00", SG_EINVAL),
    UBAD("\x92\xc4\x01\x07\x81\xa1", SG_EINVAL),           /* bin, then truncated */
};

static void test_unpack(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(unpack_cases) / sizeof(unpack_cases[0]); i++) {
        const ucase_t *c = &unpack_cases[i];
        json_t *v = (json_t *)1;
        sg_buf_t **bins = NULL;
        size_t nbins = 0;
        int rc = sg_jmp_unpack_bytes(c->bytes, c->len, 0, &v, &bins, &nbins);
        if (!c->json) {
            if (rc != c->rc)
                fail_msg("case %zu: got %d want %d", i, rc, c->rc);
            assert_null(v);
            assert_int_equal(nbins, 0);
            sg_free(bins);
            continue;
        }
        if (rc)
            fail_msg("case %zu: %d", i, rc);
        char *s = dump(v);
        if (strcmp(s, c->json))
            fail_msg("case %zu: got %s want %s", i, s, c->json);
        sg_free(s);
        sg_free(bins);
        json_decref(v);
    }
}

static void test_unpack_depth(void **state)
{
    (void)state;
    unsigned char buf[64];
    memset(buf, 0x91, sizeof(buf));
    buf[sizeof(buf) - 1] = 0xc0;
    json_t *v;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    /* 5 nested arrays around nil. */
    assert_int_equal(sg_jmp_unpack_bytes(buf + sizeof(buf) - 6, 6, 5, &v, &bins, &nbins), 0);
    json_decref(v);
    assert_int_equal(sg_jmp_unpack_bytes(buf + sizeof(buf) - 6, 6, 4, &v, &bins, &nbins),
                     SG_ETOOBIG);
    assert_int_equal(sg_jmp_check(buf + sizeof(buf) - 6, 6, 4, NULL), SG_ETOOBIG);
    /* Default limit 32. */
    assert_int_equal(sg_jmp_unpack_bytes(buf + sizeof(buf) - 33, 33, 0, &v, &bins, &nbins), 0);
    json_decref(v);
    assert_int_equal(sg_jmp_unpack_bytes(buf, sizeof(buf), 0, &v, &bins, &nbins), SG_ETOOBIG);
    /* An empty container counts as a level too. */
    assert_int_equal(sg_jmp_check("\x91\x90", 2, 1, NULL), SG_ETOOBIG);
    assert_int_equal(sg_jmp_check("\x91\x90", 2, 2, NULL), 0);

    /* sg_jmp_unpack on an msgpack_object directly obeys the same limit. */
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf + sizeof(buf) - 6, 6, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(sg_jmp_unpack(&u.data, 4, &v, &bins, &nbins), SG_ETOOBIG);
    assert_null(v);
    assert_int_equal(sg_jmp_unpack(&u.data, 5, &v, &bins, &nbins), 0);
    json_decref(v);
    msgpack_unpacked_destroy(&u);
    sg_free(bins);
}

static void test_unpack_failure_keeps_bins(void **state)
{
    (void)state;
    /* The caller's bins are kept; ones added by a failed unpack are dropped. */
    sg_buf_t **bins = sg_malloc(sizeof(*bins));
    bins[0] = sg_buf_new_copy("k", 1);
    size_t nbins = 1;
    json_t *v;
    /* [bin(1), bin(1), {1: nil}]: fails on the integer key after two bins. */
    static const char bad[] = "\x93\xc4\x01\x07\xc4\x01\x08\x81\x01\xc0";
    assert_int_equal(sg_jmp_unpack_bytes(bad, sizeof(bad) - 1, 0, &v, &bins, &nbins), SG_EINVAL);
    assert_int_equal(nbins, 1);
    assert_int_equal(bins[0]->refs, 1);
    /* Success appends, numbering after the existing ones. */
    static const char good[] = "\x92\xc4\x01\x07\xc4\x01\x08";
    assert_int_equal(sg_jmp_unpack_bytes(good, sizeof(good) - 1, 0, &v, &bins, &nbins), 0);
    assert_int_equal(nbins, 3);
    char *s = dump(v);
    assert_string_equal(s, "[{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":2}]");
    sg_free(s);
    json_decref(v);
    for (size_t i = 0; i < nbins; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
}

/* Placeholders come out numbered in the order a writer meets them
 * (JavaScript key order: index keys first), and a bin whose value a
 * duplicate key replaced is dropped, not left unreferenced. */
static void test_unpack_numbering(void **state)
{
    (void)state;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    json_t *v;
    /* {"b": bin "x", "1": bin "y"}: "1" is enumerated first */
    static const char order[] = "\x82\xa1\x62\xc4\x01x\xa1\x31\xc4\x01y";
    assert_int_equal(sg_jmp_unpack_bytes(order, sizeof(order) - 1, 0, &v, &bins, &nbins), 0);
    assert_int_equal(nbins, 2);
    char *s = dump(v);
    assert_string_equal(s, "{\"1\":{\"_placeholder\":true,\"num\":0},"
                           "\"b\":{\"_placeholder\":true,\"num\":1}}");
    sg_free(s);
    assert_memory_equal(bins[0]->data, "y", 1);
    assert_memory_equal(bins[1]->data, "x", 1);
    json_decref(v);
    for (size_t i = 0; i < nbins; i++)
        sg_buf_unref(bins[i]);
    sg_free(bins);
    bins = NULL;
    nbins = 0;
    /* {"a": bin, "a": 0}: the bin is gone with its value */
    static const char dup[] = "\x82\xa1\x61\xc4\x00\xa1\x61\x00";
    assert_int_equal(sg_jmp_unpack_bytes(dup, sizeof(dup) - 1, 0, &v, &bins, &nbins), 0);
    assert_int_equal(nbins, 0);
    s = dump(v);
    assert_string_equal(s, "{\"a\":0}");
    sg_free(s);
    json_decref(v);
    sg_free(bins);
}

static void test_check(void **state)
{
    (void)state;
    size_t used = 0;
    assert_int_equal(sg_jmp_check("\x92\x01\x02\xc0", 4, 0, &used), 0);
    assert_int_equal(used, 3);
    assert_int_equal(sg_jmp_check("\xd8\x01" "0123456789abcdef", 18, 0, &used), 0);
    assert_int_equal(used, 18);
    assert_int_equal(sg_jmp_check("\xd8\x01" "0123456789abcde", 17, 0, &used), SG_EINVAL);
    assert_int_equal(sg_jmp_check("\xc8\x00\x02\x05xy", 6, 0, &used), 0);
    assert_int_equal(used, 6);
    assert_int_equal(sg_jmp_check("", 0, 0, &used), SG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_pack_sizes),
        cmocka_unit_test(test_pack_bins),
        cmocka_unit_test(test_unpack),
        cmocka_unit_test(test_unpack_depth),
        cmocka_unit_test(test_unpack_failure_keeps_bins),
        cmocka_unit_test(test_unpack_numbering),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
