/* Unit tests for protocol/json.c. Every expected string was produced by
 * JSON.stringify / String(number) in Node 20. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json.h"
#include "util.h"

typedef struct numcase {
    uint64_t bits;
    const char *want;
} numcase_t;

/* Bit patterns of IEEE doubles and Node's String(value) for them. */
static const numcase_t num_cases[] = {
    {0x0000000000000000ull, "0"},
    {0x8000000000000000ull, "0"},
    {0x3ff0000000000000ull, "1"},
    {0xbff0000000000000ull, "-1"},
    {0x4059000000000000ull, "100"},
    {0x444b1ae4d6e2ef50ull, "1e+21"},
    {0x4415af1d78b58c40ull, "100000000000000000000"},
    {0x441ac53a7e04bcdaull, "123456789012345680000"},
    {0x3e8421f5f40d8376ull, "1.5e-7"},
    {0x3e7ad7f29abcaf48ull, "1e-7"},
    {0x3eb0c6f7a0b5ed8dull, "0.000001"},
    {0x3eb92a737110e454ull, "0.0000015"},
    {0x3eb0c6f7a0b5ed8dull, "0.000001"},
    {0x3ee4f8b588e368f1ull, "0.00001"},
    {0x3fb999999999999aull, "0.1"},
    {0x3fc999999999999aull, "0.2"},
    {0x3fd3333333333334ull, "0.30000000000000004"},
    {0x3fd5555555555555ull, "0.3333333333333333"},
    {0xbfd5555555555555ull, "-0.3333333333333333"},
    {0x3fe5555555555555ull, "0.6666666666666666"},
    {0x3ff8000000000000ull, "1.5"},
    {0xbff8000000000000ull, "-1.5"},
    {0x400921f9f01b866eull, "3.14159"},
    {0x0000000000000001ull, "5e-324"},
    {0x7fefffffffffffffull, "1.7976931348623157e+308"},
    {0x0010000000000000ull, "2.2250738585072014e-308"},
    {0x3c36b082c2148b8eull, "1.23e-18"},
    {0x54b249ad2594c37dull, "1e+100"},
    {0xab2bff2ee48e0530ull, "-1e-100"},
    {0x4340000000000000ull, "9007199254740992"},
    {0x4340000000000000ull, "9007199254740992"},
    {0x41f0000000080000ull, "4294967296.5"},
    {0x3fe0000000000000ull, "0.5"},
    {0x40934a456d5cfaadull, "1234.5678"},
    {0x430c6bf526340000ull, "1000000000000000"},
    {0x4341c37937e08000ull, "10000000000000000"},
    {0x4376345785d8a000ull, "100000000000000000"},
    {0x419d6f34547df3b6ull, "123456789.123"},
    {0x4059100000000000ull, "100.25"},
    {0x3de07e1fe91b0b70ull, "1.2e-10"},
    {0x3ee9e0fcaf9380fcull, "0.00001234"},
    {0x7e6ddd4baa009303ull, "1e+301"},
    {0x4340000000000001ull, "9007199254740994"},
    {0x43e0000000000000ull, "9223372036854776000"},
    {0x43f0000000000000ull, "18446744073709552000"},
    {0xc3e0000000000000ull, "-9223372036854776000"},
    {0x3ff199999999999aull, "1.1"},
    {0x4039800000000000ull, "25.5"},
    {0x3fd3333333333333ull, "0.3"},
    {0x0000000000000002ull, "1e-323"},
    {0x4011666666666666ull, "4.35"},
    {0x3fb1eb851eb851ecull, "0.07"},
    {0x4480f0cf064dd592ull, "1e+22"},
    {0x3ff0000000000001ull, "1.0000000000000002"},
    {0x444b1ae4d6e2ef4full, "999999999999999900000"},
    {0x4058ff5c28f5c28full, "99.99"},
    {0xeab2c0b085260c39ull, "-9.407207130571088e+205"},
    {0x3d2bfaffab6b38a8ull, "4.970328807830811e-14"},
    {0x4243f392b22beb60ull, "171381711959.83887"},
    {0xbdf0beb3485b275dull, "-2.4367070198059083e-10"},
    {0x3adee8181fe03500ull, "3.9945867657661443e-25"},
    {0x43fd780708b0147eull, "33975279331207274000"},
    {0xbf2cae6978d4fdf4ull, "-0.00021882092952728272"},
    {0xc4f6ce1d56a60e44ull, "-1.7231072953915466e+24"},
    {0x3fd12d1100000000ull, "0.2683756351470947"},
    {0x3ca7f3510f64a24aull, "1.6618967056274414e-16"},
    {0x0000000000000000ull, "0"},
    {0x4062eedce0000000ull, "151.46446228027344"},
    {0x4254954cb6bb6280ull, "353616714477.53906"},
    {0xc38dfa098515ad70ull, "-270006179809570300"},
    {0xea23d84a047d0627ull, "-1.9443549716489795e+203"},
    {0xc5356e65c88f0fcdull, "-2.590878009796142e+25"},
    {0x3d741a3c34f03ce0ull, "1.1426937580108642e-12"},
    {0x4268a447418fb0e8ull, "846682786941.5283"},
    {0x4377f5726722d493ull, "107900738716125490"},
    {0xc14f5eff437d8000ull, "-4111870.527267456"},
    {0x8000000000000000ull, "0"},
    {0x3dd0386c1206255bull, "5.900946789018531e-11"},
    {0x4048b639ac000000ull, "49.42363500595093"},
    {0xbeb42e536501e258ull, "-0.0000012028789520263671"},
    {0x3de1d2a189385ea8ull, "1.2967777252197267e-10"},
    {0x8000000000000000ull, "0"},
    {0xc2ced9043118cc48ull, "-67834854125976.56"},
    {0xc3c6d54e7dc13b58ull, "-3290615081787109400"},
    {0xc3a07c6a3c02548aull, "-593970603844322600"},
    {0x3d2b784ae4566be6ull, "4.879633188247681e-14"},
    {0x43aa952165e24f64ull, "957736968994140700"},
    {0x3aac0fa635896527ull, "4.533520042896271e-26"},
    {0x40c29fb2b3600000ull, "9535.396099090576"},
    {0xbb13897298b98d3aull, "-4.040137231349945e-24"},
    {0x43b786b1370bb07eull, "1695237159729004000"},
    {0xa4dd56207511e757ull, "-4.133036138724539e-131"},
    {0x41fdd286a167e400ull, "8005380630.493164"},
    {0xba7442de5fdfff98ull, "-4.091717898845673e-27"},
    {0xc014ba8b00000000ull, "-5.182170867919922"},
    {0xc578522842d30edaull, "-4.7043514251708985e+26"},
    {0x45420378a91d0765ull, "4.355411529541015e+25"},
    {0x40fd9225c3800000ull, "121122.36022949219"},
    {0x843b381754fda23bull, "-2.7930455587322874e-288"},
    {0xc248a67623fde7d0ull, "-211743950843.81104"},
    {0x42566adfcfcf9ad8ull, "385129332542.41943"},
    {0x8000000000000000ull, "0"},
    {0x403ac00430000000ull, "26.7500638961792"},
    {0xc178a99ac2d74000ull, "-25860524.17755127"},
    {0x42f8f96a51d34e68ull, "439352154731750.5"},
    {0x3e2e733dc5430e33ull, "3.5448653267068323e-9"},
    {0x8000000000000000ull, "0"},
    {0xc3d10638c03508d9ull, "-4906921386718750000"},
    {0xc46d051fc82ecfc9ull, "-4.282598495483398e+21"},
    {0xc251d58b5cf22668ull, "-306388497352.6001"},
    {0xc319d7079ab7d09eull, "-1818325519561767.5"},
    {0x0000000000000000ull, "0"},
    {0xb8ab694f9acaea64ull, "-1.0311011732983267e-35"},
    {0xba40eb818655e2d8ull, "-4.271194636821747e-28"},
    {0x447356f729a78094ull, "5.708074569702148e+21"},
    {0x40af07ad8b000000ull, "3971.83895111084"},
    {0x43c737486c9e23a4ull, "3345770835876464600"},
    {0xc438660dd5956971ull, "-450075626373291000000"},
    {0xbe456abf917ae727ull, "-9.973061084747315e-9"},
    {0xad9dd7acaa06d290ull, "-5.859980627302705e-89"},
    {0xbd57bb264e885cc2ull, "-3.372385501861572e-13"},
    {0x8000000000000000ull, "0"},
    {0x3bd84369ca6bb593ull, "2.055184245109558e-20"},
    {0xba70acab17f3db5eull, "-3.367385566234589e-27"},
    {0xc221384a20511040ull, "-36979413032.53174"},
    {0xbbb76ef8a37f2d0bull, "-4.96223270893097e-21"},
    {0xbf5961af61a0d3aaull, "-0.00154916884504284"},
    {0xbea09bec2480e8c8ull, "-4.949889183044433e-7"},
    {0xba0d5b3b639ebda2ull, "-4.6316193044185635e-29"},
    {0x3db5f1f7dd246670ull, "1.995903253555298e-11"},
    {0x3ba73fd934b62e46ull, "2.4616268277168275e-21"},
    {0xc20481532bb8999aull, "-11008632183.075"},
    {0xba9b720f821e9492ull, "-2.217033803462982e-26"},
    {0x29a4da70e11fb21aull, "4.4396224824184925e-108"},
    {0x45683e89668fee6aull, "2.3447632789611815e+26"},
    {0xc2b1c819b169181eull, "-19551122188568.117"},
    {0x40a002722d0e5604ull, "2049.223"},
    {0xc5765e39e42272abull, "-4.3266141414642334e+26"},
    {0x3a0477480a0169b6ull, "3.228956460952759e-29"},
    {0xbd457edbae4f972full, "-1.5273499488830566e-13"},
    {0x2c43936c3d76741bull, "1.8329577879897336e-95"},
    {0x41761fab601cac08ull, "23198390.007"},
    {0xc3cf35a47b8b6a9eull, "-4497768878936767500"},
    {0x4433ce49b63e5ae8ull, "365352749824523900000"},
    {0x42acfcc7d91cea11ull, "15936005115509.033"},
    {0xbe6587a7942e1fceull, "-4.01025652885437e-8"},
    {0x44ba6d39d3b68e35ull, "1.2479639053344726e+23"},
    {0xa96ef1d29e0fa3f7ull, "-4.1175296655056673e-109"},
    {0xba05e3364ad3d258ull, "-3.453246057033539e-29"},
    {0xc14f27a6a4be0000ull, "-4083533.28704834"},
    {0xc4fef91ca05816f9ull, "-2.340260744094849e+24"},
    {0x417f0ee7905a1cacull, "32566905.022"},
    {0x41c25053b3369c00ull, "614508390.4266357"},
    {0xbc16e99475581aafull, "-3.105212152004242e-19"},
    {0x9ebfb9e9f523ef2eull, "-1.410394935677024e-160"},
    {0xc5a79c172d95b10cull, "-3.653428554534912e+27"},
    {0xc4169ca49c8e990full, "-104278922080993660000"},
    {0xbcc10f41333b0dd1ull, "-4.734987020492554e-16"},
    {0x3d2614667a0ccd9aull, "3.922140598297119e-14"},
    {0xc4f708635ef5d46aull, "-1.740306615829468e+24"},
    {0xbdb4e44a8f3cc0c8ull, "-1.900094747543335e-11"},
    {0x0e6842bac3e7324cull, "2.9106910377244666e-239"},
    {0xbce68d6ad81a0f99ull, "-2.5038206577301025e-15"},
    {0xc3fb66bcde0feb0full, "-31591570377349853000"},
    {0x3cc0d563741d32dfull, "4.672248363494873e-16"},
    {0xbc9ff01773b770c4ull, "-1.1080670356750489e-16"},
    {0x441c49893fbfc169ull, "130451917648315430000"},
    {0x3dd96c66f546576dull, "9.248995780944825e-11"},
    {0xac21c49304d01c2eull, "-4.1591704514266225e-96"},
    {0x43ca2f8878d97ec6ull, "3773753643035888600"},
    {0x3aadac9973e95a3cull, "4.794128239154816e-26"},
    {0x0000000000000000ull, "0"},
    {0xc1034ac618780000ull, "-158040.76194763184"},
    {0xbdc9ea9dff4022c1ull, "-4.714179039001465e-11"},
    {0x3b14b62889824142ull, "4.2830494046211245e-24"},
    {0x945231be55a1c0dcull, "-8.647262572922376e-211"},
    {0x4183b0c3b76c8b44ull, "41293942.928"},
    {0xc546e7111224a453ull, "-5.53750991821289e+25"},
    {0xc49cc927d6d536f2ull, "-3.3984231948852537e+22"},
    {0xb9f7bf9e49bdf899ull, "-1.8734270334243775e-29"},
    {0xbd73d11c5589beedull, "-1.1264568567276001e-12"},
    {0x0000000000000000ull, "0"},
    {0xdccae10355f3c849ull, "-1.0002773465576884e+139"},
    {0xc46560467f5cae9full, "-3.1545519828796383e+21"},
    {0xbf1595d0e5604189ull, "-0.00008234107494354248"},
    {0x39878dbe9c38feddull, "1.4516082033514978e-31"},
    {0xc2378398e65d8000ull, "-100992083549.5"},
    {0x41e3b3d2cbba7100ull, "2644416093.826294"},
    {0xc434b6d91ddcf250ull, "-382110476493835500000"},
    {0xdf4b15ebf6d5ac18ull, "-1.1082731583847791e+151"},
    {0xbde95c749778fa60ull, "-1.8452668190002444e-10"},
    {0x44d6ae49a5775e75ull, "4.284284114837646e+23"},
    {0x4562a4e478af761dull, "1.803147792816162e+26"},
    {0xbdbbde0e04fed706ull, "-2.5345253944396973e-11"},
    {0xbdc58a043f18b36full, "-3.917944431304932e-11"},
    {0x40d64e4b7ad00000ull, "22841.179370880127"},
    {0x0de6cc51feda926cull, "1.0684461610475335e-241"},
    {0xbfd4743400000000ull, "-0.3195924758911133"},
    {0x3bb58b6b8c878dbaull, "4.562248587608338e-21"},
    {0xbcfec81e0c267888ull, "-6.834912300109863e-15"},
    {0x3d288da4b6419ad2ull, "4.3615412712097167e-14"},
    {0x453024001ae03fe0ull, "1.9512820243835445e+25"},
    {0xc124f32b88e40000ull, "-686485.767364502"},
    {0x5b347513766f262full, "2.268856559820812e+131"},
    {0xbdeba006c617d1d9ull, "-2.0099908113479615e-10"},
    {0xbc874f33fe157e93ull, "-4.043534100055695e-17"},
};

