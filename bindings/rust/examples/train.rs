//! Train a small BiLSTM-attention classifier on generated data ("does token
//! 7 occur?"), report the accuracy, and print the attention of one row.
//!
//!     cargo run --offline --example train
use seqcls::{Attention, BatchProgress, FitOptions, Model, Optimizer, OptimizerKind,
             BIDIRECTIONAL, RETURN_SEQUENCES};

const VOCAB: i32 = 30;
const STEPS: usize = 12;

/// Rows of ids with ragged lengths; label 1 when token 7 occurs.
fn make_data(n: usize, seed: &mut u64) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
    let mut next = |k: u64| {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 33) % k) as i32
    };
    let (mut ids, mut lengths, mut labels) = (vec![0; n * STEPS], vec![0; n], vec![0; n]);
    for b in 0..n {
        let len = 1 + next(STEPS as u64) as usize;
        lengths[b] = len as i32;
        labels[b] = next(2);
        for t in 0..len {
            let mut id = 1 + next(VOCAB as u64 - 1);
            if id == 7 {
                id = 8;
            }
            ids[b * STEPS + t] = id;
        }
        if labels[b] == 1 {
            ids[b * STEPS + next(len as u64) as usize] = 7;
        }
    }
    (ids, lengths, labels)
}

fn main() -> Result<(), seqcls::Error> {
    println!("seqcls {} from Rust", seqcls::version_string());
    let mut seed = 2024;
    let (x, lengths, y) = make_data(512, &mut seed);
    let (tx, tlengths, ty) = make_data(256, &mut seed);

    let mut model = Model::new(1)?;
    model.add_embedding(VOCAB, 16, Some(0))?;
    model.add_lstm(16, BIDIRECTIONAL | RETURN_SEQUENCES)?;
    model.add_attention(Attention::Bahdanau, 16)?;
    model.add_output(1)?;
    for i in 0..model.layer_count() {
        println!("  {}", model.describe(i as i32)?);
    }

    let mut adam = Optimizer::new(OptimizerKind::Adam, 0.01)?;
    let options = FitOptions { epochs: 8, batch_size: 32, ..FitOptions::default() };
    model.fit(&mut adam, &x, 512, STEPS, Some(&lengths), &y, &options, |p: BatchProgress| {
        if p.batch + 1 == p.batches {
            println!("epoch {}  last batch loss {:.4}", p.epoch + 1, p.loss);
        }
        true
    })?;

    let m = model.evaluate(&tx, 256, STEPS, Some(&tlengths), &ty)?;
    println!("test accuracy {:.1}% on {} rows", 100.0 * m.accuracy, m.count);

    let (p, att) = model.predict_attention(&tx[..STEPS], 1, STEPS, Some(&tlengths[..1]), true)?;
    println!("row 0: ids {:?}, p = {:.3}", &tx[..tlengths[0] as usize], p[0]);
    println!("attention {:?}", &att[..tlengths[0] as usize]
        .iter().map(|w| (w * 100.0).round() / 100.0).collect::<Vec<_>>());
    if m.accuracy < 0.9 {
        eprintln!("accuracy too low");
        std::process::exit(1);
    }
    Ok(())
}
