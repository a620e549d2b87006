/* The unit suites, one per module (tests/check_<module>.c). */
#ifndef NETD_TESTS_CHECK_SUITES_H
#define NETD_TESTS_CHECK_SUITES_H

#include <check.h>

Suite	*hostpat_suite(void);
Suite	*diag_suite(void);
Suite	*policy_suite(void);
Suite	*manifest_suite(void);
Suite	*print_suite(void);
Suite	*config_suite(void);
Suite	*nft_suite(void);
Suite	*wire_suite(void);
Suite	*apps_suite(void);
Suite	*cache_suite(void);
Suite	*learn_suite(void);
Suite	*tlsclient_suite(void);

#endif /* NETD_TESTS_CHECK_SUITES_H */
