/* Unit tests for protocol/sio.c. Validity verdicts and encodings were checked
 * against socket.io-parser 4.2.7 (differences are commented). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json.h"
#include "sio.h"
#include "util.h"

static char *dump(const json_t *v)
{
    sg_sbuf_t sb = {0};
    sg_json_dump(&sb, v, NULL, NULL);
    sg_sbuf_putc(&sb, '\0');
    char *s = sg_strdup((const char *)sg_sbuf_data(&sb));
    sg_sbuf_reset(&sb);
    return s;
}

typedef struct okcase {
    const char *in;
    int type;
    const char *nsp;
    int64_t id;
    const char *data; /* NULL: no data */
    size_t attachments;
} okcase_t;

static const okcase_t ok_cases[] = {
    {"0", 0, "/", -1, NULL, 0},
    {"0{}", 0, "/", -1, "{}", 0},
    {"0{\"token\":\"x\"}", 0, "/", -1, "{\"token\":\"x\"}", 0},
    {"0/custom", 0, "/custom", -1, NULL, 0},
    {"0/custom,", 0, "/custom", -1, NULL, 0},
    {"0/custom,{\"a\":1}", 0, "/custom", -1, "{\"a\":1}", 0},
    {"1", 1, "/", -1, NULL, 0},
    {"1/custom", 1, "/custom", -1, NULL, 0},
    {"1/custom,", 1, "/custom", -1, NULL, 0},
    {"2[\"a\"]", 2, "/", -1, "[\"a\"]", 0},
    {"2[\"a\",1]", 2, "/", -1, "[\"a\",1]", 0},
    {"2[1]", 2, "/", -1, "[1]", 0},
    {"2[1.5,2]", 2, "/", -1, "[1.5,2]", 0},
    {"2[\"connected\"]", 2, "/", -1, "[\"connected\"]", 0},
    {"2/custom,7[\"a\"]", 2, "/custom", 7, "[\"a\"]", 0},
    {"27[\"a\"]", 2, "/", 7, "[\"a\"]", 0},
    {"20[\"a\"]", 2, "/", 0, "[\"a\"]", 0},
    {"2123456789012345[\"a\"]", 2, "/", 123456789012345, "[\"a\"]", 0},
    {"2[\"a\"] ", 2, "/", -1, "[\"a\"]", 0},
    {"2/a/b,[\"a\"]", 2, "/a/b", -1, "[\"a\"]", 0},
    {"2[\"message-back\",1,\"2\",{\"3\":[true]}]", 2, "/", -1,
     "[\"message-back\",1,\"2\",{\"3\":[true]}]", 0},
    {"3[]", 3, "/", -1, "[]", 0},
    {"37[]", 3, "/", 7, "[]", 0},
    {"3/x,12[1,{}]", 3, "/x", 12, "[1,{}]", 0},
    {"4{\"message\":\"x\"}", 4, "/", -1, "{\"message\":\"x\"}", 0},
    {"4\"str\"", 4, "/", -1, "\"str\"", 0},
    {"4", 4, "/", -1, NULL, 0},
    {"51-[\"a\",{\"_placeholder\":true,\"num\":0}]", 5, "/", -1,
     "[\"a\",{\"_placeholder\":true,\"num\":0}]", 1},
    {"510-[\"a\"]", 5, "/", -1, "[\"a\"]", 10},
    {"501-[\"a\"]", 5, "/", -1, "[\"a\"]", 1},
    {"51-/nsp,9[\"a\"]", 5, "/nsp", 9, "[\"a\"]", 1},
    {"61-3[{\"_placeholder\":true,\"num\":0}]", 6, "/", 3, "[{\"_placeholder\":true,\"num\":0}]", 1},
};

