//! The 1.1 calls: layer kinds, options, output width, the metadata store
//! (with its save/load round trip); strings holding NUL are `Err`, not panics.
use seqcls::sys;
use seqcls::{Activation, Attention, ErrorKind, LayerKind, Model, Pooling, BIDIRECTIONAL,
             RETURN_SEQUENCES};

fn every_kind() -> Model {
    let mut m = Model::new(3).unwrap();
    m.add_embedding(30, 8, Some(0)).unwrap();
    let g = m.add_gru(6, BIDIRECTIONAL | RETURN_SEQUENCES).unwrap();
    m.set_float(g, sys::SEQCLS_OPT_INPUT_DROPOUT, 0.25).unwrap();
    m.add_lstm(5, RETURN_SEQUENCES).unwrap();
    m.add_attention(Attention::LearnedQuery, 4).unwrap();
    m.add_dense(7, Activation::Relu).unwrap();
    let bn = m.add_batchnorm().unwrap();
    m.set_float(bn, sys::SEQCLS_OPT_BN_MOMENTUM, 0.2).unwrap();
    m.add_dropout(0.5).unwrap();
    m.add_output(3).unwrap();
    m
}

#[test]
fn layer_kinds() {
    let m = every_kind();
    let kinds: Vec<LayerKind> = (0..m.layer_count() as i32).map(|i| m.layer_kind(i).unwrap())
        .collect();
    assert_eq!(kinds, vec![LayerKind::Embedding, LayerKind::Gru, LayerKind::Lstm,
                           LayerKind::Attention, LayerKind::Dense, LayerKind::BatchNorm,
                           LayerKind::Dropout, LayerKind::Output]);
    assert_eq!(kinds[5].name(), "batchnorm");
    assert_eq!(LayerKind::from_raw(sys::SEQCLS_LAYER_INPUT), Some(LayerKind::Input));
    assert_eq!(LayerKind::Output.as_raw(), sys::SEQCLS_LAYER_OUTPUT);
    assert_eq!(LayerKind::from_raw(0), None);
    let e = m.layer_kind(8).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(e.message.contains("seqcls_layer_kind"), "{}", e.message);
    assert_eq!(m.layer_kind(-1).unwrap_err().kind(), ErrorKind::Range);
    let mut f = Model::new(0).unwrap();
    f.add_input(3).unwrap();
    assert_eq!(f.layer_kind(0).unwrap(), LayerKind::Input);
    let mut b = Model::new(0).unwrap();
    b.add_embedding_bag(100, 4, 7).unwrap();
    assert_eq!(b.layer_kind(0).unwrap(), LayerKind::EmbeddingBag);
    assert_eq!(b.option_int(0, sys::SEQCLS_OPT_PER_STEP).unwrap(), 7);
    assert_eq!(LayerKind::from_raw(sys::SEQCLS_LAYER_EMBEDDING_BAG), Some(LayerKind::EmbeddingBag));
    assert_eq!(LayerKind::EmbeddingBag.name(), "embedding_bag");
}

#[test]
fn options_and_output_width() {
    let m = every_kind();
    assert_eq!(m.option_int(0, sys::SEQCLS_OPT_VOCAB).unwrap(), 30);
    assert_eq!(m.option_int(0, sys::SEQCLS_OPT_UNITS).unwrap(), 8);
    assert_eq!(m.option_int(0, sys::SEQCLS_OPT_PADDING_IDX).unwrap(), 0);
    assert_eq!(m.option_int(1, sys::SEQCLS_OPT_FLAGS).unwrap() as u32,
               BIDIRECTIONAL | RETURN_SEQUENCES);
    assert_eq!(m.option_float(1, sys::SEQCLS_OPT_INPUT_DROPOUT).unwrap(), 0.25);
    assert_eq!(m.option_int(3, sys::SEQCLS_OPT_KIND).unwrap(), Attention::LearnedQuery as i32);
    assert_eq!(m.option_int(4, sys::SEQCLS_OPT_ACTIVATION).unwrap(), Activation::Relu as i32);
    assert!((m.option_float(5, sys::SEQCLS_OPT_BN_MOMENTUM).unwrap() - 0.2).abs() < 1e-7);
    assert_eq!(m.option_float(6, sys::SEQCLS_OPT_DROPOUT).unwrap(), 0.5);
    assert_eq!(m.option_int(7, sys::SEQCLS_OPT_UNITS).unwrap(), 3);
    // the wrong type, an option the kind lacks, no such layer
    assert_eq!(m.option_int(6, sys::SEQCLS_OPT_DROPOUT).unwrap_err().kind(), ErrorKind::InvalidArg);
    assert_eq!(m.option_float(0, sys::SEQCLS_OPT_FLAGS).unwrap_err().kind(),
               ErrorKind::InvalidArg);
    assert_eq!(m.option_int(99, sys::SEQCLS_OPT_UNITS).unwrap_err().kind(), ErrorKind::Range);
    assert_eq!(m.output_width().unwrap(), 3);
    assert_eq!(m.num_classes().unwrap(), 3);

    let mut p = Model::new(0).unwrap();
    p.add_input(3).unwrap();
    p.add_pooling(Pooling::Max).unwrap();
    let e = p.output_width().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
    assert!(e.message.contains("seqcls_model_output_width"), "{}", e.message);
    p.add_output(1).unwrap();
    assert_eq!(p.num_classes().unwrap(), 1);
}

