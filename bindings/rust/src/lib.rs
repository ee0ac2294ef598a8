//! Safe Rust bindings of libseqcls, the embeddable sequence-classifier
//! library.  The raw C declarations are in [`sys`]; this module wraps the
//! handles in owned types that free themselves ([`Drop`]), turns every
//! non-zero status into [`Error`] carrying `seqcls_last_error()`, and
//! passes slices to C without copies (`seqcls_tensor_wrap`), with lifetimes
//! tying each [`Tensor`] to the slice it borrows.
//!
//! ```no_run
//! use seqcls::{Model, Optimizer, Pooling};
//! let mut m = Model::new(42)?;
//! m.add_embedding(100, 16, Some(0))?;
//! m.add_pooling(Pooling::Mean)?;
//! m.add_output(1)?;
//! let probs = m.predict(&[5, 17, 42, 0], 1, 4, Some(&[3]))?;
//! # Ok::<(), seqcls::Error>(())
//! ```
pub mod sys;

use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr;

pub use sys::{
    SEQCLS_BIDIRECTIONAL as BIDIRECTIONAL, SEQCLS_GRU_RESET_BEFORE as GRU_RESET_BEFORE,
    SEQCLS_MERGE_AVE as MERGE_AVE, SEQCLS_MERGE_MUL as MERGE_MUL, SEQCLS_MERGE_SUM as MERGE_SUM,
    SEQCLS_NORM_FIRST as NORM_FIRST, SEQCLS_PAD_SAME as PAD_SAME,
    SEQCLS_RETURN_SEQUENCES as RETURN_SEQUENCES,
};

/// A failed call: the status code (`SEQCLS_E_*`, negative) and the library's
/// message, which names the function, the argument and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: i32,
    pub message: String,
}

/// What kind of failure a status code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArg,
    NoMem,
    Shape,
    Range,
    State,
    Numeric,
    Format,
    Version,
    Io,
    Unsupported,
    Other,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self.status {
            sys::SEQCLS_E_INVALID_ARG => ErrorKind::InvalidArg,
            sys::SEQCLS_E_NOMEM => ErrorKind::NoMem,
            sys::SEQCLS_E_SHAPE => ErrorKind::Shape,
            sys::SEQCLS_E_RANGE => ErrorKind::Range,
            sys::SEQCLS_E_STATE => ErrorKind::State,
            sys::SEQCLS_E_NUMERIC => ErrorKind::Numeric,
            sys::SEQCLS_E_FORMAT => ErrorKind::Format,
            sys::SEQCLS_E_VERSION => ErrorKind::Version,
            sys::SEQCLS_E_IO => ErrorKind::Io,
            sys::SEQCLS_E_UNSUPPORTED => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        }
    }

    fn local(status: c_int, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, strerror(self.status))
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// `seqcls_last_error()` of the calling thread.
pub fn last_error() -> String {
    unsafe { cstr(sys::seqcls_last_error()) }
}

/// `seqcls_strerror(status)`.
pub fn strerror(status: i32) -> String {
    unsafe { cstr(sys::seqcls_strerror(status)) }
}

fn check(status: c_int) -> Result<()> {
    if status >= 0 {
        Ok(())
    } else {
        let mut message = last_error();
        if message.is_empty() {
            message = strerror(status);
        }
        Err(Error { status, message })
    }
}

/// Version of the linked library, MAJOR*10000 + MINOR*100 + PATCH.
pub fn version() -> i32 {
    unsafe { sys::seqcls_version() }
}

/// Version string of the linked library, e.g. "1.0.0".
pub fn version_string() -> String {
    unsafe { cstr(sys::seqcls_version_string()) }
}

/// Process-wide thread count for seqcls and its BLAS (0 = one per core).
pub fn set_num_threads(n: i32) -> Result<()> {
    check(unsafe { sys::seqcls_set_num_threads(n) })
}

pub fn get_num_threads() -> i32 {
    unsafe { sys::seqcls_get_num_threads() }
}

/// `s` as a C string; a NUL inside it is an `Err` (InvalidArg) naming `what`,
/// never a panic and never a string cut short.
fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|e| Error::local(sys::SEQCLS_E_INVALID_ARG,
        format!("{what} contains a NUL byte (at byte {}); a C string would end there",
                e.nul_position())))
}

fn to_int(n: usize, what: &str) -> Result<c_int> {
    c_int::try_from(n).map_err(|_| Error::local(sys::SEQCLS_E_RANGE, format!("{what} too large")))
}

/// A zero-filled Vec of `a * b` elements: an overflowing size or a failed
/// allocation is an `Err` (NoMem), not a panic or an abort.
fn zeroed<T: Copy + Default>(a: usize, b: usize, what: &str) -> Result<Vec<T>> {
    let n = a.checked_mul(b)
        .ok_or_else(|| Error::local(sys::SEQCLS_E_NOMEM, format!("{what}: size overflows")))?;
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::local(sys::SEQCLS_E_NOMEM, format!("{what}: out of memory")))?;
    v.resize(n, T::default());
    Ok(v)
}

// ---------------------------------------------------------------- tensors

/// Element types a tensor can hold.
pub trait Element: Copy + 'static {
    const DTYPE: c_int;
}
impl Element for f32 {
    const DTYPE: c_int = sys::SEQCLS_F32;
}
impl Element for i32 {
    const DTYPE: c_int = sys::SEQCLS_I32;
}

/// A seqcls tensor.  `Tensor::zeros` owns its storage (`Tensor<'static>`);
/// `Tensor::wrap` / `Tensor::wrap_mut` borrow a slice for `'a` without
/// copying it, so the slice cannot be dropped or moved while the tensor
/// lives.  Dropping the tensor frees the C object (never a borrowed slice).
pub struct Tensor<'a> {
    ptr: *mut sys::seqcls_tensor_t,
    writable: bool,
    _borrow: PhantomData<&'a mut [u8]>,
}

fn shape_len(shape: &[i64]) -> Result<usize> {
    if shape.is_empty() || shape.len() > sys::SEQCLS_MAX_DIMS as usize {
        return Err(Error::local(sys::SEQCLS_E_INVALID_ARG, "tensor rank must be 1..8"));
    }
    let mut n: usize = 1;
    for &d in shape {
        let d = usize::try_from(d)
            .map_err(|_| Error::local(sys::SEQCLS_E_SHAPE, "negative dimension"))?;
        n = n.checked_mul(d).ok_or_else(|| Error::local(sys::SEQCLS_E_NOMEM, "size overflows"))?;
    }
    Ok(n)
}

impl Tensor<'static> {
    /// A new zero-filled tensor owning 64-byte aligned storage.
    pub fn zeros<T: Element>(shape: &[i64]) -> Result<Tensor<'static>> {
        let mut p = ptr::null_mut();
        check(unsafe {
            sys::seqcls_tensor_create(&mut p, T::DTYPE, shape.len() as c_int, shape.as_ptr())
        })?;
        Ok(Tensor { ptr: p, writable: true, _borrow: PhantomData })
    }
}

