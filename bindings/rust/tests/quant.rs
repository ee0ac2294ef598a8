//! Model::quantize and Model::precision (seqcls_model_quantize, since 1.1).
use seqcls::{sys, Model};

#[test]
fn quantize_and_precision() {
    let mut m = Model::new(3).unwrap();
    m.add_input(4).unwrap();
    m.add_lstm(6, 0).unwrap();
    m.add_output(2).unwrap();
    assert_eq!(m.precision().unwrap(), sys::SEQCLS_FP32);
    assert!(m.quantize(7).is_err());
    m.quantize(sys::SEQCLS_INT8).unwrap();
    assert_eq!(m.precision().unwrap(), sys::SEQCLS_INT8);
    let e = m.quantize(sys::SEQCLS_BF16).unwrap_err();
    assert!(e.message.contains("quantised already"), "{}", e.message);
}
