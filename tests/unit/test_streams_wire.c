/* test_streams_wire.c - the entries and payloads of
 * @socket.io/redis-streams-adapter, against what the Node package writes
 * (expected values recorded from 0.3.1: ../shared/docs/redis-wire-protocol.md
 * §5 and `node -e` with its hashCode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "streams_wire.h"
#include "util.h"

static json_t *parse(const char *s)
{
    json_t *v = NULL;
    assert_int_equal(sg_json_parse(s, strlen(s), &v), 0);
    return v;
}

static void test_hash(void **state)
{
    (void)state;
    struct {
        const char *name;
        int32_t h;
    } cases[] = {
        {"/", 47},
        {"/chat", 46457863},
        {"/orders-europe-west", -700482943},
        {"/\xc3\xa9", 1690},                  /* é: one code unit */
        {"/\xf0\x9f\x98\x80", 1818066},       /* U+1F600: a surrogate pair */
        {"/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 27322120},
        {"/\xff" "A", 2076755},               /* invalid byte: U+FFFD */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(sg_streams_hash(cases[i].name, strlen(cases[i].name)), cases[i].h);
    assert_int_equal(sg_streams_hash("/a\0b", 4), 1493492);
}

static void test_names(void **state)
{
    (void)state;
    char *mirror = (char *)1;
    char *s = sg_streams_name("socket.io", 1, "/chat", 5, &mirror);
    assert_string_equal(s, "socket.io");
    assert_null(mirror);
    sg_free(s);
    s = sg_streams_name("socket.io", 4, "/chat", 5, &mirror);
    assert_string_equal(s, "socket.io-3");
    assert_null(mirror);
    sg_free(s);
    /* Node's negative index, and the stream its readers do poll. */
    s = sg_streams_name("socket.io", 4, "/orders-europe-west", 19, &mirror);
    assert_string_equal(s, "socket.io--3");
    assert_string_equal(mirror, "socket.io-3");
    sg_free(s);
    sg_free(mirror);
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(sg_streams_is_id("1795294402133-0", 15));
    assert_true(sg_streams_is_id("0-0", 3));
    assert_false(sg_streams_is_id("", 0));
    assert_false(sg_streams_is_id("-1", 2));
    assert_false(sg_streams_is_id("1-", 2));
    assert_false(sg_streams_is_id("1-2-3", 5));
    assert_false(sg_streams_is_id("$", 1));
    assert_false(sg_streams_is_id("12a-3", 5));
    assert_false(sg_streams_is_id("123456789012345678901-1", 23));
}

/* A broadcast without binary: the JSON text of data alone. */
static void test_encode_json(void **state)
{
    (void)state;
    json_t *msg = parse("{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"r1\",\"x\"]},"
                        "\"opts\":{\"rooms\":[\"room1\"],\"except\":[\"nope\"],\"flags\":{}}},"
                        "\"uid\":\"ce9edd445d6125c9\",\"nsp\":\"/\"}");
    sg_streams_entry_t e;
    assert_int_equal(sg_streams_entry_encode(&e, msg, NULL, 0, 0), 0);
    assert_memory_equal(e.uid, "ce9edd445d6125c9", 16);
    assert_int_equal(e.nsp_len, 1);
    assert_string_equal(e.type, "3");
    assert_string_equal(e.data, "{\"packet\":{\"type\":2,\"data\":[\"r1\",\"x\"]},\"opts\":{\"rooms\":"
                                "[\"room1\"],\"except\":[\"nope\"],\"flags\":{}}}");
    sg_streams_entry_clear(&e);
    json_decref(msg);
    /* No data (heartbeats of 0.2). */
    msg = parse("{\"type\":1,\"uid\":\"1d2ea4fc5664a693\",\"nsp\":\"/\"}");
    assert_int_equal(sg_streams_entry_encode(&e, msg, NULL, 0, 0), 0);
    assert_string_equal(e.type, "1");
    assert_null(e.data);
    sg_streams_entry_clear(&e);
    json_decref(msg);
}

#define NODE_BINARY_DATA                                                                           \
    "gqZwYWNrZXSCpHR5cGUCpGRhdGGUpWhlbGxvpXdvcmxkAYGjYnVmxAMBAgOkb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxh" \
    "Z3OA"

/* With binary: base64 of msgpack(data), byte for byte as Node writes it;
 * the same data as JSON when plaintext is forced or the type carries none. */
static void test_encode_binary(void **state)
{
    (void)state;
    const char *text = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"hello\",\"world\",1,"
                       "{\"buf\":{\"_placeholder\":true,\"num\":0}}]},\"opts\":{\"rooms\":[],"
                       "\"except\":[],\"flags\":{}}},\"uid\":\"ce9edd445d6125c9\",\"nsp\":\"/\"}";
    json_t *msg = parse(text);
    sg_buf_t *bin = sg_buf_new_copy("\x01\x02\x03", 3);
    sg_streams_entry_t e;
    assert_int_equal(sg_streams_entry_encode(&e, msg, &bin, 1, 0), 0);
    assert_string_equal(e.data, NODE_BINARY_DATA);
    sg_streams_entry_clear(&e);
    assert_int_equal(sg_streams_entry_encode(&e, msg, &bin, 1, 1), 0);
    assert_string_equal(e.data, "{\"packet\":{\"type\":2,\"data\":[\"hello\",\"world\",1,{\"buf\":"
                                "{\"type\":\"Buffer\",\"data\":[1,2,3]}}]},\"opts\":{\"rooms\":[],"
                                "\"except\":[],\"flags\":{}}}");
    sg_streams_entry_clear(&e);
    json_decref(msg);
    sg_buf_unref(bin);
}

