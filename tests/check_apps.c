/* netd/apps.c: the ComponentId -> uid map and its state file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "apps.h"
#include "check_suites.h"

static char dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/netd-apps.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_same_uid)
{
	struct apps *a = apps_new(dir, 10000, 59999);
	uid_t u1, u2, u3;
	char err[256];

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(apps_uid_for(a, "id-one", &u1, err, sizeof(err)), 0);
	ck_assert_int_eq(apps_uid_for(a, "id-two", &u2, err, sizeof(err)), 0);
	ck_assert_uint_ne(u1, u2);
	ck_assert(u1 >= 10000 && u1 <= 59999);
	ck_assert_str_eq(apps_uid_owner(a, u1), "id-one");
	apps_free(a);
	/* A new registry reads the map back: the same uid again. */
	a = apps_new(dir, 10000, 59999);
	ck_assert_int_eq(apps_uid_for(a, "id-one", &u3, err, sizeof(err)), 0);
	ck_assert_uint_eq(u1, u3);
	apps_free(a);
}
END_TEST

/*
 * A stored uid outside the current range is not reused: the rules filter
 * only uids in the range, so that app would run unfiltered.
 */
START_TEST(test_range_changed)
{
	struct apps *a;
	char path[128], err[256];
	uid_t u, u2;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/uids", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fprintf(fp, "id-one 48138\n");
	fclose(fp);
	a = apps_new(dir, 10000, 20000);
	ck_assert_int_eq(apps_uid_for(a, "id-one", &u, err, sizeof(err)), 0);
	ck_assert_msg(u >= 10000 && u <= 20000, "uid %u", (unsigned)u);
	apps_free(a);
	/* The new uid is kept, and wins over the old line. */
	a = apps_new(dir, 10000, 20000);
	ck_assert_int_eq(apps_uid_for(a, "id-one", &u2, err, sizeof(err)), 0);
	ck_assert_uint_eq(u, u2);
	/* Narrowed at run time (reload): the same rule. */
	apps_set_range(a, 30000, 30010);
	ck_assert_int_eq(apps_uid_for(a, "id-one", &u2, err, sizeof(err)), 0);
	ck_assert(u2 >= 30000 && u2 <= 30010);
	apps_free(a);
}
END_TEST

START_TEST(test_range_full)
{
	struct apps *a = apps_new(dir, 10000, 10001);
	char err[256];
	uid_t u;

	ck_assert_int_eq(apps_uid_for(a, "a", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(apps_uid_for(a, "b", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(apps_uid_for(a, "c", &u, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no free uid left in 10000-10001");
	apps_free(a);
}
END_TEST

Suite *
apps_suite(void)
{
	Suite *s = suite_create("apps");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_same_uid);
	tcase_add_test(core, test_range_changed);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_range_full);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
