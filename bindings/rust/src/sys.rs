//! Raw declarations of every function of include/seqcls.h, in its order.
//! All pointers are as in C; see the header for ownership and errors.
//! `tests/sys_decls.rs` checks that every SEQCLS_API function is here.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

/// Opaque `seqcls_tensor_t`.
#[repr(C)]
pub struct seqcls_tensor_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_model_t`.
#[repr(C)]
pub struct seqcls_model_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_optimizer_t`.
#[repr(C)]
pub struct seqcls_optimizer_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_fit_config_t`.
#[repr(C)]
pub struct seqcls_fit_config_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_metrics_t`.
#[repr(C)]
pub struct seqcls_metrics_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_stream_t` (1.1).
#[repr(C)]
pub struct seqcls_stream_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_vocab_t`.
#[repr(C)]
pub struct seqcls_vocab_t {
    _private: [u8; 0],
}
/// Opaque `seqcls_comm_t` (1.1).
#[repr(C)]
pub struct seqcls_comm_t {
    _private: [u8; 0],
}

pub type seqcls_batch_fn = Option<
    unsafe extern "C" fn(user: *mut c_void, epoch: c_int, batch: c_int, batches: c_int,
                         loss: f32, accuracy: f32) -> c_int,
>;
pub type seqcls_epoch_fn = Option<
    unsafe extern "C" fn(user: *mut c_void, epoch: c_int, loss: f32, accuracy: f32,
                         val_loss: f32, val_accuracy: f32) -> c_int,
>;
pub type seqcls_lr_schedule_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, epoch: c_int, initial_lr: f32) -> f32>;
pub type seqcls_allreduce_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *mut f32, n: usize) -> c_int>;
pub type seqcls_broadcast_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *mut c_void, bytes: usize) -> c_int>;
pub type seqcls_destructor_fn = Option<unsafe extern "C" fn(user: *mut c_void)>;