static char *dump_str(const json_t *v, sg_json_ph_cb ph, void *ud, size_t *len)
{
    sg_sbuf_t sb = {0};
    sg_json_dump(&sb, v, ph, ud);
    sg_sbuf_putc(&sb, '\0');
    if (len)
        *len = sb.len - 1;
    char *s = sg_strndup((const char *)sg_sbuf_data(&sb), sb.len);
    sg_sbuf_reset(&sb);
    return s;
}

static void test_numbers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
        double d;
        memcpy(&d, &num_cases[i].bits, sizeof(d));
        sg_sbuf_t sb = {0};
        sg_json_put_number(&sb, d);
        sg_sbuf_putc(&sb, '\0');
        if (strcmp((const char *)sg_sbuf_data(&sb), num_cases[i].want) != 0)
            fail_msg("case %zu: got %s want %s", i, (const char *)sg_sbuf_data(&sb),
                     num_cases[i].want);
        sg_sbuf_reset(&sb);

        /* Through a jansson real and sg_json_dump: same text. */
        json_t *r = json_real(d);
        char *s = dump_str(r, NULL, NULL, NULL);
        assert_string_equal(s, num_cases[i].want);
        sg_free(s);
        json_decref(r);
    }
}

static void test_number_special(void **state)
{
    (void)state;
    sg_sbuf_t sb = {0};
    sg_json_put_number(&sb, 0.0 / 0.0);
    sg_sbuf_putc(&sb, ' ');
    sg_json_put_number(&sb, 1.0 / 0.0);
    sg_sbuf_putc(&sb, ' ');
    sg_json_put_number(&sb, -1.0 / 0.0);
    sg_sbuf_putc(&sb, '\0');
    assert_string_equal((const char *)sg_sbuf_data(&sb), "NaN Infinity -Infinity");
    sg_sbuf_reset(&sb);
}