#[test]
fn metadata_store_and_its_round_trip() {
    let mut m = every_kind();
    assert!(m.meta_keys().is_empty());
    assert_eq!(m.meta("maxlen"), None);
    m.set_meta("maxlen", Some("200")).unwrap();
    m.set_meta("tokens", Some("words")).unwrap();
    m.set_meta("note", Some("ünïcode ✓\nline")).unwrap();
    m.set_meta("maxlen", Some("100")).unwrap();          // replaced, keeps its place
    assert_eq!(m.meta_keys(), vec!["maxlen", "tokens", "note"]);
    assert_eq!(m.meta("maxlen").as_deref(), Some("100"));
    m.set_meta("tokens", None).unwrap();
    m.set_meta("absent", None).unwrap();                 // removing a missing key is fine
    assert_eq!(m.meta_keys(), vec!["maxlen", "note"]);

    for bad in ["", "has space", "ключ", &"x".repeat(65)] {
        let e = m.set_meta(bad, Some("v")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArg);
        assert!(e.message.starts_with("seqcls_model_set_meta"), "{}", e.message);
    }
    let e = m.set_meta("big", Some(&"v".repeat(65537))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    // interior NUL: an Err naming the problem, never a panic or a cut string
    let e = m.set_meta("k\0x", Some("v")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("NUL"), "{}", e.message);
    let e = m.set_meta("k", Some("a\0b")).unwrap_err();
    assert!(e.message.contains("NUL"), "{}", e.message);
    assert_eq!(m.meta("maxlen\0junk"), None);
    assert_eq!(m.meta_keys(), vec!["maxlen", "note"]);    // refused calls changed nothing

    let bytes = m.to_bytes().unwrap();
    let m2 = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m2.meta_keys(), m.meta_keys());
    assert_eq!(m2.meta("note").as_deref(), Some("ünïcode ✓\nline"));
    let dir = std::env::temp_dir().join(format!("seqcls-rust-meta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.sqcl");
    m.save(&path).unwrap();
    let m3 = Model::load(&path).unwrap();
    assert_eq!(m3.meta_keys(), vec!["maxlen", "note"]);
    assert_eq!(m3.meta("maxlen").as_deref(), Some("100"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn interior_nul_is_an_err_everywhere() {
    let mut m = every_kind();
    let e = m.set_labels(&["a", "b\0c", "d"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message.contains("label 1"), "{}", e.message);
    assert!(m.labels().is_empty());
    assert_eq!(m.param("0.embedding.weight\0x").map(|_| ()).unwrap_err().kind(),
               ErrorKind::InvalidArg);
    assert_eq!(m.save("/tmp/a\0b").unwrap_err().kind(), ErrorKind::InvalidArg);
    assert_eq!(Model::load("/tmp/a\0b").map(|_| ()).unwrap_err().kind(), ErrorKind::InvalidArg);
    let mut v = seqcls::Vocab::new().unwrap();
    v.add_text("good film").unwrap();
    v.build(0, 0).unwrap();
    assert_eq!(v.id("good\0film").unwrap_err().kind(), ErrorKind::InvalidArg);
    // text passed with its length may hold NUL: the tokeniser splits there
    assert_eq!(seqcls::tokenize("ab\0cd").unwrap(), vec![(0, 2), (3, 5)]);
}

#[test]
fn absurd_sizes_are_err_not_abort() {
    let m = every_kind();
    // zero steps make any batch a valid empty slice; the output would not fit in memory
    let e = m.predict(&[], 1 << 40, 0, None).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NoMem | ErrorKind::Range | ErrorKind::Shape), "{e}");
    let v = seqcls::Vocab::new().unwrap();
    assert!(v.encode("x", usize::MAX).is_err());
}
