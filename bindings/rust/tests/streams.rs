//! Per-step models, streams and sampling from Rust (1.1).
use seqcls::{sample, Model, Optimizer};

fn tagger() -> Model {
    let mut m = Model::new(4).unwrap();
    m.add_embedding(8, 6, Some(0)).unwrap();
    m.add_lstm(10, seqcls::sys::SEQCLS_RETURN_SEQUENCES).unwrap();
    m.add_output(3).unwrap();
    m
}

#[test]
fn per_step_model_trains_and_predicts() {
    let mut m = tagger();
    assert_eq!(m.output_ndim().unwrap(), 3);
    let (n, t) = (6usize, 5usize);
    let ids: Vec<i32> = (0..n * t).map(|i| 1 + (i as i32 * 7) % 7).collect();
    let labels: Vec<i32> = ids.iter().map(|&i| i % 3).collect();
    let lengths = vec![5, 4, 3, 5, 1, 2];
    let mut opt = Optimizer::new(seqcls::OptimizerKind::Adam, 0.01).unwrap();
    let loss = m.train_step(&mut opt, &ids, n, t, Some(&lengths), &labels).unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    let p = m.predict(&ids, n, t, Some(&lengths)).unwrap();
    assert_eq!(p.len(), n * t * 3);
    assert!(p[(4 * t + 1) * 3..(4 * t + 2) * 3].iter().all(|&v| v == 0.0)); // padding
    let mt = m.evaluate(&ids, n, t, Some(&lengths), &labels).unwrap();
    assert_eq!(mt.count, lengths.iter().sum::<i32>() as i64);
}

#[test]
fn stream_equals_predict() {
    let mut m = Model::new(2).unwrap();
    m.add_embedding(8, 6, Some(0)).unwrap();
    m.add_gru(7, 0).unwrap();
    m.add_output(2).unwrap();
    let ids = [3, 1, 4, 1, 5, 2, 6];
    let mut s = m.stream().unwrap();
    let mut last = Vec::new();
    for chunk in ids.chunks(3) {
        last = s.push_ids(chunk).unwrap();
    }
    assert_eq!(last, m.predict(&ids, 1, ids.len(), None).unwrap());
    s.reset().unwrap();
    assert_eq!(s.push_ids(&ids).unwrap(), last);
    assert!(s.push_ids(&[99]).is_err());
    // per step, and a model that cannot stream
    let t = tagger();
    assert_eq!(t.stream().unwrap().push_ids(&[1, 2]).unwrap().len(), 6);
    let mut b = Model::new(1).unwrap();
    b.add_embedding(8, 4, None).unwrap();
    b.add_lstm(3, seqcls::sys::SEQCLS_BIDIRECTIONAL).unwrap();
    b.add_output(2).unwrap();
    let e = b.stream().err().unwrap();
    assert_eq!(e.status, seqcls::sys::SEQCLS_E_UNSUPPORTED);
    assert!(e.message.contains("bidirectional"), "{}", e.message);
}

#[test]
fn sampling() {
    let p = [0.2f32, 0.5, 0.3];
    let mut a = 5u64;
    let mut b = 5u64;
    assert_eq!(sample(&p, 0.0, &mut a).unwrap(), 1);
    let xs: Vec<usize> = (0..20).map(|_| sample(&p, 1.0, &mut a).unwrap()).collect();
    let ys: Vec<usize> = (0..20).map(|_| sample(&p, 1.0, &mut b).unwrap()).collect();
    assert_eq!(xs, ys);
    assert!(xs.iter().all(|&c| c < 3));
    assert!(sample(&[-1.0], 1.0, &mut a).is_err());
}