typedef struct rtcase {
    const char *in;
    const char *want; /* NULL: parse must fail */
} rtcase_t;

/* JSON.stringify(JSON.parse(in)) in Node. */
static const rtcase_t rt_cases[] = {
    {"{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}"},
    {"{\"b\":1,\"2\":1,\"1\":1,\"a\":3,\"01\":4,\"4294967295\":5,\"4294967294\":6,\"-1\":7}",
     "{\"1\":1,\"2\":1,\"4294967294\":6,\"b\":1,\"a\":3,\"01\":4,\"4294967295\":5,\"-1\":7}"},
    {"[1,2.5,-0.0,1e21,1E+2,1.0,\"x\"]", "[1,2.5,0,1e+21,100,1,\"x\"]"},
    {"\"\\u0000\\u001f\\u007f\\/\\b\\f\\n\\r\\t\\\"\\\\\xc3\xa9\xf0\x9f\x98\x80\"",
     "\"\\u0000\\u001f\x7f/\\b\\f\\n\\r\\t\\\"\\\\\xc3\xa9\xf0\x9f\x98\x80\""},
    {"{\"a\":{\"b\":[{}, [], null, true, false]}}", "{\"a\":{\"b\":[{},[],null,true,false]}}"},
    {"123456789012345678901234567890", "1.2345678901234568e+29"},
    {"[123456789012345678901234567890, 1, -5]", "[1.2345678901234568e+29,1,-5]"},
    {"-9223372036854775808", "-9223372036854776000"},
    {"9223372036854775807", "9223372036854776000"},
    {"9223372036854775808", "9223372036854776000"},
    {"9007199254740993", "9007199254740992"},
    {"9007199254740992", "9007199254740992"},
    {"-9007199254740993", "-9007199254740992"},
    {"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
    {" [ 1 , 2 ] ", "[1,2]"},
    {"\"\\u2028\\u2029\"", "\"\xe2\x80\xa8\xe2\x80\xa9\""},
    {"1e-7", "1e-7"},
    {"0.1e1", "1"},
    {"-0", "0"},
    {"\"\"", "\"\""},
    {"null", "null"},
    {"true", "true"},
    {"[\"message-back\",1,\"2\",{\"3\":[true]}]", "[\"message-back\",1,\"2\",{\"3\":[true]}]"},
    {"{\"k\":\"v\\u0000\"}", "{\"k\":\"v\\u0000\"}"},
    /* jansson refuses NUL inside object keys (Node would accept it). */
    {"{\"\\u0000k\":1}", NULL},
    {"{\"10\":1,\"9\":2,\"x\":3,\"0\":4}", "{\"0\":4,\"9\":2,\"10\":1,\"x\":3}"},
    {"", NULL},
    {"{", NULL},
    {"[1,]", NULL},
    {"{\"a\":1,}", NULL},
    {"'x'", NULL},
    {"[1] x", NULL},
    {"NaN", NULL},
    {"\"\xff\"", NULL},   /* not UTF-8 */
    {"\"a\nb\"", NULL},   /* raw control character in a string */
};

static void test_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
        json_t *v = (json_t *)1;
        int rc = sg_json_parse(rt_cases[i].in, strlen(rt_cases[i].in), &v);
        if (!rt_cases[i].want) {
            if (rc != SG_EINVAL)
                fail_msg("case %zu (%s) parsed", i, rt_cases[i].in);
            assert_null(v);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu (%s) failed", i, rt_cases[i].in);
        char *s = dump_str(v, NULL, NULL, NULL);
        if (strcmp(s, rt_cases[i].want) != 0)
            fail_msg("case %zu: got %s want %s", i, s, rt_cases[i].want);
        sg_free(s);
        json_decref(v);
    }
}

