// bench_dnnl.cc -- one recurrent layer (input 128, hidden 128, batch 64,
// length 200), LSTM and GRU, uni- and bidirectional: seqcls beside
// oneDNN's LSTM and linear-before-reset GRU primitives (the GRU PyTorch
// and seqcls compute by default), in the same process, interleaved run by
// run, at 1 and 2 threads.  Forward inference and forward training +
// backward.  oneDNN's weights are reordered once into the layouts its
// primitives prefer (format_tag::any), as its users do; oneDNN has no
// per-row lengths, so it runs the padding of the IMDB-like batches.
// seqcls's layer is followed by a 1-unit output layer (its cost is
// negligible) and gets the lengths.
//
// Each timed call is preceded by a pause of PAUSE_MS and one untimed call
// of the same library: the pause lets the other library's threads go idle
// (oneDNN's OpenMP workers spin for a while after a primitive returns, and
// the scheduler remembers them as busy), the untimed call wakes the
// library's own workers, so each is timed as in a loop of its own calls.
// Timed back to back instead, seqcls's two-thread layer ran 24.7 ms right
// after oneDNN's 18.8 ms, and 19.2 ms when oneDNN's primitive was not
// executed at all (1 December 2026).
//
//   usage: bench_dnnl [repeats]
//
// Prints `name: value` lines: medians in ms, sequences per second, GFLOP/s
// over the real tokens (seqcls) or the padded ones (oneDNN), and ratios
// oneDNN time / seqcls time (> 1: seqcls is faster).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <omp.h>

#include <dnnl.hpp>

#include <seqcls.h>

extern "C" {
#include "lengths.h"
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

enum { B = 64, T = 200, IN = 128, H = 128, PAUSE_MS = 20 };

static double now_ms()
{
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

#define CHECK(call)                                                                    \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != SEQCLS_OK) {                                                        \
            std::fprintf(stderr, "%s failed: %s\n", #call, seqcls_last_error());       \
            std::exit(1);                                                              \
        }                                                                              \
    } while (0)

static void fill(memory &m, unsigned seed)
{
    float *p = static_cast<float *>(m.get_data_handle());
    size_t n = m.get_desc().get_size() / sizeof(float);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((s >> 40) / 16777216.0 * 0.2 - 0.1);
    }
}

// One oneDNN layer: forward inference, forward training and backward.
struct DnnlLayer {
    engine eng{engine::kind::cpu, 0};
    stream strm{eng};
    primitive fwd_inf, fwd_train, bwd;
    std::unordered_map<int, memory> args_inf, args_train, args_bwd;

    DnnlLayer(bool gru, bool bi)
    {
        const int D = bi ? 2 : 1, G = gru ? 3 : 4, GB = gru ? 4 : 4;
        const auto dir = bi ? rnn_direction::bidirectional_concat
                            : rnn_direction::unidirectional_left2right;
        memory::desc src_md({T, B, IN}, dt::f32, tag::tnc);
        memory::desc dst_md({T, B, D * H}, dt::f32, tag::tnc);
        memory::desc wl_any({1, D, IN, G, H}, dt::f32, tag::any);
        memory::desc wi_any({1, D, H, G, H}, dt::f32, tag::any);
        memory::desc wl_user({1, D, IN, G, H}, dt::f32, tag::ldigo);
        memory::desc wi_user({1, D, H, G, H}, dt::f32, tag::ldigo);
        memory::desc bias_md({1, D, GB, H}, dt::f32, tag::ldgo);
        memory::desc none;

        auto make_fwd = [&](prop_kind pk) -> std::pair<primitive, primitive_desc> {
            if (gru) {
                lbr_gru_forward::desc d(pk, dir, src_md, none, wl_any, wi_any, bias_md, dst_md,
                                        none);
                lbr_gru_forward::primitive_desc pd(d, eng);
                return {lbr_gru_forward(pd), pd};
            }
            lstm_forward::desc d(pk, dir, src_md, none, none, wl_any, wi_any, bias_md, dst_md,
                                 none, none);
            lstm_forward::primitive_desc pd(d, eng);
            return {lstm_forward(pd), pd};
        };
        auto inf = make_fwd(prop_kind::forward_inference);
        auto tr = make_fwd(prop_kind::forward_training);
        fwd_inf = inf.first;
        fwd_train = tr.first;

        memory src(src_md, eng), dst(dst_md, eng), bias(bias_md, eng);
        memory wl(wl_user, eng), wi(wi_user, eng);
        fill(src, 1);
        fill(wl, 2);
        fill(wi, 3);
        fill(bias, 4);
        // weights reordered once into each primitive's preferred layout
        auto reordered = [&](const memory &user, const memory::desc &want) {
            if (user.get_desc() == want)
                return user;
            memory m(want, eng);
            reorder(user, m).execute(strm, const_cast<memory &>(user), m);
            strm.wait();
            return m;
        };
        auto wl_of = [&](const primitive_desc &pd) {
            return pd.query_md(query::weights_md, 0);
        };
        auto wi_of = [&](const primitive_desc &pd) {
            return pd.query_md(query::weights_md, 1);
        };
        args_inf = {{DNNL_ARG_SRC_LAYER, src},
                    {DNNL_ARG_WEIGHTS_LAYER, reordered(wl, wl_of(inf.second))},
                    {DNNL_ARG_WEIGHTS_ITER, reordered(wi, wi_of(inf.second))},
                    {DNNL_ARG_BIAS, bias},
                    {DNNL_ARG_DST_LAYER, dst}};
        memory ws(tr.second.workspace_desc(), eng);
        memory wl_tr = reordered(wl, wl_of(tr.second)), wi_tr = reordered(wi, wi_of(tr.second));
        args_train = {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_WEIGHTS_LAYER, wl_tr},
                      {DNNL_ARG_WEIGHTS_ITER, wi_tr}, {DNNL_ARG_BIAS, bias},
                      {DNNL_ARG_DST_LAYER, dst},     {DNNL_ARG_WORKSPACE, ws}};

