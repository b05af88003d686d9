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
 * Unit tests for config.c: every parser error, word for word and at the
 * right FILE:LINE; quoting, comments and includes; and, through
 * config_check, how a service's options are validated against its
 * module's table.  Config files are written into a fresh directory per
 * test.
 */

#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"
#include "check_run.h"

#define ECHO_PATH	BUNDLED_MODULE_DIR "/echo.so"

static struct config	*cf;

static void
setup(void)
{
	cf = config_new("test.conf", TEST_MODULE_DIR);
}

static void
teardown(void)
{
	config_free(cf);
	check_str_free();
}


/* The names of the table's keys allowed where, as errors list them. */
static const char *
known_keys(unsigned int where)
{
	const char	*list = "";
	size_t		 i;

	for (i = 0; i < confkeys_count; i++) {
		if (confkeys[i].ck_scope & where)
			list = check_str("%s%s%s", list, *list ? ", " : "",
			    confkeys[i].ck_name);
	}
	return (list);
}

/* The absolute name of a file in the test's directory. */
static const char *
tpath(const char *name)
{
	return (check_str("%s/%s", check_tmpdir, name));
}

static void
write_file(const char *name, const char *text)
{
	const char	*path = tpath(name);
	FILE		*f;

	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void
make_dir(const char *name)
{
	ck_assert_int_eq(mkdir(tpath(name), 0700), 0);
}

static int
parse(const char *text)
{
	return (config_parse_buffer(cf, "test.conf", text, strlen(text)));
}

/* Parses, completes and checks text as the daemon does at startup. */
static int
check(const char *text)
{
	parse(text);
	config_finish(cf);
	return (config_check(cf));
}

/* Compares the recorded errors, in order, with a NULL-terminated list. */
static void
assert_errors(const char *const *want)
{
	struct conf_error	*ce;
	int			 n;

	ce = TAILQ_FIRST(&cf->c_errors);
	for (n = 0; want[n] != NULL; n++) {
		ck_assert_msg(ce != NULL, "error %d missing: \"%s\"", n + 1,
		    want[n]);
		ck_assert_str_eq(ce->ce_msg, want[n]);
		ce = TAILQ_NEXT(ce, ce_entry);
	}
	ck_assert_msg(ce == NULL, "unexpected error: \"%s\"",
	    ce != NULL ? ce->ce_msg : "");
	ck_assert_int_eq(cf->c_nerrors, n);
}

#define ASSERT_ERRORS(...) \
	assert_errors((const char *const []){ __VA_ARGS__, NULL })
#define ASSERT_NO_ERRORS() \
	assert_errors((const char *const []){ NULL })

static struct service_conf *
service(const char *name)
{
	struct service_conf	*sc;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (strcmp(sc->sc_name, name) == 0)
			return (sc);
	}
	ck_abort_msg("no service \"%s\"", name);
	return (NULL);
}

static int
count_services(void)
{
	struct service_conf	*sc;
	int			 n = 0;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry)
		n++;
	return (n);
}

static struct conf_item *
raw_option(struct service_conf *sc, const char *key)
{
	struct conf_item	*ci;

	TAILQ_FOREACH(ci, &sc->sc_options, ci_entry) {
		if (strcmp(ci->ci_key, key) == 0)
			return (ci);
	}
	ck_abort_msg("no key \"%s\" in service \"%s\"", key, sc->sc_name);
	return (NULL);
}

static const struct optval *
optval(struct service_conf *sc, const char *name)
{
	size_t	i;

	for (i = 0; i < sc->sc_noptvals; i++) {
		if (strcmp(sc->sc_optvals[i].ov_opt->name, name) == 0)
			return (&sc->sc_optvals[i]);
	}
	ck_abort_msg("no value for option \"%s\"", name);
	return (NULL);
}

/*
 * The parser.
 */

