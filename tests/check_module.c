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
 * Unit tests for module.c: how a module name becomes a path, and how the
 * loader refuses files that are not modules, or not modules for this
 * daemon, with messages that name the file and both sides of a mismatch.
 * The broken modules are built from tests/modules/.
 */

#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <dlfcn.h>
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

#define MODULE_DIR	"/usr/lib/evinetd"
#define BAD_NAME_HELP	"(use a name found in module_dir, or an absolute " \
			"path to a .so)"

static char		*cause;
static char		*path;
static struct module	*m;

static void
setup(void)
{
	cause = NULL;
	path = NULL;
	m = NULL;
}

static void
teardown(void)
{
	if (m != NULL)
		module_unload(m);
	free(path);
	free(cause);
	check_str_free();
}


/* Writes len bytes into a file of the test's directory; returns its path. */
static const char *
write_file(const char *name, const void *data, size_t len)
{
	const char	*file = check_str("%s/%s", check_tmpdir, name);
	FILE		*f;

	f = fopen(file, "w");
	ck_assert_msg(f != NULL, "cannot create %s", file);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return (file);
}

/* Loads a file that must be refused; returns why. */
static const char *
load_error(const char *file)
{
	m = module_load(file, &cause);
	ck_assert_msg(m == NULL, "%s was loaded", file);
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

/*
 * Module names and paths.
 */

START_TEST(test_module_path_maps_a_name_into_the_module_dir)
{
	path = module_path(MODULE_DIR, "echo", &cause);
	ck_assert_str_eq(path, MODULE_DIR "/echo.so");
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_module_path_keeps_a_so_suffix)
{
	path = module_path(MODULE_DIR, "x.so", &cause);
	ck_assert_str_eq(path, MODULE_DIR "/x.so");
	free(path);
	path = module_path(MODULE_DIR, "x.so.1", &cause);
	ck_assert_str_eq(path, MODULE_DIR "/x.so.1.so");
}
END_TEST

START_TEST(test_module_path_takes_an_absolute_path_as_it_is)
{
	path = module_path(MODULE_DIR, "/opt/evinetd/x.so", &cause);
	ck_assert_str_eq(path, "/opt/evinetd/x.so");
	free(path);
	path = module_path(MODULE_DIR, "/opt/evinetd/x", &cause);
	ck_assert_str_eq(path, "/opt/evinetd/x");
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_module_path_rejects_a_name_that_leaves_the_module_dir)
{
	ck_assert_ptr_null(module_path(MODULE_DIR, "../x", &cause));
	ck_assert_str_eq(cause, "invalid module name \"../x\" " BAD_NAME_HELP);
	free(cause);
	ck_assert_ptr_null(module_path(MODULE_DIR, "..", &cause));
	ck_assert_str_eq(cause, "invalid module name \"..\" " BAD_NAME_HELP);
}
END_TEST

START_TEST(test_module_path_rejects_a_relative_path)
{
	ck_assert_ptr_null(module_path(MODULE_DIR, "a/b", &cause));
	ck_assert_str_eq(cause, "invalid module name \"a/b\" " BAD_NAME_HELP);
	free(cause);
	ck_assert_ptr_null(module_path(MODULE_DIR, "./echo.so", &cause));
	ck_assert_str_eq(cause,
	    "invalid module name \"./echo.so\" " BAD_NAME_HELP);
}
END_TEST

START_TEST(test_module_path_rejects_an_empty_name_and_a_dot)
{
	ck_assert_ptr_null(module_path(MODULE_DIR, "", &cause));
	ck_assert_str_eq(cause, "invalid module name \"\" " BAD_NAME_HELP);
	free(cause);
	ck_assert_ptr_null(module_path(MODULE_DIR, ".", &cause));
	ck_assert_str_eq(cause, "invalid module name \".\" " BAD_NAME_HELP);
}
END_TEST

START_TEST(test_module_path_rejects_dot_dot_in_an_absolute_path)
{
	ck_assert_ptr_null(module_path(MODULE_DIR, "/a/../b", &cause));
	ck_assert_str_eq(cause, "module path \"/a/../b\" must not contain "
	    "\"..\"");
}
END_TEST

/*
 * Loading.
 */

START_TEST(test_load_names_the_path_of_a_missing_file)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/missing.so"),
	    "module " TEST_MODULE_DIR "/missing.so: No such file or "
	    "directory");
}
END_TEST

START_TEST(test_load_refuses_a_text_file)
{
	const char	*file;

	file = write_file("notes.so", "not a module\n", 13);
	ck_assert_str_eq(load_error(file),
	    check_str("module %s: not a shared object (no ELF header)", file));
}
END_TEST

