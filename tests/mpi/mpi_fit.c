/*
 * mpi_fit.c -- the program of tests/mpi/run.sh: one small model trained
 * with seqcls_fit by one process, or by every rank of an mpirun job
 * through libseqcls-mpi, and the comparison of two such models.
 *
 *   mpi_fit train OUT.sqcl [--no-mpi] [--epochs E] [--die-at B] [--hang-at B]
 *       train (without --no-mpi: as a rank of mpirun) and save rank 0's
 *       model; --die-at B: the last rank kills itself (SIGKILL) at batch B
 *       of the first epoch; --hang-at B: it sleeps there instead
 *   mpi_fit compare A.sqcl B.sqcl TOL
 *       exit 1 unless every parameter (but Bahdanau's V.bias, whose
 *       gradient is zero: see tests/test_comm.c) and every probability on
 *       the training data differ by at most TOL; TOL 0 = bit for bit
 *   mpi_fit params A.sqcl B.sqcl TOL
 *       the parameters only (models of the command line)
 *
 * Prints the communication figures of the rank (time per step in the
 * all-reduce, fraction hidden behind the backward pass).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seqcls_mpi.h>

#define N 600
#define T 12
#define V 40

static int rank, size, die_at, hang_at;

static void check(int rc, const char *what)
{
    if (rc != SEQCLS_OK) {
        fprintf(stderr, "mpi_fit: rank %d of %d: %s: %s%s%s\n", rank, size, what,
                seqcls_last_error(), *seqcls_mpi_last_error() ? ": " : "",
                seqcls_mpi_last_error());
        if (size > 1)
            seqcls_mpi_abort(3);
        exit(3);
    }
}

static void on_term(int sig)
{
    static const char msg[] = "mpi_fit: stopped by the launcher while training (another rank "
                              "failed)\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(4);
}

static void make_data(seqcls_tensor_t **x, seqcls_tensor_t **y, int32_t *lens)
{
    uint64_t s = 5;
    int64_t sx[2] = {N, T}, sy[1] = {N};
    int32_t *ids, *lab;
    int n, t;
    check(seqcls_tensor_create(x, SEQCLS_I32, 2, sx), "data");
    check(seqcls_tensor_create(y, SEQCLS_I32, 1, sy), "data");
    ids = seqcls_tensor_data(*x);
    lab = seqcls_tensor_data(*y);
    for (n = 0; n < N; n++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        lens[n] = 1 + (int32_t)((s >> 33) % T);
        lab[n] = 0;
        for (t = 0; t < T; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ids[n * T + t] = 1 + (int32_t)((s >> 33) % (V - 1));
            if (t < lens[n] && ids[n * T + t] < 8)
                lab[n] = ids[n * T + t] % 3;
        }
    }
}

static int on_batch(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    (void)user;
    (void)batches;
    (void)loss;
    (void)acc;
    if (epoch == 0 && rank == size - 1 && size > 1) {
        if (die_at && batch == die_at)
            raise(SIGKILL);
        if (hang_at && batch == hang_at)
            for (;;)
                pause();
    }
    return 0;
}

static int train(const char *out, int mpi, int epochs)
{
    seqcls_comm_t *comm = NULL;
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    int l;
    if (mpi) {
        check(seqcls_mpi_world_create(&comm), "seqcls_mpi_world_create");
        rank = seqcls_comm_rank(comm);
        size = seqcls_comm_size(comm);
        signal(SIGTERM, on_term);
    }
    make_data(&x, &y, lens);
    /* the ranks but 0 start from other weights: rank 0's must reach them */
    check(seqcls_model_create(&m, rank == 0 ? 12 : 100 + (uint64_t)rank), "model");
    check(seqcls_add_embedding(m, V, 8, 0, NULL), "model");
    check(seqcls_add_lstm(m, 6, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &l), "model");
    check(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.2f), "model");
    check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 5, NULL), "model");
    check(seqcls_add_dense(m, 8, SEQCLS_ACT_RELU, NULL), "model");
    check(seqcls_add_dropout(m, 0.3f, NULL), "model");
    check(seqcls_add_output(m, 3, NULL), "model");
    check(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f), "optimizer");
    check(seqcls_fit_config_create(&c), "config");
    check(seqcls_fit_config_set_int(c, SEQCLS_FIT_SEED, 7), "config");
    check(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 32), "config");
    check(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, epochs), "config");
    check(seqcls_fit_config_set_float(c, SEQCLS_FIT_VALID_SPLIT, 0.2f), "config");
    check(seqcls_fit_config_set_callbacks(c, on_batch, NULL, NULL, NULL), "config");
    check(seqcls_fit_config_set_comm(c, comm), "config");
    check(seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c), "training");
    if (comm) {
        double steps = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_STEPS);
        double cs = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_COMM_SECONDS);
        double ex = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_EXPOSED_SECONDS);
        printf("rank %d of %d: %.0f steps, %.0f buckets, all-reduce %.3f ms/step, %.0f%% hidden "
               "behind the backward pass\n",
               rank, size, steps, seqcls_comm_stat(comm, SEQCLS_COMM_STAT_BUCKETS),
               1e3 * cs / steps, cs > 0 ? 100 * (1 - ex / cs) : 100.0);
    }
    if (rank == 0)
        check(seqcls_model_save(m, out), "saving");
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_comm_free(comm);
    if (mpi)
        check(seqcls_mpi_finalize(), "seqcls_mpi_finalize");
    return 0;
}

