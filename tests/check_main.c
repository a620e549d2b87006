/*
 * One runner for every unit suite. Exit status is non-zero on any failure;
 * Check prints its summary line ("100%: Checks: N, Failures: 0, ...").
 */
#include <stdlib.h>

#include <check.h>

#include "check_suites.h"

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(hostpat_suite());
	srunner_add_suite(sr, diag_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, manifest_suite());
	srunner_add_suite(sr, print_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, nft_suite());
	srunner_add_suite(sr, wire_suite());
	srunner_add_suite(sr, apps_suite());
	srunner_add_suite(sr, cache_suite());
	srunner_add_suite(sr, learn_suite());
	srunner_add_suite(sr, tlsclient_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