static void test_decode_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const okcase_t *c = &ok_cases[i];
        sg_sio_packet_t p;
        int rc = sg_sio_decode(c->in, strlen(c->in), NULL, &p);
        if (rc != 0)
            fail_msg("case %zu (%s): %d", i, c->in, rc);
        assert_int_equal(p.type, c->type);
        assert_string_equal(p.nsp, c->nsp);
        assert_int_equal(p.id, c->id);
        assert_int_equal(p.attachments, c->attachments);
        assert_int_equal(p.nbins, 0);
        if (!c->data) {
            assert_null(p.data);
        } else {
            char *s = dump(p.data);
            assert_string_equal(s, c->data);
            sg_free(s);
        }
        sg_sio_packet_clear(&p);
        assert_null(p.nsp);
        assert_null(p.data);
        assert_int_equal(p.id, -1);
    }
}

typedef struct badcase {
    const char *in;
    size_t len;
    int rc;
} badcase_t;

#define BAD(s, rc) {s, sizeof(s) - 1, rc}

static const badcase_t bad_cases[] = {
    BAD("", SG_EINVAL), /* Node reads an empty string as CONNECT; no client sends it */
    BAD("7", SG_EINVAL),
    BAD("abc", SG_EINVAL),
    BAD("bc", SG_EINVAL),
    BAD("0[]", SG_EINVAL),
    BAD("0\"s\"", SG_EINVAL),
    BAD("0null", SG_EINVAL),
    BAD("1{}", SG_EINVAL),
    BAD("1/custom,{}", SG_EINVAL),
    BAD("2", SG_EINVAL),        /* Node lets an EVENT without data through */
    BAD("2[]", SG_EINVAL),
    BAD("2{}", SG_EINVAL),
    BAD("2abc[\"a\"]", SG_EINVAL),
    BAD("2[null]", SG_EINVAL),
    BAD("2[true]", SG_EINVAL),
    BAD("2[[\"a\"]]", SG_EINVAL),
    BAD("2[\"connect\"]", SG_EINVAL),
    BAD("2[\"connect_error\"]", SG_EINVAL),
    BAD("2[\"disconnect\"]", SG_EINVAL),
    BAD("2[\"disconnecting\"]", SG_EINVAL),
    BAD("2[\"newListener\"]", SG_EINVAL),
    BAD("2[\"removeListener\"]", SG_EINVAL),
    BAD("2\"a\"", SG_EINVAL),
    BAD("2[\"a\"]x", SG_EINVAL),
    BAD("21.5[\"a\"]", SG_EINVAL),
    BAD("2-1[\"a\"]", SG_EINVAL),
    BAD("2/nsp[\"a\"]", SG_EINVAL), /* the namespace swallows the data */
    BAD("21234567890123456[\"a\"]", SG_EINVAL), /* 16-digit ack id */
    BAD("2[\"a\"", SG_EINVAL),
    BAD("3", SG_EINVAL),        /* Node accepts an ACK without data */
    BAD("37", SG_EINVAL),
    BAD("3{}", SG_EINVAL),
    BAD("3\"x\"", SG_EINVAL),
    BAD("4[]", SG_EINVAL),
    BAD("4true", SG_EINVAL),
    BAD("4null", SG_EINVAL),
    BAD("50-[\"a\"]", SG_EINVAL),
    BAD("5-[\"a\"]", SG_EINVAL),
    BAD("5a-[\"a\"]", SG_EINVAL),
    BAD("51[\"a\"]", SG_EINVAL),
    BAD("51", SG_EINVAL),
    BAD("5", SG_EINVAL),
    BAD("51-", SG_EINVAL),
    BAD("61-", SG_EINVAL),
    BAD("51-{}", SG_EINVAL),
    BAD("51-[\"connect\"]", SG_EINVAL),
    BAD("61-{}", SG_EINVAL),
    BAD("511-[\"a\"]", SG_ETOOBIG),
    BAD("599999999999999999999999999999-[\"a\"]", SG_ETOOBIG),
    BAD("2/a\0b,[\"a\"]", SG_EINVAL), /* NUL inside a namespace */
    BAD("2[\"a\",\xff]", SG_EINVAL),
};