static int compare(const char *pa, const char *pb, double tol, int predict)
{
    seqcls_model_t *a = NULL, *b = NULL;
    seqcls_tensor_t *x, *y, *qa = NULL, *qb = NULL;
    int64_t sq[2] = {N, 3};
    int32_t lens[N];
    double dw = 0, dp = 0;
    int i;
    int64_t k;
    check(seqcls_model_load(&a, pa), pa);
    check(seqcls_model_load(&b, pb), pb);
    if (seqcls_param_count(a) != seqcls_param_count(b)) {
        fprintf(stderr, "mpi_fit: %s and %s have different parameters\n", pa, pb);
        return 1;
    }
    for (i = 0; i < seqcls_param_count(a); i++) {
        seqcls_tensor_t *va, *vb;
        const float *fa, *fb;
        check(seqcls_param(a, i, &va, NULL), "param");
        check(seqcls_param(b, i, &vb, NULL), "param");
        fa = seqcls_tensor_data(va);
        fb = seqcls_tensor_data(vb);
        if (tol > 0 && strstr(seqcls_param_name(a, i), ".attention.V.bias"))
            continue;
        for (k = 0; k < seqcls_tensor_numel(va); k++) {
            double d = fabs((double)fa[k] - fb[k]);
            if (tol == 0 && memcmp(&fa[k], &fb[k], sizeof fa[k]) != 0)
                d = INFINITY;
            if (!(d <= dw))
                dw = d;
        }
    }
    if (!predict) {
        printf("%s vs %s: max |w - w'| = %.3g (tolerance %g)\n", pa, pb, dw, tol);
        seqcls_model_free(a);
        seqcls_model_free(b);
        return dw <= tol ? 0 : 1;
    }
    make_data(&x, &y, lens);
    check(seqcls_tensor_create(&qa, SEQCLS_F32, 2, sq), "probs");
    check(seqcls_tensor_create(&qb, SEQCLS_F32, 2, sq), "probs");
    check(seqcls_predict(a, x, lens, qa, NULL), "predict");
    check(seqcls_predict(b, x, lens, qb, NULL), "predict");
    for (k = 0; k < N * 3; k++) {
        double d = fabs((double)((float *)seqcls_tensor_data(qa))[k] -
                        ((float *)seqcls_tensor_data(qb))[k]);
        if (!(d <= dp))
            dp = d;
    }
    printf("%s vs %s: max |w - w'| = %.3g, max |p - p'| = %.3g (tolerance %g)\n", pa, pb, dw, dp,
           tol);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(qa);
    seqcls_tensor_free(qb);
    seqcls_model_free(a);
    seqcls_model_free(b);
    return dw <= tol && dp <= tol ? 0 : 1;
}

int main(int argc, char **argv)
{
    int i, mpi = 1, epochs = 3;
    seqcls_set_num_threads(1);
    if (argc == 5 && !strcmp(argv[1], "compare"))
        return compare(argv[2], argv[3], atof(argv[4]), 1);
    if (argc == 5 && !strcmp(argv[1], "params"))
        return compare(argv[2], argv[3], atof(argv[4]), 0);
    if (argc < 3 || strcmp(argv[1], "train")) {
        fprintf(stderr, "usage: mpi_fit train OUT [--no-mpi] [--epochs E] [--die-at B] "
                        "[--hang-at B] | mpi_fit compare|params A B TOL\n");
        return 2;
    }
    for (i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--no-mpi"))
            mpi = 0;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--die-at") && i + 1 < argc)
            die_at = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hang-at") && i + 1 < argc)
            hang_at = atoi(argv[++i]);
        else
            return fprintf(stderr, "mpi_fit: unknown argument %s\n", argv[i]), 2;
    }
    return train(argv[2], mpi, epochs);
}