impl<'a> Tensor<'a> {
    fn wrap_raw<T: Element>(data: *const T, n: usize, shape: &[i64], writable: bool)
        -> Result<Tensor<'a>> {
        let want = shape_len(shape)?;
        if want != n {
            return Err(Error::local(sys::SEQCLS_E_SHAPE,
                format!("slice has {n} elements, shape {shape:?} needs {want}")));
        }
        let mut p = ptr::null_mut();
        check(unsafe {
            sys::seqcls_tensor_wrap(&mut p, T::DTYPE, shape.len() as c_int, shape.as_ptr(),
                                    data as *mut c_void)
        })?;
        Ok(Tensor { ptr: p, writable, _borrow: PhantomData })
    }

    /// A read-only tensor over `data` (not copied); for inputs.
    pub fn wrap<T: Element>(data: &'a [T], shape: &[i64]) -> Result<Tensor<'a>> {
        Self::wrap_raw(data.as_ptr(), data.len(), shape, false)
    }

    /// A tensor over `data` (not copied) that C may write; for outputs.
    pub fn wrap_mut<T: Element>(data: &'a mut [T], shape: &[i64]) -> Result<Tensor<'a>> {
        Self::wrap_raw(data.as_ptr(), data.len(), shape, true)
    }

    pub fn shape(&self) -> Vec<i64> {
        unsafe {
            (0..sys::seqcls_tensor_ndim(self.ptr)).map(|a| sys::seqcls_tensor_dim(self.ptr, a))
                .collect()
        }
    }

    pub fn numel(&self) -> usize {
        unsafe { sys::seqcls_tensor_numel(self.ptr) as usize }
    }

    pub fn dtype(&self) -> i32 {
        unsafe { sys::seqcls_tensor_dtype(self.ptr) }
    }

    fn check_dtype<T: Element>(&self) -> Result<()> {
        if self.dtype() == T::DTYPE {
            Ok(())
        } else {
            Err(Error::local(sys::SEQCLS_E_SHAPE, "tensor has another dtype"))
        }
    }

    /// The elements (no copy).
    pub fn data<T: Element>(&self) -> Result<&[T]> {
        self.check_dtype::<T>()?;
        let n = self.numel();
        let p = unsafe { sys::seqcls_tensor_data(self.ptr) } as *const T;
        Ok(if n == 0 { &[] } else { unsafe { std::slice::from_raw_parts(p, n) } })
    }

    /// The elements, writable (not for a tensor made with `wrap`).
    pub fn data_mut<T: Element>(&mut self) -> Result<&mut [T]> {
        self.check_dtype::<T>()?;
        if !self.writable {
            return Err(Error::local(sys::SEQCLS_E_INVALID_ARG, "tensor wraps a read-only slice"));
        }
        let n = self.numel();
        let p = unsafe { sys::seqcls_tensor_data(self.ptr) } as *mut T;
        Ok(if n == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(p, n) } })
    }

    pub fn as_ptr(&self) -> *mut sys::seqcls_tensor_t {
        self.ptr
    }
}

impl Drop for Tensor<'_> {
    fn drop(&mut self) {
        unsafe { sys::seqcls_tensor_free(self.ptr) }
    }
}

// ---------------------------------------------------------------- kinds

/// Attention kinds (`SEQCLS_ATTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attention {
    Bahdanau = 1,
    Dot = 2,
    General = 3,
    LearnedQuery = 4,
    FeatureTime = 5,
}

/// Pooling kinds (`SEQCLS_POOL_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pooling {
    Last = 1,
    Mean = 2,
    Max = 3,
    /// The first step, the [CLS] convention (since 1.1).
    First = 4,
}

/// Positional encodings (`SEQCLS_POS_*`, since 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Positional {
    /// The sinusoids of "Attention is all you need" (no parameters).
    Sinusoidal = 1,
    /// A trained table `weight` [max_len, d].
    Learned = 2,
}

/// Activations (`SEQCLS_ACT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    None = 0,
    Relu = 1,
    Tanh = 2,
    Sigmoid = 3,
    HardSigmoid = 4,
    /// x Phi(x), the exact erf form (transformer layers, since 1.1).
    Gelu = 5,
}

/// Settings of one transformer encoder layer ([`Model::add_transformer_encoder`]),
/// PyTorch's nn.TransformerEncoderLayer arguments; `new` gives its defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerEncoder {
    /// Attention heads; must divide the input width d.
    pub heads: i32,
    /// Width of the feed-forward block.
    pub ff_dim: i32,
    /// Pre-norm (PyTorch `norm_first=True`); post-norm by default.
    pub norm_first: bool,
    /// The rate of all four dropouts (0.1).
    pub dropout: f32,
    /// `Activation::Relu` (the default) or `Activation::Gelu`.
    pub activation: Activation,
    /// Layer-norm epsilon (1e-5).
    pub ln_eps: f32,
}

impl TransformerEncoder {
    /// `heads` heads and a feed-forward block of `ff_dim`, the rest as PyTorch's defaults.
    pub fn new(heads: i32, ff_dim: i32) -> TransformerEncoder {
        TransformerEncoder { heads, ff_dim, norm_first: false, dropout: 0.1,
                             activation: Activation::Relu, ln_eps: 1e-5 }
    }
}

/// Layer kinds (`SEQCLS_LAYER_*`), as [`Model::layer_kind`] returns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayerKind {
    Embedding = 1,
    Input = 2,
    Lstm = 3,
    Gru = 4,
    Attention = 5,
    Pooling = 6,
    Dense = 7,
    Dropout = 8,
    BatchNorm = 9,
    Output = 10,
    /// Since 1.1.
    PositionalEncoding = 11,
    /// Since 1.1.
    TransformerEncoder = 12,
    /// fastText's input layer (1.1): bags of ids per step, averaged.
    EmbeddingBag = 13,
    /// Since 1.1.
    Conv1d = 14,
    /// Since 1.1.
    Flatten = 15,
}

impl LayerKind {
    const ALL: [LayerKind; 15] = [LayerKind::Embedding, LayerKind::Input, LayerKind::Lstm,
                                  LayerKind::Gru, LayerKind::Attention, LayerKind::Pooling,
                                  LayerKind::Dense, LayerKind::Dropout, LayerKind::BatchNorm,
                                  LayerKind::Output, LayerKind::PositionalEncoding,
                                  LayerKind::TransformerEncoder, LayerKind::EmbeddingBag,
                                  LayerKind::Conv1d,
                                  LayerKind::Flatten];

    /// The kind of a `SEQCLS_LAYER_*` code; `None` for a code this crate does not know.
    pub fn from_raw(code: i32) -> Option<LayerKind> {
        LayerKind::ALL.iter().copied().find(|k| *k as i32 == code)
    }

    /// The `SEQCLS_LAYER_*` code.
    pub fn as_raw(self) -> i32 {
        self as i32
    }