static void test_decode_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        sg_sio_packet_t p;
        int rc = sg_sio_decode(bad_cases[i].in, bad_cases[i].len, NULL, &p);
        if (rc != bad_cases[i].rc)
            fail_msg("case %zu (%s): got %d want %d", i, bad_cases[i].in, rc, bad_cases[i].rc);
        /* Nothing is left owned after a failure. */
        assert_null(p.nsp);
        assert_null(p.data);
        assert_null(p.bins);
    }
}

static void test_decode_limits(void **state)
{
    (void)state;
    sg_sio_limits_t lim = {.max_attachments = 2};
    sg_sio_packet_t p;
    assert_int_equal(sg_sio_decode("52-[\"a\"]", 8, &lim, &p), 0);
    assert_int_equal(p.attachments, 2);
    sg_sio_packet_clear(&p);
    assert_int_equal(sg_sio_decode("53-[\"a\"]", 8, &lim, &p), SG_ETOOBIG);
    lim.max_attachments = 0;
    assert_int_equal(sg_sio_decode("51-[\"a\"]", 8, &lim, &p), SG_ETOOBIG);
    /* Non-binary packets do not care. */
    assert_int_equal(sg_sio_decode("2[\"a\"]", 6, &lim, &p), 0);
    sg_sio_packet_clear(&p);
}

static void test_attachments(void **state)
{
    (void)state;
    const char *in = "52-[\"up\",{\"_placeholder\":true,\"num\":1},{\"x\":{\"_placeholder\":true,"
                     "\"num\":0}}]";
    sg_sio_packet_t p;
    assert_int_equal(sg_sio_decode(in, strlen(in), NULL, &p), 0);
    assert_int_equal(p.attachments, 2);
    sg_buf_t *a = sg_buf_new_copy("\x0a\x0b\x0c", 3);
    sg_buf_t *b = sg_buf_new_copy("\x01", 1);
    assert_int_equal(sg_sio_add_attachment(&p, a), 0);
    assert_int_equal(p.attachments, 1);
    assert_int_equal(sg_sio_add_attachment(&p, b), 1);
    assert_int_equal(p.attachments, 0);
    assert_int_equal(p.nbins, 2);
    assert_ptr_equal(p.bins[0], a);
    assert_ptr_equal(p.bins[1], b);
    assert_int_equal(a->refs, 2);
    assert_true(a->flags & SG_BUF_BINARY);
    /* Data keeps the client's placeholders. */
    char *s = dump(p.data);
    assert_string_equal(s, "[\"up\",{\"_placeholder\":true,\"num\":1},{\"x\":{\"_placeholder\":true,"
                           "\"num\":0}}]");
    sg_free(s);
    /* Complete: one more is a state error. */
    assert_int_equal(sg_sio_add_attachment(&p, a), SG_ESTATE);
    sg_sio_packet_clear(&p);
    assert_int_equal(a->refs, 1);
    sg_buf_unref(a);
    sg_buf_unref(b);
}

static void test_attachment_not_expected(void **state)
{
    (void)state;
    sg_sio_packet_t p;
    sg_buf_t *a = sg_buf_new_copy("x", 1);
    assert_int_equal(sg_sio_decode("2[\"a\"]", 6, NULL, &p), 0);
    assert_int_equal(sg_sio_add_attachment(&p, a), SG_ESTATE);
    assert_int_equal(a->refs, 1);
    sg_sio_packet_clear(&p);
    sg_buf_unref(a);
}