        memory::desc dwl_any({1, D, IN, G, H}, dt::f32, tag::any);
        memory::desc dwi_any({1, D, H, G, H}, dt::f32, tag::any);
        primitive_desc bpd;
        if (gru) {
            lbr_gru_backward::desc d(prop_kind::backward, dir, src_md, none, wl_any, wi_any,
                                     bias_md, dst_md, none, src_md, none, dwl_any, dwi_any,
                                     bias_md, dst_md, none);
            lbr_gru_backward::primitive_desc pd(
                d, eng, *static_cast<lbr_gru_forward::primitive_desc *>(&tr.second));
            bwd = lbr_gru_backward(pd);
            bpd = pd;
        } else {
            lstm_backward::desc d(prop_kind::backward, dir, src_md, none, none, wl_any, wi_any,
                                  bias_md, dst_md, none, none, src_md, none, none, dwl_any,
                                  dwi_any, bias_md, dst_md, none, none);
            lstm_backward::primitive_desc pd(
                d, eng, *static_cast<lstm_forward::primitive_desc *>(&tr.second));
            bwd = lstm_backward(pd);
            bpd = pd;
        }
        memory dsrc(src_md, eng), ddst(dst_md, eng), dbias(bias_md, eng);
        memory dwl(bpd.query_md(query::diff_weights_md, 0), eng);
        memory dwi(bpd.query_md(query::diff_weights_md, 1), eng);
        fill(ddst, 5);
        args_bwd = {{DNNL_ARG_SRC_LAYER, src},
                    {DNNL_ARG_WEIGHTS_LAYER, reordered(wl, bpd.query_md(query::weights_md, 0))},
                    {DNNL_ARG_WEIGHTS_ITER, reordered(wi, bpd.query_md(query::weights_md, 1))},
                    {DNNL_ARG_BIAS, bias},
                    {DNNL_ARG_DST_LAYER, dst},
                    {DNNL_ARG_WORKSPACE, ws},
                    {DNNL_ARG_DIFF_SRC_LAYER, dsrc},
                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
                    {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
                    {DNNL_ARG_DIFF_BIAS, dbias},
                    {DNNL_ARG_DIFF_DST_LAYER, ddst}};
    }

    void infer()
    {
        fwd_inf.execute(strm, args_inf);
        strm.wait();
    }

    void train()
    {
        fwd_train.execute(strm, args_train);
        bwd.execute(strm, args_bwd);
        strm.wait();
    }
};

// The same layer in seqcls.
struct SeqclsLayer {
    seqcls_model_t *m = nullptr;
    seqcls_tensor_t *x = nullptr, *logits = nullptr, *dlogits = nullptr;

