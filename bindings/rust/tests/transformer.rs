//! The transformer layers of 1.1: add_transformer_encoder, add_positional_encoding,
//! Pooling::First, self_attention_weights, their options and a save/load round trip.
use seqcls::sys;
use seqcls::{Activation, ErrorKind, LayerKind, Model, Optimizer, OptimizerKind, Pooling,
             Positional, Tensor, TransformerEncoder, NORM_FIRST};

fn encoder() -> Model {
    let mut m = Model::new(1).unwrap();
    m.add_embedding(30, 8, Some(0)).unwrap();
    m.add_positional_encoding(Positional::Sinusoidal, 16, true).unwrap();
    let mut pre = TransformerEncoder::new(2, 16);
    pre.norm_first = true;
    pre.dropout = 0.0;
    pre.activation = Activation::Gelu;
    pre.ln_eps = 1e-3;
    m.add_transformer_encoder(&pre).unwrap();
    m.add_transformer_encoder(&TransformerEncoder::new(4, 12)).unwrap();
    m.add_positional_encoding(Positional::Learned, 12, false).unwrap();
    m.add_pooling(Pooling::First).unwrap();
    m.add_output(1).unwrap();
    m
}

#[test]
fn layers_and_options() {
    let m = encoder();
    let kinds: Vec<LayerKind> = (0..m.layer_count() as i32).map(|i| m.layer_kind(i).unwrap())
        .collect();
    assert_eq!(kinds[1], LayerKind::PositionalEncoding);
    assert_eq!(kinds[2], LayerKind::TransformerEncoder);
    assert_eq!(kinds[2].name(), "transformer");
    assert_eq!(LayerKind::from_raw(sys::SEQCLS_LAYER_TRANSFORMER_ENCODER),
               Some(LayerKind::TransformerEncoder));
    assert_eq!(m.option_int(1, sys::SEQCLS_OPT_SCALE_INPUT).unwrap(), 1);
    assert_eq!(m.option_int(4, sys::SEQCLS_OPT_MAX_LEN).unwrap(), 12);
    assert_eq!(m.option_int(2, sys::SEQCLS_OPT_HEADS).unwrap(), 2);
    assert_eq!(m.option_int(2, sys::SEQCLS_OPT_FF_DIM).unwrap(), 16);
    assert_eq!(m.option_int(2, sys::SEQCLS_OPT_FLAGS).unwrap() as u32, NORM_FIRST);
    assert_eq!(m.option_int(2, sys::SEQCLS_OPT_ACTIVATION).unwrap(), sys::SEQCLS_ACT_GELU);
    assert_eq!(m.option_float(2, sys::SEQCLS_OPT_DROPOUT).unwrap(), 0.0);
    assert_eq!(m.option_float(2, sys::SEQCLS_OPT_LN_EPSILON).unwrap(), 1e-3);
    assert_eq!(m.option_float(3, sys::SEQCLS_OPT_DROPOUT).unwrap(), 0.1);
    assert_eq!(m.option_float(3, sys::SEQCLS_OPT_LN_EPSILON).unwrap(), 1e-5);
    assert_eq!(m.option_int(5, sys::SEQCLS_OPT_KIND).unwrap(), sys::SEQCLS_POOL_FIRST);
    assert_eq!(m.param_names()[1], "2.transformer.self_attn.in_proj_weight");
    assert_eq!(m.param("2.transformer.linear2.weight").unwrap().1, vec![8, 16]);
    assert!(m.describe(2).unwrap().contains("gelu, dropout=0, norm_first, ln_eps=0.001"));

    let mut bad = Model::new(0).unwrap();
    bad.add_input(6).unwrap();
    let e = bad.add_transformer_encoder(&TransformerEncoder::new(4, 8)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("must divide"), "{}", e.message);
    let mut tanh = TransformerEncoder::new(2, 8);
    tanh.activation = Activation::Tanh;
    assert_eq!(bad.add_transformer_encoder(&tanh).unwrap_err().kind(), ErrorKind::InvalidArg);
}

#[test]
fn training_and_self_attention_weights() {
    let (b, t) = (6usize, 10usize);
    let lengths: Vec<i32> = vec![10, 7, 1, 4, 10, 3];
    let mut ids = vec![0i32; b * t];
    for r in 0..b {
        for s in 0..lengths[r] as usize {
            ids[r * t + s] = 1 + ((r * 7 + s * 3) % 29) as i32;
        }
    }
    let labels: Vec<i32> = (0..b as i32).map(|r| r % 2).collect();
    let mut m = encoder();
    let mut opt = Optimizer::new(OptimizerKind::Adam, 3e-3).unwrap();
    let first = m.train_step(&mut opt, &ids, b, t, Some(&lengths), &labels).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = m.train_step(&mut opt, &ids, b, t, Some(&lengths), &labels).unwrap();
    }
    assert!(last < first, "{first} -> {last}");
    assert_eq!(m.self_attention_weights(1, b, t).unwrap_err().kind(), ErrorKind::Range);
    let x = Tensor::wrap(&ids, &[b as i64, t as i64]).unwrap();
    m.forward(&x, Some(&lengths)).unwrap();
    let w = m.self_attention_weights(2, b, t).unwrap();
    assert_eq!(w.len(), b * 2 * t * t);
    for r in 0..b {
        let n = lengths[r] as usize;
        for h in 0..2 {
            for i in 0..t {
                let row = &w[((r * 2 + h) * t + i) * t..][..t];
                let sum: f32 = row.iter().sum();
                if i < n {
                    assert!((sum - 1.0).abs() < 1e-5, "{sum}");
                    assert!(row[n..].iter().all(|&v| v == 0.0));
                } else {
                    assert_eq!(sum, 0.0);
                }
            }
        }
    }
    assert_eq!(m.self_attention_weights(2, b, t + 1).unwrap_err().kind(), ErrorKind::Shape);
    assert_eq!(m.self_attention_weights(3, b, t).unwrap().len(), b * 4 * t * t);
}

#[test]
fn self_attention_weights_need_a_forward() {
    let m = encoder();
    assert_eq!(m.self_attention_weights(2, 1, 1).unwrap_err().kind(), ErrorKind::State);
}

#[test]
fn save_load_round_trip() {
    let m = encoder();
    let ids: Vec<i32> = (0..20).map(|i| 1 + i % 29).collect();
    let lengths = vec![10, 6];
    let p = m.predict(&ids, 2, 10, Some(&lengths)).unwrap();
    let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
    for l in 0..m.layer_count() as i32 {
        assert_eq!(back.describe(l).unwrap(), m.describe(l).unwrap());
    }
    assert_eq!(back.predict(&ids, 2, 10, Some(&lengths)).unwrap(), p);
}
