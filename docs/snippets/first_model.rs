// docs/getting-started.md: the first model, in Rust.
use seqcls::{Model, Optimizer, OptimizerKind, Pooling};

fn main() -> Result<(), seqcls::Error> {
    // Two rows of token ids, padded to 4 steps; lengths say which steps count.
    let ids = [5, 17, 42, 0, 7, 7, 0, 0];
    let lengths = [3, 2];
    let labels = [1, 0];

    let mut model = Model::new(42)?;
    model.add_embedding(100, 16, Some(0))?;  // vocab 100, dim 16, id 0 = padding
    model.add_pooling(Pooling::Mean)?;
    model.add_output(1)?;                   // one logit: sigmoid + binary cross-entropy

    let mut adam = Optimizer::new(OptimizerKind::Adam, 0.05)?;
    for _ in 0..50 {
        model.train_step(&mut adam, &ids, 2, 4, Some(&lengths), &labels)?;
    }
    let probs = model.predict(&ids, 2, 4, Some(&lengths))?;
    println!("p(positive) = {:.3} {:.3}", probs[0], probs[1]);

    model.save("first_model.sqcl")?;
    let again = Model::load("first_model.sqcl")?;
    assert_eq!(again.predict(&ids, 2, 4, Some(&lengths))?, probs);
    std::fs::remove_file("first_model.sqcl").ok();
    Ok(())
}