static void test_decode(void **state)
{
    (void)state;
    json_t *m = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    const char *d = NODE_BINARY_DATA;
    assert_int_equal(sg_streams_entry_decode("ce9edd445d6125c9", 16, "/", 1, "3", 1, d, strlen(d),
                                             &m, &bins, &nbins),
                     0);
    assert_int_equal(nbins, 1);
    assert_memory_equal(bins[0]->data, "\x01\x02\x03", 3);
    assert_int_equal(json_integer_value(json_object_get(m, "type")), 3);
    json_t *pdata = json_object_get(json_object_get(json_object_get(m, "data"), "packet"), "data");
    assert_string_equal(json_string_value(json_array_get(pdata, 0)), "hello");
    long num = -1;
    assert_true(sg_json_is_placeholder(json_object_get(json_array_get(pdata, 3), "buf"), &num));
    assert_int_equal(num, 0);
    json_decref(m);
    sg_buf_unref(bins[0]);
    sg_free(bins);
    bins = NULL;
    nbins = 0;
    /* parseInt("12abc") is 12; JSON data; no data. */
    assert_int_equal(sg_streams_entry_decode("u", 1, "/x", 2, "12abc", 5, "{\"a\":1}", 7, &m, &bins,
                                             &nbins),
                     0);
    assert_int_equal(json_integer_value(json_object_get(m, "type")), 12);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "data"), "a")), 1);
    json_decref(m);
    assert_int_equal(sg_streams_entry_decode("u", 1, "/", 1, "2", 1, NULL, 0, &m, &bins, &nbins), 0);
    assert_null(json_object_get(m, "data"));
    json_decref(m);
}

static void test_decode_garbage(void **state)
{
    (void)state;
    struct {
        const char *type, *data;
    } bad[] = {
        {"", "{}"},           /* no type */
        {"x3", "{}"},         /* parseInt gives NaN */
        {"3", "{\"a\":"},     /* truncated JSON */
        {"3", "not base64!"}, /* neither */
        {"3", "gqZwYWNr"},    /* truncated msgpack */
        {"3", "3wAAAAE="},    /* map32 claiming 1 entry, nothing follows */
        {"3", "kQ=="},        /* fixarray of 1 with nothing in it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *m = NULL;
        sg_buf_t **bins = NULL;
        size_t nbins = 0;
        assert_int_not_equal(sg_streams_entry_decode("u", 1, "/", 1, bad[i].type,
                                                     strlen(bad[i].type), bad[i].data,
                                                     strlen(bad[i].data), &m, &bins, &nbins),
                             0);
        assert_null(m);
        assert_int_equal(nbins, 0);
        sg_free(bins);
    }
    json_t *m = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    /* A uid that is not UTF-8 is no message. */
    assert_int_not_equal(
        sg_streams_entry_decode("\xff", 1, "/", 1, "3", 1, "{}", 2, &m, &bins, &nbins), 0);
}

/* The 0.3 Pub/Sub payload: msgpack of the whole envelope, keys in Node's
 * order (a FETCH_SOCKETS request as recorded). */
static void test_pack_envelope(void **state)
{
    (void)state;
    json_t *msg = parse("{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},"
                        "\"requestId\":\"fedcba9876543210\"},\"uid\":\"0123456789abcdef\","
                        "\"nsp\":\"/\"}");
    sg_sbuf_t sb;
    sg_sbuf_init(&sb);
    sg_streams_pack(&sb, msg, NULL, 0);
    static const unsigned char want[] =
        "\x84\xa4type\x07\xa4" "data\x82\xa4opts\x83\xa5rooms\x90\xa6" "except\x90\xa5" "flags\x80"
        "\xa9requestId\xb0" "fedcba9876543210\xa3uid\xb0" "0123456789abcdef\xa3nsp\xa1/";
    assert_int_equal(sb.len, sizeof want - 1);
    assert_memory_equal(sg_sbuf_data(&sb), want, sizeof want - 1);
    json_t *back = NULL;
    sg_buf_t **bins = NULL;
    size_t nbins = 0;
    assert_int_equal(sg_streams_unpack((const char *)sg_sbuf_data(&sb), sb.len, &back, &bins, &nbins),
                     0);
    assert_true(json_equal(back, msg));
    json_decref(back);
    sg_free(bins);
    assert_int_not_equal(sg_streams_unpack("\x84\xa4", 2, &back, &bins, &nbins), 0);
    sg_sbuf_reset(&sb);
    json_decref(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),          cmocka_unit_test(test_names),
        cmocka_unit_test(test_ids),           cmocka_unit_test(test_encode_json),
        cmocka_unit_test(test_encode_binary), cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_garbage), cmocka_unit_test(test_pack_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