START_TEST(test_parser_reads_a_complete_service)
{
	struct service_conf	*sc;
	struct listen_conf	*lc;

	ck_assert_int_eq(parse(
	    "shutdown_timeout = 2s\n"
	    "service echo {\n"
	    "	listen = 127.0.0.1:7 [::1]:7\n"
	    "	module = echo\n"
	    "	protocol = udp\n"
	    "	max_output = 64k\n"
	    "	max_input = 1m\n"
	    "}\n"), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(cf->c_shutdown_ms, 2000);
	ck_assert_int_eq(count_services(), 1);
	sc = service("echo");
	ck_assert_str_eq(sc->sc_file, "test.conf");
	ck_assert_int_eq(sc->sc_line, 2);
	ck_assert_str_eq(sc->sc_module_name, "echo");
	ck_assert_int_eq(sc->sc_module_line, 4);
	ck_assert_int_eq(sc->sc_protocol, EVI_PROTO_UDP);
	ck_assert_int_eq(sc->sc_max_output, 64 * 1024);
	ck_assert_int_eq(sc->sc_max_input, 1024 * 1024);
	ck_assert(TAILQ_EMPTY(&sc->sc_options));
	lc = TAILQ_FIRST(&sc->sc_listens);
	ck_assert_ptr_nonnull(lc);
	ck_assert_str_eq(lc->lc_text, "127.0.0.1:7");
	ck_assert_int_eq(lc->lc_line, 3);
	ck_assert_int_eq(lc->lc_addr.la_su.sa.sa_family, AF_INET);
	lc = TAILQ_NEXT(lc, lc_entry);
	ck_assert_ptr_nonnull(lc);
	ck_assert_str_eq(lc->lc_text, "[::1]:7");
	ck_assert_int_eq(lc->lc_addr.la_su.sa.sa_family, AF_INET6);
	ck_assert_ptr_null(TAILQ_NEXT(lc, lc_entry));
}
END_TEST

START_TEST(test_service_defaults_to_tcp_and_the_default_limits)
{
	struct service_conf	*sc;

	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	listen = 7\n"
	    "	module = echo\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	sc = service("echo");
	ck_assert_int_eq(sc->sc_protocol, EVI_PROTO_TCP);
	ck_assert_int_eq(sc->sc_max_output, 256 * 1024);
	ck_assert_int_eq(sc->sc_max_input, 64 * 1024);
	ck_assert_int_eq(sc->sc_reflection_guard, 1);
	ck_assert_int_eq(sc->sc_limits.lim_idle_ms, 5 * 60 * 1000);
	ck_assert_int_eq(sc->sc_limits.lim_prefix6, 64);
	ck_assert_int_eq(cf->c_shutdown_ms, 10000);
	ck_assert_int_eq(cf->c_drain_ms, 30000);
	ck_assert_int_eq(cf->c_workers, 1);
	ck_assert_str_eq(cf->c_module_dir, TEST_MODULE_DIR);
}
END_TEST

START_TEST(test_reuseport_sizes_its_socket_group_by_the_workers)
{
	ck_assert_int_eq(parse(
	    "workers = 3\n"
	    "service echo {\n"
	    "	listen = 127.0.0.1:7\n"
	    "	module = echo\n"
	    "	reuseport = yes\n"
	    "}\n"
	    "service alone {\n"
	    "	listen = 127.0.0.1:9\n"
	    "	module = echo\n"
	    "	isolate = yes\n"
	    "	workers = 2\n"
	    "	reuseport = yes\n"
	    "}\n"
	    "service plain {\n"
	    "	listen = 127.0.0.1:13\n"
	    "	module = echo\n"
	    "}\n"), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(service("echo")->sc_reuseport, 1);
	ck_assert_int_eq(config_procs(cf, service("echo")), 3);
	ck_assert_int_eq(service("alone")->sc_reuseport, 1);
	ck_assert_int_eq(config_procs(cf, service("alone")), 2);
	ck_assert_int_eq(service("plain")->sc_reuseport, 0);
	ck_assert_int_eq(config_procs(cf, service("plain")), 3);
}
END_TEST

START_TEST(test_workers_auto_is_resolved_once_to_the_cpus)
{
	ck_assert_int_eq(parse(
	    "workers = auto\n"
	    "service echo {\n"
	    "	listen = 127.0.0.1:7\n"
	    "	module = echo\n"
	    "	reuseport = yes\n"
	    "}\n"), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ck_assert_int_eq(config_procs(cf, service("echo")),
	    sysconf(_SC_NPROCESSORS_ONLN));
}
END_TEST

START_TEST(test_yes_no_service_keys_report_bad_values)
{
	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	listen = 127.0.0.1:7\n"
	    "	module = echo\n"
	    "	reuseport = maybe\n"
	    "	isolate = yes no\n"
	    "	log_connections = 2\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:4: service \"echo\": reuseport: invalid boolean "
	    "\"maybe\" (expected yes or no)",
	    "test.conf:5: service \"echo\": \"isolate\" takes one value, "
	    "not 2",
	    "test.conf:6: service \"echo\": log_connections: invalid boolean "
	    "\"2\" (expected yes or no)");
}
END_TEST

START_TEST(test_unknown_global_key_suggests_the_closest_known_key)
{
	ck_assert_int_eq(parse("\nmodule_dri = /usr/lib/evinetd\n"
	    "max_conections = 5\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:2: unknown global key \"module_dri\"; did you mean "
	    "\"module_dir\"?",
	    "test.conf:3: unknown global key \"max_conections\"; did you "
	    "mean \"max_connections\"?");
}
END_TEST

START_TEST(test_unknown_global_key_far_from_any_names_the_known_keys)
{
	ck_assert_int_eq(parse("frobnicate = yes\n"), -1);
	ASSERT_ERRORS(check_str("test.conf:1: unknown global key "
	    "\"frobnicate\" (known: %s)", known_keys(CK_GLOBAL)));
}
END_TEST

START_TEST(test_service_keys_outside_a_service_are_errors)
{
	ck_assert_int_eq(parse(
	    "listen = 7\n"
	    "module = echo\n"
	    "protocol = tcp\n"
	    "max_output = 1k\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: \"listen\" belongs inside a service block",
	    "test.conf:2: \"module\" belongs inside a service block",
	    "test.conf:3: \"protocol\" belongs inside a service block",
	    "test.conf:4: \"max_output\" belongs inside a service block");
}
END_TEST

START_TEST(test_service_blocks_cannot_nest)
{
	ck_assert_int_eq(parse(
	    "service a {\n"
	    "	module = echo\n"
	    "	service b {\n"
	    "	listen = 7\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:3: service blocks cannot nest (service \"a\" "
	    "is still open)");
	ck_assert_int_eq(count_services(), 1);
	ck_assert(!TAILQ_EMPTY(&service("a")->sc_listens));
}
END_TEST

START_TEST(test_unclosed_service_is_reported_at_its_opening_line)
{
	ck_assert_int_eq(parse(
	    "# a comment\n"
	    "\n"
	    "service echo {\n"
	    "	listen = 7\n"
	    "	module = echo\n"), -1);
	ASSERT_ERRORS("test.conf:3: service \"echo\" is not closed with "
	    "\"}\"");
}
END_TEST

START_TEST(test_closing_brace_without_a_block_is_an_error)
{
	ck_assert_int_eq(parse(
	    "}\n"
	    "service a {\n"
	    "	listen = 7\n"
	    "	module = echo\n"
	    "} a\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: \"}\" without an open service block",
	    "test.conf:5: unexpected text after \"}\"",
	    "test.conf:6: \"}\" without an open service block");
}
END_TEST

START_TEST(test_key_without_equals_is_an_error)
{
	ck_assert_int_eq(parse(
	    "module_dir /usr/lib/evinetd\n"
	    "service a {\n"
	    "	listen 7\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: expected \"module_dir = VALUE\"",
	    "test.conf:3: expected \"listen = VALUE\"");
}
END_TEST

START_TEST(test_key_without_a_value_is_an_error)
{
	ck_assert_int_eq(parse(
	    "module_dir =\n"
	    "service a {\n"
	    "	listen =   # nothing\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: missing value for \"module_dir\"",
	    "test.conf:3: missing value for \"listen\"");
	ck_assert_str_eq(cf->c_module_dir, TEST_MODULE_DIR);
}
END_TEST

START_TEST(test_unterminated_string_is_an_error)
{
	ck_assert_int_eq(parse(
	    "module_dir = \"/usr/lib/evinetd\n"
	    "module_dir = \"/usr/lib/evinetd\\\"\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: unterminated quoted string",
	    "test.conf:2: unterminated quoted string");
	ck_assert_str_eq(cf->c_module_dir, TEST_MODULE_DIR);
}
END_TEST

START_TEST(test_service_name_must_be_a_plain_word)
{
	char	long_name[66];

	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	ck_assert_int_eq(parse(
	    "service a/b {\n"
	    "}\n"
	    "service \"\" {\n"
	    "}\n"
	    "service \"a b\" {\n"
	    "}\n"), -1);
	ck_assert_int_eq(parse(check_str("service %s {\n}\n", long_name)), -1);
	ASSERT_ERRORS(
	    "test.conf:1: invalid service name \"a/b\" (use letters, digits, "
	    "\"-\", \"_\" and \".\", at most 64)",
	    "test.conf:3: invalid service name \"\" (use letters, digits, "
	    "\"-\", \"_\" and \".\", at most 64)",
	    "test.conf:5: invalid service name \"a b\" (use letters, "
	    "digits, \"-\", \"_\" and \".\", at most 64)",
	    check_str("test.conf:1: invalid service name \"%s\" (use letters, "
	    "digits, \"-\", \"_\" and \".\", at most 64)", long_name));
}
END_TEST

START_TEST(test_service_name_may_use_letters_digits_and_punctuation)
{
	char	name[65];

	memset(name, 'x', 64);
	name[64] = '\0';
	ck_assert_int_eq(parse(
	    "service Echo-1_v4.tcp {\n"
	    "}\n"), 0);
	ck_assert_int_eq(parse(check_str("service %s {\n}\n", name)), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 2);
	service("Echo-1_v4.tcp");
	service(name);
}
END_TEST

START_TEST(test_service_line_must_be_service_name_brace)
{
	ck_assert_int_eq(parse(
	    "service echo\n"
	    "service echo udp {\n"
	    "service {\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: expected \"service NAME {\"",
	    "test.conf:2: expected \"service NAME {\"",
	    "test.conf:3: expected \"service NAME {\"");
	ck_assert_int_eq(count_services(), 0);
}
END_TEST

START_TEST(test_duplicate_service_names_the_first_location)
{
	ck_assert_int_eq(config_parse_buffer(cf, "a.conf",
	    "\nservice echo {\n}\n", 17), 0);
	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "}\n"
	    "service other {\n"
	    "}\n"
	    "service echo {\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: duplicate service \"echo\" (first defined at "
	    "a.conf:2)",
	    "test.conf:5: duplicate service \"echo\" (first defined at "
	    "a.conf:2)");
}
END_TEST

START_TEST(test_duplicate_module_key_names_the_first_line)
{
	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	module = echo\n"
	    "	listen = 7\n"
	    "	module = discard\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:4: service \"echo\": \"module\" is already "
	    "set at line 2");
	ck_assert_str_eq(service("echo")->sc_module_name, "echo");
}
END_TEST

START_TEST(test_single_valued_keys_take_one_value)
{
	ck_assert_int_eq(parse(
	    "module_dir = /a /b\n"
	    "service echo {\n"
	    "	module = echo discard\n"
	    "	protocol = tcp udp\n"
	    "	max_output = 1k 2k\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: \"module_dir\" takes one value, not 2",
	    "test.conf:3: service \"echo\": \"module\" takes one value, not 2",
	    "test.conf:4: service \"echo\": \"protocol\" takes one value, "
	    "not 2",
	    "test.conf:5: service \"echo\": \"max_output\" takes one value, "
	    "not 2");
}
END_TEST

START_TEST(test_protocol_must_be_tcp_or_udp)
{
	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	protocol = sctp\n"
	    "	protocol = TCP\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:2: service \"echo\": invalid protocol \"sctp\" "
	    "(expected tcp or udp)",
	    "test.conf:3: service \"echo\": invalid protocol \"TCP\" "
	    "(expected tcp or udp)");
}
END_TEST

START_TEST(test_max_output_must_be_a_size_in_range)
{
	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	max_output = 10q\n"
	    "	max_output = 512\n"
	    "	max_input = 2g\n"
	    "	max_input = -1k\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:2: service \"echo\": max_output: invalid size \"10q\" "
	    "(expected a number with an optional k, m or g)",
	    "test.conf:3: service \"echo\": max_output: \"512\" out of range "
	    "(1024 to 1073741824)",
	    "test.conf:4: service \"echo\": max_input: \"2g\" out of range "
	    "(1024 to 1073741824)",
	    "test.conf:5: service \"echo\": max_input: invalid size \"-1k\" "
	    "(expected a number with an optional k, m or g)");
}
END_TEST

START_TEST(test_bad_listen_address_is_dropped_and_named)
{
	struct service_conf	*sc;
	struct listen_conf	*lc;

	ck_assert_int_eq(parse(
	    "service echo {\n"
	    "	module = echo\n"
	    "	listen = 127.0.0.1:7 localhost:7 8\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:3: service \"echo\": listen: invalid address "
	    "\"localhost\" (expected an IPv4 address, [IPv6] or *; host "
	    "names are not resolved)");
	sc = service("echo");
	lc = TAILQ_FIRST(&sc->sc_listens);
	ck_assert_str_eq(lc->lc_text, "127.0.0.1:7");
	lc = TAILQ_NEXT(lc, lc_entry);
	ck_assert_str_eq(lc->lc_text, "8");
	ck_assert_int_eq(lc->lc_addr.la_any, 1);
	ck_assert_ptr_null(TAILQ_NEXT(lc, lc_entry));
}
END_TEST

START_TEST(test_finish_requires_module_and_listen)
{
	ck_assert_int_eq(parse(
	    "service a {\n"
	    "}\n"
	    "service b {\n"
	    "	module = echo\n"
	    "	listen = localhost:7\n"
	    "}\n"), -1);
	ck_assert_int_eq(config_finish(cf), -1);
	ASSERT_ERRORS(
	    "test.conf:5: service \"b\": listen: invalid address "
	    "\"localhost\" (expected an IPv4 address, [IPv6] or *; host "
	    "names are not resolved)",
	    "test.conf:1: service \"a\": missing \"module = NAME\"",
	    "test.conf:1: service \"a\": missing \"listen = ADDRESS\"");
}
END_TEST

START_TEST(test_finish_requires_a_service)
{
	ck_assert_int_eq(parse("# nothing but a comment\n\n"), 0);
	ck_assert_int_eq(config_finish(cf), -1);
	ASSERT_ERRORS("test.conf: no services defined");
}
END_TEST

START_TEST(test_nul_byte_is_an_error_at_its_line)
{
	static const char	text[] =
	    "service echo {\n"
	    "	listen = 7\n"
	    "	module = ec\0ho\n"
	    "}\n";

	ck_assert_int_eq(config_parse_buffer(cf, "test.conf", text,
	    sizeof(text) - 1), -1);
	ASSERT_ERRORS("test.conf:3: unexpected NUL byte");
	ck_assert_ptr_null(service("echo")->sc_module_name);
}
END_TEST

START_TEST(test_control_character_is_an_error)
{
	ck_assert_int_eq(parse(
	    "\001module_dir = /a\n"
	    "module_dir = /b\001c\n"
	    "module_dir = /d\033[1m\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: unexpected control character 0x01",
	    "test.conf:2: unexpected control character 0x01",
	    "test.conf:3: unexpected control character 0x1b");
	ck_assert_str_eq(cf->c_module_dir, TEST_MODULE_DIR);
}
END_TEST

START_TEST(test_quoted_strings_keep_spaces_and_decode_escapes)
{
	struct service_conf	*sc;
	struct conf_item	*ci;

	ck_assert_int_eq(parse(
	    "module_dir = \"/opt/my modules\"\n"
	    "service \"quoted.name\" {\n"
	    "	module = \"echo\"\n"
	    "	listen = \"127.0.0.1:7\" 8\n"
	    "	greeting = \"hello, world\\t\\\"quoted\\\" \\\\ a\\nb\\q\"\n"
	    "	empty = \"\"\n"
	    "	words = one \"two three\" four\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	ck_assert_str_eq(cf->c_module_dir, "/opt/my modules");
	sc = service("quoted.name");
	ck_assert_str_eq(sc->sc_module_name, "echo");
	ck_assert_str_eq(TAILQ_FIRST(&sc->sc_listens)->lc_text, "127.0.0.1:7");

	ci = raw_option(sc, "greeting");
	ck_assert_int_eq(ci->ci_argc, 1);
	ck_assert_str_eq(ci->ci_argv[0],
	    "hello, world\t\"quoted\" \\ a\nbq");
	ck_assert_str_eq(ci->ci_file, "test.conf");
	ck_assert_int_eq(ci->ci_line, 5);

	ci = raw_option(sc, "empty");
	ck_assert_int_eq(ci->ci_argc, 1);
	ck_assert_str_eq(ci->ci_argv[0], "");

	ci = raw_option(sc, "words");
	ck_assert_int_eq(ci->ci_argc, 3);
	ck_assert_str_eq(ci->ci_argv[0], "one");
	ck_assert_str_eq(ci->ci_argv[1], "two three");
	ck_assert_str_eq(ci->ci_argv[2], "four");
	ck_assert_ptr_null(ci->ci_argv[3]);
}
END_TEST

START_TEST(test_comments_end_a_line_but_not_a_quoted_string)
{
	struct service_conf	*sc;
	struct conf_item	*ci;

	ck_assert_int_eq(parse(
	    "# service commented {\n"
	    "   # an indented comment\n"
	    "service echo {		# RFC 862\n"
	    "	module = echo# no space needed\n"
	    "	listen = 7 # 8\n"
	    "	motd = \"a # is not a comment\" # but this is\n"
	    "	mark = \"#\"\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 1);
	sc = service("echo");
	ck_assert_str_eq(sc->sc_module_name, "echo");
	ck_assert_str_eq(TAILQ_FIRST(&sc->sc_listens)->lc_text, "7");
	ck_assert_ptr_null(TAILQ_NEXT(TAILQ_FIRST(&sc->sc_listens), lc_entry));
	ci = raw_option(sc, "motd");
	ck_assert_int_eq(ci->ci_argc, 1);
	ck_assert_str_eq(ci->ci_argv[0], "a # is not a comment");
	ci = raw_option(sc, "mark");
	ck_assert_int_eq(ci->ci_argc, 1);
	ck_assert_str_eq(ci->ci_argv[0], "#");
}
END_TEST

START_TEST(test_crlf_line_ends_are_accepted)
{
	ck_assert_int_eq(parse(
	    "service echo {\r\n"
	    "	module = echo\r\n"
	    "	listen = 7\r\n"
	    "}\r\n"), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ASSERT_NO_ERRORS();
	ck_assert_str_eq(service("echo")->sc_module_name, "echo");
}
END_TEST

START_TEST(test_every_error_in_a_file_is_reported)
{
	ck_assert_int_eq(parse(
	    "bogus = 1\n"				/* 1 */
	    "service a {\n"				/* 2 */
	    "	protocol = sctp\n"			/* 3 */
	    "	max_output = 10q\n"			/* 4 */
	    "	listen = localhost:7\n"			/* 5 */
	    "}\n"					/* 6 */
	    "}\n"					/* 7 */
	    "service b/c {\n"				/* 8 */
	    "	module = echo\n"			/* 9 */
	    "	listen = 7\n"				/* 10 */
	    "}\n"					/* 11 */
	    "shutdown_timeout = soon\n"), -1);		/* 12 */
	ck_assert_int_eq(config_finish(cf), -1);
	ck_assert_int_eq(cf->c_nerrors, 8);
	ASSERT_ERRORS(
	    check_str("test.conf:1: unknown global key \"bogus\" (known: %s)",
	    known_keys(CK_GLOBAL)),
	    "test.conf:3: service \"a\": invalid protocol \"sctp\" "
	    "(expected tcp or udp)",
	    "test.conf:4: service \"a\": max_output: invalid size \"10q\" "
	    "(expected a number with an optional k, m or g)",
	    "test.conf:5: service \"a\": listen: invalid address "
	    "\"localhost\" (expected an IPv4 address, [IPv6] or *; host "
	    "names are not resolved)",
	    "test.conf:7: \"}\" without an open service block",
	    "test.conf:8: invalid service name \"b/c\" (use letters, digits, "
	    "\"-\", \"_\" and \".\", at most 64)",
	    "test.conf:12: shutdown_timeout: invalid duration \"soon\" "
	    "(expected a number with ms, s, m or h)",
	    "test.conf:2: service \"a\": missing \"module = NAME\"");
}
END_TEST

START_TEST(test_errors_past_the_limit_are_counted_not_kept)
{
	struct conf_error	*ce, *last = NULL;
	char			*text;
	size_t			 len;
	int			 i, n = 0;

	len = 150 * strlen("bogus = 1\n");
	text = xmalloc(len + 1);
	for (i = 0; i < 150; i++)
		memcpy(text + i * strlen("bogus = 1\n"), "bogus = 1\n",
		    strlen("bogus = 1\n"));
	text[len] = '\0';
	ck_assert_int_eq(parse(text), -1);
	free(text);
	ck_assert_int_eq(cf->c_nerrors, 150);
	TAILQ_FOREACH(ce, &cf->c_errors, ce_entry) {
		last = ce;
		n++;
	}
	ck_assert_int_eq(n, 100);
	ck_assert_str_eq(last->ce_msg, check_str("test.conf:100: unknown "
	    "global key \"bogus\" (known: %s)", known_keys(CK_GLOBAL)));
}
END_TEST

START_TEST(test_braces_and_equals_in_values_must_be_quoted)
{
	ck_assert_int_eq(parse(
	    "module_dir = /opt/{a}\n"
	    "service echo {\n"
	    "	listen = 7 = 8\n"
	    "	greeting = \"{ok} = fine\"\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: unexpected \"{\" in the value of \"module_dir\" "
	    "(quote it if it is meant)",
	    "test.conf:3: unexpected \"=\" in the value of \"listen\" "
	    "(quote it if it is meant)");
	ck_assert_str_eq(raw_option(service("echo"), "greeting")->ci_argv[0],
	    "{ok} = fine");
}
END_TEST

START_TEST(test_line_must_start_with_a_key)
{
	ck_assert_int_eq(parse(
	    "\"module_dir\" = /a\n"
	    "= /a\n"
	    "{\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: expected a key, found \"module_dir\"",
	    "test.conf:2: expected a key, found \"=\"",
	    "test.conf:3: expected a key, found \"{\"");
}
END_TEST

START_TEST(test_global_values_are_checked)
{
	ck_assert_int_eq(parse(
	    "module_dir = lib/evinetd\n"
	    "shutdown_timeout = 25h\n"
	    "shutdown_timeout = 1500ms\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:1: module_dir \"lib/evinetd\" must be an absolute path",
	    "test.conf:2: shutdown_timeout: \"25h\" out of range "
	    "(0 to 86400000)");
	ck_assert_str_eq(cf->c_module_dir, TEST_MODULE_DIR);
	ck_assert_int_eq(cf->c_shutdown_ms, 1500);
}
END_TEST

START_TEST(test_too_many_values_on_a_line_is_an_error)
{
	char	*text, *p;
	int	 i;

	/* "listen =" and 300 values: more tokens than the parser keeps. */
	text = xmalloc(32 + 300 * 2);
	p = text + sprintf(text, "service a {\nlisten =");
	for (i = 0; i < 300; i++)
		p += sprintf(p, " 7");
	strcpy(p, "\n}\n");
	ck_assert_int_eq(parse(text), -1);
	free(text);
	ASSERT_ERRORS("test.conf:2: too many values on one line (at most 256)");
	ck_assert(TAILQ_EMPTY(&service("a")->sc_listens));
}
END_TEST

/*
 * Files and includes.
 */

START_TEST(test_load_reads_a_file_and_loads_its_module)
{
	struct service_conf	*sc;
	struct module		*m;

	write_file("main.conf",
	    "service echo {\n"
	    "	module = echo\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n");
	config_free(cf);
	cf = config_load(tpath("main.conf"), BUNDLED_MODULE_DIR, 0);
	ASSERT_NO_ERRORS();
	ck_assert_str_eq(cf->c_path, tpath("main.conf"));
	sc = service("echo");
	ck_assert_str_eq(sc->sc_file, tpath("main.conf"));
	m = TAILQ_FIRST(&cf->c_modules);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_eq(sc->sc_module, m);
	ck_assert_str_eq(m->m_path, ECHO_PATH);
	ck_assert_str_eq(m->m_def->name, "echo");
	ck_assert_ptr_null(TAILQ_NEXT(m, m_entry));
}
END_TEST

START_TEST(test_load_reports_a_missing_file)
{
	config_free(cf);
	cf = config_load(tpath("none.conf"), BUNDLED_MODULE_DIR, 0);
	ASSERT_ERRORS(check_str("%s: No such file or directory",
	    tpath("none.conf")));
	ck_assert_int_eq(count_services(), 0);
}
END_TEST

START_TEST(test_load_reports_a_directory)
{
	config_free(cf);
	cf = config_load(check_tmpdir, BUNDLED_MODULE_DIR, 0);
	ASSERT_ERRORS(check_str("%s: not a regular file", check_tmpdir));
}
END_TEST

START_TEST(test_module_dir_in_the_file_is_used)
{
	write_file("main.conf",
	    "module_dir = /nonexistent/modules\n"
	    "service echo {\n"
	    "	module = echo\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n");
	config_free(cf);
	cf = config_load(tpath("main.conf"), BUNDLED_MODULE_DIR, 0);
	ck_assert_str_eq(cf->c_module_dir, "/nonexistent/modules");
	ASSERT_ERRORS(check_str("%s:3: service \"echo\": module "
	    "/nonexistent/modules/echo.so: No such file or directory",
	    tpath("main.conf")));
}
END_TEST

START_TEST(test_forced_module_dir_overrides_the_file)
{
	write_file("main.conf",
	    "module_dir = /nonexistent/modules\n"
	    "service echo {\n"
	    "	module = echo\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n");
	config_free(cf);
	cf = config_load(tpath("main.conf"), BUNDLED_MODULE_DIR, 1);
	ASSERT_NO_ERRORS();
	ck_assert_str_eq(cf->c_module_dir, BUNDLED_MODULE_DIR);
	ck_assert_str_eq(service("echo")->sc_module->m_path, ECHO_PATH);
}
END_TEST

START_TEST(test_include_glob_reads_only_conf_files_in_order)
{
	struct service_conf	*sc;

	write_file("main.conf", "include = conf.d/*\n");
	make_dir("conf.d");
	write_file("conf.d/b.conf",
	    "service b {\n\tmodule = echo\n\tlisten = 8\n}\n");
	write_file("conf.d/a.conf",
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	write_file("conf.d/.hidden.conf", "bogus = 1\n");
	write_file("conf.d/c.conf~", "bogus = 1\n");
	write_file("conf.d/c.conf.orig", "bogus = 1\n");
	write_file("conf.d/README", "bogus = 1\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 2);
	sc = TAILQ_FIRST(&cf->c_services);
	ck_assert_str_eq(sc->sc_name, "a");
	ck_assert_str_eq(sc->sc_file, tpath("conf.d/a.conf"));
	ck_assert_int_eq(sc->sc_line, 1);
	ck_assert_str_eq(TAILQ_NEXT(sc, sc_entry)->sc_name, "b");
}
END_TEST

START_TEST(test_include_of_dotfiles_by_pattern_skips_them)
{
	write_file("main.conf",
	    "include = conf.d/.*\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	make_dir("conf.d");
	write_file("conf.d/.hidden.conf", "bogus = 1\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), 0);
	ASSERT_NO_ERRORS();
}
END_TEST

START_TEST(test_include_of_a_missing_file_is_an_error)
{
	write_file("main.conf",
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n"
	    "include = missing.conf\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), -1);
	ASSERT_ERRORS(
	    check_str("%s:5: include \"%s\": No such file or directory",
	    tpath("main.conf"), tpath("missing.conf")));
}
END_TEST

START_TEST(test_include_glob_matching_nothing_is_fine)
{
	write_file("main.conf",
	    "include = conf.d/*.conf\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	make_dir("conf.d");
	write_file("conf.d/notes.txt", "bogus = 1\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), 0);
	ASSERT_NO_ERRORS();
}
END_TEST

START_TEST(test_include_glob_in_a_missing_directory_names_it)
{
	write_file("main.conf",
	    "include = conf.d/*.conf\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), -1);
	ASSERT_ERRORS(check_str("%s:1: include \"%s\": cannot read directory "
	    "\"%s\": No such file or directory", tpath("main.conf"),
	    tpath("conf.d/*.conf"), tpath("conf.d")));
}
END_TEST

START_TEST(test_include_of_a_file_not_ending_in_conf_is_an_error)
{
	write_file("main.conf",
	    "include = extra.txt\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	write_file("extra.txt", "bogus = 1\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), -1);
	ASSERT_ERRORS(
	    check_str("%s:1: include \"%s\": only files ending in .conf "
	    "are read", tpath("main.conf"), tpath("extra.txt")));
}
END_TEST

START_TEST(test_a_file_including_itself_is_read_once)
{
	write_file("main.conf",
	    "include = main.conf\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n"
	    "include = *.conf\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 1);
	ck_assert_int_eq(cf->c_depth, 0);
}
END_TEST

START_TEST(test_files_including_each_other_are_each_read_once)
{
	write_file("a.conf", "include = b.conf\n"
	    "service a {\n\tmodule = echo\n\tlisten = 7\n}\n");
	write_file("b.conf", "\ninclude = a.conf\n"
	    "service b {\n\tmodule = echo\n\tlisten = 8\n}\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("a.conf")), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 2);
	ck_assert_str_eq(TAILQ_FIRST(&cf->c_services)->sc_name, "b");
	ck_assert_int_eq(cf->c_depth, 0);
}
END_TEST

START_TEST(test_a_chain_of_includes_deeper_than_the_limit_ends)
{
	char	name[32], text[64];
	int	i;

	for (i = 0; i <= CONF_INCLUDE_DEPTH + 1; i++) {
		snprintf(name, sizeof(name), "f%d.conf", i);
		snprintf(text, sizeof(text), "include = f%d.conf\n", i + 1);
		write_file(name, text);
	}
	ck_assert_int_eq(config_parse_file(cf, tpath("f0.conf")), -1);
	ck_assert_str_eq(TAILQ_FIRST(&cf->c_errors)->ce_msg, check_str("%s:1: "
	    "include \"%s\": nested too deep (more than 8 levels)",
	    tpath("f8.conf"), tpath("f9.conf")));
	/* Then each level says where it was included from. */
	ck_assert_int_eq(cf->c_nerrors, 1 + CONF_INCLUDE_DEPTH);
	ck_assert_int_eq(cf->c_depth, 0);
}
END_TEST

START_TEST(test_relative_include_is_resolved_against_the_including_file)
{
	struct service_conf	*sc;

	write_file("main.conf", "include = sub/one.conf\n");
	make_dir("sub");
	write_file("sub/one.conf",
	    "include = two.conf\n"
	    "service one {\n\tmodule = echo\n\tlisten = 7\n}\n");
	write_file("sub/two.conf",
	    "service two {\n\tmodule = echo\n\tlisten = 8\n}\n");
	/* The same name next to main.conf must not be the one read. */
	write_file("two.conf",
	    "service decoy {\n\tmodule = echo\n\tlisten = 9\n}\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), 0);
	ASSERT_NO_ERRORS();
	ck_assert_int_eq(count_services(), 2);
	sc = TAILQ_FIRST(&cf->c_services);
	ck_assert_str_eq(sc->sc_name, "two");
	ck_assert_str_eq(sc->sc_file, tpath("sub/two.conf"));
	sc = TAILQ_NEXT(sc, sc_entry);
	ck_assert_str_eq(sc->sc_name, "one");
	ck_assert_str_eq(sc->sc_file, tpath("sub/one.conf"));
	ck_assert_int_eq(sc->sc_line, 2);
}
END_TEST

START_TEST(test_errors_in_an_included_file_name_that_file)
{
	write_file("main.conf",
	    "service m {\n\tmodule = echo\n\tlisten = 7\n}\n"
	    "include = bad.conf\n"
	    "include = conf.d/*.conf\n");
	write_file("bad.conf", "\nbogus = 1\n");
	make_dir("conf.d");
	write_file("conf.d/worse.conf", "service w {\n");
	ck_assert_int_eq(config_parse_file(cf, tpath("main.conf")), -1);
	ASSERT_ERRORS(
	    check_str("%s:2: unknown global key \"bogus\" (known: %s)",
	    tpath("bad.conf"), known_keys(CK_GLOBAL)),
	    check_str("%s:5: included from here", tpath("main.conf")),
	    check_str("%s:1: service \"w\" is not closed with \"}\"",
	    tpath("conf.d/worse.conf")));
}
END_TEST

/*
 * Module options, through config_check.
 */

START_TEST(test_unknown_service_key_names_core_keys_and_module)
{
	ck_assert_int_eq(check(
	    "service e {\n"
	    "	module = " ECHO_PATH "\n"
	    "	listen = 127.0.0.1:0\n"
	    "	greeting = hello\n"
	    "}\n"), -1);
	ASSERT_ERRORS(check_str("test.conf:4: service \"e\": unknown key "
	    "\"greeting\" (not a core key: %s; and module \"echo\" has no "
	    "such option)", known_keys(CK_SERVICE)));
}
END_TEST

START_TEST(test_option_defaults_are_applied)
{
	struct service_conf	*sc;
	const struct optval	*ov;

	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	sc = service("o");
	ck_assert_str_eq(sc->sc_module->m_def->name, "options");
	ck_assert_int_eq(sc->sc_noptvals, 7);
	ov = optval(sc, "greeting");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_str_eq(ov->ov_str, "hello");
	ov = optval(sc, "count");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_str_eq(ov->ov_str, "10");
	ck_assert_int_eq(ov->ov_num, 10);
	ov = optval(sc, "verbose");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_int_eq(ov->ov_num, 0);
	ov = optval(sc, "timeout");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_int_eq(ov->ov_num, 30000);
	ov = optval(sc, "buffer");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_int_eq(ov->ov_num, 64 * 1024);
	ov = optval(sc, "mode");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_str_eq(ov->ov_str, "fast");
	ov = optval(sc, "secret");
	ck_assert_int_eq(ov->ov_set, 1);
	ck_assert_str_eq(ov->ov_str, "s3cret");
}
END_TEST

START_TEST(test_options_set_in_the_service_replace_defaults)
{
	struct service_conf	*sc;

	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	greeting = \"good day\"\n"
	    "	count = 100\n"
	    "	verbose = yes\n"
	    "	timeout = 250ms\n"
	    "	buffer = 1m\n"
	    "	mode = careful\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	sc = service("o");
	ck_assert_str_eq(optval(sc, "greeting")->ov_str, "good day");
	ck_assert_int_eq(optval(sc, "count")->ov_num, 100);
	ck_assert_int_eq(optval(sc, "verbose")->ov_num, 1);
	ck_assert_int_eq(optval(sc, "timeout")->ov_num, 250);
	ck_assert_int_eq(optval(sc, "buffer")->ov_num, 1024 * 1024);
	ck_assert_str_eq(optval(sc, "mode")->ov_str, "careful");
}
END_TEST

START_TEST(test_option_of_the_wrong_type_is_an_error)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	count = many\n"
	    "	verbose = maybe\n"
	    "	timeout = 5d\n"
	    "	buffer = 10q\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:5: service \"o\": option \"count\": invalid number "
	    "\"many\"",
	    "test.conf:6: service \"o\": option \"verbose\": invalid boolean "
	    "\"maybe\" (expected yes or no)",
	    "test.conf:7: service \"o\": option \"timeout\": invalid duration "
	    "\"5d\" (expected a number with ms, s, m or h)",
	    "test.conf:8: service \"o\": option \"buffer\": invalid size "
	    "\"10q\" (expected a number with an optional k, m or g)");
}
END_TEST

START_TEST(test_option_out_of_range_is_an_error)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	count = 0\n"
	    "	timeout = 50ms\n"
	    "	buffer = 2m\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:5: service \"o\": option \"count\": \"0\" out of range "
	    "(1 to 100)",
	    "test.conf:6: service \"o\": option \"timeout\": \"50ms\" out of "
	    "range (100 to 3600000)",
	    "test.conf:7: service \"o\": option \"buffer\": \"2m\" out of "
	    "range (1024 to 1048576)");
}
END_TEST

START_TEST(test_enum_option_must_be_one_of_its_choices)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	mode = quick\n"
	    "}\n"
	    "service p {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	mode = fas\n"
	    "}\n"
	    "service q {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	mode = \"\"\n"
	    "}\n"
	    "service r {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	mode = \"fast slow\"\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:5: service \"o\": option \"mode\": invalid value "
	    "\"quick\" (expected one of: fast slow careful)",
	    "test.conf:11: service \"p\": option \"mode\": invalid value "
	    "\"fas\" (expected one of: fast slow careful)",
	    "test.conf:17: service \"q\": option \"mode\": invalid value "
	    "\"\" (expected one of: fast slow careful)",
	    "test.conf:23: service \"r\": option \"mode\": invalid value "
	    "\"fast slow\" (expected one of: fast slow careful)");
}
END_TEST

START_TEST(test_duplicate_option_names_the_first_line)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	count = 5\n"
	    "	count = 6\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:6: service \"o\": duplicate option \"count\" "
	    "(first set at line 5)");
}
END_TEST

START_TEST(test_missing_required_option_is_an_error)
{
	ck_assert_int_eq(check(
	    "\n"
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:2: service \"o\": module \"options\" needs "
	    "option \"secret\" (shared secret)");
}
END_TEST

START_TEST(test_option_takes_one_value)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "	greeting = good day\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:5: service \"o\": option \"greeting\" takes "
	    "one string value, not 2 (quote a value with spaces)");
}
END_TEST

START_TEST(test_module_that_does_not_serve_the_protocol_is_refused)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	protocol = udp\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = s3cret\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:3: service \"o\": module \"options\" does not "
	    "serve udp");
}
END_TEST

START_TEST(test_missing_module_names_the_path_tried)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	listen = 127.0.0.1:0\n"
	    "	module = nosuch\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:3: service \"o\": module " TEST_MODULE_DIR
	    "/nosuch.so: No such file or directory");
}
END_TEST

START_TEST(test_module_name_with_a_slash_is_refused)
{
	ck_assert_int_eq(check(
	    "service o {\n"
	    "	listen = 127.0.0.1:0\n"
	    "	module = ../options\n"
	    "}\n"), -1);
	ASSERT_ERRORS("test.conf:3: service \"o\": module: invalid module name "
	    "\"../options\" (use a name found in module_dir, or an absolute "
	    "path to a .so)");
}
END_TEST

START_TEST(test_services_share_one_loaded_module)
{
	ck_assert_int_eq(check(
	    "service a {\n"
	    "	module = options\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = a\n"
	    "}\n"
	    "service b {\n"
	    "	module = options.so\n"
	    "	listen = 127.0.0.1:0\n"
	    "	secret = b\n"
	    "}\n"), 0);
	ASSERT_NO_ERRORS();
	ck_assert_ptr_nonnull(TAILQ_FIRST(&cf->c_modules));
	ck_assert_ptr_null(TAILQ_NEXT(TAILQ_FIRST(&cf->c_modules), m_entry));
	ck_assert_ptr_eq(service("a")->sc_module, service("b")->sc_module);
	ck_assert_str_eq(optval(service("a"), "secret")->ov_str, "a");
	ck_assert_str_eq(optval(service("b"), "secret")->ov_str, "b");
}
END_TEST

/*
 * The table of core keys.
 */

/* Parses text into a fresh config, so one test can try every key. */
static void
reparse(const char *text)
{
	config_free(cf);
	cf = config_new("test.conf", TEST_MODULE_DIR);
	parse(text);
}

START_TEST(test_table_names_a_key_once_per_scope_and_can_store_it)
{
	const struct confkey	*ck;
	size_t			 i;

	for (i = 0; i < confkeys_count; i++) {
		ck = &confkeys[i];
		ck_assert_msg(confkey_find(ck->ck_name, ck->ck_scope &
		    CK_GLOBAL) == (ck->ck_scope & CK_GLOBAL ? ck : NULL) &&
		    confkey_find(ck->ck_name, ck->ck_scope & CK_SERVICE) ==
		    (ck->ck_scope & CK_SERVICE ? ck : NULL),
		    "key \"%s\" has two rows in one scope", ck->ck_name);
		ck_assert_msg(ck->ck_set != NULL || ck->ck_type ==
		    EVI_OPT_INT || ck->ck_type == EVI_OPT_DURATION ||
		    ck->ck_type == EVI_OPT_SIZE || ck->ck_type ==
		    EVI_OPT_BOOL || ck->ck_type == EVI_OPT_STRING ||
		    ck->ck_type == EVI_OPT_PATH,
		    "key \"%s\" needs a setter for its type", ck->ck_name);
		ck_assert_msg(ck->ck_example != NULL && ck->ck_help != NULL,
		    "key \"%s\" has no example or no help", ck->ck_name);
	}
	/* The defaults of the table parse, globally and in a service. */
	reparse("service s {\n}\n");
	ASSERT_NO_ERRORS();
}
END_TEST

START_TEST(test_every_key_given_twice_names_the_first_line)
{
	const struct confkey	*ck;
	const char		*line;
	size_t			 i;

	for (i = 0; i < confkeys_count; i++) {
		ck = &confkeys[i];
		if (ck->ck_flags & CK_REPEAT)
			continue;
		check_str_free();
		line = check_str("%s = %s\n", ck->ck_name, ck->ck_example);
		if (ck->ck_scope & CK_GLOBAL) {
			reparse(check_str("\n%s%s", line, line));
			ASSERT_ERRORS(check_str("test.conf:3: \"%s\" is "
			    "already set at line 2", ck->ck_name));
		}
		if (ck->ck_scope & CK_SERVICE) {
			reparse(check_str("service s {\n%s%s}\n", line, line));
			ASSERT_ERRORS(check_str("test.conf:3: service \"s\": "
			    "\"%s\" is already set at line 2", ck->ck_name));
		}
	}
}
END_TEST

START_TEST(test_a_key_set_again_in_another_file_names_that_file)
{
	ck_assert_int_eq(config_parse_buffer(cf, "a.conf",
	    "\nuser = daemon\n", 15), 0);
	ck_assert_int_eq(parse("user = nobody\n"), -1);
	ASSERT_ERRORS("test.conf:1: \"user\" is already set at a.conf:2");
	ck_assert_str_eq(cf->c_user, "daemon");
	ck_assert_str_eq(cf->c_user_file, "a.conf");
}
END_TEST

START_TEST(test_listen_given_again_adds_addresses)
{
	ck_assert_int_eq(parse(
	    "service s {\n"
	    "	listen = 7\n"
	    "	listen = 8 9\n"
	    "}\n"), 0);
	ck_assert_int_eq(TAILQ_NEXT(TAILQ_NEXT(TAILQ_FIRST(
	    &service("s")->sc_listens), lc_entry), lc_entry)->lc_line, 3);
}
END_TEST

/* A second value of each inheritable key, other than its example. */
static const char *const other_values[][2] = {
	{ "only_from", "192.0.2.1" },
	{ "no_access", "10.0.0.0/8" },
	{ "per_source", "3" },
	{ "per_source_ipv6_prefix", "48" },
	{ "rate", "1/s" },
	{ "per_source_rate", "7/s 9" },
	{ "idle_timeout", "2s" },
	{ "session_timeout", "9m" },
	{ "refuse_banner", "\"go away\"" },
	{ "udp_reply_budget", "2k" },
	{ "proxy_protocol", "v1" },
	{ "proxy_from", "192.0.2.7" },
	{ "proxy_timeout", "9s" },
};

static const char *
other_value(const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(other_values) / sizeof(other_values[0]); i++) {
		if (strcmp(other_values[i][0], key) == 0)
			return (other_values[i][1]);
	}
	ck_abort_msg("no second value for the inheritable key \"%s\": add "
	    "one to other_values[]", key);
	return (NULL);
}

/* Do two services hold the same value of an inheritable key? */
static int
same_limit(const struct confkey *ck, const char *a, const char *b)
{
	const struct acl	*x = (const void *)(a + ck->ck_offset);
	const struct acl	*y = (const void *)(b + ck->ck_offset);

	a += ck->ck_offset;
	b += ck->ck_offset;
	if (ck->ck_set == NULL && ck->ck_type != EVI_OPT_STRING)
		return (*(const long long *)a == *(const long long *)b);
	if (ck->ck_offset == offsetof(struct limits_conf, lim_proxy))
		return (*(const long long *)a == *(const long long *)b);
	if (ck->ck_offset == offsetof(struct limits_conf, lim_only) ||
	    ck->ck_offset == offsetof(struct limits_conf, lim_deny) ||
	    ck->ck_offset == offsetof(struct limits_conf, lim_proxy_from))
		return (x->acl_count == y->acl_count && memcmp(
		    x->acl_entries, y->acl_entries, x->acl_count *
		    sizeof(*x->acl_entries)) == 0);
	if (ck->ck_offset == offsetof(struct limits_conf, lim_rate) ||
	    ck->ck_offset == offsetof(struct limits_conf, lim_src_rate))
		return (memcmp(a, b, sizeof(struct rate_conf)) == 0);
	if (ck->ck_type == EVI_OPT_STRING)
		return (*(char *const *)a != NULL && *(char *const *)b !=
		    NULL && strcmp(*(char *const *)a, *(char *const *)b) == 0);
	ck_abort_msg("no comparison for the key \"%s\"", ck->ck_name);
	return (0);
}

START_TEST(test_services_inherit_each_global_default_they_do_not_set)
{
	const struct confkey	*ck;
	const char		*svc = "	listen = 7\n	module = echo\n";
	size_t			 i;
	const char		*a, *own, *ref;

	for (i = 0; i < confkeys_count; i++) {
		ck = &confkeys[i];
		/*
		 * TLS keys need certificates, which need files: test_tls.py
		 * (test_global_keys_are_defaults_for_every_service) has them.
		 */
		if (ck->ck_scope != CK_INHERIT ||
		    strncmp(ck->ck_name, "tls_", 4) == 0)
			continue;
		check_str_free();
		/* proxy_protocol needs a proxy_from, which has no default. */
		reparse(check_str("%s%s = %s\n"
		    "service a {\n%s}\n"
		    "service own {\n%s%s = %s\n}\n"
		    "service ref {\n%s%s = %s\n}\n"
		    "service other {\n%s%s = %s\n}\n",
		    strcmp(ck->ck_name, "proxy_from") == 0 ? "" :
		    "proxy_from = 192.0.2.9\n",
		    ck->ck_name, ck->ck_example, svc,
		    svc, ck->ck_name, other_value(ck->ck_name),
		    svc, ck->ck_name, ck->ck_example,
		    svc, ck->ck_name, other_value(ck->ck_name)));
		ck_assert_int_eq(config_finish(cf), 0);
		ASSERT_NO_ERRORS();
		a = (const char *)&service("a")->sc_limits;
		own = (const char *)&service("own")->sc_limits;
		ref = (const char *)&service("ref")->sc_limits;
		ck_assert_msg(same_limit(ck, a, ref),
		    "service a did not inherit \"%s\"", ck->ck_name);
		ck_assert_msg(!same_limit(ck, own, ref) && same_limit(ck, own,
		    (const char *)&service("other")->sc_limits),
		    "service own lost its own \"%s\"", ck->ck_name);
	}
}
END_TEST

START_TEST(test_inheriting_a_default_does_not_count_as_setting_it)
{
	ck_assert_int_eq(parse(
	    "per_source = 4\n"
	    "service a {\n"
	    "	listen = 7\n"
	    "	module = echo\n"
	    "}\n"), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ck_assert_int_eq(service("a")->sc_limits.lim_per_source, 4);
	ck_assert_int_eq(service("a")->sc_set[confkey_find("per_source",
	    CK_SERVICE) - confkeys].cw_line, 0);
	ck_assert_int_eq(cf->c_max_conns, 0);
	ck_assert_int_eq(service("a")->sc_limits.lim_max_conns, 0);
}
END_TEST

START_TEST(test_tls_keys_are_checked_before_any_file_is_read)
{
	ck_assert_int_eq(parse(
	    "tls_protocols = TLSv1.2 SSLv3\n"
	    "service s {\n"
	    "	listen = 7\n"
	    "	module = echo\n"
	    "	tls_protocols = TLSv1 TLSv1.3\n"
	    "	tls_verify_client = maybe\n"
	    "	tls_certificate = cert.pem\n"
	    "	tls_alpn = \"h2 x\"\n"
	    "}\n"
	    "service p {\n"
	    "	listen = 8\n"
	    "	module = echo\n"
	    "	tls_session_tickets = no\n"
	    "}\n"), -1);
	ck_assert_int_eq(config_finish(cf), -1);
	ASSERT_ERRORS(
	    "test.conf:1: tls_protocols: unknown protocol \"SSLv3\" (known: "
	    "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)",
	    "test.conf:5: service \"s\": tls_protocols must be one version "
	    "or a range without gaps, like \"TLSv1.2 TLSv1.3\"",
	    "test.conf:6: service \"s\": invalid tls_verify_client \"maybe\" "
	    "(expected no, optional or require)",
	    "test.conf:7: service \"s\": tls_certificate \"cert.pem\" must be "
	    "an absolute path",
	    "test.conf:8: service \"s\": tls_alpn: \"h2 x\" is not a "
	    "protocol name (1 to 255 characters, no spaces)",
	    "test.conf:13: service \"p\": tls_session_tickets has no effect "
	    "without tls_certificate and tls_key");
}
END_TEST

START_TEST(test_errors_in_a_service_block_name_the_service)
{
	ck_assert_int_eq(parse(
	    "service s {\n"
	    "	rate = fast\n"
	    "	rate = 1 2 3\n"
	    "	only_from = nowhere\n"
	    "	per_source = many\n"
	    "	refuse_banner = \"a\\nb\"\n"
	    "}\n"
	    "rate = 1 2 3\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:2: service \"s\": rate: invalid rate \"fast\" "
	    "(expected a positive number, optionally /s, /m or /h)",
	    "test.conf:3: service \"s\": rate takes a rate and an optional "
	    "burst, as \"rate = 10/s 20\"",
	    "test.conf:4: service \"s\": only_from: invalid address "
	    "\"nowhere\" (expected an IPv4 or IPv6 address, optionally with "
	    "/PREFIX)",
	    "test.conf:5: service \"s\": per_source: invalid number \"many\"",
	    "test.conf:6: service \"s\": refuse_banner must be one line of at "
	    "most 512 characters",
	    "test.conf:8: rate takes a rate and an optional burst, as "
	    "\"rate = 10/s 20\"");
}
END_TEST

#define MAN_LIST	4096

/* Adds " name" to a list of names. */
static void
man_add(char *list, const char *name)
{
	ck_assert_uint_lt(strlen(list) + strlen(name) + 2, MAN_LIST);
	strcat(list, " ");
	strcat(list, name);
}

/* Adds the keys of a section of evinetd.conf(5), its ".It Ic KEY" lines. */
static void
man_keys(char *list, const char *man, const char *section)
{
	const char	*p, *end;
	char		 name[65];

	p = strstr(man, check_str("\n.Sh %s\n", section));
	ck_assert_msg(p != NULL, "no section %s in evinetd.conf.5", section);
	end = strstr(p + 1, "\n.Sh ");
	for (; (p = strstr(p, "\n.It Ic ")) != NULL && p < end; p++) {
		if (sscanf(p, "\n.It Ic %64[a-z0-9_]", name) == 1)
			man_add(list, name);
	}
}

/* Puts the names of list that other lacks into out. */
static void
man_missing(char *out, const char *list, const char *other)
{
	const char	*p, *padded = check_str("%s ", other);
	char		 name[65], word[68];
	int		 n;

	out[0] = '\0';
	for (p = list; sscanf(p, " %64s%n", name, &n) == 1; p += n) {
		snprintf(word, sizeof(word), " %s ", name);
		if (strstr(padded, word) == NULL)
			man_add(out, name);
	}
}

/* Does the section at sh name key, as ".Ic key" on a line? */
static int
man_names(const char *sh, const char *key)
{
	const char	*end = strstr(sh + 1, "\n.Sh "), *p;
	size_t		 len = strlen(key);

	for (p = sh; (p = strstr(p, "\n.Ic ")) != NULL && p < end; p++) {
		if (strncmp(p + 5, key, len) == 0 && (p[5 + len] == ' ' ||
		    p[5 + len] == '\n'))
			return (1);
	}
	return (0);
}

/* Fails naming the keys that are in one list of names and not the other. */
static void
man_compare(const char *what, const char *man, const char *table)
{
	static char	a[MAN_LIST], b[MAN_LIST];

	man_missing(a, man, table);
	man_missing(b, table, man);
	ck_assert_msg(a[0] == '\0' && b[0] == '\0',
	    "%s keys: in evinetd.conf(5), not in the table:%s; in the table, "
	    "not in evinetd.conf(5):%s", what, a, b);
}

START_TEST(test_man_page_documents_exactly_the_keys_of_the_table)
{
	static char	 buf[200000];
	static char	 global[MAN_LIST], service[MAN_LIST];
	static char	 tglobal[MAN_LIST], tservice[MAN_LIST];
	const char	*gsection;
	size_t		 i, n;
	FILE		*f;

	f = fopen(TEST_SRCDIR "/../man/evinetd.conf.5", "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	man_keys(global, buf, "GLOBAL KEYS");
	man_keys(service, buf, "SERVICES");
	man_keys(service, buf, "ACCESS CONTROL");
	man_keys(service, buf, "LIMITS");
	man_keys(service, buf, "PROXY PROTOCOL");
	man_keys(service, buf, "EXEC SERVICES");
	man_keys(service, buf, "TLS");
	gsection = strstr(buf, "\n.Sh GLOBAL KEYS\n");
	for (i = 0; i < confkeys_count; i++) {
		if (confkeys[i].ck_scope == CK_GLOBAL)
			man_add(tglobal, confkeys[i].ck_name);
		if (confkeys[i].ck_scope & CK_SERVICE)
			man_add(tservice, confkeys[i].ck_name);
		if (confkeys[i].ck_scope == CK_INHERIT)
			ck_assert_msg(man_names(gsection, confkeys[i].ck_name),
			    "GLOBAL KEYS does not list \"%s\" as a default "
			    "for services", confkeys[i].ck_name);
	}
	man_compare("global", global, tglobal);
	man_compare("service", service, tservice);
}
END_TEST

START_TEST(test_misspelt_core_key_in_a_service_suggests_it)
{
	ck_assert_int_eq(check(
	    "service e {\n"
	    "	module = " ECHO_PATH "\n"
	    "	listen = 127.0.0.1:0\n"
	    "	max_ouptut = 1k\n"
	    "	idle_timout = 1s\n"
	    "}\n"), -1);
	ASSERT_ERRORS(
	    "test.conf:4: service \"e\": unknown key \"max_ouptut\"; did you "
	    "mean \"max_output\"?",
	    "test.conf:5: service \"e\": unknown key \"idle_timout\"; did you "
	    "mean \"idle_timeout\"?");
}
END_TEST

/* Checks a service using module name, which must be refused as it loads. */
static void
assert_bad_table(const char *name, const char *why)
{
	ck_assert_int_eq(check(check_str(
	    "service b {\n"
	    "	module = %s\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n", name)), -1);
	ASSERT_ERRORS(check_str("test.conf:2: service \"b\": module "
	    "%s/%s.so: %s", TEST_MODULE_DIR, name, why));
	ck_assert(TAILQ_EMPTY(&cf->c_modules));
}

START_TEST(test_module_option_named_like_a_core_key_is_refused)
{
	assert_bad_table("shadow", "option \"max_output\" has the name of a "
	    "core key; the module must rename it");
}
END_TEST

START_TEST(test_module_choice_without_choices_is_refused)
{
	assert_bad_table("badenum", "option \"colour\" is a choice without "
	    "choices; the module must list them");
}
END_TEST

START_TEST(test_module_option_with_min_above_max_is_refused)
{
	assert_bad_table("badrange", "option \"count\" has a minimum above "
	    "its maximum, so no value fits");
}
END_TEST

static TCase *
parser_tcase(void)
{
	TCase	*tc;

	tc = tcase_create("parser");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parser_reads_a_complete_service);
	tcase_add_test(tc, test_service_defaults_to_tcp_and_the_default_limits);
	tcase_add_test(tc, test_reuseport_sizes_its_socket_group_by_the_workers);
	tcase_add_test(tc, test_workers_auto_is_resolved_once_to_the_cpus);
	tcase_add_test(tc, test_yes_no_service_keys_report_bad_values);
	tcase_add_test(tc,
	    test_unknown_global_key_suggests_the_closest_known_key);
	tcase_add_test(tc,
	    test_unknown_global_key_far_from_any_names_the_known_keys);
	tcase_add_test(tc, test_service_keys_outside_a_service_are_errors);
	tcase_add_test(tc, test_service_blocks_cannot_nest);
	tcase_add_test(tc,
	    test_unclosed_service_is_reported_at_its_opening_line);
	tcase_add_test(tc, test_closing_brace_without_a_block_is_an_error);
	tcase_add_test(tc, test_key_without_equals_is_an_error);
	tcase_add_test(tc, test_key_without_a_value_is_an_error);
	tcase_add_test(tc, test_unterminated_string_is_an_error);
	tcase_add_test(tc, test_service_name_must_be_a_plain_word);
	tcase_add_test(tc,
	    test_service_name_may_use_letters_digits_and_punctuation);
	tcase_add_test(tc, test_service_line_must_be_service_name_brace);
	tcase_add_test(tc, test_duplicate_service_names_the_first_location);
	tcase_add_test(tc, test_duplicate_module_key_names_the_first_line);
	tcase_add_test(tc, test_single_valued_keys_take_one_value);
	tcase_add_test(tc, test_protocol_must_be_tcp_or_udp);
	tcase_add_test(tc, test_max_output_must_be_a_size_in_range);
	tcase_add_test(tc, test_bad_listen_address_is_dropped_and_named);
	tcase_add_test(tc, test_finish_requires_module_and_listen);
	tcase_add_test(tc, test_finish_requires_a_service);
	tcase_add_test(tc, test_nul_byte_is_an_error_at_its_line);
	tcase_add_test(tc, test_control_character_is_an_error);
	tcase_add_test(tc, test_quoted_strings_keep_spaces_and_decode_escapes);
	tcase_add_test(tc, test_comments_end_a_line_but_not_a_quoted_string);
	tcase_add_test(tc, test_crlf_line_ends_are_accepted);
	tcase_add_test(tc, test_every_error_in_a_file_is_reported);
	tcase_add_test(tc, test_errors_past_the_limit_are_counted_not_kept);
	tcase_add_test(tc, test_braces_and_equals_in_values_must_be_quoted);
	tcase_add_test(tc, test_line_must_start_with_a_key);
	tcase_add_test(tc, test_global_values_are_checked);
	tcase_add_test(tc, test_too_many_values_on_a_line_is_an_error);
	return (tc);
}

static TCase *
files_tcase(void)
{
	TCase	*tc;

	tc = tcase_create("files");
	tcase_add_unchecked_fixture(tc, check_root_setup, check_root_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, check_dir_setup, check_dir_teardown);
	tcase_add_test(tc, test_load_reads_a_file_and_loads_its_module);
	tcase_add_test(tc, test_load_reports_a_missing_file);
	tcase_add_test(tc, test_load_reports_a_directory);
	tcase_add_test(tc, test_module_dir_in_the_file_is_used);
	tcase_add_test(tc, test_forced_module_dir_overrides_the_file);
	tcase_add_test(tc, test_include_glob_reads_only_conf_files_in_order);
	tcase_add_test(tc, test_include_of_dotfiles_by_pattern_skips_them);
	tcase_add_test(tc, test_include_of_a_missing_file_is_an_error);
	tcase_add_test(tc, test_include_glob_matching_nothing_is_fine);
	tcase_add_test(tc, test_include_glob_in_a_missing_directory_names_it);
	tcase_add_test(tc,
	    test_include_of_a_file_not_ending_in_conf_is_an_error);
	tcase_add_test(tc, test_a_file_including_itself_is_read_once);
	tcase_add_test(tc, test_files_including_each_other_are_each_read_once);
	tcase_add_test(tc, test_a_chain_of_includes_deeper_than_the_limit_ends);
	tcase_add_test(tc,
	    test_relative_include_is_resolved_against_the_including_file);
	tcase_add_test(tc, test_errors_in_an_included_file_name_that_file);
	return (tc);
}

static TCase *
options_tcase(void)
{
	TCase	*tc;

	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown_service_key_names_core_keys_and_module);
	tcase_add_test(tc, test_option_defaults_are_applied);
	tcase_add_test(tc, test_options_set_in_the_service_replace_defaults);
	tcase_add_test(tc, test_option_of_the_wrong_type_is_an_error);
	tcase_add_test(tc, test_option_out_of_range_is_an_error);
	tcase_add_test(tc, test_enum_option_must_be_one_of_its_choices);
	tcase_add_test(tc, test_duplicate_option_names_the_first_line);
	tcase_add_test(tc, test_missing_required_option_is_an_error);
	tcase_add_test(tc, test_option_takes_one_value);
	tcase_add_test(tc,
	    test_module_that_does_not_serve_the_protocol_is_refused);
	tcase_add_test(tc, test_missing_module_names_the_path_tried);
	tcase_add_test(tc, test_module_name_with_a_slash_is_refused);
	tcase_add_test(tc, test_services_share_one_loaded_module);
	tcase_add_test(tc, test_misspelt_core_key_in_a_service_suggests_it);
	tcase_add_test(tc, test_module_option_named_like_a_core_key_is_refused);
	tcase_add_test(tc, test_module_choice_without_choices_is_refused);
	tcase_add_test(tc, test_module_option_with_min_above_max_is_refused);
	return (tc);
}

static TCase *
keys_tcase(void)
{
	TCase	*tc;

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_table_names_a_key_once_per_scope_and_can_store_it);
	tcase_add_test(tc, test_every_key_given_twice_names_the_first_line);
	tcase_add_test(tc,
	    test_a_key_set_again_in_another_file_names_that_file);
	tcase_add_test(tc, test_listen_given_again_adds_addresses);
	tcase_add_test(tc,
	    test_services_inherit_each_global_default_they_do_not_set);
	tcase_add_test(tc,
	    test_inheriting_a_default_does_not_count_as_setting_it);
	tcase_add_test(tc, test_errors_in_a_service_block_name_the_service);
	tcase_add_test(tc, test_tls_keys_are_checked_before_any_file_is_read);
	tcase_add_test(tc,
	    test_man_page_documents_exactly_the_keys_of_the_table);
	return (tc);
}

static Suite *
config_suite(void)
{
	Suite	*s;

	s = suite_create("config");
	suite_add_tcase(s, parser_tcase());
	suite_add_tcase(s, files_tcase());
	suite_add_tcase(s, options_tcase());
	suite_add_tcase(s, keys_tcase());
	return (s);
}

int
main(void)
{
	return (check_run(config_suite()));
}