static void test_embedded_nul(void **state)
{
    (void)state;
    const char in[] = "[\"a\\u0000b\"]";
    json_t *v;
    assert_int_equal(sg_json_parse(in, sizeof(in) - 1, &v), 0);
    assert_int_equal(json_string_length(json_array_get(v, 0)), 3);
    size_t len;
    char *s = dump_str(v, NULL, NULL, &len);
    assert_string_equal(s, "[\"a\\u0000b\"]");
    sg_free(s);
    json_decref(v);

    /* A raw NUL byte in the text is not JSON. */
    const char raw[] = {'"', 'a', '\0', '"'};
    v = (json_t *)1;
    assert_int_equal(sg_json_parse(raw, sizeof(raw), &v), SG_EINVAL);
    assert_null(v);
    /* The parse is bounded by len, not by a terminator. */
    assert_int_equal(sg_json_parse("[1]xyz", 3, &v), 0);
    json_decref(v);

    /* Object keys with a NUL (msgpack from Redis can carry them; jansson's
     * parser refuses them in JSON text) survive a copy whole. */
    v = json_object();
    json_object_setn_new(v, "a\0b", 3, json_integer(1));
    json_object_set_new(v, "a", json_integer(2));
    json_t *copy = sg_json_map_placeholders(v, NULL, NULL);
    s = dump_str(copy, NULL, NULL, &len);
    assert_string_equal(s, "{\"a\\u0000b\":1,\"a\":2}");
    sg_free(s);
    json_decref(copy);
    json_decref(v);
}

