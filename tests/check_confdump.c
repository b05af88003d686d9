/*
 * Copyright (c) 2026 The evinetd authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Unit tests for confdump.c: the effective configuration as JSON, with
 * where each value came from.  One config of three files (the main one,
 * an included service, and a file that include includes) is loaded as the
 * supervisor loads it, modules checked and then unloaded, and every test
 * looks at one part of its dump.
 */

#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evinetd.h"
#include "check_run.h"

static struct config	*cf;
static json_t		*dump;

static const char main_conf[] =
    "# the main file\n"
    "workers = 2\n"
    "per_source = 8\n"
    "idle_timeout = 30s\n"
    "include = extra.conf\n"
    "service echo {\n"
    "	module = echo\n"
    "	listen = 127.0.0.1:0\n"
    "	listen = [::1]:0 127.0.0.2:0\n"
    "	idle_timeout = 2s\n"
    "}\n";
static const char extra_conf[] =
    "service day {\n"
    "	module = daytime\n"
    "	protocol = udp\n"
    "	listen = 127.0.0.1:0\n"
    "	max_input = 4k\n"
    "	timezone = local\n"
    "	refuse_banner = \"caf\xe9\"\n"
    "}\n"
    "include = more.conf\n";
static const char more_conf[] =
    "drain_timeout = 5s\n";

static const struct {
	const char	*name;
	const char	*text;
} files[] = {
	{ "main.conf", main_conf },
	{ "extra.conf", extra_conf },
	{ "more.conf", more_conf },
};

/* The absolute name of a file in the test's directory. */
static const char *
tpath(const char *name)
{
	return (check_str("%s/%s", check_tmpdir, name));
}

/* Loads the config as the supervisor does, then dumps it. */
static void
setup(void)
{
	FILE	*f;
	size_t	 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		f = fopen(tpath(files[i].name), "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_ge(fputs(files[i].text, f), 0);
		ck_assert_int_eq(fclose(f), 0);
	}
	cf = config_load_checked(tpath("main.conf"), BUNDLED_MODULE_DIR, 1);
	ck_assert_int_eq(cf->c_nerrors, 0);
	config_unload_modules(cf);
	ck_assert(TAILQ_EMPTY(&cf->c_modules));
	dump = confdump(cf);
	ck_assert_ptr_nonnull(dump);
}

static void
teardown(void)
{
	json_decref(dump);
	config_free(cf);
	check_str_free();
}

/* The "FILE:LINE" of a line of a file in the test's directory. */
static const char *
at(const char *name, int line)
{
	return (check_str("%s:%d", tpath(name), line));
}

/* A value as compact JSON text, to compare in one assertion. */
static const char *
text(const json_t *j)
{
	char		*s;
	const char	*copy;

	ck_assert_ptr_nonnull(j);
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_ptr_nonnull(s);
	copy = check_str("%s", s);
	free(s);
	return (copy);
}

static json_t *
service(const char *name)
{
	json_t	*s;
	size_t	 i;

	json_array_foreach(json_object_get(dump, "services"), i, s) {
		if (strcmp(json_string_value(json_object_get(s, "name")),
		    name) == 0)
			return (s);
	}
	ck_abort_msg("no service \"%s\" in the dump", name);
	return (NULL);
}

/* The entry of key in a "global", "keys" or "options" array. */
static json_t *
entry(json_t *array, const char *key)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(array, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "key")),
		    key) == 0)
			return (e);
	}
	ck_abort_msg("no key \"%s\" in %s", key, text(array));
	return (NULL);
}

static void
assert_entry(json_t *array, const char *key, const char *value,
    const char *from)
{
	json_t	*e = entry(array, key);

	ck_assert_str_eq(text(json_object_get(e, "value")), value);
	ck_assert_str_eq(json_string_value(json_object_get(e, "from")), from);
}

/*
 * Asserts a repeatable key's values, its "from" (the first of its lines)
 * and all its lines, given as the JSON text of an array.
 */
static void
assert_repeated(json_t *array, const char *key, const char *value,
    const char *lines)
{
	json_t	*l;

	l = json_object_get(entry(array, key), "lines");
	ck_assert_str_eq(text(l), lines);
	assert_entry(array, key, value,
	    json_string_value(json_array_get(l, 0)));
}

#define GLOBAL()	json_object_get(dump, "global")
#define KEYS(s)		json_object_get(service(s), "keys")
#define OPTIONS(s)	json_object_get(service(s), "options")

START_TEST(test_the_dump_names_the_main_file_and_serializes)
{
	char	*s;

	ck_assert_str_eq(json_string_value(json_object_get(dump, "file")),
	    tpath("main.conf"));
	s = json_dumps(dump, JSON_COMPACT);
	ck_assert_ptr_nonnull(s);
	free(s);
}
END_TEST

START_TEST(test_a_global_key_set_in_the_main_file_names_its_line)
{
	assert_entry(GLOBAL(), "workers", "[\"2\"]", at("main.conf", 2));
}
END_TEST

START_TEST(test_a_global_key_set_two_includes_deep_names_that_file)
{
	assert_entry(GLOBAL(), "drain_timeout", "[\"5s\"]",
	    at("more.conf", 1));
}
END_TEST

START_TEST(test_an_unset_key_has_the_table_default)
{
	assert_entry(GLOBAL(), "shutdown_timeout", "[\"10s\"]", "default");
	assert_entry(KEYS("day"), "max_output", "[\"256k\"]", "default");
}
END_TEST

