//! The 1.1 sequence-model additions: conv1d and flatten.
use seqcls::sys;
use seqcls::{Activation, Attention, ErrorKind, LayerKind, Model, Pooling, PAD_SAME};

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