static void test_escapes_all_controls(void **state)
{
    (void)state;
    char raw[0x21];
    for (int i = 0; i < 0x20; i++)
        raw[i] = (char)i;
    raw[0x20] = 0x7f;
    json_t *v = json_stringn(raw, sizeof(raw));
    char *s = dump_str(v, NULL, NULL, NULL);
    /* JSON.stringify(String.fromCharCode(...0..31, 127)) */
    assert_string_equal(s, "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n"
                           "\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015"
                           "\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e"
                           "\\u001f\x7f\"");
    sg_free(s);
    json_decref(v);
}

static void test_built_values(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "z", json_integer(-42));
    json_object_set_new(o, "a", json_real(2.0));
    json_object_set_new(o, "m", json_real(0.1));
    json_object_set_new(o, "s", json_string("</script>"));
    json_object_set_new(o, "n", json_null());
    char *s = dump_str(o, NULL, NULL, NULL);
    assert_string_equal(s, "{\"z\":-42,\"a\":2,\"m\":0.1,\"s\":\"</script>\",\"n\":null}");
    sg_free(s);
    json_decref(o);
    s = dump_str(NULL, NULL, NULL, NULL);
    assert_string_equal(s, "null");
    sg_free(s);

    json_t *i = json_integer(INT64_MIN);
    s = dump_str(i, NULL, NULL, NULL);
    assert_string_equal(s, "-9223372036854776000");
    sg_free(s);
    json_decref(i);
}

