/*
 * test_internal_registry.c -- the tables that describe layer kinds
 * (src/layer.c and each kind's layer_ops_t) are complete and consistent,
 * so that adding a kind cannot half-work: a missing slot, a table filed
 * under the wrong number, a settable option without its setter, or two
 * fields sharing a CONF id all fail here.
 */
#include <stdio.h>

#include "internal.h"
#include "testutil.h"

START_TEST(every_registered_kind_is_complete)
{
    uint32_t k, j;
    for (k = 1; k <= LAYER_KIND_COUNT; k++) {
        const layer_ops_t *ops = layer_kind(k);
        const layer_option_t *o;
        ck_assert_msg(ops != NULL, "kind %u has no table in the registry", (unsigned)k);
        ck_assert_msg(ops->kind == (int)k, "kind %u's table says kind %d", (unsigned)k, ops->kind);
        ck_assert_msg(ops->name && ops->forward && ops->backward && ops->describe && ops->rebuild,
                      "kind %u (%s) lacks a name, forward, backward, describe or rebuild",
                      (unsigned)k, ops->name ? ops->name : "?");
        ck_assert_msg(ops->takes != 0, "%s takes nothing", ops->name);
        ck_assert_msg(ops->options != NULL, "%s has no option list", ops->name);
        for (j = 1; j < k; j++)
            ck_assert_msg(!layer_kind(j) || strcmp(layer_kind(j)->name, ops->name) != 0,
                          "two kinds named %s", ops->name);
        if (ops->traits & LAYER_FIRST)
            ck_assert_msg(ops->input_rank == 2 || ops->input_rank == 3,
                          "%s reads the input but has no input rank", ops->name);
        else
            ck_assert_msg(ops->input_rank == 0, "%s is not a first layer", ops->name);
        for (o = ops->options; o->option; o++) {
            const layer_option_t *p;
            ck_assert_msg(o->field >= 0 && o->field < FIELD_COUNT, "%s: option %d has no field",
                          ops->name, o->option);
            if (o->settable)
                ck_assert_msg(layer_fields[o->field].type == FIELD_F32 ? ops->set_float != NULL
                                                                       : ops->set_int != NULL,
                              "%s: option %d is settable but the kind has no setter", ops->name,
                              o->option);
            for (p = ops->options; p < o; p++)
                ck_assert_msg(p->option != o->option, "%s lists option %d twice", ops->name,
                              o->option);
        }
    }
    ck_assert_ptr_null(layer_kind(0));
    ck_assert_ptr_null(layer_kind(LAYER_KIND_COUNT + 1));
    ck_assert_ptr_null(layer_kind(UINT32_MAX));
}
END_TEST

START_TEST(fields_have_distinct_ids_and_version_1_is_complete)
{
    int f, g;
    uint32_t id;
    for (f = 0; f < FIELD_COUNT; f++) {
        ck_assert_msg(layer_fields[f].name != NULL, "field %d is not in the table", f);
        ck_assert(layer_fields[f].type >= FIELD_I32 && layer_fields[f].type <= FIELD_F32);
        ck_assert(layer_fields[f].offset + 4 <= sizeof(layer_t));
        for (g = 0; g < f; g++)
            ck_assert_msg(layer_fields[g].file_id != layer_fields[f].file_id,
                          "fields %s and %s share CONF id %u", layer_fields[g].name,
                          layer_fields[f].name, (unsigned)layer_fields[f].file_id);
    }
    /* 1.0 readers require ids 1..11 in every layer record */
    for (id = 1; id <= FIELD_LAST_V1_ID; id++) {
        int found = 0;
        for (f = 0; f < FIELD_COUNT; f++)
            found += layer_fields[f].file_id == id;
        ck_assert_msg(found == 1, "version-1 field id %u is missing", (unsigned)id);
    }
}
END_TEST

Suite *internal_registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, every_registered_kind_is_complete);
    tcase_add_test(tc, fields_have_distinct_ids_and_version_1_is_complete);
    suite_add_tcase(s, tc);
    return s;
}
