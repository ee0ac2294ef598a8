//! The 1.1 sequence-model additions: conv1d and flatten, the merge modes
//! ave and mul, recurrent dropout, final states.
use seqcls::sys;
use seqcls::{Activation, Attention, ErrorKind, LayerKind, Model, Pooling, Tensor, BIDIRECTIONAL,
             MERGE_AVE, MERGE_MUL, PAD_SAME, RETURN_SEQUENCES};

#[test]
fn conv1d_and_flatten() {
    let mut m = Model::new(1).unwrap();
    m.add_embedding(20, 8, Some(0)).unwrap();
    let c = m.add_conv1d(6, 3, PAD_SAME).unwrap();
    m.set_int(c, sys::SEQCLS_OPT_ACTIVATION, Activation::Relu as i32).unwrap();
    m.set_int(c, sys::SEQCLS_OPT_DILATION, 2).unwrap();
    m.add_pooling(Pooling::Max).unwrap();
    m.add_output(2).unwrap();
    assert_eq!(m.layer_kind(c).unwrap(), LayerKind::Conv1d);
    assert_eq!(LayerKind::Conv1d.name(), "conv1d");
    assert_eq!(m.option_int(c, sys::SEQCLS_OPT_DILATION).unwrap(), 2);
    assert_eq!(m.option_int(c, sys::SEQCLS_OPT_FLAGS).unwrap() as u32, PAD_SAME);
    let e = m.add_conv1d(4, 3, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);

    let mut f = Model::new(1).unwrap();
    f.add_input(3).unwrap();
    assert_eq!(f.add_flatten().unwrap_err().kind(), ErrorKind::State);
    f.add_attention(Attention::FeatureTime, 5).unwrap();
    let l = f.add_flatten().unwrap();
    assert_eq!(f.layer_kind(l).unwrap(), LayerKind::Flatten);
    assert_eq!(f.option_int(l, sys::SEQCLS_OPT_UNITS).unwrap(), 5);
    assert_eq!(LayerKind::from_raw(sys::SEQCLS_LAYER_FLATTEN), Some(LayerKind::Flatten));
}

#[test]
fn merges_recurrent_dropout_and_final_states() {
    let mut m = Model::new(2).unwrap();
    m.add_input(3).unwrap();
    let a = m.add_lstm(4, BIDIRECTIONAL | RETURN_SEQUENCES | MERGE_AVE).unwrap();
    m.set_float(a, sys::SEQCLS_OPT_RECURRENT_DROPOUT, 0.25).unwrap();
    let g = m.add_gru(5, BIDIRECTIONAL | MERGE_MUL).unwrap();
    m.add_output(2).unwrap();
    assert_eq!(m.option_float(a, sys::SEQCLS_OPT_RECURRENT_DROPOUT).unwrap(), 0.25);
    assert_eq!(m.option_int(g, sys::SEQCLS_OPT_FLAGS).unwrap() as u32 & MERGE_MUL, MERGE_MUL);
    assert_eq!(m.add_lstm(4, MERGE_AVE).unwrap_err().kind(), ErrorKind::InvalidArg);
    assert_eq!(m.final_states(-1, 2).unwrap_err().kind(), ErrorKind::State);
    let x: Vec<f32> = (0..2 * 5 * 3).map(|i| (i as f32 * 0.37).sin()).collect();
    let t = Tensor::wrap(&x, &[2, 5, 3]).unwrap();
    m.forward(&t, Some(&[5, 0])).unwrap();
    let (h, c) = m.final_states(-1, 2).unwrap();
    assert_eq!(h.len(), 2 * 10);
    assert!(c.is_none());
    assert!(h[10..].iter().all(|&v| v == 0.0) && h[..10].iter().any(|&v| v != 0.0));
    let (h, c) = m.final_states(a, 2).unwrap();
    assert_eq!((h.len(), c.unwrap().len()), (16, 16));
    assert_eq!(m.final_states(0, 2).unwrap_err().kind(), ErrorKind::Range);
    assert_eq!(m.final_states(a, 3).unwrap_err().kind(), ErrorKind::Shape);
}

#[test]
fn clipnorm_per_tensor_option() {
    let mut o = seqcls::Optimizer::new(seqcls::OptimizerKind::Adam, 0.01).unwrap();
    o.set(sys::SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, 1.0).unwrap();
    assert_eq!(o.set(sys::SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, -1.0).unwrap_err().kind(),
               ErrorKind::InvalidArg);
}

#[test]
fn vocab_from_list_and_truncate_pre() {
    let v = seqcls::Vocab::from_list(&["", "[UNK]", "a", "b", "c"]).unwrap();
    assert_eq!(v.len(), 5);
    assert_eq!(v.token(1).as_deref(), Some("<unk>"));
    assert_eq!(v.encode_pre("a b c zz", 2).unwrap(), (vec![4, 1], 2));
    assert_eq!(v.encode_pre("a", 3).unwrap(), (vec![2, 0, 0], 1));
    assert_eq!(v.encode("a b c zz", 2).unwrap(), (vec![2, 3], 2));
    let e = seqcls::Vocab::from_list(&["", "", "a", "a"]).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("tokens[3] repeats tokens[2]"), "{}", e.message);
    assert_eq!(seqcls::Vocab::from_list(&["", "", "x\0y"]).err().unwrap().kind(),
               ErrorKind::InvalidArg);
}