static void test_placeholder_detect(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int is;
        long num;
    } cases[] = {
        {"{\"_placeholder\":true,\"num\":0}", 1, 0},
        {"{\"num\":3,\"_placeholder\":true}", 1, 3},
        {"{\"_placeholder\":true,\"num\":2.0}", 1, 2},
        {"{\"_placeholder\":true,\"num\":1,\"extra\":1}", 1, 1},
        {"{\"_placeholder\":true,\"num\":-1}", 0, 0},
        {"{\"_placeholder\":true,\"num\":1.5}", 0, 0},
        {"{\"_placeholder\":true,\"num\":\"1\"}", 0, 0},
        {"{\"_placeholder\":true}", 0, 0},
        {"{\"_placeholder\":1,\"num\":1}", 0, 0},
        {"{\"_placeholder\":false,\"num\":1}", 0, 0},
        {"{\"_placeholder\":true,\"num\":99999999999}", 0, 0},
        {"[{\"_placeholder\":true,\"num\":0}]", 0, 0},
        {"7", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v;
        assert_int_equal(sg_json_parse(cases[i].in, strlen(cases[i].in), &v), 0);
        long num = -7;
        int is = sg_json_is_placeholder(v, &num);
        if (is != cases[i].is)
            fail_msg("case %zu (%s): %d", i, cases[i].in, is);
        if (is)
            assert_int_equal(num, cases[i].num);
        json_decref(v);
    }
    assert_false(sg_json_is_placeholder(NULL, NULL));
    json_t *p = sg_json_placeholder(5);
    char *s = dump_str(p, NULL, NULL, NULL);
    assert_string_equal(s, "{\"_placeholder\":true,\"num\":5}");
    sg_free(s);
    long n;
    assert_true(sg_json_is_placeholder(p, &n));
    assert_int_equal(n, 5);
    json_decref(p);
}