static void test_attachment_bad_placeholders(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "51-[\"a\",{\"_placeholder\":true,\"num\":1}]",   /* index out of range */
        "51-[\"a\",{\"_placeholder\":true,\"num\":-1}]",
        "51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]",
        "51-[\"a\",{\"_placeholder\":true}]",
        "51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]",
        "51-[\"a\",{\"k\":[{\"_placeholder\":true,\"num\":3}]}]",
        "61-1[{\"_placeholder\":true,\"num\":1}]",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sg_sio_packet_t p;
        assert_int_equal(sg_sio_decode(cases[i], strlen(cases[i]), NULL, &p), 0);
        sg_buf_t *a = sg_buf_new_copy("x", 1);
        if (sg_sio_add_attachment(&p, a) != SG_EINVAL)
            fail_msg("case %zu accepted", i);
        sg_sio_packet_clear(&p);
        assert_int_equal(a->refs, 1);
        sg_buf_unref(a);
    }
    /* Placeholders that are not marked true are plain data. */
    const char *ok = "51-[\"a\",{\"_placeholder\":false,\"num\":9},{\"_placeholder\":true,\"num\":0}]";
    sg_sio_packet_t p;
    assert_int_equal(sg_sio_decode(ok, strlen(ok), NULL, &p), 0);
    sg_buf_t *a = sg_buf_new_copy("x", 1);
    assert_int_equal(sg_sio_add_attachment(&p, a), 1);
    sg_sio_packet_clear(&p);
    sg_buf_unref(a);
}

/* ---- encoder ---------------------------------------------------------- */

static void expect_text(const sg_sio_encoded_t *e, const char *want)
{
    if (e->text->len != strlen(want) || memcmp(e->text->data, want, e->text->len) != 0)
        fail_msg("got %.*s want %s", (int)e->text->len, (const char *)e->text->data, want);
}

static json_t *parse(const char *s)
{
    json_t *v;
    assert_int_equal(sg_json_parse(s, strlen(s), &v), 0);
    return v;
}

static void enc_case(int type, const char *nsp, int64_t id, const char *data, const char *want)
{
    sg_sio_packet_t p;
    sg_sio_encoded_t e;
    sg_sio_packet_init(&p);
    p.type = type;
    p.nsp = nsp ? sg_strdup(nsp) : NULL;
    p.id = id;
    p.data = data ? parse(data) : NULL;
    assert_int_equal(sg_sio_encode(&p, &e), 0);
    expect_text(&e, want);
    assert_int_equal(e.nbins, 0);
    assert_int_equal(e.text->refs, 1);
    sg_sio_encoded_clear(&e);
    assert_null(e.text);
    sg_sio_packet_clear(&p);
}

static void test_encode_simple(void **state)
{
    (void)state;
    enc_case(SG_SIO_EVENT, "/", -1, "[\"message-back\",1,\"2\",{\"3\":[true]}]",
             "42[\"message-back\",1,\"2\",{\"3\":[true]}]");
    enc_case(SG_SIO_EVENT, NULL, -1, "[\"a\"]", "42[\"a\"]");
    enc_case(SG_SIO_EVENT, "/custom", 7, "[\"a\",\"b\"]", "42/custom,7[\"a\",\"b\"]");
    enc_case(SG_SIO_CONNECT, "/", -1, "{\"sid\":\"abc\"}", "40{\"sid\":\"abc\"}");
    enc_case(SG_SIO_CONNECT, "/room", -1, "{\"sid\":\"abc\"}", "40/room,{\"sid\":\"abc\"}");
    enc_case(SG_SIO_CONNECT_ERROR, "/x", -1, "{\"message\":\"Invalid namespace\"}",
             "44/x,{\"message\":\"Invalid namespace\"}");
    enc_case(SG_SIO_DISCONNECT, "/custom", -1, NULL, "41/custom,");
    enc_case(SG_SIO_DISCONNECT, "/", -1, NULL, "41");
    enc_case(SG_SIO_ACK, "/", 1, "[]", "431[]");
    enc_case(SG_SIO_ACK, "/room", 7, "[true]", "43/room,7[true]");
    enc_case(SG_SIO_ACK, "/", 3, NULL, "433[]");
    /* Binary types without binaries degrade to the plain ones. */
    enc_case(SG_SIO_BINARY_EVENT, "/", -1, "[\"a\"]", "42[\"a\"]");
    enc_case(SG_SIO_BINARY_ACK, "/", 5, "[1]", "435[1]");
    /* A placeholder with no bins behind it is a literal object. */
    enc_case(SG_SIO_EVENT, "/", -1, "[\"a\",{\"_placeholder\":true,\"num\":0}]",
             "42[\"a\",{\"_placeholder\":true,\"num\":0}]");
}