    /// The name the layer descriptions use: "embedding", "lstm", "batchnorm"...
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Embedding => "embedding",
            LayerKind::Input => "input",
            LayerKind::Lstm => "lstm",
            LayerKind::Gru => "gru",
            LayerKind::Attention => "attention",
            LayerKind::Pooling => "pooling",
            LayerKind::Dense => "dense",
            LayerKind::Dropout => "dropout",
            LayerKind::BatchNorm => "batchnorm",
            LayerKind::Output => "output",
            LayerKind::PositionalEncoding => "positional",
            LayerKind::TransformerEncoder => "transformer",
            LayerKind::EmbeddingBag => "embedding_bag",
            LayerKind::Conv1d => "conv1d",
            LayerKind::Flatten => "flatten",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Optimiser kinds (`SEQCLS_OPTIM_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    Adam = 1,
    Sgd = 2,
    RmsProp = 3,
    AdamW = 4,
}

// ---------------------------------------------------------------- model

/// A model (`seqcls_model_t`), freed on drop.  It is `Send` (one thread
/// at a time may use it mutably) and `Sync` for `predict`/`evaluate`,
/// which the C library allows from many threads at once.
pub struct Model {
    ptr: *mut sys::seqcls_model_t,
}

unsafe impl Send for Model {}
unsafe impl Sync for Model {}

/// Loss and accuracy of `Model::evaluate`, with the per-class scores.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub loss: f64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub count: i64,
    pub classes: usize,
    /// confusion[truth * classes + predicted]
    pub confusion: Vec<i64>,
}

/// Settings of `Model::fit` (defaults as `seqcls_fit`'s).
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: i64,
    pub batch_size: i64,
    pub validation_split: f32,
    pub shuffle: bool,
    pub seed: i64,
    pub patience: i64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { epochs: 10, batch_size: 32, validation_split: 0.0, shuffle: true, seed: 0,
                     patience: 0 }
    }
}

/// Progress of one training batch, given to the `Model::fit` callback.
#[derive(Clone, Copy, Debug)]
pub struct BatchProgress {
    pub epoch: i32,
    pub batch: i32,
    pub batches: i32,
    pub loss: f32,
    pub accuracy: f32,
}

impl Model {
    /// An empty model; `seed` makes initialisation and dropout reproducible.
    pub fn new(seed: u64) -> Result<Model> {
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_model_create(&mut p, seed) })?;
        Ok(Model { ptr: p })
    }

    pub fn as_ptr(&self) -> *mut sys::seqcls_model_t {
        self.ptr
    }

    fn add(&mut self, f: impl FnOnce(*mut sys::seqcls_model_t, *mut c_int) -> c_int)
        -> Result<i32> {
        let mut layer: c_int = -1;
        check(f(self.ptr, &mut layer))?;
        Ok(layer)
    }

    /// Token embedding (`padding_idx` None = no padding row).
    pub fn add_embedding(&mut self, vocab: i32, dim: i32, padding_idx: Option<i32>)
        -> Result<i32> {
        let pad = padding_idx.unwrap_or(-1);
        self.add(|m, l| unsafe { sys::seqcls_add_embedding(m, vocab, dim, pad, l) })
    }
    /// Embedding bag (1.1), fastText's input layer: input ids `[B, T, per_step]`
    /// (-1 = an unused slot), output the mean of each step's rows `[B, T, dim]`.
    pub fn add_embedding_bag(&mut self, rows: i32, dim: i32, per_step: i32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_embedding_bag(m, rows, dim, per_step, l) })
    }
    /// Copy pretrained rows (`rows * dim` floats) into embedding `layer` from `first_row`.
    pub fn set_embedding_rows(&mut self, layer: i32, first_row: i32, dim: i32, data: &[f32])
        -> Result<()> {
        if dim < 1 || data.len() % dim as usize != 0 {
            return Err(Error::local(sys::SEQCLS_E_SHAPE, "data is not whole rows of dim"));
        }
        let rows = to_int(data.len() / dim as usize, "rows")?;
        check(unsafe {
            sys::seqcls_embedding_set_rows(self.ptr, layer, first_row, rows, dim, data.as_ptr())
        })
    }
    pub fn add_input(&mut self, features: i32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_input(m, features, l) })
    }
    /// LSTM; `flags` from BIDIRECTIONAL, RETURN_SEQUENCES, MERGE_SUM.
    pub fn add_lstm(&mut self, hidden: i32, flags: u32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_lstm(m, hidden, flags, l) })
    }
    /// GRU; `flags` as add_lstm plus GRU_RESET_BEFORE.
    pub fn add_gru(&mut self, hidden: i32, flags: u32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_gru(m, hidden, flags, l) })
    }
    pub fn add_attention(&mut self, kind: Attention, units: i32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_attention(m, kind as c_int, units, l) })
    }
    pub fn add_batchnorm(&mut self) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_batchnorm(m, l) })
    }
    pub fn add_pooling(&mut self, kind: Pooling) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_pooling(m, kind as c_int, l) })
    }
    pub fn add_dense(&mut self, units: i32, activation: Activation) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_dense(m, units, activation as c_int, l) })
    }
    /// Positions added to a sequence (since 1.1); inputs may have at most
    /// `max_len` steps; `scale_input` multiplies the input by sqrt(d) first.
    pub fn add_positional_encoding(&mut self, kind: Positional, max_len: i32, scale_input: bool)
        -> Result<i32> {
        let layer = self.add(|m, l| unsafe {
            sys::seqcls_add_positional_encoding(m, kind as c_int, max_len, l)
        })?;
        if scale_input {
            self.set_int(layer, sys::SEQCLS_OPT_SCALE_INPUT, 1)?;
        }
        Ok(layer)
    }
    /// One transformer encoder layer (since 1.1), PyTorch's
    /// nn.TransformerEncoderLayer(batch_first=True) with the padding masked
    /// from the lengths; parameters named as its state_dict.
    pub fn add_transformer_encoder(&mut self, settings: &TransformerEncoder) -> Result<i32> {
        let flags = if settings.norm_first { sys::SEQCLS_NORM_FIRST } else { 0 };
        let (heads, ff_dim) = (settings.heads, settings.ff_dim);
        let layer = self.add(|m, l| unsafe {
            sys::seqcls_add_transformer_encoder(m, heads, ff_dim, flags, l)
        })?;
        self.set_float(layer, sys::SEQCLS_OPT_DROPOUT, settings.dropout)?;
        self.set_int(layer, sys::SEQCLS_OPT_ACTIVATION, settings.activation as c_int)?;
        self.set_float(layer, sys::SEQCLS_OPT_LN_EPSILON, settings.ln_eps)?;
        Ok(layer)
    }
    pub fn add_dropout(&mut self, rate: f32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_dropout(m, rate, l) })
    }
    pub fn add_output(&mut self, classes: i32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_output(m, classes, l) })
    }
    /// One-dimensional convolution (`seqcls_add_conv1d`, since 1.1): `flags` 0
    /// (valid) or [`PAD_SAME`]; dilation and activation through [`Model::set_int`]
    /// with `SEQCLS_OPT_DILATION` and `SEQCLS_OPT_ACTIVATION`.
    pub fn add_conv1d(&mut self, filters: i32, kernel_size: i32, flags: u32) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_conv1d(m, filters, kernel_size, flags, l) })
    }
    /// Flatten a sequence of fixed steps into a vector (`seqcls_add_flatten`, since 1.1).
    pub fn add_flatten(&mut self) -> Result<i32> {
        self.add(|m, l| unsafe { sys::seqcls_add_flatten(m, l) })
    }
    /// `seqcls_layer_set_int` (SEQCLS_OPT_*).
    pub fn set_int(&mut self, layer: i32, option: i32, value: i32) -> Result<()> {
        check(unsafe { sys::seqcls_layer_set_int(self.ptr, layer, option, value) })
    }
    /// `seqcls_layer_set_float` (SEQCLS_OPT_*).
    pub fn set_float(&mut self, layer: i32, option: i32, value: f32) -> Result<()> {
        check(unsafe { sys::seqcls_layer_set_float(self.ptr, layer, option, value) })
    }

    pub fn layer_count(&self) -> usize {
        unsafe { sys::seqcls_layer_count(self.ptr) as usize }
    }
    /// The kind of layer `layer` (`seqcls_layer_kind`, since 1.1); a kind newer
    /// than this crate is an `Err` (Unsupported).
    pub fn layer_kind(&self, layer: i32) -> Result<LayerKind> {
        let code = unsafe { sys::seqcls_layer_kind(self.ptr, layer) };
        check(code)?;
        LayerKind::from_raw(code).ok_or_else(|| Error::local(sys::SEQCLS_E_UNSUPPORTED,
            format!("seqcls_layer_kind: layer {layer} is of kind {code}, unknown to this crate")))
    }
    /// An integer option of layer `layer` (`seqcls_layer_get_int`, since 1.1):
    /// the settable ones and those its constructor fixed (SEQCLS_OPT_UNITS,
    /// _VOCAB, _PADDING_IDX, _ACTIVATION, _KIND, _FLAGS).
    pub fn option_int(&self, layer: i32, option: i32) -> Result<i32> {
        let mut v: c_int = 0;
        check(unsafe { sys::seqcls_layer_get_int(self.ptr, layer, option, &mut v) })?;
        Ok(v)
    }
    /// A float option of layer `layer` (`seqcls_layer_get_float`, since 1.1):
    /// SEQCLS_OPT_INPUT_DROPOUT, _BN_MOMENTUM, _BN_EPSILON, _DROPOUT.
    pub fn option_float(&self, layer: i32, option: i32) -> Result<f32> {
        let mut v = 0f32;
        check(unsafe { sys::seqcls_layer_get_float(self.ptr, layer, option, &mut v) })?;
        Ok(v)
    }
    /// Width of the output: the number of logits C (1 for a sigmoid output),
    /// `seqcls_model_output_width` (since 1.1); `Err` (State) without an output layer.
    pub fn output_width(&self) -> Result<usize> {
        let c = unsafe { sys::seqcls_model_output_width(self.ptr) };
        check(c)?;
        Ok(c as usize)
    }
    /// Quantise the model for inference (`seqcls_model_quantize`, since 1.1):
    /// `sys::SEQCLS_INT8` or `sys::SEQCLS_BF16`.  Afterwards it predicts,
    /// saves and loads, and the training calls give `Err` (State).
    pub fn quantize(&mut self, precision: i32) -> Result<()> {
        check(unsafe { sys::seqcls_model_quantize(self.ptr, precision) })
    }
    /// The precision of the weights (`seqcls_model_precision`, since 1.1):
    /// `sys::SEQCLS_FP32`, `_BF16` or `_INT8`.
    pub fn precision(&self) -> Result<i32> {
        let p = unsafe { sys::seqcls_model_precision(self.ptr) };
        check(p)?;
        Ok(p)
    }
    /// One line describing layer `layer`.
    pub fn describe(&self, layer: i32) -> Result<String> {
        let mut buf = vec![0 as c_char; 512];
        check(unsafe { sys::seqcls_layer_describe(self.ptr, layer, buf.as_mut_ptr(), buf.len()) })?;
        Ok(unsafe { cstr(buf.as_ptr()) })
    }

    pub fn param_names(&self) -> Vec<String> {
        unsafe {
            (0..sys::seqcls_param_count(self.ptr))
                .map(|i| cstr(sys::seqcls_param_name(self.ptr, i))).collect()
        }
    }

    fn param_tensor(&self, name: &str, grad: bool) -> Result<(*mut sys::seqcls_tensor_t, Vec<i64>)> {
        let c = cstring(name, "parameter name")?;
        let i = unsafe { sys::seqcls_param_find(self.ptr, c.as_ptr()) };
        if i < 0 {
            return Err(Error::local(sys::SEQCLS_E_RANGE, format!("no parameter named {name}")));
        }
        let (mut v, mut g) = (ptr::null_mut(), ptr::null_mut());
        check(unsafe { sys::seqcls_param(self.ptr, i, &mut v, &mut g) })?;
        let t = if grad { g } else { v };
        let shape = unsafe {
            (0..sys::seqcls_tensor_ndim(t)).map(|a| sys::seqcls_tensor_dim(t, a)).collect()
        };
        Ok((t, shape))
    }

    /// A parameter's values (borrowed from the model, no copy) and shape.
    pub fn param(&self, name: &str) -> Result<(&[f32], Vec<i64>)> {
        let (t, shape) = self.param_tensor(name, false)?;
        let n = unsafe { sys::seqcls_tensor_numel(t) } as usize;
        let p = unsafe { sys::seqcls_tensor_data(t) } as *const f32;
        Ok((unsafe { std::slice::from_raw_parts(p, n) }, shape))
    }

    /// A parameter's values, writable: writing changes the model (weight import).
    pub fn param_mut(&mut self, name: &str) -> Result<&mut [f32]> {
        let (t, _) = self.param_tensor(name, false)?;
        let n = unsafe { sys::seqcls_tensor_numel(t) } as usize;
        let p = unsafe { sys::seqcls_tensor_data(t) } as *mut f32;
        Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
    }

    /// A parameter's gradient (borrowed).
    pub fn grad(&self, name: &str) -> Result<&[f32]> {
        let (t, _) = self.param_tensor(name, true)?;
        let n = unsafe { sys::seqcls_tensor_numel(t) } as usize;
        let p = unsafe { sys::seqcls_tensor_data(t) } as *const f32;
        Ok(unsafe { std::slice::from_raw_parts(p, n) })
    }

    /// Width of the output logits (1 for a sigmoid output): [`Model::output_width`].
    pub fn num_classes(&self) -> Result<usize> {
        self.output_width()
    }

    /// Rank of the logits and probabilities: 2 ([B, C], labels [B]) or 3
    /// ([B, T, C], labels [B, T]) for a per-step model (an output layer after
    /// a sequence: a tagger, a language model).  Since 1.1.
    pub fn output_ndim(&self) -> Result<usize> {
        let n = unsafe { sys::seqcls_model_output_ndim(self.ptr) };
        check(n)?;
        Ok(n as usize)
    }

    /// Is the model per step (logits [B, T, C])?
    pub fn per_step(&self) -> Result<bool> {
        Ok(self.output_ndim()? == 3)
    }

    /// The logits' / probabilities' shape for a batch of `batch` x `steps`.
    fn out_shape(&self, batch: usize, steps: usize) -> Result<Vec<i64>> {
        let c = self.num_classes()? as i64;
        Ok(if self.per_step()? {
            vec![batch as i64, steps as i64, c]
        } else {
            vec![batch as i64, c]
        })
    }

    /// A stream over this model, at the start of a sequence (see [`Stream`]).
    pub fn stream(&self) -> Result<Stream<'_>> {
        Stream::new(self)
    }

    fn lengths_ptr(lengths: Option<&[i32]>, batch: usize) -> Result<*const i32> {
        match lengths {
            None => Ok(ptr::null()),
            Some(l) if l.len() == batch => Ok(l.as_ptr()),
            Some(l) => Err(Error::local(sys::SEQCLS_E_SHAPE,
                format!("{} lengths for {batch} rows", l.len()))),
        }
    }

    /// Probabilities [batch * classes] for ids [batch, steps] (row-major);
    /// [batch * steps * classes] for a per-step model (zero at padding steps).
    pub fn predict(&self, ids: &[i32], batch: usize, steps: usize, lengths: Option<&[i32]>)
        -> Result<Vec<f32>> {
        Ok(self.predict_attention(ids, batch, steps, lengths, false)?.0)
    }

    /// Probabilities and, if `attention`, the last attention layer's weights [batch * steps].
    pub fn predict_attention(&self, ids: &[i32], batch: usize, steps: usize,
                             lengths: Option<&[i32]>, attention: bool)
        -> Result<(Vec<f32>, Vec<f32>)> {
        let x = Tensor::wrap(ids, &[batch as i64, steps as i64])?;
        let lp = Self::lengths_ptr(lengths, batch)?;
        let shape = self.out_shape(batch, steps)?;
        let mut probs = zeroed::<f32>(shape_len(&shape)?, 1, "probabilities")?;
        let mut att = zeroed::<f32>(batch, if attention { steps } else { 0 }, "attention")?;
        {
            let pt = Tensor::wrap_mut(&mut probs, &shape)?;
            let at = if attention {
                Some(Tensor::wrap_mut(&mut att, &[batch as i64, steps as i64])?)
            } else {
                None
            };
            check(unsafe {
                sys::seqcls_predict(self.ptr, x.ptr, lp, pt.ptr,
                                    at.as_ref().map_or(ptr::null_mut(), |t| t.ptr))
            })?;
        }
        Ok((probs, att))
    }

    /// Low level: an inference forward (dropout off) on a tensor; the logits.
    pub fn forward(&mut self, input: &Tensor, lengths: Option<&[i32]>) -> Result<Vec<f32>> {
        self.forward_raw(input, lengths, false)
    }

    fn forward_raw(&mut self, input: &Tensor, lengths: Option<&[i32]>, training: bool)
        -> Result<Vec<f32>> {
        let b = input.shape()[0] as usize;
        let lp = Self::lengths_ptr(lengths, b)?;
        let shape = self.out_shape(b, input.shape()[1] as usize)?;
        let mut logits = zeroed::<f32>(shape_len(&shape)?, 1, "logits")?;
        {
            let lt = Tensor::wrap_mut(&mut logits, &shape)?;
            check(unsafe {
                sys::seqcls_forward(self.ptr, input.ptr, lp, lt.ptr, training as c_int)
            })?;
        }
        Ok(logits)
    }

    /// Low level: a training forward.  The C model keeps reading `input`
    /// until the backward, so the returned pass borrows both the model and
    /// the input: backward is only possible while the input is alive.
    pub fn forward_train<'m>(&'m mut self, input: &'m Tensor<'_>, lengths: Option<&[i32]>)
        -> Result<TrainingPass<'m>> {
        let logits = self.forward_raw(input, lengths, true)?;
        let batch = input.shape()[0] as usize;
        let steps = if self.per_step()? { Some(input.shape()[1] as usize) } else { None };
        Ok(TrainingPass { model: self, _input: PhantomData, logits, batch, steps })
    }

    pub fn zero_grad(&mut self) -> Result<()> {
        check(unsafe { sys::seqcls_zero_grad(self.ptr) })
    }

    /// Gradient with respect to a float input [B*T*F] (a copy).
    pub fn input_grad(&mut self) -> Result<Vec<f32>> {
        let mut g = ptr::null_mut();
        check(unsafe { sys::seqcls_input_grad(self.ptr, &mut g) })?;
        unsafe {
            let n = sys::seqcls_tensor_numel(g) as usize;
            Ok(std::slice::from_raw_parts(sys::seqcls_tensor_data(g) as *const f32, n).to_vec())
        }
    }

    /// Attention weights [B*T] of the last forward of layer `layer` (-1 = last), a copy.
    pub fn attention_weights(&mut self, layer: i32) -> Result<Vec<f32>> {
        let mut w = ptr::null_mut();
        check(unsafe { sys::seqcls_attention_weights(self.ptr, layer, &mut w) })?;
        unsafe {
            let n = sys::seqcls_tensor_numel(w) as usize;
            Ok(std::slice::from_raw_parts(sys::seqcls_tensor_data(w) as *const f32, n).to_vec())
        }
    }

    /// The final states of recurrent layer `layer` (-1 = the last one) after the
    /// last forward of a batch of `batch` rows (`seqcls_final_states`, since 1.1):
    /// h [batch, dirs*H] (forward | backward) and, for an LSTM, its cell state c.
    pub fn final_states(&mut self, layer: i32, batch: usize)
        -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let index = if layer == -1 {
            (0..self.layer_count() as i32).rev()
                .find(|&i| matches!(self.layer_kind(i), Ok(LayerKind::Lstm | LayerKind::Gru)))
                .unwrap_or(-1)
        } else {
            layer
        };
        let kind = self.layer_kind(index).ok();
        if !matches!(kind, Some(LayerKind::Lstm | LayerKind::Gru)) {
            // let the library name the problem
            check(unsafe { sys::seqcls_final_states(self.ptr, layer, ptr::null_mut(),
                                                    ptr::null_mut()) })?;
        }
        let flags = self.option_int(index, sys::SEQCLS_OPT_FLAGS)? as u32;
        let width = self.option_int(index, sys::SEQCLS_OPT_UNITS)? as usize
            * if flags & BIDIRECTIONAL != 0 { 2 } else { 1 };
        let shape = [to_int(batch, "batch")? as i64, width as i64];
        let mut h: Vec<f32> = zeroed(batch, width, "final states")?;
        let mut c = if kind == Some(LayerKind::Lstm) {
            Some(zeroed::<f32>(batch, width, "final cell states")?)
        } else {
            None
        };
        {
            let ht = Tensor::wrap_mut(&mut h, &shape)?;
            let ct = match c.as_mut() {
                Some(c) => Some(Tensor::wrap_mut(c, &shape)?),
                None => None,
            };
            check(unsafe {
                sys::seqcls_final_states(self.ptr, layer, ht.as_ptr(),
                                         ct.as_ref().map_or(ptr::null_mut(), |t| t.as_ptr()))
            })?;
        }
        Ok((h, c))
    }

    /// Self-attention weights of transformer layer `layer` in the last
    /// forward (`forward` or `forward_train`) of `batch` rows of `steps`
    /// steps, a copy [batch, heads, steps, steps] (row-major): the weight
    /// query step i gives key step j; rows of valid queries sum to 1 over
    /// the valid keys, the rest is 0.  Since 1.1.
    pub fn self_attention_weights(&self, layer: i32, batch: usize, steps: usize)
        -> Result<Vec<f32>> {
        // not a transformer layer: one head, and the library says what is wrong
        let heads = self.option_int(layer, sys::SEQCLS_OPT_HEADS).unwrap_or(1).max(1) as usize;
        let square = steps.checked_mul(steps)
            .ok_or_else(|| Error::local(sys::SEQCLS_E_NOMEM, "weights: size overflows"))?;
        let rows = batch.checked_mul(heads)
            .ok_or_else(|| Error::local(sys::SEQCLS_E_NOMEM, "weights: size overflows"))?;
        let mut out = zeroed::<f32>(rows, square, "self-attention weights")?;
        {
            let t = Tensor::wrap_mut(&mut out, &[batch as i64, heads as i64, steps as i64,
                                                 steps as i64])?;
            check(unsafe { sys::seqcls_self_attention_weights(self.ptr, layer, t.ptr) })?;
        }
        Ok(out)
    }

    /// One zero_grad / training forward / loss_backward / optimiser step.
    pub fn train_step(&mut self, opt: &mut Optimizer, ids: &[i32], batch: usize, steps: usize,
                      lengths: Option<&[i32]>, labels: &[i32]) -> Result<f32> {
        let x = Tensor::wrap(ids, &[batch as i64, steps as i64])?;
        self.zero_grad()?;
        let loss = self.forward_train(&x, lengths)?.loss_backward(labels)?;
        opt.step(self)?;
        Ok(loss)
    }

    /// Train with `seqcls_fit` on ids [n, steps] and labels [n] ([n * steps] for
    /// a per-step model).
    /// `on_batch` runs after every batch; returning `false` stops training.
    pub fn fit<F>(&mut self, opt: &mut Optimizer, ids: &[i32], n: usize, steps: usize,
                  lengths: Option<&[i32]>, labels: &[i32], options: &FitOptions,
                  mut on_batch: F) -> Result<()>
    where
        F: FnMut(BatchProgress) -> bool,
    {
        let x = Tensor::wrap(ids, &[n as i64, steps as i64])?;
        let y = self.labels_tensor(labels, n, steps)?;
        let lp = Self::lengths_ptr(lengths, n)?;
        let cfg = FitConfig::new()?;
        cfg.set_int(sys::SEQCLS_FIT_EPOCHS, options.epochs)?;
        cfg.set_int(sys::SEQCLS_FIT_BATCH_SIZE, options.batch_size)?;
        cfg.set_int(sys::SEQCLS_FIT_SHUFFLE, options.shuffle as i64)?;
        cfg.set_int(sys::SEQCLS_FIT_SEED, options.seed)?;
        cfg.set_int(sys::SEQCLS_FIT_PATIENCE, options.patience)?;
        cfg.set_float(sys::SEQCLS_FIT_VALID_SPLIT, options.validation_split)?;

        unsafe extern "C" fn trampoline<F: FnMut(BatchProgress) -> bool>(
            user: *mut c_void, epoch: c_int, batch: c_int, batches: c_int, loss: f32,
            accuracy: f32) -> c_int {
            let f = &mut *(user as *mut F);
            // A panic must not unwind into C: catch it and stop training.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f(BatchProgress { epoch, batch, batches, loss, accuracy })
            })) {
                Ok(true) => 0,
                _ => 1,
            }
        }
        check(unsafe {
            sys::seqcls_fit_config_set_callbacks(cfg.ptr, Some(trampoline::<F>), None, None,
                                                 &mut on_batch as *mut F as *mut c_void)
        })?;
        check(unsafe {
            sys::seqcls_fit(self.ptr, opt.ptr, x.ptr, lp, y.ptr, ptr::null(), ptr::null(),
                            ptr::null(), cfg.ptr)
        })
    }

    /// Labels [n], or [n, steps] for a per-step model.
    fn labels_tensor<'l>(&self, labels: &'l [i32], n: usize, steps: usize) -> Result<Tensor<'l>> {
        if self.per_step()? {
            Tensor::wrap(labels, &[n as i64, steps as i64])
        } else {
            Tensor::wrap(labels, &[labels.len() as i64])
        }
    }

    /// Loss, accuracy and confusion matrix on ids [n, steps] and labels [n]
    /// (a per-step model: labels [n * steps], scored over the valid steps).
    pub fn evaluate(&self, ids: &[i32], n: usize, steps: usize, lengths: Option<&[i32]>,
                    labels: &[i32]) -> Result<Metrics> {
        let x = Tensor::wrap(ids, &[n as i64, steps as i64])?;
        let y = self.labels_tensor(labels, n, steps)?;
        let lp = Self::lengths_ptr(lengths, n)?;
        let mut mt = ptr::null_mut();
        check(unsafe { sys::seqcls_evaluate(self.ptr, x.ptr, lp, y.ptr, 0, &mut mt) })?;
        unsafe {
            let c = sys::seqcls_metrics_classes(mt);
            let get = |k| sys::seqcls_metrics_get(mt, k, 0);
            let mut confusion = Vec::new();
            for t in 0..c {
                for p in 0..c {
                    confusion.push(sys::seqcls_metrics_confusion(mt, t, p));
                }
            }
            let m = Metrics { loss: get(sys::SEQCLS_METRIC_LOSS),
                              accuracy: get(sys::SEQCLS_METRIC_ACCURACY),
                              macro_f1: get(sys::SEQCLS_METRIC_MACRO_F1),
                              count: get(sys::SEQCLS_METRIC_COUNT) as i64,
                              classes: c as usize, confusion };
            sys::seqcls_metrics_free(mt);
            Ok(m)
        }
    }

    /// Attach a copy of a built vocabulary (saved with the model).
    pub fn set_vocab(&mut self, v: &Vocab) -> Result<()> {
        check(unsafe { sys::seqcls_model_set_vocab(self.ptr, v.ptr) })
    }
    /// A copy of the model's vocabulary, if it has one.
    pub fn vocab(&self) -> Result<Option<Vocab>> {
        let v = unsafe { sys::seqcls_model_vocab(self.ptr) };
        if v.is_null() {
            return Ok(None);
        }
        let bytes = vocab_bytes(v)?;
        Vocab::from_bytes(&bytes).map(Some)
    }
    pub fn set_labels(&mut self, names: &[&str]) -> Result<()> {
        let owned = names.iter().enumerate().map(|(i, s)| cstring(s, &format!("label {i}")))
            .collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        check(unsafe {
            sys::seqcls_model_set_labels(self.ptr, to_int(ptrs.len(), "labels")?,
                                         if ptrs.is_empty() { ptr::null() } else { ptrs.as_ptr() })
        })
    }
    pub fn labels(&self) -> Vec<String> {
        unsafe {
            (0..sys::seqcls_model_label_count(self.ptr))
                .map(|i| cstr(sys::seqcls_model_label(self.ptr, i))).collect()
        }
    }

    /// The value of metadata key `key` (`seqcls_model_get_meta`, since 1.1), a
    /// copy; `None` if the model has no such key (a key holding NUL never exists).
    pub fn meta(&self, key: &str) -> Option<String> {
        let k = CString::new(key).ok()?;
        let v = unsafe { sys::seqcls_model_get_meta(self.ptr, k.as_ptr()) };
        if v.is_null() { None } else { Some(unsafe { cstr(v) }) }
    }
    /// Set metadata key `key` to `value`, or remove it with `None`
    /// (`seqcls_model_set_meta`, since 1.1).  The store is saved with the model.
    /// Keys are 1 to 64 ASCII letters, digits, '.', '_', '-'; values UTF-8
    /// without NUL, at most 65,536 bytes; at most 256 keys.  Anything else is
    /// an `Err` (InvalidArg) with the library's message, and changes nothing.
    pub fn set_meta(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let k = cstring(key, "meta key")?;
        let v = value.map(|v| cstring(v, &format!("the value of meta key {key:?}")))
            .transpose()?;
        check(unsafe {
            sys::seqcls_model_set_meta(self.ptr, k.as_ptr(),
                                       v.as_ref().map_or(ptr::null(), |v| v.as_ptr()))
        })
    }
    /// The metadata keys, in the order they were first set (since 1.1).
    pub fn meta_keys(&self) -> Vec<String> {
        unsafe {
            (0..sys::seqcls_model_meta_count(self.ptr))
                .filter_map(|i| {
                    let k = sys::seqcls_model_meta_key(self.ptr, i);
                    if k.is_null() { None } else { Some(cstr(k)) }
                })
                .collect()
        }
    }

    /// Save to `path`, atomically.
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let c = path_cstring(path.as_ref())?;
        check(unsafe { sys::seqcls_model_save(self.ptr, c.as_ptr()) })
    }
    /// Load a model saved by `save` (or by C, or Python).
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Model> {
        let c = path_cstring(path.as_ref())?;
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_model_load(&mut p, c.as_ptr()) })?;
        Ok(Model { ptr: p })
    }
    /// The saved form, in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (mut buf, mut len) = (ptr::null_mut(), 0usize);
        check(unsafe { sys::seqcls_model_save_buffer(self.ptr, &mut buf, &mut len) })?;
        let out = unsafe { std::slice::from_raw_parts(buf as *const u8, len).to_vec() };
        unsafe { sys::seqcls_free(buf) };
        Ok(out)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let mut p = ptr::null_mut();
        check(unsafe {
            sys::seqcls_model_load_buffer(&mut p, bytes.as_ptr() as *const c_void, bytes.len())
        })?;
        Ok(Model { ptr: p })
    }
    /// Save with the optimiser's state (`seqcls_checkpoint_save`), so that
    /// training resumes exactly.
    pub fn save_checkpoint<P: AsRef<Path>>(&self, optimizer: &Optimizer, path: P) -> Result<()> {
        let c = path_cstring(path.as_ref())?;
        check(unsafe { sys::seqcls_checkpoint_save(self.ptr, optimizer.ptr, c.as_ptr()) })
    }
    /// The model and its optimiser from a file of `save_checkpoint`.
    pub fn load_checkpoint<P: AsRef<Path>>(path: P) -> Result<(Model, Optimizer)> {
        let c = path_cstring(path.as_ref())?;
        let (mut m, mut o) = (ptr::null_mut(), ptr::null_mut());
        check(unsafe { sys::seqcls_checkpoint_load(&mut m, &mut o, c.as_ptr()) })?;
        Ok((Model { ptr: m }, Optimizer { ptr: o }))
    }
}

/// A training forward in progress (`Model::forward_train`): holds the model
/// and the input borrowed until the backward is done.
pub struct TrainingPass<'m> {
    model: &'m mut Model,
    _input: PhantomData<&'m Tensor<'m>>,
    logits: Vec<f32>,
    batch: usize,
    steps: Option<usize>,   // per-step model: T
}

impl TrainingPass<'_> {
    /// The logits [batch * classes] of the forward ([batch * steps * classes] per step).
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Built-in loss against `labels` ([batch], or [batch * steps] for a
    /// per-step model: the mean over valid steps), back-propagated
    /// (gradients accumulate).
    pub fn loss_backward(&mut self, labels: &[i32]) -> Result<f32> {
        let t = match self.steps {
            Some(steps) => Tensor::wrap(labels, &[self.batch as i64, steps as i64])?,
            None => Tensor::wrap(labels, &[labels.len() as i64])?,
        };
        let mut loss = 0f32;
        check(unsafe { sys::seqcls_loss_backward(self.model.ptr, t.ptr, &mut loss) })?;
        Ok(loss)
    }

    /// Back-propagate the gradient of your own loss, `dlogits` [batch * classes]
    /// ([batch * steps * classes] for a per-step model).
    pub fn backward(&mut self, dlogits: &[f32]) -> Result<()> {
        let rows = self.batch * self.steps.unwrap_or(1);
        let c = (self.logits.len() / rows.max(1)) as i64;
        let t = match self.steps {
            Some(steps) => Tensor::wrap(dlogits, &[self.batch as i64, steps as i64, c])?,
            None => Tensor::wrap(dlogits, &[self.batch as i64, c])?,
        };
        check(unsafe { sys::seqcls_backward(self.model.ptr, t.ptr) })
    }

    /// Gradient with respect to a float input [B*T*F] after a backward (a copy).
    pub fn input_grad(&mut self) -> Result<Vec<f32>> {
        let mut g = ptr::null_mut();
        check(unsafe { sys::seqcls_input_grad(self.model.ptr, &mut g) })?;
        unsafe {
            let n = sys::seqcls_tensor_numel(g) as usize;
            Ok(std::slice::from_raw_parts(sys::seqcls_tensor_data(g) as *const f32, n).to_vec())
        }
    }
}

/// A model run over one sequence as it arrives (`seqcls_stream_t`): the
/// state of its layers is kept between pushes, so pushing a sequence in
/// chunks gives what [`Model::predict`] gives for the whole of it.  It
/// borrows the model, which therefore cannot change or go while the stream
/// lives; many streams may borrow one model, from several threads.
pub struct Stream<'m> {
    ptr: *mut sys::seqcls_stream_t,
    classes: usize,
    per_step: bool,
    _model: PhantomData<&'m Model>,
}

// A stream is used by one thread at a time (&mut self); it only reads the
// model, which is Sync.
unsafe impl Send for Stream<'_> {}

impl<'m> Stream<'m> {
    /// A stream over `model` at the start of a sequence; an error naming the
    /// layer if one cannot run step by step (bidirectional, attention, ...).
    pub fn new(model: &'m Model) -> Result<Stream<'m>> {
        let classes = model.num_classes()?;
        let per_step = model.per_step()?;
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_stream_create(&mut p, model.ptr) })?;
        Ok(Stream { ptr: p, classes, per_step, _model: PhantomData })
    }

    fn push_tensor(&mut self, x: &Tensor, n: usize) -> Result<Vec<f32>> {
        let n_c = c_int::try_from(n)
            .map_err(|_| Error::local(sys::SEQCLS_E_INVALID_ARG, "too many steps in one push"))?;
        let rows = if self.per_step { n } else { 1 };
        let mut probs = zeroed::<f32>(rows, self.classes, "probabilities")?;
        {
            let shape: Vec<i64> = if self.per_step {
                vec![n as i64, self.classes as i64]
            } else {
                vec![self.classes as i64]
            };
            let pt = Tensor::wrap_mut(&mut probs, &shape)?;
            check(unsafe { sys::seqcls_stream_push(self.ptr, x.ptr, n_c, pt.ptr) })?;
        }
        Ok(probs)
    }

    /// Feed the next token ids; the probabilities after the last one
    /// ([classes]), or one row per step for a per-step model ([n * classes]).
    pub fn push_ids(&mut self, ids: &[i32]) -> Result<Vec<f32>> {
        let x = Tensor::wrap(ids, &[ids.len() as i64])?;
        self.push_tensor(&x, ids.len())
    }

    /// Feed the next `steps` feature vectors (`features` = steps * F floats).
    pub fn push_features(&mut self, features: &[f32], steps: usize) -> Result<Vec<f32>> {
        if steps == 0 && !features.is_empty() || steps > 0 && features.len() % steps != 0 {
            return Err(Error::local(sys::SEQCLS_E_SHAPE,
                format!("{} floats are not {steps} steps", features.len())));
        }
        let width = if steps == 0 { 0 } else { features.len() / steps };
        let x = Tensor::wrap(features, &[steps as i64, width as i64])?;
        self.push_tensor(&x, steps)
    }

    /// Back to the start of a sequence.
    pub fn reset(&mut self) -> Result<()> {
        check(unsafe { sys::seqcls_stream_reset(self.ptr) })
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        unsafe { sys::seqcls_stream_free(self.ptr) }
    }
}

/// Draw a class from `probs` at `temperature` (`seqcls_sample`: weights
/// p_i^(1/T), renormalised; 0 = the most probable class; one probability =
/// p of class 1).  `state` is the 64-bit generator state, advanced by one
/// step per draw: the same seed gives the same draws everywhere.
pub fn sample(probs: &[f32], temperature: f32, state: &mut u64) -> Result<usize> {
    let n = c_int::try_from(probs.len())
        .map_err(|_| Error::local(sys::SEQCLS_E_INVALID_ARG, "too many classes"))?;
    let c = unsafe { sys::seqcls_sample(probs.as_ptr(), n, temperature, state) };
    check(c)?;
    Ok(c as usize)
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { sys::seqcls_model_free(self.ptr) }
    }
}

fn path_cstring(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::local(sys::SEQCLS_E_INVALID_ARG, "path contains NUL"))
}

// ---------------------------------------------------------------- optimiser, fit config

/// An optimiser (`seqcls_optimizer_t`), freed on drop.  One per model.
pub struct Optimizer {
    ptr: *mut sys::seqcls_optimizer_t,
}

unsafe impl Send for Optimizer {}

impl Optimizer {
    pub fn new(kind: OptimizerKind, lr: f32) -> Result<Optimizer> {
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_optimizer_create(&mut p, kind as c_int, lr) })?;
        Ok(Optimizer { ptr: p })
    }
    /// `seqcls_optimizer_set_float` (SEQCLS_OPTIM_*).
    pub fn set(&mut self, option: i32, value: f32) -> Result<()> {
        check(unsafe { sys::seqcls_optimizer_set_float(self.ptr, option, value) })
    }
    pub fn step(&mut self, m: &mut Model) -> Result<()> {
        check(unsafe { sys::seqcls_optimizer_step(self.ptr, m.ptr) })
    }
    pub fn steps(&self) -> i64 {
        unsafe { sys::seqcls_optimizer_steps(self.ptr) }
    }
}

impl Drop for Optimizer {
    fn drop(&mut self) {
        unsafe { sys::seqcls_optimizer_free(self.ptr) }
    }
}

struct FitConfig {
    ptr: *mut sys::seqcls_fit_config_t,
}

impl FitConfig {
    fn new() -> Result<FitConfig> {
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_fit_config_create(&mut p) })?;
        Ok(FitConfig { ptr: p })
    }
    fn set_int(&self, k: c_int, v: i64) -> Result<()> {
        check(unsafe { sys::seqcls_fit_config_set_int(self.ptr, k, v) })
    }
    fn set_float(&self, k: c_int, v: f32) -> Result<()> {
        check(unsafe { sys::seqcls_fit_config_set_float(self.ptr, k, v) })
    }
}

impl Drop for FitConfig {
    fn drop(&mut self) {
        unsafe { sys::seqcls_fit_config_free(self.ptr) }
    }
}

// ---------------------------------------------------------------- text

/// Byte offsets [(start, end)] of the tokens of `text` (the library's tokeniser).
pub fn tokenize(text: &str) -> Result<Vec<(usize, usize)>> {
    let cap = to_int(text.len() + 1, "text")?;
    let (mut s, mut e) = (zeroed::<i32>(cap as usize, 1, "tokens")?,
                          zeroed::<i32>(cap as usize, 1, "tokens")?);
    let mut n = 0i32;
    check(unsafe {
        sys::seqcls_tokenize(text.as_ptr() as *const c_char, text.len(), s.as_mut_ptr(),
                             e.as_mut_ptr(), cap, &mut n)
    })?;
    Ok((0..n as usize).map(|i| (s[i] as usize, e[i] as usize)).collect())
}

/// A vocabulary (`seqcls_vocab_t`), freed on drop.
pub struct Vocab {
    ptr: *mut sys::seqcls_vocab_t,
}

unsafe impl Send for Vocab {}

fn vocab_bytes(v: *const sys::seqcls_vocab_t) -> Result<Vec<u8>> {
    let (mut buf, mut len) = (ptr::null_mut(), 0usize);
    check(unsafe { sys::seqcls_vocab_save_buffer(v, &mut buf, &mut len) })?;
    let out = unsafe { std::slice::from_raw_parts(buf as *const u8, len).to_vec() };
    unsafe { sys::seqcls_free(buf) };
    Ok(out)
}

impl Vocab {
    pub fn new() -> Result<Vocab> {
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_vocab_create(&mut p) })?;
        Ok(Vocab { ptr: p })
    }
    pub fn add_text(&mut self, text: &str) -> Result<()> {
        check(unsafe {
            sys::seqcls_vocab_add_text(self.ptr, text.as_ptr() as *const c_char, text.len())
        })
    }
    pub fn build(&mut self, min_freq: i32, max_size: i32) -> Result<()> {
        check(unsafe { sys::seqcls_vocab_build(self.ptr, min_freq, max_size) })
    }
    pub fn len(&self) -> usize {
        unsafe { sys::seqcls_vocab_size(self.ptr) as usize }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn id(&self, token: &str) -> Result<i32> {
        let c = cstring(token, "token")?;
        let r = unsafe { sys::seqcls_vocab_id(self.ptr, c.as_ptr()) };
        check(r)?;
        Ok(r)
    }
    pub fn token(&self, id: i32) -> Option<String> {
        let p = unsafe { sys::seqcls_vocab_token(self.ptr, id) };
        if p.is_null() { None } else { Some(unsafe { cstr(p) }) }
    }
    /// Ids of the first `max_len` tokens, padded with PAD; and the count.
    pub fn encode(&self, text: &str, max_len: usize) -> Result<(Vec<i32>, usize)> {
        let len = to_int(max_len, "max_len")?;
        let mut ids = zeroed::<i32>(max_len, 1, "ids")?;
        let mut n = 0i32;
        check(unsafe {
            sys::seqcls_vocab_encode(self.ptr, text.as_ptr() as *const c_char, text.len(),
                                     ids.as_mut_ptr(), len, &mut n)
        })?;
        Ok((ids, n as usize))
    }
    /// Ids of the last `max_len` tokens (Keras' truncating="pre",
    /// `seqcls_vocab_encode_ex` with SEQCLS_TRUNCATE_PRE, since 1.1), padded
    /// with PAD after them; and the count.
    pub fn encode_pre(&self, text: &str, max_len: usize) -> Result<(Vec<i32>, usize)> {
        let len = to_int(max_len, "max_len")?;
        let mut ids = zeroed::<i32>(max_len, 1, "ids")?;
        let mut n = 0i32;
        check(unsafe {
            sys::seqcls_vocab_encode_ex(self.ptr, text.as_ptr() as *const c_char, text.len(),
                                        ids.as_mut_ptr(), len, sys::SEQCLS_TRUNCATE_PRE, &mut n)
        })?;
        Ok((ids, n as usize))
    }
    /// A vocabulary from a word index: `tokens[i]` is the token of id i from
    /// 2 on; ids 0 and 1 are `<pad>` and `<unk>`, whatever `tokens[0]` and
    /// `tokens[1]` say (`seqcls_vocab_from_list`, since 1.1).
    pub fn from_list(tokens: &[&str]) -> Result<Vocab> {
        let n = to_int(tokens.len(), "tokens")?;
        let owned = tokens.iter().enumerate()
            .map(|(i, t)| cstring(if i < 2 { "" } else { t }, "a token"))
            .collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let mut p = ptr::null_mut();
        check(unsafe { sys::seqcls_vocab_from_list(&mut p, ptrs.as_ptr(), n) })?;
        Ok(Vocab { ptr: p })
    }
    pub fn decode(&self, ids: &[i32]) -> Result<String> {
        let n = to_int(ids.len(), "ids")?;
        let mut need = 0usize;
        let rc = unsafe {
            sys::seqcls_vocab_decode(self.ptr, ids.as_ptr(), n, ptr::null_mut(), 0, &mut need)
        };
        if rc != sys::SEQCLS_E_RANGE || need == 0 {
            check(rc)?;
        }
        let mut buf = vec![0 as c_char; need.max(1)];
        check(unsafe {
            sys::seqcls_vocab_decode(self.ptr, ids.as_ptr(), n, buf.as_mut_ptr(), buf.len(),
                                     &mut need)
        })?;
        Ok(unsafe { cstr(buf.as_ptr()) })
    }
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        vocab_bytes(self.ptr)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Vocab> {
        let mut p = ptr::null_mut();
        check(unsafe {
            sys::seqcls_vocab_load_buffer(&mut p, bytes.as_ptr() as *const c_void, bytes.len())
        })?;
        Ok(Vocab { ptr: p })
    }
}

impl Drop for Vocab {
    fn drop(&mut self) {
        unsafe { sys::seqcls_vocab_free(self.ptr) }
    }
}