// Constants (the header's #defines; tests/sys_decls.rs compares them).
pub const SEQCLS_VERSION_MAJOR: c_int = 1;
pub const SEQCLS_VERSION_MINOR: c_int = 1;
pub const SEQCLS_VERSION_PATCH: c_int = 0;
pub const SEQCLS_OK: c_int = 0;
pub const SEQCLS_E_INVALID_ARG: c_int = -1;
pub const SEQCLS_E_NOMEM: c_int = -2;
pub const SEQCLS_E_SHAPE: c_int = -3;
pub const SEQCLS_E_RANGE: c_int = -4;
pub const SEQCLS_E_STATE: c_int = -5;
pub const SEQCLS_E_NUMERIC: c_int = -6;
pub const SEQCLS_E_FORMAT: c_int = -7;
pub const SEQCLS_E_VERSION: c_int = -8;
pub const SEQCLS_E_IO: c_int = -9;
pub const SEQCLS_E_UNSUPPORTED: c_int = -10;
pub const SEQCLS_E_COMM: c_int = -11;
pub const SEQCLS_F32: c_int = 1;
pub const SEQCLS_I32: c_int = 2;
pub const SEQCLS_MAX_DIMS: c_int = 8;
pub const SEQCLS_BIDIRECTIONAL: c_uint = 0x1;
pub const SEQCLS_RETURN_SEQUENCES: c_uint = 0x2;
pub const SEQCLS_MERGE_SUM: c_uint = 0x4;
pub const SEQCLS_GRU_RESET_BEFORE: c_uint = 0x8;
pub const SEQCLS_NORM_FIRST: c_uint = 0x10;
pub const SEQCLS_MERGE_AVE: c_uint = 0x20;
pub const SEQCLS_MERGE_MUL: c_uint = 0x40;
pub const SEQCLS_PAD_SAME: c_uint = 0x1;
pub const SEQCLS_ATTN_BAHDANAU: c_int = 1;
pub const SEQCLS_ATTN_DOT: c_int = 2;
pub const SEQCLS_ATTN_GENERAL: c_int = 3;
pub const SEQCLS_ATTN_LEARNED_QUERY: c_int = 4;
pub const SEQCLS_ATTN_FEATURE_TIME: c_int = 5;
pub const SEQCLS_POOL_LAST: c_int = 1;
pub const SEQCLS_POOL_MEAN: c_int = 2;
pub const SEQCLS_POOL_MAX: c_int = 3;
pub const SEQCLS_POOL_FIRST: c_int = 4;
pub const SEQCLS_POS_SINUSOIDAL: c_int = 1;
pub const SEQCLS_POS_LEARNED: c_int = 2;
pub const SEQCLS_ACT_NONE: c_int = 0;
pub const SEQCLS_ACT_RELU: c_int = 1;
pub const SEQCLS_ACT_TANH: c_int = 2;
pub const SEQCLS_ACT_SIGMOID: c_int = 3;
pub const SEQCLS_ACT_HARD_SIGMOID: c_int = 4;
pub const SEQCLS_ACT_GELU: c_int = 5;
pub const SEQCLS_OPT_FREEZE: c_int = 1;
pub const SEQCLS_OPT_RECURRENT_ACTIVATION: c_int = 2;
pub const SEQCLS_OPT_INPUT_DROPOUT: c_int = 3;
pub const SEQCLS_OPT_BN_MOMENTUM: c_int = 4;
pub const SEQCLS_OPT_BN_EPSILON: c_int = 5;
pub const SEQCLS_OPT_UNITS: c_int = 6;
pub const SEQCLS_OPT_VOCAB: c_int = 7;
pub const SEQCLS_OPT_PADDING_IDX: c_int = 8;
pub const SEQCLS_OPT_ACTIVATION: c_int = 9;
pub const SEQCLS_OPT_KIND: c_int = 10;
pub const SEQCLS_OPT_FLAGS: c_int = 11;
pub const SEQCLS_OPT_DROPOUT: c_int = 12;
pub const SEQCLS_OPT_HEADS: c_int = 13;
pub const SEQCLS_OPT_FF_DIM: c_int = 14;
pub const SEQCLS_OPT_LN_EPSILON: c_int = 15;
pub const SEQCLS_OPT_MAX_LEN: c_int = 16;
pub const SEQCLS_OPT_SCALE_INPUT: c_int = 17;
pub const SEQCLS_OPT_DILATION: c_int = 18;
pub const SEQCLS_OPT_RECURRENT_DROPOUT: c_int = 19;
pub const SEQCLS_OPT_PER_STEP: c_int = 20;
pub const SEQCLS_LAYER_EMBEDDING: c_int = 1;
pub const SEQCLS_LAYER_INPUT: c_int = 2;
pub const SEQCLS_LAYER_LSTM: c_int = 3;
pub const SEQCLS_LAYER_GRU: c_int = 4;
pub const SEQCLS_LAYER_ATTENTION: c_int = 5;
pub const SEQCLS_LAYER_POOLING: c_int = 6;
pub const SEQCLS_LAYER_DENSE: c_int = 7;
pub const SEQCLS_LAYER_DROPOUT: c_int = 8;
pub const SEQCLS_LAYER_BATCHNORM: c_int = 9;
pub const SEQCLS_LAYER_OUTPUT: c_int = 10;
pub const SEQCLS_LAYER_POSITIONAL_ENCODING: c_int = 11;
pub const SEQCLS_LAYER_TRANSFORMER_ENCODER: c_int = 12;
pub const SEQCLS_LAYER_EMBEDDING_BAG: c_int = 13;
pub const SEQCLS_LAYER_CONV1D: c_int = 14;
pub const SEQCLS_LAYER_FLATTEN: c_int = 15;