START_TEST(test_an_unset_key_without_a_default_is_null)
{
	assert_entry(GLOBAL(), "max_connections", "null", "default");
	assert_entry(KEYS("day"), "session_timeout", "null", "default");
	assert_entry(KEYS("day"), "workers", "null", "default");
}
END_TEST

START_TEST(test_an_included_service_inherits_a_global_limit_from_its_line)
{
	assert_entry(KEYS("day"), "per_source", "[\"8\"]", at("main.conf", 3));
	assert_entry(KEYS("day"), "idle_timeout", "[\"30s\"]",
	    at("main.conf", 4));
}
END_TEST

START_TEST(test_a_service_that_sets_an_inherited_key_names_its_own_line)
{
	assert_entry(KEYS("echo"), "idle_timeout", "[\"2s\"]",
	    at("main.conf", 10));
}
END_TEST

START_TEST(test_a_key_set_in_an_included_service_names_that_file)
{
	assert_entry(KEYS("day"), "max_input", "[\"4k\"]", at("extra.conf", 5));
	assert_entry(KEYS("day"), "protocol", "[\"udp\"]",
	    at("extra.conf", 3));
}
END_TEST

START_TEST(test_a_repeated_listen_has_every_value_and_every_line)
{
	assert_repeated(KEYS("echo"), "listen",
	    "[\"127.0.0.1:0\",\"[::1]:0\",\"127.0.0.2:0\"]",
	    check_str("[\"%s\",\"%s\"]", at("main.conf", 8),
	    at("main.conf", 9)));
	assert_repeated(KEYS("day"), "listen", "[\"127.0.0.1:0\"]",
	    check_str("[\"%s\"]", at("extra.conf", 4)));
}
END_TEST

START_TEST(test_includes_are_listed_in_the_order_they_are_read)
{
	assert_repeated(GLOBAL(), "include", "[\"extra.conf\",\"more.conf\"]",
	    check_str("[\"%s\",\"%s\"]", at("main.conf", 5),
	    at("extra.conf", 9)));
}
END_TEST

START_TEST(test_module_options_outlive_the_unloaded_module)
{
	json_t	*o = OPTIONS("day");

	ck_assert_int_eq(json_array_size(o), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(o, 0), "key")), "format");
	assert_entry(o, "format", "[\"%a %b %e %H:%M:%S %Y %Z\"]", "default");
	assert_entry(o, "timezone", "[\"local\"]", at("extra.conf", 6));
	ck_assert_int_eq(json_array_size(OPTIONS("echo")), 0);
}
END_TEST

START_TEST(test_a_service_names_its_block_module_and_protocol)
{
	json_t	*s = service("day");

	ck_assert_str_eq(json_string_value(json_object_get(s, "from")),
	    at("extra.conf", 1));
	ck_assert_str_eq(json_string_value(json_object_get(s, "module")),
	    "daytime");
	ck_assert_str_eq(json_string_value(json_object_get(s, "protocol")),
	    "udp");
	ck_assert_str_eq(json_string_value(json_object_get(service("echo"),
	    "protocol")), "tcp");
}
END_TEST

START_TEST(test_every_core_key_appears_in_table_order)
{
	json_t	*g = GLOBAL(), *k = KEYS("echo");
	size_t	 i, ng = 0, nk = 0;

	for (i = 0; i < confkeys_count; i++) {
		if (confkeys[i].ck_scope == CK_GLOBAL)
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_array_get(g, ng++), "key")),
			    confkeys[i].ck_name);
		if (confkeys[i].ck_scope & CK_SERVICE)
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_array_get(k, nk++), "key")),
			    confkeys[i].ck_name);
	}
	ck_assert_uint_eq(json_array_size(g), ng);
	ck_assert_uint_eq(json_array_size(k), nk);
}
END_TEST

START_TEST(test_a_value_that_is_not_utf8_is_still_a_string)
{
	assert_entry(KEYS("day"), "refuse_banner", "[\"caf?\"]",
	    at("extra.conf", 7));
}
END_TEST

static Suite *
confdump_suite(void)
{
	Suite	*s = suite_create("confdump");
	TCase	*tc = tcase_create("dump");

	tcase_add_unchecked_fixture(tc, check_root_setup, check_root_teardown);
	tcase_add_checked_fixture(tc, check_dir_setup, check_dir_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_the_dump_names_the_main_file_and_serializes);
	tcase_add_test(tc, test_a_global_key_set_in_the_main_file_names_its_line);
	tcase_add_test(tc,
	    test_a_global_key_set_two_includes_deep_names_that_file);
	tcase_add_test(tc, test_an_unset_key_has_the_table_default);
	tcase_add_test(tc, test_an_unset_key_without_a_default_is_null);
	tcase_add_test(tc,
	    test_an_included_service_inherits_a_global_limit_from_its_line);
	tcase_add_test(tc,
	    test_a_service_that_sets_an_inherited_key_names_its_own_line);
	tcase_add_test(tc, test_a_key_set_in_an_included_service_names_that_file);
	tcase_add_test(tc, test_a_repeated_listen_has_every_value_and_every_line);
	tcase_add_test(tc, test_includes_are_listed_in_the_order_they_are_read);
	tcase_add_test(tc, test_module_options_outlive_the_unloaded_module);
	tcase_add_test(tc, test_a_service_names_its_block_module_and_protocol);
	tcase_add_test(tc, test_every_core_key_appears_in_table_order);
	tcase_add_test(tc, test_a_value_that_is_not_utf8_is_still_a_string);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(confdump_suite()));
}