static long ph_reverse(long num, void *ud)
{
    int *calls = ud;
    (*calls)++;
    return num >= 10 ? -1 : 100 - num;
}

static void test_placeholder_callback(void **state)
{
    (void)state;
    const char *in = "[{\"_placeholder\":true,\"num\":1},{\"a\":{\"num\":0,\"_placeholder\":true}},"
                     "{\"_placeholder\":true,\"num\":12,\"x\":2}]";
    json_t *v;
    assert_int_equal(sg_json_parse(in, strlen(in), &v), 0);
    int calls = 0;
    char *s = dump_str(v, ph_reverse, &calls, NULL);
    assert_int_equal(calls, 3);
    /* Rewritten placeholders get canonical key order; -1 keeps the object. */
    assert_string_equal(s, "[{\"_placeholder\":true,\"num\":99},{\"a\":{\"_placeholder\":true,"
                           "\"num\":100}},{\"_placeholder\":true,\"num\":12,\"x\":2}]");
    sg_free(s);
    /* Without a callback placeholders are ordinary objects. */
    s = dump_str(v, NULL, NULL, NULL);
    assert_string_equal(s, "[{\"_placeholder\":true,\"num\":1},{\"a\":{\"num\":0,\"_placeholder\":"
                           "true}},{\"_placeholder\":true,\"num\":12,\"x\":2}]");
    sg_free(s);
    json_decref(v);
}

static void collect_key(const char *k, size_t klen, json_t *v, void *ud)
{
    sg_sbuf_t *sb = ud;
    sg_sbuf_append(sb, k, klen);
    sg_sbuf_putc(sb, ';');
    (void)v;
}

static void test_foreach_js(void **state)
{
    (void)state;
    const char *in = "{\"b\":0,\"7\":0,\"a\":0,\"3\":0,\"007\":0,\"1.5\":0}";
    json_t *v;
    assert_int_equal(sg_json_parse(in, strlen(in), &v), 0);
    sg_sbuf_t sb = {0};
    sg_json_object_foreach_js(v, collect_key, &sb);
    sg_sbuf_putc(&sb, '\0');
    assert_string_equal((const char *)sg_sbuf_data(&sb), "3;7;b;a;007;1.5;");
    sg_sbuf_reset(&sb);
    json_decref(v);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* Within jansson's depth limit: fine; beyond it: rejected, no crash. */
    sg_sbuf_t sb = {0};
    for (int i = 0; i < 1000; i++)
        sg_sbuf_putc(&sb, '[');
    for (int i = 0; i < 1000; i++)
        sg_sbuf_putc(&sb, ']');
    json_t *v;
    assert_int_equal(sg_json_parse(sg_sbuf_data(&sb), sb.len, &v), 0);
    size_t len;
    char *s = dump_str(v, NULL, NULL, &len);
    assert_int_equal(len, 2000);
    sg_free(s);
    json_decref(v);
    sg_sbuf_reset(&sb);
    for (int i = 0; i < 100000; i++)
        sg_sbuf_putc(&sb, '[');
    assert_int_equal(sg_json_parse(sg_sbuf_data(&sb), sb.len, &v), SG_EINVAL);
    sg_sbuf_reset(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_special),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_escapes_all_controls),
        cmocka_unit_test(test_built_values),
        cmocka_unit_test(test_placeholder_detect),
        cmocka_unit_test(test_placeholder_callback),
        cmocka_unit_test(test_foreach_js),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