// Precisions of a model's weights (seqcls_model_quantize, 1.1).
pub const SEQCLS_FP32: c_int = 32;
pub const SEQCLS_BF16: c_int = 16;
pub const SEQCLS_INT8: c_int = 8;
pub const SEQCLS_OPTIM_ADAM: c_int = 1;
pub const SEQCLS_OPTIM_SGD: c_int = 2;
pub const SEQCLS_OPTIM_RMSPROP: c_int = 3;
pub const SEQCLS_OPTIM_ADAMW: c_int = 4;
pub const SEQCLS_OPTIM_LR: c_int = 1;
pub const SEQCLS_OPTIM_BETA1: c_int = 2;
pub const SEQCLS_OPTIM_BETA2: c_int = 3;
pub const SEQCLS_OPTIM_EPS: c_int = 4;
pub const SEQCLS_OPTIM_WEIGHT_DECAY: c_int = 5;
pub const SEQCLS_OPTIM_MOMENTUM: c_int = 6;
pub const SEQCLS_OPTIM_RHO: c_int = 7;
pub const SEQCLS_OPTIM_CLIPNORM: c_int = 8;
pub const SEQCLS_OPTIM_CLIPVALUE: c_int = 9;
pub const SEQCLS_OPTIM_CLIPNORM_PER_TENSOR: c_int = 10;
pub const SEQCLS_FIT_BATCH_SIZE: c_int = 1;
pub const SEQCLS_FIT_EPOCHS: c_int = 2;
pub const SEQCLS_FIT_SHUFFLE: c_int = 3;
pub const SEQCLS_FIT_SEED: c_int = 4;
pub const SEQCLS_FIT_PATIENCE: c_int = 5;
pub const SEQCLS_FIT_RESTORE_BEST: c_int = 6;
pub const SEQCLS_FIT_BUCKETING: c_int = 7;
pub const SEQCLS_FIT_INITIAL_EPOCH: c_int = 9;
pub const SEQCLS_FIT_VALID_SPLIT: c_int = 8;
pub const SEQCLS_COMM_OVERLAP: c_int = 1;
pub const SEQCLS_COMM_BUCKET_BYTES: c_int = 2;
pub const SEQCLS_COMM_STAT_STEPS: c_int = 1;
pub const SEQCLS_COMM_STAT_BUCKETS: c_int = 2;
pub const SEQCLS_COMM_STAT_BYTES: c_int = 3;
pub const SEQCLS_COMM_STAT_COMM_SECONDS: c_int = 4;
pub const SEQCLS_COMM_STAT_EXPOSED_SECONDS: c_int = 5;
pub const SEQCLS_COMM_STAT_BACKWARD_SECONDS: c_int = 6;
pub const SEQCLS_METRIC_LOSS: c_int = 1;
pub const SEQCLS_METRIC_ACCURACY: c_int = 2;
pub const SEQCLS_METRIC_PRECISION: c_int = 3;
pub const SEQCLS_METRIC_RECALL: c_int = 4;
pub const SEQCLS_METRIC_F1: c_int = 5;
pub const SEQCLS_METRIC_MACRO_F1: c_int = 6;
pub const SEQCLS_METRIC_SUPPORT: c_int = 7;
pub const SEQCLS_METRIC_COUNT: c_int = 8;
pub const SEQCLS_PAD_ID: c_int = 0;
pub const SEQCLS_UNK_ID: c_int = 1;
pub const SEQCLS_TOKEN_MAX: c_int = 256;
pub const SEQCLS_TEXT_MAX: c_int = 2147483647;
pub const SEQCLS_VOCAB_MAX: c_int = 16777216;
pub const SEQCLS_TRUNCATE_PRE: c_uint = 0x1;
// vocabulary options (1.1)
pub const SEQCLS_VOCAB_TOKENS: c_int = 1;
pub const SEQCLS_VOCAB_OOV_BUCKETS: c_int = 2;
pub const SEQCLS_VOCAB_MINN: c_int = 3;
pub const SEQCLS_VOCAB_MAXN: c_int = 4;
pub const SEQCLS_VOCAB_BUCKET: c_int = 5;
pub const SEQCLS_TOKENS_WORD: c_int = 1;
pub const SEQCLS_TOKENS_CHAR: c_int = 2;