START_TEST(test_load_refuses_a_file_shorter_than_an_elf_header)
{
	const char	*file;

	file = write_file("short.so", "\177EL", 3);
	ck_assert_str_eq(load_error(file),
	    check_str("module %s: not a shared object (no ELF header)", file));
	free(cause);
	file = write_file("empty.so", "", 0);
	ck_assert_str_eq(load_error(file),
	    check_str("module %s: not a shared object (no ELF header)", file));
}
END_TEST

START_TEST(test_load_refuses_a_directory)
{
	ck_assert_str_eq(load_error(check_tmpdir),
	    check_str("module %s: not a regular file", check_tmpdir));
}
END_TEST

START_TEST(test_load_passes_on_what_dlopen_says_about_a_broken_object)
{
	static const char	 junk[] = "\177ELF and then nothing sensible";
	const char		*file, *prefix;

	file = write_file("broken.so", junk, sizeof(junk) - 1);
	prefix = check_str("module %s: cannot load: ", file);
	load_error(file);
	ck_assert_msg(strncmp(cause, prefix, strlen(prefix)) == 0 &&
	    strlen(cause) > strlen(prefix), "unexpected error: %s", cause);
}
END_TEST

START_TEST(test_load_refuses_a_module_without_the_symbol)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/nosymbol.so"),
	    "module " TEST_MODULE_DIR "/nosymbol.so: no \"evinetd_module\" "
	    "symbol; is this an evinetd module (see EVI_MODULE_EXPORT)?");
}
END_TEST

START_TEST(test_load_refuses_a_bad_magic_and_shows_both_values)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/badmagic.so"),
	    "module " TEST_MODULE_DIR "/badmagic.so: \"evinetd_module\" is "
	    "garbled: expected magic 0x45564d44 but saw 0x12345678; is this "
	    "an evinetd module, built for this version?");
}
END_TEST

START_TEST(test_load_says_a_zero_magic_means_a_missing_header)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/nomagic.so"),
	    "module " TEST_MODULE_DIR "/nomagic.so: \"evinetd_module\" has "
	    "no magic number; its descriptor probably lacks "
	    "EVI_MODULE_HEADER");
}
END_TEST

START_TEST(test_load_refuses_a_newer_major_and_names_both_versions)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/newmajor.so"),
	    check_str("module %s/newmajor.so: built for module ABI 2.0, "
	    "but this "
	    "evinetd supports %d.0 to %d.%d; rebuild the module against this "
	    "evinetd's <evinetd/module.h>", TEST_MODULE_DIR, EVI_ABI_MAJOR,
	    EVI_ABI_MAJOR, EVI_ABI_MINOR));
}
END_TEST

START_TEST(test_load_refuses_a_newer_minor_and_names_both_versions)
{
	ck_assert_str_eq(load_error(TEST_MODULE_DIR "/newminor.so"),
	    check_str("module %s/newminor.so: built for module ABI %d.99, "
	    "but this "
	    "evinetd supports %d.0 to %d.%d; rebuild the module against this "
	    "evinetd's <evinetd/module.h>", TEST_MODULE_DIR, EVI_ABI_MAJOR,
	    EVI_ABI_MAJOR, EVI_ABI_MAJOR, EVI_ABI_MINOR));
}
END_TEST

START_TEST(test_load_accepts_the_echo_module)
{
	m = module_load(BUNDLED_MODULE_DIR "/echo.so", &cause);
	ck_assert_msg(m != NULL, "echo refused: %s", cause);
	ck_assert_ptr_null(cause);
	ck_assert_str_eq(m->m_path, BUNDLED_MODULE_DIR "/echo.so");
	ck_assert_ptr_nonnull(m->m_handle);
	ck_assert_uint_eq(m->m_def->magic, EVI_MODULE_MAGIC);
	ck_assert_uint_eq(m->m_def->abi_major, EVI_ABI_MAJOR);
	ck_assert_str_eq(m->m_def->name, "echo");
	ck_assert_uint_eq(m->m_def->protocols, EVI_PROTO_TCP | EVI_PROTO_UDP);
	ck_assert_ptr_nonnull(m->m_def->conn_read);
	ck_assert_ptr_nonnull(m->m_def->dgram);
}
END_TEST

/*
 * greet_abi10 is built against the frozen 1.0 header: it declares the 1.0
 * size, and the daemon works from its own zero-filled copy of it.
 */
