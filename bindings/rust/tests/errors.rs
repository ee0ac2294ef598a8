//! Errors map to Err with the status and the library's message.
use seqcls::{ErrorKind, Model, Optimizer, OptimizerKind, Pooling, Tensor, Vocab};

fn small() -> Model {
    let mut m = Model::new(1).unwrap();
    m.add_embedding(10, 4, Some(0)).unwrap();
    m.add_pooling(Pooling::Max).unwrap();
    m.add_output(1).unwrap();
    m
}

#[test]
fn token_out_of_range_is_err_with_the_message() {
    let m = small();
    let e = m.predict(&[1, 2, 12, 0], 1, 4, Some(&[3])).unwrap_err();
    assert_eq!(e.status, seqcls::sys::SEQCLS_E_RANGE);
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(e.message.starts_with("seqcls_predict"), "{}", e.message);
    assert!(e.message.contains("12"), "{}", e.message);
    assert!(e.to_string().contains(&e.message));
}

#[test]
fn invalid_argument_and_state() {
    let mut m = Model::new(0).unwrap();
    let e = m.add_embedding(0, 4, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("seqcls_add_embedding"), "{}", e.message);
    let mut m = small();
    let e = m.add_dense(4, seqcls::Activation::Relu).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
    assert!(!e.message.is_empty());
}

#[test]
fn lengths_and_shapes_checked() {
    let m = small();
    let e = m.predict(&[1, 2, 3, 4], 1, 4, Some(&[5])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(e.message.contains("lengths[0]"), "{}", e.message);
    let e = m.predict(&[1, 2, 3], 1, 4, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let e = Optimizer::new(OptimizerKind::Adam, -1.0).map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("seqcls_optimizer_create"), "{}", e.message);
}

#[test]
fn format_error_of_bytes() {
    let e = Vocab::from_bytes(b"\x01").map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message.starts_with("seqcls_vocab_load_buffer"), "{}", e.message);
}

#[test]
fn slices_are_not_copied() {
    let mut data = vec![1.0f32, 2.0, 3.0, 4.0];
    let p = data.as_ptr();
    {
        let mut t = Tensor::wrap_mut(&mut data, &[2, 2]).unwrap();
        assert_eq!(t.shape(), vec![2, 2]);
        assert_eq!(t.data::<f32>().unwrap().as_ptr(), p);
        t.data_mut::<f32>().unwrap()[3] = 9.0;
        assert!(t.data::<i32>().is_err());
    }
    assert_eq!(data[3], 9.0);
    let ro = [1i32, 2];
    let mut t = Tensor::wrap(&ro, &[2]).unwrap();
    assert!(t.data_mut::<i32>().is_err());
    assert!(Tensor::zeros::<f32>(&[3, 0]).unwrap().data::<f32>().unwrap().is_empty());
}

#[test]
fn parameters_are_views_into_the_model() {
    let mut m = small();
    let before = m.predict(&[1, 2, 3, 0], 1, 4, Some(&[3])).unwrap()[0];
    m.param_mut("2.output.bias").unwrap()[0] += 3.0;
    let after = m.predict(&[1, 2, 3, 0], 1, 4, Some(&[3])).unwrap()[0];
    assert!(after > before);
    let (w, shape) = m.param("0.embedding.weight").unwrap();
    assert_eq!(shape, vec![10, 4]);
    assert!(w[..4].iter().all(|&v| v == 0.0)); // padding row
    assert!(m.param("nope").is_err());
}

#[test]
fn training_and_text() {
    let mut m = small();
    let mut o = Optimizer::new(OptimizerKind::Adam, 0.05).unwrap();
    let ids = [1, 7, 0, 0, 2, 3, 0, 0];
    let first = m.train_step(&mut o, &ids, 2, 4, Some(&[2, 2]), &[1, 0]).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = m.train_step(&mut o, &ids, 2, 4, Some(&[2, 2]), &[1, 0]).unwrap();
    }
    assert!(last < first);
    assert_eq!(o.steps(), 31);
    let e = m.train_step(&mut o, &ids, 2, 4, Some(&[2, 2]), &[1, 5]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);

    let mut v = Vocab::new().unwrap();
    v.add_text("Good film, <b>good</b> plot!").unwrap();
    v.build(0, 0).unwrap();
    let (ids, n) = v.encode("good plot", 4).unwrap();
    assert_eq!(n, 2);
    assert_eq!(v.decode(&ids).unwrap(), "good plot");
    assert_eq!(v.token(0).as_deref(), Some("<pad>"));
    assert_eq!(seqcls::tokenize("ab cd").unwrap(), vec![(0, 2), (3, 5)]);
    m.set_vocab(&v).unwrap();
    m.set_labels(&["neg", "pos"]).unwrap();
    assert_eq!(m.labels(), vec!["neg", "pos"]);
    assert_eq!(m.vocab().unwrap().unwrap().len(), v.len());
}