extern "C" {
    pub fn seqcls_version() -> c_int;
    pub fn seqcls_version_string() -> *const c_char;
    pub fn seqcls_strerror(status: c_int) -> *const c_char;
    pub fn seqcls_last_error() -> *const c_char;

    pub fn seqcls_tensor_create(out: *mut *mut seqcls_tensor_t, dtype: c_int, ndim: c_int,
                                shape: *const i64) -> c_int;
    pub fn seqcls_tensor_wrap(out: *mut *mut seqcls_tensor_t, dtype: c_int, ndim: c_int,
                              shape: *const i64, data: *mut c_void) -> c_int;
    pub fn seqcls_tensor_free(t: *mut seqcls_tensor_t);
    pub fn seqcls_tensor_data(t: *const seqcls_tensor_t) -> *mut c_void;
    pub fn seqcls_tensor_ndim(t: *const seqcls_tensor_t) -> c_int;
    pub fn seqcls_tensor_dim(t: *const seqcls_tensor_t, axis: c_int) -> i64;
    pub fn seqcls_tensor_dtype(t: *const seqcls_tensor_t) -> c_int;
    pub fn seqcls_tensor_numel(t: *const seqcls_tensor_t) -> i64;

    pub fn seqcls_model_create(out: *mut *mut seqcls_model_t, seed: u64) -> c_int;
    pub fn seqcls_model_free(m: *mut seqcls_model_t);
    pub fn seqcls_layer_count(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_layer_describe(m: *const seqcls_model_t, layer: c_int, buf: *mut c_char,
                                 cap: usize) -> c_int;
    pub fn seqcls_add_embedding(m: *mut seqcls_model_t, vocab: c_int, dim: c_int,
                                padding_idx: c_int, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_embedding_bag(m: *mut seqcls_model_t, rows: c_int, dim: c_int,
                                    per_step: c_int, layer: *mut c_int) -> c_int;
    pub fn seqcls_embedding_set_rows(m: *mut seqcls_model_t, layer: c_int, first_row: c_int,
                                     rows: c_int, dim: c_int, data: *const f32) -> c_int;
    pub fn seqcls_add_input(m: *mut seqcls_model_t, features: c_int, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_lstm(m: *mut seqcls_model_t, hidden: c_int, flags: c_uint,
                           layer: *mut c_int) -> c_int;
    pub fn seqcls_add_gru(m: *mut seqcls_model_t, hidden: c_int, flags: c_uint,
                          layer: *mut c_int) -> c_int;
    pub fn seqcls_add_attention(m: *mut seqcls_model_t, kind: c_int, units: c_int,
                                layer: *mut c_int) -> c_int;
    pub fn seqcls_add_batchnorm(m: *mut seqcls_model_t, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_pooling(m: *mut seqcls_model_t, kind: c_int, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_dense(m: *mut seqcls_model_t, units: c_int, activation: c_int,
                            layer: *mut c_int) -> c_int;
    pub fn seqcls_add_positional_encoding(m: *mut seqcls_model_t, kind: c_int, max_len: c_int,
                                          layer: *mut c_int) -> c_int;
    pub fn seqcls_add_transformer_encoder(m: *mut seqcls_model_t, heads: c_int, ff_dim: c_int,
                                          flags: c_uint, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_dropout(m: *mut seqcls_model_t, rate: f32, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_output(m: *mut seqcls_model_t, classes: c_int, layer: *mut c_int) -> c_int;
    // 1.1
    pub fn seqcls_add_conv1d(m: *mut seqcls_model_t, filters: c_int, kernel_size: c_int,
                             flags: c_uint, layer: *mut c_int) -> c_int;
    pub fn seqcls_add_flatten(m: *mut seqcls_model_t, layer: *mut c_int) -> c_int;
    pub fn seqcls_layer_set_int(m: *mut seqcls_model_t, layer: c_int, option: c_int,
                                value: c_int) -> c_int;
    pub fn seqcls_layer_set_float(m: *mut seqcls_model_t, layer: c_int, option: c_int,
                                  value: f32) -> c_int;
    // introspection (1.1)
    pub fn seqcls_layer_kind(m: *const seqcls_model_t, layer: c_int) -> c_int;
    pub fn seqcls_layer_get_int(m: *const seqcls_model_t, layer: c_int, option: c_int,
                                value: *mut c_int) -> c_int;
    pub fn seqcls_layer_get_float(m: *const seqcls_model_t, layer: c_int, option: c_int,
                                  value: *mut f32) -> c_int;
    pub fn seqcls_model_output_width(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_model_output_ndim(m: *const seqcls_model_t) -> c_int;

    pub fn seqcls_param_count(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_param_name(m: *const seqcls_model_t, i: c_int) -> *const c_char;
    pub fn seqcls_param(m: *mut seqcls_model_t, i: c_int, value: *mut *mut seqcls_tensor_t,
                        grad: *mut *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_param_find(m: *const seqcls_model_t, name: *const c_char) -> c_int;
    // reduced precision (1.1)
    pub fn seqcls_model_quantize(m: *mut seqcls_model_t, precision: c_int) -> c_int;
    pub fn seqcls_model_precision(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_param_precision(
        m: *const seqcls_model_t,
        i: c_int,
        ndim: *mut c_int,
        shape: *mut i64,
    ) -> c_int;

    pub fn seqcls_forward(m: *mut seqcls_model_t, input: *const seqcls_tensor_t,
                          lengths: *const i32, logits: *mut seqcls_tensor_t,
                          training: c_int) -> c_int;
    pub fn seqcls_backward(m: *mut seqcls_model_t, dlogits: *const seqcls_tensor_t) -> c_int;
    pub fn seqcls_loss_backward(m: *mut seqcls_model_t, labels: *const seqcls_tensor_t,
                                loss: *mut f32) -> c_int;
    pub fn seqcls_input_grad(m: *mut seqcls_model_t, grad: *mut *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_zero_grad(m: *mut seqcls_model_t) -> c_int;
    pub fn seqcls_attention_weights(m: *mut seqcls_model_t, layer: c_int,
                                    weights: *mut *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_final_states(m: *mut seqcls_model_t, layer: c_int, h: *mut seqcls_tensor_t,
                               c: *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_self_attention_weights(m: *const seqcls_model_t, layer: c_int,
                                         out: *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_predict(m: *const seqcls_model_t, input: *const seqcls_tensor_t,
                          lengths: *const i32, probs: *mut seqcls_tensor_t,
                          attention: *mut seqcls_tensor_t) -> c_int;
    // streams and sampling (1.1)
    pub fn seqcls_stream_create(out: *mut *mut seqcls_stream_t, m: *const seqcls_model_t)
                                -> c_int;
    pub fn seqcls_stream_push(s: *mut seqcls_stream_t, input: *const seqcls_tensor_t,
                              n_steps: c_int, probs: *mut seqcls_tensor_t) -> c_int;
    pub fn seqcls_stream_reset(s: *mut seqcls_stream_t) -> c_int;
    pub fn seqcls_stream_free(s: *mut seqcls_stream_t);
    pub fn seqcls_sample(probs: *const f32, n: c_int, temperature: f32, rng_state: *mut u64)
                         -> c_int;

    pub fn seqcls_set_num_threads(n: c_int) -> c_int;
    pub fn seqcls_get_num_threads() -> c_int;

    pub fn seqcls_optimizer_create(out: *mut *mut seqcls_optimizer_t, kind: c_int,
                                   lr: f32) -> c_int;
    pub fn seqcls_optimizer_set_float(o: *mut seqcls_optimizer_t, option: c_int,
                                      value: f32) -> c_int;
    pub fn seqcls_optimizer_step(o: *mut seqcls_optimizer_t, m: *mut seqcls_model_t) -> c_int;
    pub fn seqcls_optimizer_steps(o: *const seqcls_optimizer_t) -> i64;
    pub fn seqcls_optimizer_free(o: *mut seqcls_optimizer_t);

    pub fn seqcls_fit_config_create(out: *mut *mut seqcls_fit_config_t) -> c_int;
    pub fn seqcls_fit_config_free(c: *mut seqcls_fit_config_t);
    pub fn seqcls_fit_config_set_int(c: *mut seqcls_fit_config_t, setting: c_int,
                                     value: i64) -> c_int;
    pub fn seqcls_fit_config_set_float(c: *mut seqcls_fit_config_t, setting: c_int,
                                       value: f32) -> c_int;
    pub fn seqcls_fit_config_set_callbacks(c: *mut seqcls_fit_config_t,
                                           on_batch: seqcls_batch_fn,
                                           on_epoch: seqcls_epoch_fn,
                                           lr_schedule: seqcls_lr_schedule_fn,
                                           user: *mut c_void) -> c_int;
    pub fn seqcls_fit(m: *mut seqcls_model_t, o: *mut seqcls_optimizer_t,
                      x: *const seqcls_tensor_t, lengths: *const i32,
                      y: *const seqcls_tensor_t, val_x: *const seqcls_tensor_t,
                      val_lengths: *const i32, val_y: *const seqcls_tensor_t,
                      config: *const seqcls_fit_config_t) -> c_int;
    // distributed training (1.1)
    pub fn seqcls_comm_create(out: *mut *mut seqcls_comm_t, rank: c_int, size: c_int,
                              allreduce_sum: seqcls_allreduce_fn,
                              broadcast: seqcls_broadcast_fn, user: *mut c_void) -> c_int;
    pub fn seqcls_comm_free(c: *mut seqcls_comm_t);
    pub fn seqcls_comm_set_destructor(c: *mut seqcls_comm_t, f: seqcls_destructor_fn) -> c_int;
    pub fn seqcls_comm_rank(c: *const seqcls_comm_t) -> c_int;
    pub fn seqcls_comm_size(c: *const seqcls_comm_t) -> c_int;
    pub fn seqcls_comm_set_int(c: *mut seqcls_comm_t, option: c_int, value: i64) -> c_int;
    pub fn seqcls_comm_stat(c: *const seqcls_comm_t, stat: c_int) -> f64;
    pub fn seqcls_fit_config_set_comm(c: *mut seqcls_fit_config_t,
                                      comm: *mut seqcls_comm_t) -> c_int;
    pub fn seqcls_comm_allreduce_grads(c: *mut seqcls_comm_t, m: *mut seqcls_model_t) -> c_int;
    pub fn seqcls_comm_broadcast_params(c: *mut seqcls_comm_t, m: *mut seqcls_model_t) -> c_int;
    pub fn seqcls_evaluate(m: *const seqcls_model_t, x: *const seqcls_tensor_t,
                           lengths: *const i32, y: *const seqcls_tensor_t, batch_size: c_int,
                           out: *mut *mut seqcls_metrics_t) -> c_int;
    pub fn seqcls_metrics_classes(mt: *const seqcls_metrics_t) -> c_int;
    pub fn seqcls_metrics_get(mt: *const seqcls_metrics_t, metric: c_int, cls: c_int) -> f64;
    pub fn seqcls_metrics_confusion(mt: *const seqcls_metrics_t, truth: c_int,
                                    predicted: c_int) -> i64;
    pub fn seqcls_metrics_free(mt: *mut seqcls_metrics_t);

    pub fn seqcls_tokenize(text: *const c_char, len: usize, starts: *mut i32, ends: *mut i32,
                           max_tokens: c_int, n_out: *mut i32) -> c_int;
    pub fn seqcls_vocab_create(out: *mut *mut seqcls_vocab_t) -> c_int;
    pub fn seqcls_vocab_free(v: *mut seqcls_vocab_t);
    // vocabulary options (1.1)
    pub fn seqcls_vocab_set_int(v: *mut seqcls_vocab_t, option: c_int, value: c_int) -> c_int;
    pub fn seqcls_vocab_get_int(v: *const seqcls_vocab_t, option: c_int,
                                value: *mut c_int) -> c_int;
    pub fn seqcls_vocab_rows(v: *const seqcls_vocab_t) -> c_int;
    pub fn seqcls_vocab_add_text(v: *mut seqcls_vocab_t, text: *const c_char,
                                 len: usize) -> c_int;
    pub fn seqcls_vocab_build(v: *mut seqcls_vocab_t, min_freq: c_int, max_size: c_int) -> c_int;
    pub fn seqcls_vocab_size(v: *const seqcls_vocab_t) -> c_int;
    pub fn seqcls_vocab_id(v: *const seqcls_vocab_t, token: *const c_char) -> c_int;
    pub fn seqcls_vocab_token(v: *const seqcls_vocab_t, id: c_int) -> *const c_char;
    pub fn seqcls_vocab_encode(v: *const seqcls_vocab_t, text: *const c_char, len: usize,
                               ids: *mut i32, max_len: c_int, n_out: *mut i32) -> c_int;
    pub fn seqcls_vocab_encode_ex(v: *const seqcls_vocab_t, text: *const c_char, len: usize,
                                  ids: *mut i32, max_len: c_int, flags: c_uint,
                                  n_out: *mut i32) -> c_int;
    pub fn seqcls_vocab_from_list(out: *mut *mut seqcls_vocab_t, tokens: *const *const c_char,
                                  n: c_int) -> c_int;
    pub fn seqcls_vocab_encode_subwords(v: *const seqcls_vocab_t, text: *const c_char,
                                        len: usize, ids: *mut i32, maxlen: c_int,
                                        per_token: c_int, n_tokens: *mut c_int) -> c_int;
    pub fn seqcls_vocab_tokenize(v: *const seqcls_vocab_t, text: *const c_char, len: usize,
                                 starts: *mut i32, ends: *mut i32, max_tokens: c_int,
                                 n_out: *mut i32) -> c_int;
    pub fn seqcls_vocab_decode(v: *const seqcls_vocab_t, ids: *const i32, n: c_int,
                               buf: *mut c_char, cap: usize, len_out: *mut usize) -> c_int;
    pub fn seqcls_vocab_save_buffer(v: *const seqcls_vocab_t, buf: *mut *mut c_void,
                                    len: *mut usize) -> c_int;
    pub fn seqcls_vocab_load_buffer(out: *mut *mut seqcls_vocab_t, buf: *const c_void,
                                    len: usize) -> c_int;

    pub fn seqcls_model_set_vocab(m: *mut seqcls_model_t, v: *const seqcls_vocab_t) -> c_int;
    pub fn seqcls_model_vocab(m: *const seqcls_model_t) -> *const seqcls_vocab_t;
    pub fn seqcls_model_set_labels(m: *mut seqcls_model_t, n: c_int,
                                   names: *const *const c_char) -> c_int;
    pub fn seqcls_model_label_count(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_model_label(m: *const seqcls_model_t, cls: c_int) -> *const c_char;
    // metadata (1.1)
    pub fn seqcls_model_set_meta(m: *mut seqcls_model_t, key: *const c_char,
                                 value: *const c_char) -> c_int;
    pub fn seqcls_model_get_meta(m: *const seqcls_model_t, key: *const c_char) -> *const c_char;
    pub fn seqcls_model_meta_count(m: *const seqcls_model_t) -> c_int;
    pub fn seqcls_model_meta_key(m: *const seqcls_model_t, i: c_int) -> *const c_char;

    pub fn seqcls_model_save(m: *const seqcls_model_t, path: *const c_char) -> c_int;
    pub fn seqcls_model_load(out: *mut *mut seqcls_model_t, path: *const c_char) -> c_int;
    pub fn seqcls_model_save_buffer(m: *const seqcls_model_t, buf: *mut *mut c_void,
                                    len: *mut usize) -> c_int;
    pub fn seqcls_model_load_buffer(out: *mut *mut seqcls_model_t, buf: *const c_void,
                                    len: usize) -> c_int;
    pub fn seqcls_checkpoint_save(m: *const seqcls_model_t, o: *const seqcls_optimizer_t,
                                  path: *const c_char) -> c_int;
    pub fn seqcls_checkpoint_load(m_out: *mut *mut seqcls_model_t,
                                  o_out: *mut *mut seqcls_optimizer_t, path: *const c_char)
                                  -> c_int;
    pub fn seqcls_free(p: *mut c_void);
}