START_TEST(test_load_accepts_a_module_built_against_abi_1_0)
{
	const struct evi_module	*own;

	m = module_load(TEST_MODULE_DIR "/greet_abi10.so", &cause);
	ck_assert_msg(m != NULL, "greet_abi10 refused: %s", cause);
	own = dlsym(m->m_handle, EVI_MODULE_SYMBOL);
	ck_assert_ptr_nonnull(own);
	ck_assert_uint_eq(own->abi_minor, 0);
	ck_assert_uint_eq(own->size, offsetof(struct evi_module, dgram) +
	    sizeof(own->dgram));
	ck_assert_ptr_ne(m->m_def, own);
	ck_assert_uint_eq(m->m_def->size, own->size);
	ck_assert_str_eq(m->m_def->name, "greet");
	ck_assert_ptr_eq(m->m_def->conn_read, own->conn_read);
}
END_TEST

START_TEST(test_load_accepts_a_module_found_by_name)
{
	path = module_path(TEST_MODULE_DIR, "options", &cause);
	ck_assert_ptr_nonnull(path);
	m = module_load(path, &cause);
	ck_assert_msg(m != NULL, "options refused: %s", cause);
	ck_assert_str_eq(m->m_path, TEST_MODULE_DIR "/options.so");
	ck_assert_str_eq(m->m_def->name, "options");
	ck_assert_ptr_nonnull(m->m_def->options);
	ck_assert_str_eq(m->m_def->options[0].name, "greeting");
}
END_TEST

/*
 * Module init, through config_check's trial init.
 */

START_TEST(test_failing_init_reports_the_modules_reason)
{
	static const char	 text[] =
	    "\n"
	    "service quotes {\n"
	    "	module = initfail\n"
	    "	listen = 127.0.0.1:0\n"
	    "}\n";
	struct config		*cf;
	struct conf_error	*ce;

	cf = config_new("test.conf", TEST_MODULE_DIR);
	ck_assert_int_eq(config_parse_buffer(cf, "test.conf", text,
	    sizeof(text) - 1), 0);
	ck_assert_int_eq(config_finish(cf), 0);
	ck_assert_int_eq(config_check(cf), -1);
	ck_assert_int_eq(cf->c_nerrors, 1);
	ce = TAILQ_FIRST(&cf->c_errors);
	ck_assert_str_eq(ce->ce_msg, "test.conf:2: service \"quotes\": module "
	    "\"initfail\" refused the service: cannot open "
	    "/nonexistent/quotes: No such file or directory");
	config_free(cf);
}
END_TEST

static Suite *
module_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("module");

	tc = tcase_create("path");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_module_path_maps_a_name_into_the_module_dir);
	tcase_add_test(tc, test_module_path_keeps_a_so_suffix);
	tcase_add_test(tc, test_module_path_takes_an_absolute_path_as_it_is);
	tcase_add_test(tc,
	    test_module_path_rejects_a_name_that_leaves_the_module_dir);
	tcase_add_test(tc, test_module_path_rejects_a_relative_path);
	tcase_add_test(tc, test_module_path_rejects_an_empty_name_and_a_dot);
	tcase_add_test(tc,
	    test_module_path_rejects_dot_dot_in_an_absolute_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, check_root_setup, check_root_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, check_dir_setup, check_dir_teardown);
	tcase_add_test(tc, test_load_names_the_path_of_a_missing_file);
	tcase_add_test(tc, test_load_refuses_a_text_file);
	tcase_add_test(tc, test_load_refuses_a_file_shorter_than_an_elf_header);
	tcase_add_test(tc, test_load_refuses_a_directory);
	tcase_add_test(tc,
	    test_load_passes_on_what_dlopen_says_about_a_broken_object);
	tcase_add_test(tc, test_load_refuses_a_module_without_the_symbol);
	tcase_add_test(tc, test_load_refuses_a_bad_magic_and_shows_both_values);
	tcase_add_test(tc,
	    test_load_refuses_a_newer_major_and_names_both_versions);
	tcase_add_test(tc,
	    test_load_refuses_a_newer_minor_and_names_both_versions);
	tcase_add_test(tc, test_load_accepts_the_echo_module);
	tcase_add_test(tc, test_load_accepts_a_module_built_against_abi_1_0);
	tcase_add_test(tc,
	    test_load_says_a_zero_magic_means_a_missing_header);
	tcase_add_test(tc, test_load_accepts_a_module_found_by_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("init");
	tcase_add_test(tc, test_failing_init_reports_the_modules_reason);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	return (check_run(module_suite()));
}