static void test_encode_invalid(void **state)
{
    (void)state;
    static const struct {
        int type;
        const char *data;
    } cases[] = {
        {SG_SIO_EVENT, NULL},   {SG_SIO_EVENT, "[]"},   {SG_SIO_EVENT, "{}"},
        {SG_SIO_ACK, "{}"},     {SG_SIO_CONNECT, "[]"}, {SG_SIO_DISCONNECT, "{}"},
        {SG_SIO_CONNECT_ERROR, "1"}, {7, "[1]"},        {-1, "[1]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sg_sio_packet_t p;
        sg_sio_encoded_t e;
        sg_sio_packet_init(&p);
        p.type = cases[i].type;
        p.data = cases[i].data ? parse(cases[i].data) : NULL;
        if (sg_sio_encode(&p, &e) != SG_EINVAL)
            fail_msg("case %zu encoded", i);
        assert_null(e.text);
        assert_null(e.bins);
        sg_sio_packet_clear(&p);
    }
}

static void test_encode_binary_ack(void **state)
{
    (void)state;
    sg_sio_packet_t p;
    sg_sio_encoded_t e;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_ACK;
    p.id = 789;
    p.data = parse("[{\"num\":0,\"_placeholder\":true},{\"_placeholder\":true,\"num\":1}]");
    p.bins = sg_malloc(2 * sizeof(*p.bins));
    p.bins[0] = sg_buf_new_copy("\x01", 1);
    p.bins[1] = sg_buf_new_copy("\x02\x03", 2);
    p.nbins = 2;
    assert_int_equal(sg_sio_encode(&p, &e), 0);
    expect_text(&e, "462-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    assert_int_equal(e.nbins, 2);
    assert_ptr_equal(e.bins[0], p.bins[0]);
    assert_ptr_equal(e.bins[1], p.bins[1]);
    assert_true(e.bins[0]->flags & SG_BUF_BINARY);
    assert_true(e.bins[1]->flags & SG_BUF_BINARY);
    assert_int_equal(p.bins[0]->refs, 2);
    sg_sio_encoded_clear(&e);
    assert_int_equal(p.bins[0]->refs, 1);
    sg_sio_packet_clear(&p);
}

static void test_encode_renumber(void **state)
{
    (void)state;
    /* A handler reordered, duplicated and dropped arguments: placeholders are
     * renumbered in order of appearance and the bins follow that order. A
     * placeholder beyond nbins stays literal. */
    sg_sio_packet_t p;
    sg_sio_encoded_t e;
    sg_sio_packet_init(&p);
    p.type = SG_SIO_EVENT;
    p.nsp = sg_strdup("/n");
    p.data = parse("[\"up\",{\"b\":[{\"_placeholder\":true,\"num\":2},1]},"
                   "{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":2},"
                   "{\"_placeholder\":true,\"num\":9,\"x\":{\"_placeholder\":true,\"num\":1}}]");
    p.bins = sg_malloc(3 * sizeof(*p.bins));
    for (int i = 0; i < 3; i++)
        p.bins[i] = sg_buf_new_copy(&"abc"[i], 1);
    p.nbins = 3;
    assert_int_equal(sg_sio_encode(&p, &e), 0);
    expect_text(&e, "454-/n,[\"up\",{\"b\":[{\"_placeholder\":true,\"num\":0},1]},"
                    "{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":2},"
                    "{\"_placeholder\":true,\"num\":9,\"x\":{\"_placeholder\":true,\"num\":3}}]");
    assert_int_equal(e.nbins, 4);
    assert_ptr_equal(e.bins[0], p.bins[2]);
    assert_ptr_equal(e.bins[1], p.bins[0]);
    assert_ptr_equal(e.bins[2], p.bins[2]);
    assert_ptr_equal(e.bins[3], p.bins[1]);
    assert_int_equal(p.bins[2]->refs, 3);
    sg_sio_encoded_clear(&e);
    assert_int_equal(p.bins[2]->refs, 1);

    /* Dropping every binary argument gives a plain EVENT. */
    json_decref(p.data);
    p.data = parse("[\"up\",1]");
    p.type = SG_SIO_BINARY_EVENT;
    assert_int_equal(sg_sio_encode(&p, &e), 0);
    expect_text(&e, "42/n,[\"up\",1]");
    assert_int_equal(e.nbins, 0);
    sg_sio_encoded_clear(&e);
    sg_sio_packet_clear(&p);
}

