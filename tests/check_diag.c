/* policy/diag.c: message list and the printed format. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "check_util.h"
#include "policy_int.h"

static struct policy_diag *d;

static void
setup(void)
{
	d = policy_diag_new("dir/app_manifest.json");
	ck_assert_ptr_nonnull(d);
}

static void
teardown(void)
{
	policy_diag_free(d);
	d = NULL;
}

START_TEST(test_format)
{
	char *text;

	ck_assert_int_eq(policy_diag_add(d, POLICY_ERROR,
	    "Capabilities.AllowedConnections[3]", "\"exa mple.com\"",
	    "label contains white space"), 0);
	ck_assert_int_eq(policy_diag_add(d, POLICY_WARNING, "Foo", NULL,
	    "unknown top-level key (ignored)"), 0);
	ck_assert_int_eq(policy_diag_add_at(d, 3, 7, "invalid JSON: x"), 0);
	ck_assert_uint_eq(policy_diag_count(d), 3);
	ck_assert_uint_eq(policy_diag_errors(d), 2);
	ck_assert_uint_eq(policy_diag_warnings(d), 1);
	ck_assert_str_eq(policy_diag_file(d), "dir/app_manifest.json");
	ck_assert_int_eq(policy_diag_get(d, 2)->line, 3);
	ck_assert_ptr_null(policy_diag_get(d, 3));
	text = diag_text(d);
	ck_assert_str_eq(text,
	    "dir/app_manifest.json: Capabilities.AllowedConnections[3]: "
	    "\"exa mple.com\": label contains white space\n"
	    "dir/app_manifest.json: warning: Foo: unknown top-level key "
	    "(ignored)\n"
	    "dir/app_manifest.json:3:7: invalid JSON: x\n");
	free(text);
}
END_TEST

START_TEST(test_null)
{
	/* A NULL diag is allowed everywhere the loader reports. */
	ck_assert_int_eq(policy_diag_add(NULL, POLICY_ERROR, "", NULL, "x"),
	    0);
	ck_assert_ptr_null(load_str("{", NULL));
	policy_diag_free(NULL);
}
END_TEST

START_TEST(test_many)
{
	int i;

	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(policy_diag_add(d, POLICY_WARNING, "p",
		    "1", "r"), 0);
	ck_assert_uint_eq(policy_diag_count(d), 1000);
	ck_assert_uint_eq(policy_diag_errors(d), 0);
}
END_TEST

Suite *
diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_format);
	tcase_add_test(core, test_null);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_many);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
