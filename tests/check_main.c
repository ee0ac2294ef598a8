/*
 * check_main.c -- runs every Check suite of one build and prints Check's
 * summary.  The double-precision build (SEQCLS_GRAD_SUITES) runs the
 * gradient checks; the float build runs the rest.
 */
#include <stdlib.h>

#include "testutil.h"

#ifdef SEQCLS_GRAD_SUITES
Suite *grad_suite(void);
static Suite *(*const suites[])(void) = {grad_suite};
#else
Suite *core_suite(void);
Suite *model_suite(void);
Suite *loss_suite(void);
Suite *optim_suite(void);
Suite *train_suite(void);
static Suite *(*const suites[])(void) = {core_suite, model_suite, loss_suite, optim_suite,
                                         train_suite};
#endif

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    size_t i;
    int failed;
    for (i = 0; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
