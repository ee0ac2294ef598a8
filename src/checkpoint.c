/*
 * checkpoint.c -- a model file with the optimiser's state (OPTM), so that
 * training resumes exactly where it stopped.
 */
#include "internal.h"
#include "io.h"

#include <stdio.h>
#include <string.h>

int seqcls_checkpoint_save(const seqcls_model_t *m, const seqcls_optimizer_t *o,
                           const char *path)
{
    const char *func = "seqcls_checkpoint_save";
    seqcls_section_t optm;
    void *state = NULL;
    size_t len = 0;
    int rc;
    seqcls__clear_error();
    if (!m || !o || !path || !*path)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s", func,
                            !m ? "model is NULL" : !o ? "optimizer is NULL" : "path is NULL or empty");
    rc = model_check_float(m, func);
    if (rc)
        return rc;
    rc = optimizer_serialize(o, m, &state, &len);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", seqcls_last_error());
        return seqcls__fail(rc, "%s: %s", func, why);
    }
    memcpy(optm.tag, "OPTM", 4);
    optm.data = state;
    optm.len = len;
    rc = metadata_save_with(m, &optm, 1, path, NULL, NULL, func);
    seqcls__dealloc(state);
    return rc;
}

int seqcls_checkpoint_load(seqcls_model_t **m_out, seqcls_optimizer_t **o_out, const char *path)
{
    const char *func = "seqcls_checkpoint_load";
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    const void *state;
    void *buf = NULL;
    size_t len = 0, n = 0;
    int rc;
    seqcls__clear_error();
    if (m_out)
        *m_out = NULL;
    if (o_out)
        *o_out = NULL;
    if (!m_out || !o_out || !path)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func,
                            !m_out ? "m_out" : !o_out ? "o_out" : "path");
    rc = model_file_load(&m, path, &buf, &len, func);
    if (rc == SEQCLS_OK) {
        rc = seqcls__model_section(buf, len, "OPTM", &state, &n, func);
        if (rc == SEQCLS_E_RANGE)
            rc = seqcls__fail(SEQCLS_E_FORMAT, "%s: '%s' is a model without optimizer state (save "
                              "it with seqcls_checkpoint_save)", func, path);
    }
    if (rc == SEQCLS_OK)
        rc = optimizer_deserialize(&o, m, state, n, func);
    seqcls__dealloc(buf);
    if (rc) {
        seqcls_model_free(m);
        return rc;
    }
    *m_out = m;
    *o_out = o;
    return SEQCLS_OK;
}
