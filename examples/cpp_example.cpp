// cpp_example.cpp -- seqcls from C++17 through the C header, with small
// RAII wrappers defined here (the library itself has no C++ API).
//
// Builds with g++ -std=c++17 -Wall -Wextra -Werror -pedantic (make check-cpp).
// Trains a GRU + attention model on generated data ("does token 7 occur?"),
// then predicts and prints the attention of one row.
#include <seqcls.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace sq {

// A failed call: the status code and seqcls_last_error().
struct error : std::runtime_error {
    int status;
    error(int s, const char *what)
        : std::runtime_error(std::string(what) + ": " + seqcls_last_error()), status(s) {}
};

inline void check(int status, const char *what)
{
    if (status != SEQCLS_OK)
        throw error(status, what);
}

// unique_ptr with each object's own free function.
struct model_free { void operator()(seqcls_model_t *m) const { seqcls_model_free(m); } };
struct tensor_free { void operator()(seqcls_tensor_t *t) const { seqcls_tensor_free(t); } };
struct optimizer_free { void operator()(seqcls_optimizer_t *o) const { seqcls_optimizer_free(o); } };
using model_ptr = std::unique_ptr<seqcls_model_t, model_free>;
using tensor_ptr = std::unique_ptr<seqcls_tensor_t, tensor_free>;
using optimizer_ptr = std::unique_ptr<seqcls_optimizer_t, optimizer_free>;

inline model_ptr make_model(std::uint64_t seed)
{
    seqcls_model_t *m = nullptr;
    check(seqcls_model_create(&m, seed), "seqcls_model_create");
    return model_ptr(m);
}

// A tensor over a vector's storage (no copy): the vector must outlive it.
template <typename T>
tensor_ptr wrap(std::vector<T> &v, std::initializer_list<std::int64_t> shape)
{
    static_assert(sizeof(T) == 4, "float or int32_t");
    seqcls_tensor_t *t = nullptr;
    std::vector<std::int64_t> s(shape);
    int dtype = std::is_same<T, float>::value ? SEQCLS_F32 : SEQCLS_I32;
    check(seqcls_tensor_wrap(&t, dtype, static_cast<int>(s.size()), s.data(), v.data()),
          "seqcls_tensor_wrap");
    return tensor_ptr(t);
}

}  // namespace sq

int main()
{
    constexpr int B = 64, T = 12, VOCAB = 30;
    std::mt19937 rng(7);
    std::vector<std::int32_t> ids(B * T), lengths(B), labels(B);
    auto batch = [&] {
        for (int b = 0; b < B; b++) {
            int len = 1 + static_cast<int>(rng() % T);
            lengths[b] = len;
            labels[b] = static_cast<std::int32_t>(rng() % 2);
            for (int t = 0; t < T; t++) {
                int id = 1 + static_cast<int>(rng() % (VOCAB - 1));
                ids[b * T + t] = t < len ? (id == 7 ? 8 : id) : 0;
            }
            if (labels[b])
                ids[b * T + static_cast<int>(rng() % len)] = 7;
        }
    };

    try {
        std::printf("seqcls %s from C++\n", seqcls_version_string());
        auto model = sq::make_model(3);
        sq::check(seqcls_add_embedding(model.get(), VOCAB, 16, 0, nullptr), "add_embedding");
        sq::check(seqcls_add_gru(model.get(), 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES,
                                 nullptr), "add_gru");
        sq::check(seqcls_add_attention(model.get(), SEQCLS_ATTN_BAHDANAU, 16, nullptr),
                  "add_attention");
        sq::check(seqcls_add_output(model.get(), 1, nullptr), "add_output");

        seqcls_optimizer_t *o = nullptr;
        sq::check(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f), "optimizer_create");
        sq::optimizer_ptr adam(o);

        auto x = sq::wrap(ids, {B, T});
        auto y = sq::wrap(labels, {B});
        for (int step = 0; step < 150; step++) {
            float loss = 0;
            batch();
            sq::check(seqcls_zero_grad(model.get()), "zero_grad");
            sq::check(seqcls_forward(model.get(), x.get(), lengths.data(), nullptr, 1), "forward");
            sq::check(seqcls_loss_backward(model.get(), y.get(), &loss), "loss_backward");
            sq::check(seqcls_optimizer_step(adam.get(), model.get()), "optimizer_step");
            if ((step + 1) % 50 == 0)
                std::printf("step %3d  loss %.4f\n", step + 1, loss);
        }

        std::vector<float> probs(B), att(B * T);
        auto p = sq::wrap(probs, {B, 1});
        auto a = sq::wrap(att, {B, T});
        int right = 0;
        batch();
        sq::check(seqcls_predict(model.get(), x.get(), lengths.data(), p.get(), a.get()),
                  "predict");
        for (int b = 0; b < B; b++)
            right += (probs[b] >= 0.5f) == (labels[b] == 1);
        std::printf("accuracy %d/%d; row 0 attention:", right, B);
        for (int t = 0; t < lengths[0]; t++)
            std::printf(" %d:%.2f", ids[t], att[t]);
        std::printf("\n");

        // Errors are exceptions carrying the library's message.
        try {
            ids[0] = VOCAB + 5;
            sq::check(seqcls_predict(model.get(), x.get(), lengths.data(), p.get(), nullptr),
                      "predict");
            return 1;
        } catch (const sq::error &e) {
            std::printf("expected error %d: %s\n", e.status, e.what());
        }
        return right >= B * 8 / 10 ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_example: %s\n", e.what());
        return 1;
    }
}
