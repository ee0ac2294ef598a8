//! A model trained in Rust, saved and loaded (file and buffer), gives the
//! same outputs.
use seqcls::{Attention, ErrorKind, FitOptions, Model, Optimizer, OptimizerKind, BIDIRECTIONAL,
             RETURN_SEQUENCES};

fn data() -> (Vec<i32>, Vec<i32>, Vec<i32>) {
    let n = 64;
    let mut ids = vec![0; n * 8];
    let mut lengths = vec![0; n];
    let mut y = vec![0; n];
    for b in 0..n {
        lengths[b] = 1 + (b % 8) as i32;
        for t in 0..lengths[b] as usize {
            ids[b * 8 + t] = 1 + ((b * 7 + t * 3) % 19) as i32;
        }
        y[b] = ids[b * 8..b * 8 + 8].contains(&5) as i32;
    }
    (ids, lengths, y)
}

#[test]
fn save_load_round_trip() {
    let (x, lengths, y) = data();
    let mut m = Model::new(3).unwrap();
    m.add_embedding(20, 8, Some(0)).unwrap();
    m.add_gru(8, BIDIRECTIONAL | RETURN_SEQUENCES).unwrap();
    m.add_attention(Attention::Bahdanau, 8).unwrap();
    m.add_output(2).unwrap();
    let mut o = Optimizer::new(OptimizerKind::Adam, 0.01).unwrap();
    let mut batches = 0;
    m.fit(&mut o, &x, 64, 8, Some(&lengths), &y,
          &FitOptions { epochs: 2, batch_size: 16, ..FitOptions::default() },
          |_| { batches += 1; true }).unwrap();
    assert_eq!(batches, 8);
    let (p, a) = m.predict_attention(&x, 64, 8, Some(&lengths), true).unwrap();

    let dir = std::env::temp_dir().join(format!("seqcls-rust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.sqcl");
    m.save(&path).unwrap();
    let m2 = Model::load(&path).unwrap();
    let (p2, a2) = m2.predict_attention(&x, 64, 8, Some(&lengths), true).unwrap();
    assert_eq!(p, p2);
    assert_eq!(a, a2);
    assert_eq!(m.param_names(), m2.param_names());

    let m3 = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
    assert_eq!(m3.predict(&x, 64, 8, Some(&lengths)).unwrap(), p);

    let ckpt = dir.join("c.sqcl");
    m.save_checkpoint(&o, &ckpt).unwrap();
    let (m4, o4) = Model::load_checkpoint(&ckpt).unwrap();
    assert_eq!(m4.predict(&x, 64, 8, Some(&lengths)).unwrap(), p);
    assert_eq!(o4.steps(), o.steps());
    assert!(Model::load_checkpoint(&path).is_err());   // a plain model has no optimizer state
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn load_errors_are_err_with_the_message() {
    let e = Model::load("/nonexistent/dir/m.sqcl").map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(!e.message.is_empty());
    let e = Model::from_bytes(b"SQCL\x01").map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message.contains("seqcls_model_load_buffer"), "{}", e.message);
}
