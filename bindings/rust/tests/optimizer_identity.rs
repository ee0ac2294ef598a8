//! Issue 14, item 3: an optimiser knows its model by identity, not by
//! address.  Step with model A, drop A, make B (often at A's address, with
//! the same shapes or larger ones): stepping B is Err(State), never a write
//! past the end of A's moment arrays.  The safe API holds nothing tied to
//! A's lifetime, so this is sound whatever the allocator does.
use seqcls::{ErrorKind, FitOptions, Model, Optimizer, OptimizerKind, Pooling};

fn model(seed: u64, vocab: i32, dim: i32) -> Model {
    let mut m = Model::new(seed).unwrap();
    m.add_embedding(vocab, dim, Some(0)).unwrap();
    m.add_pooling(Pooling::Mean).unwrap();
    m.add_output(2).unwrap();
    m
}

const IDS: [i32; 8] = [1, 2, 3, 0, 4, 5, 0, 0];

#[test]
fn optimizer_of_a_dropped_model_refuses_the_next_one() {
    let mut reused = 0;
    for (kind, bigger) in [(OptimizerKind::Adam, false), (OptimizerKind::Adam, true),
                           (OptimizerKind::RmsProp, true), (OptimizerKind::Sgd, true),
                           (OptimizerKind::AdamW, false)] {
        let mut o = Optimizer::new(kind, 0.01).unwrap();
        if kind == OptimizerKind::Sgd || kind == OptimizerKind::RmsProp {
            o.set(seqcls::sys::SEQCLS_OPTIM_MOMENTUM, 0.9).unwrap();
        }
        let mut a = model(1, 10, 4);
        a.train_step(&mut o, &IDS, 2, 4, Some(&[3, 2]), &[0, 1]).unwrap();
        let addr = a.as_ptr() as usize;
        drop(a);
        // B: the same shapes, or 100x larger parameters (state arrays sized for A
        // would overflow); made at once, so that it often lands where A was
        let (vocab, dim) = if bigger { (1000, 40) } else { (10, 4) };
        let mut b = model(2, vocab, dim);
        reused += (b.as_ptr() as usize == addr) as i32;
        let before = b.param("0.embedding.weight").unwrap().0.to_vec();
        let e = b.train_step(&mut o, &IDS, 2, 4, Some(&[3, 2]), &[0, 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::State, "{e}");
        assert!(e.message.contains("seqcls_optimizer_step"), "{}", e.message);
        assert_eq!(b.param("0.embedding.weight").unwrap().0, &before[..]);  // not updated
        assert_eq!(o.step(&mut b).unwrap_err().kind(), ErrorKind::State);
        // fit and checkpoints refuse it the same way
        let e = b.fit(&mut o, &IDS, 2, 4, Some(&[3, 2]), &[0, 1],
                      &FitOptions { epochs: 1, batch_size: 2, ..FitOptions::default() },
                      |_| true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::State, "{e}");
        let path = std::env::temp_dir().join(format!("seqcls-opt-{}.sqcl", std::process::id()));
        assert_eq!(b.save_checkpoint(&o, &path).unwrap_err().kind(), ErrorKind::State);
        assert!(!path.exists());
        assert_eq!(o.steps(), 1);
        // a new optimiser for B works
        let mut o2 = Optimizer::new(kind, 0.01).unwrap();
        b.train_step(&mut o2, &IDS, 2, 4, Some(&[3, 2]), &[0, 1]).unwrap();
    }
    eprintln!("B reused A's address {reused} of 5 times");
}

#[test]
fn many_models_at_recycled_addresses() {
    // Many rounds raise the chance of address reuse; every one must be refused.
    let mut o = Optimizer::new(OptimizerKind::Adam, 0.01).unwrap();
    let mut first = model(1, 10, 4);
    first.train_step(&mut o, &IDS, 2, 4, None, &[0, 1]).unwrap();
    drop(first);
    for i in 0..200 {
        let mut m = model(i, 10 + (i as i32 % 3) * 500, 4 + (i as i32 % 5));
        assert_eq!(o.step(&mut m).unwrap_err().kind(), ErrorKind::State);
    }
}

#[test]
fn a_checkpoint_optimizer_belongs_to_its_model() {
    let mut a = model(1, 10, 4);
    let mut o = Optimizer::new(OptimizerKind::Adam, 0.01).unwrap();
    a.train_step(&mut o, &IDS, 2, 4, None, &[0, 1]).unwrap();
    let path = std::env::temp_dir().join(format!("seqcls-ckpt-{}.sqcl", std::process::id()));
    a.save_checkpoint(&o, &path).unwrap();
    drop(a);
    drop(o);
    let (mut m, mut o) = Model::load_checkpoint(&path).unwrap();
    std::fs::remove_file(&path).ok();
    m.train_step(&mut o, &IDS, 2, 4, None, &[0, 1]).unwrap();
    let mut other = model(1, 10, 4);
    assert_eq!(o.step(&mut other).unwrap_err().kind(), ErrorKind::State);
}