static void test_roundtrip(void **state)
{
    (void)state;
    /* Decode what a client sends, add its attachments, encode it back. */
    const char *in = "52-/chat,15[\"file\",{\"a\":{\"_placeholder\":true,\"num\":0},"
                     "\"b\":[{\"_placeholder\":true,\"num\":1},1]}]";
    sg_sio_packet_t p;
    sg_sio_encoded_t e;
    assert_int_equal(sg_sio_decode(in, strlen(in), NULL, &p), 0);
    sg_buf_t *x = sg_buf_new_copy("x", 1), *y = sg_buf_new_copy("yy", 2);
    assert_int_equal(sg_sio_add_attachment(&p, x), 0);
    assert_int_equal(sg_sio_add_attachment(&p, y), 1);
    assert_int_equal(sg_sio_encode(&p, &e), 0);
    assert_int_equal(e.text->data[0], '4');
    assert_int_equal(e.text->len, strlen(in) + 1);
    assert_memory_equal(e.text->data + 1, in, strlen(in));
    assert_int_equal(e.nbins, 2);
    assert_ptr_equal(e.bins[0], x);
    assert_ptr_equal(e.bins[1], y);
    sg_sio_encoded_clear(&e);
    sg_sio_packet_clear(&p);
    sg_buf_unref(x);
    sg_buf_unref(y);

    /* Plain packets survive decode + encode byte for byte. */
    static const char *const plain[] = {
        "2[\"message-back\",1,\"2\",{\"3\":[true]}]", "2/custom,7[\"a\",\"b\"]",
        "0/room,{\"key\":\"k\"}", "3/room,7[true]", "1/custom,", "4/x,{\"message\":\"m\"}",
        "2[\"\\u0000\\n\xc3\xa9\",1e+21,0.1,-5]",
    };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_int_equal(sg_sio_decode(plain[i], strlen(plain[i]), NULL, &p), 0);
        assert_int_equal(sg_sio_encode(&p, &e), 0);
        assert_int_equal(e.text->len, strlen(plain[i]) + 1);
        assert_memory_equal(e.text->data + 1, plain[i], strlen(plain[i]));
        sg_sio_encoded_clear(&e);
        sg_sio_packet_clear(&p);
    }
}

static void test_reserved(void **state)
{
    (void)state;
    assert_true(sg_sio_is_reserved_event("connect"));
    assert_true(sg_sio_is_reserved_event("connect_error"));
    assert_true(sg_sio_is_reserved_event("disconnect"));
    assert_true(sg_sio_is_reserved_event("disconnecting"));
    assert_true(sg_sio_is_reserved_event("newListener"));
    assert_true(sg_sio_is_reserved_event("removeListener"));
    assert_false(sg_sio_is_reserved_event("connected"));
    assert_false(sg_sio_is_reserved_event("Connect"));
    assert_false(sg_sio_is_reserved_event(""));
    assert_false(sg_sio_is_reserved_event(NULL));
    /* A NUL after a reserved name makes a different name. */
    sg_sio_packet_t p;
    const char in[] = "2[\"connect\\u0000\"]";
    assert_int_equal(sg_sio_decode(in, sizeof(in) - 1, NULL, &p), 0);
    sg_sio_packet_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_ok),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_attachments),
        cmocka_unit_test(test_attachment_not_expected),
        cmocka_unit_test(test_attachment_bad_placeholders),
        cmocka_unit_test(test_encode_simple),
        cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_encode_binary_ack),
        cmocka_unit_test(test_encode_renumber),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