    SeqclsLayer(bool gru, bool bi)
    {
        int64_t xs[3] = {B, T, IN}, ls[2] = {B, 1};
        CHECK(seqcls_model_create(&m, 1));
        CHECK(seqcls_add_input(m, IN, nullptr));
        if (gru)
            CHECK(seqcls_add_gru(m, H, bi ? SEQCLS_BIDIRECTIONAL : 0, nullptr));
        else
            CHECK(seqcls_add_lstm(m, H, bi ? SEQCLS_BIDIRECTIONAL : 0, nullptr));
        CHECK(seqcls_add_output(m, 1, nullptr));
        CHECK(seqcls_tensor_create(&x, SEQCLS_F32, 3, xs));
        CHECK(seqcls_tensor_create(&logits, SEQCLS_F32, 2, ls));
        CHECK(seqcls_tensor_create(&dlogits, SEQCLS_F32, 2, ls));
        float *xd = static_cast<float *>(seqcls_tensor_data(x));
        uint64_t s = 12345;
        for (size_t i = 0; i < (size_t)B * T * IN; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            xd[i] = (float)((s >> 40) / 16777216.0 * 2 - 1);
        }
        for (int b = 0; b < B; b++)
            static_cast<float *>(seqcls_tensor_data(dlogits))[b] = 1.0f / B;
    }
    ~SeqclsLayer()
    {
        seqcls_tensor_free(x);
        seqcls_tensor_free(logits);
        seqcls_tensor_free(dlogits);
        seqcls_model_free(m);
    }
    void infer(const int32_t *len) { CHECK(seqcls_forward(m, x, len, logits, 0)); }
    void train(const int32_t *len)
    {
        CHECK(seqcls_forward(m, x, len, logits, 1));
        CHECK(seqcls_backward(m, dlogits));
    }
};

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? std::atoi(argv[1]) : 10;
    int32_t full[B], imdb[B];
    double real_tokens = 0;
    bench_lengths(full, B, T, 0.0, 3);
    bench_lengths(imdb, B, T, 0.476 * T, 3);
    for (int b = 0; b < B; b++)
        real_tokens += imdb[b];
    std::printf("layer_config: in=%d H=%d B=%d T=%d, oneDNN %d.%d.%d, imdb_real_tokens=%.0f of %d\n",
                IN, H, B, T, dnnl_version()->major, dnnl_version()->minor,
                dnnl_version()->patch, real_tokens, B * T);
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(seqcls_set_num_threads(threads));
        omp_set_num_threads(threads);
        for (int gru = 0; gru <= 1; gru++)
            for (int bi = 0; bi <= 1; bi++) {
                DnnlLayer dn(gru, bi);
                SeqclsLayer sq(gru, bi);
                const int G = gru ? 3 : 4, D = bi ? 2 : 1;
                // forward GEMM flops of one token; training = 3x forward
                const double f = 2.0 * D * G * H * (IN + H);
                for (int mode = 0; mode < 2; mode++) {
                    std::vector<double> td, tf, ti;
                    // a pause, an untimed call, then the timed call
                    auto timed = [&](auto call) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(PAUSE_MS));
                        call();
                        const double t0 = now_ms();
                        call();
                        return now_ms() - t0;
                    };
                    for (int r = 0; r < reps; r++) {
                        td.push_back(timed([&] { mode ? dn.train() : dn.infer(); }));
                        tf.push_back(timed([&] { mode ? sq.train(full) : sq.infer(full); }));
                        ti.push_back(timed([&] { mode ? sq.train(imdb) : sq.infer(imdb); }));
                    }
                    const double md = median(td), mf = median(tf), mi = median(ti);
                    const double flops = f * (mode ? 3 : 1);
                    std::string k = std::string(gru ? "gru" : "lstm") + (bi ? "_bi" : "_uni") +
                                    (mode ? "_train" : "_infer") + "_" +
                                    std::to_string(threads) + "t";
                    std::printf("layer_%s_onednn_ms: %.2f\n", k.c_str(), md);
                    std::printf("layer_%s_seqcls_full_ms: %.2f\n", k.c_str(), mf);
                    std::printf("layer_%s_seqcls_imdb_ms: %.2f\n", k.c_str(), mi);
                    std::printf("layer_%s_onednn_seq_per_s: %.0f\n", k.c_str(), B / md * 1e3);
                    std::printf("layer_%s_seqcls_full_seq_per_s: %.0f\n", k.c_str(), B / mf * 1e3);
                    std::printf("layer_%s_seqcls_imdb_seq_per_s: %.0f\n", k.c_str(), B / mi * 1e3);
                    std::printf("layer_%s_onednn_gflops: %.1f\n", k.c_str(),
                                flops * B * T / (md * 1e6));
                    std::printf("layer_%s_seqcls_full_gflops: %.1f\n", k.c_str(),
                                flops * B * T / (mf * 1e6));
                    std::printf("layer_%s_seqcls_imdb_gflops: %.1f\n", k.c_str(),
                                flops * real_tokens / (mi * 1e6));
                    std::printf("layer_%s_speedup_full: %.2f\n", k.c_str(), md / mf);
                    std::printf("layer_%s_speedup_imdb: %.2f\n", k.c_str(), md / mi);
                    std::fflush(stdout);
                }
            }
    }
    return 0;
}
