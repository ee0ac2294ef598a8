"""The converters' 1.1 additions: the documented `dropout` of an lstm/gru
entry (it failed with "several layer kinds in one entry"), PyTorch's
dropout between the layers of a stacked nn.LSTM (`layer_dropout`),
`recurrent_dropout` and the ave/mul merges, conv1d (nn.Conv1d and Keras'
Conv1D) and flatten, and a vocabulary and label names carried into the
model (--vocab, --labels, --maxlen, --truncate) so that the seqcls command
reads raw text with a converted model."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from conftest import ROOT, TOL, ragged_ids, record, run_tool, seqcls, write_spec

torch.set_num_threads(1)


def convert(tool, weights, spec, out, *extra):
    status, stdout, stderr = run_tool(tool, weights, spec, out, *extra)
    return status, stderr


# ---- dropout options of a recurrent entry ----

class StackedDropNet(nn.Module):
    def __init__(self, layers, p, kind="lstm"):
        super().__init__()
        self.emb = nn.Embedding(30, 6, padding_idx=0)
        R = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = R(6, 5, num_layers=layers, dropout=p, batch_first=True, bidirectional=True)
        self.out = nn.Linear(10, 3)

    def forward(self, ids, lengths):
        _, h = self.rnn(pack_padded_sequence(self.emb(ids), lengths, batch_first=True,
                                             enforce_sorted=False))
        h = h[0] if isinstance(h, tuple) else h
        return torch.softmax(self.out(torch.cat((h[-2], h[-1]), 1)), 1)


@pytest.mark.parametrize("layers,kind", [(2, "lstm"), (3, "gru")])
def test_pytorch_layer_dropout_becomes_dropout_layers(tmp_path, layers, kind):
    torch.manual_seed(layers)
    net = StackedDropNet(layers, 0.3, kind).eval()
    pt = tmp_path / "m.pt"
    torch.save(net.state_dict(), pt)
    spec = write_spec(tmp_path / "s.json",
                      [{"embedding": "emb"},
                       {kind: "rnn", "num_layers": layers, "layer_dropout": 0.3,
                        "dropout": 0.1, "recurrent_dropout": 0.2},
                       {"output": "out"}])
    out = tmp_path / "m.sqcl"
    status, err = convert("convert_pytorch.py", pt, spec, out, "--strict")
    assert status == 0, err
    m = seqcls.Model.load(str(out))
    kinds = [m.layer_kind(i) for i in range(len(m))]
    assert kinds == ["embedding"] + [kind, "dropout"] * (layers - 1) + [kind, "output"]
    for i in range(2, 2 * layers - 1, 2):
        assert m.get_option(i, "dropout") == pytest.approx(0.3)
    for i in range(1, 2 * layers, 2):   # the documented per-layer options on every layer
        assert m.get_option(i, "input_dropout") == pytest.approx(0.1)
        assert m.get_option(i, "recurrent_dropout") == pytest.approx(0.2)
    rng = np.random.default_rng(1)
    ids, lengths = ragged_ids(rng, 6, 7, 30)
    with torch.no_grad():
        ref = net(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long())
    assert record("pytorch stacked + dropout", np.abs(m.predict(ids, lengths) - ref.numpy())
                  .max()) <= TOL


def test_dropout_option_of_a_keras_entry_and_merges(tmp_path):
    rng = np.random.default_rng(2)
    H, E = 3, 4
    w = {"embedding/embeddings": rng.standard_normal((20, E)),
         "dense/kernel": rng.standard_normal((H, 2)), "dense/bias": rng.standard_normal(2)}
    for d in ("forward_lstm", "backward_lstm"):
        w["bidirectional/%s/lstm_cell/kernel" % d] = rng.standard_normal((E, 4 * H))
        w["bidirectional/%s/lstm_cell/recurrent_kernel" % d] = rng.standard_normal((H, 4 * H))
        w["bidirectional/%s/lstm_cell/bias" % d] = rng.standard_normal(4 * H)
    npz = tmp_path / "w.npz"
    np.savez(npz, **{k: np.asarray(v, np.float32) for k, v in w.items()})
    for merge in ("ave", "mul"):
        spec = write_spec(tmp_path / "s.json",
                          [{"embedding": "embedding"},
                           {"lstm": "bidirectional", "merge": merge, "dropout": 0.25,
                            "recurrent_dropout": 0.5},
                           {"output": "dense"}])
        out = tmp_path / ("m-%s.sqcl" % merge)
        status, err = convert("convert_keras.py", npz, spec, out)
        assert status == 0, err
        m = seqcls.Model.load(str(out))
        assert m.get_option(1, "input_dropout") == pytest.approx(0.25)
        assert m.get_option(1, "recurrent_dropout") == pytest.approx(0.5)
        assert m.get_option(1, "flags") & (seqcls.MERGE_AVE if merge == "ave"
                                           else seqcls.MERGE_MUL)
    bad = write_spec(tmp_path / "b.json", [{"embedding": "embedding"},
                                           {"lstm": "bidirectional", "layer_dropout": 0.2},
                                           {"output": "dense"}])
    status, err = convert("convert_keras.py", npz, bad, tmp_path / "x.sqcl")
    assert status == 2 and "layer_dropout is PyTorch's" in err, err
    bad = write_spec(tmp_path / "b.json", [{"embedding": "embedding"},
                                           {"lstm": "bidirectional", "dropout": 1.5},
                                           {"output": "dense"}])
    status, err = convert("convert_keras.py", npz, bad, tmp_path / "x.sqcl")
    assert status == 2 and "dropout must be a rate in [0, 1)" in err, err


# ---- conv1d and flatten ----

class KimNet(nn.Module):
    def __init__(self, padding):
        super().__init__()
        self.emb = nn.Embedding(40, 8, padding_idx=0)
        self.conv = nn.Conv1d(8, 10, 4, padding=padding, dilation=2 if padding == 0 else 1)
        self.fc = nn.Linear(10, 2)

    def forward(self, ids, lengths):
        rows = []
        for b in range(ids.shape[0]):
            e = self.emb(ids[b, :lengths[b]]).t().unsqueeze(0)
            rows.append(torch.relu(self.conv(e))[0].max(1).values)
        return torch.softmax(self.fc(torch.stack(rows)), 1)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", [0, "same"])
def test_pytorch_conv1d(tmp_path, padding):
    torch.manual_seed(5)
    net = KimNet(padding).eval()
    pt = tmp_path / "m.pt"
    torch.save(net.state_dict(), pt)
    conv = {"conv1d": "conv", "activation": "relu"}
    conv.update({"padding": "same"} if padding == "same" else {"dilation": 2})
    spec = write_spec(tmp_path / "s.json",
                      [{"embedding": "emb"}, conv, {"pooling": "max"}, {"output": "fc"}])
    out = tmp_path / "m.sqcl"
    status, err = convert("convert_pytorch.py", pt, spec, out, "--strict")
    assert status == 0, err
    m = seqcls.Model.load(str(out))
    assert m.layer_kind(1) == "conv1d"
    rng = np.random.default_rng(3)
    ids, lengths = ragged_ids(rng, 6, 12, 40, min_len=7)
    with torch.no_grad():
        ref = net(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long())
    assert record("pytorch conv1d", np.abs(m.predict(ids, lengths) - ref.numpy()).max()) <= TOL


def test_keras_conv1d_and_flatten(tmp_path):
    """Keras: Input((T, F)) -> Conv1D(5, 3, padding="same", activation="tanh")
    -> Flatten -> Dense(1, sigmoid), after the feature-time attention that
    fixes T (its weights identity-like), against numpy."""
    rng = np.random.default_rng(4)
    T, F, U, k = 6, 3, 5, 3
    w = {"att/kernel": np.eye(T) * 0.0, "att/bias": np.zeros(T),
         "conv/kernel": rng.standard_normal((k, F, U)), "conv/bias": rng.standard_normal(U),
         "out/kernel": rng.standard_normal((T * U, 1)) * 0.3, "out/bias": rng.standard_normal(1)}
    npz = tmp_path / "w.npz"
    np.savez(npz, **{k_: np.asarray(v, np.float32) for k_, v in w.items()})
    spec = write_spec(tmp_path / "s.json",
                      [{"input": F}, {"attention": "feature_time", "time": "att"},
                       {"conv1d": "conv", "padding": "same", "activation": "tanh"},
                       {"flatten": True}, {"output": "out"}])
    out = tmp_path / "m.sqcl"
    status, err = convert("convert_keras.py", npz, spec, out, "--strict")
    assert status == 0, err
    m = seqcls.Model.load(str(out))
    x = rng.uniform(-1, 1, (4, T, F)).astype(np.float32)
    # the attention with zero weights: softmax of equal scores, x / T
    xs = x.astype(np.float64) / T
    pad = np.pad(xs, ((0, 0), (1, 1), (0, 0)))
    conv = np.tanh(np.stack([np.einsum("bkf,kfu->bu", pad[:, t:t + k], w["conv/kernel"])
                             for t in range(T)], 1) + w["conv/bias"])
    z = conv.reshape(4, T * U) @ w["out/kernel"] + w["out/bias"]
    ref = 1 / (1 + np.exp(-z))
    assert record("keras conv1d + flatten", np.abs(m.predict(x) - ref).max()) <= TOL
    bad = write_spec(tmp_path / "b.json", [{"input": F}, {"flatten": "x"}, {"output": "out"}])
    status, err = convert("convert_keras.py", npz, bad, tmp_path / "x.sqcl")
    assert status == 2 and 'write {"flatten": true}' in err, err
    bad = write_spec(tmp_path / "b.json", [{"input": F}, {"conv1d": "conv", "padding": "causal"},
                                           {"pooling": "max"}, {"output": "out"}])
    status, err = convert("convert_keras.py", npz, bad, tmp_path / "x.sqcl")
    assert status == 2 and "padding must be valid or same" in err, err


# ---- a vocabulary and label names ----

SEQCLS = os.path.join(ROOT, "bin", "seqcls")
WORDS = ["the", "film", "was", "great", "awful", "plot", "music", "boring", "superb", "a"]


class BagNet(nn.Module):
    """Embedding -> mean over valid steps -> Linear(2): easy to check by hand."""

    def __init__(self, rows, pad):
        super().__init__()
        self.emb = nn.Embedding(rows, 6, padding_idx=pad)
        self.fc = nn.Linear(6, 2)

    def forward(self, ids, lengths):
        e = self.emb(ids)
        mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).unsqueeze(2)
        return torch.softmax(self.fc((e * mask).sum(1) / lengths[:, None].float()), 1)


def seqcls_cli(*args, stdin=None):
    return subprocess.run([SEQCLS, *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("style", ["textvectorization", "torchtext", "word_index_oov",
                                   "word_index_plain", "lines"])
def test_vocabulary_and_labels_reach_the_command_line(tmp_path, style):
    """The source's ids in its own order; seqcls' ids 0 and 1 are <pad> and
    <unk>: the converter renumbers the embedding's rows, and the converted
    model, given raw text, gives torch's probabilities on the source's ids."""
    if style == "textvectorization":    # ["", "[UNK]", words...]
        vocab, pad, unk = ["", "[UNK]"] + WORDS, 0, 1
    elif style == "torchtext":          # ["<unk>", "<pad>", words...]
        vocab, pad, unk = ["<unk>", "<pad>"] + WORDS, 1, 0
    elif style == "word_index_oov":     # Tokenizer(oov_token="<OOV>").word_index
        vocab, pad, unk = dict({"<OOV>": 1}, **{w: i + 2 for i, w in enumerate(WORDS)}), 0, 1
    elif style == "word_index_plain":   # Tokenizer().word_index: no unknown token
        vocab, pad, unk = {w: i + 1 for i, w in enumerate(WORDS)}, 0, None
    else:                               # one token per line
        vocab, pad, unk = ["<pad>", "<unk>"] + WORDS, 0, 1
    rows = 2 + len(WORDS) + 3           # a few rows no token uses
    torch.manual_seed(7)
    net = BagNet(rows, pad).eval()
    pt = tmp_path / "m.pt"
    torch.save(net.state_dict(), pt)
    vpath = tmp_path / ("vocab.txt" if style == "lines" else "vocab.json")
    with open(vpath, "w", encoding="utf-8") as f:
        if style == "lines":
            f.write("\n".join(vocab) + "\n")
        else:
            json.dump(vocab, f)
    spec = write_spec(tmp_path / "s.json", [{"embedding": "emb", "padding_idx": pad},
                                            {"pooling": "mean"}, {"output": "fc"}])
    out = tmp_path / "m.sqcl"
    extra = ["--vocab", vpath, "--labels", "neg,pos", "--maxlen", "6", "--truncate", "pre"]
    if style == "torchtext":
        extra += ["--pad-id", "1", "--unk-id", "0"]
    status, err = convert("convert_pytorch.py", pt, spec, out, *extra)
    assert status == 0, err
    if style == "word_index_plain":
        assert "no out-of-vocabulary token" in err, err
    m = seqcls.Model.load(str(out))
    assert m.labels == ["neg", "pos"]
    assert dict(m.meta) == {"tokens": "word", "maxlen": "6", "truncate": "pre"}
    v = m.vocab
    assert len(v) == 2 + len(WORDS) and v.token(2) == WORDS[0]
    texts = ["The film was GREAT", "an awful, boring plot", "Music! superb music a film"]
    src_id = {w: (vocab.index(w) if isinstance(vocab, list) else vocab[w]) for w in WORDS}
    ids, lengths = v.encode_batch(texts, 6, truncating="pre")
    tids = np.zeros_like(ids)
    for b, t in enumerate(texts):
        words = seqcls.tokenize(t.lower())[-6:]
        tids[b, :len(words)] = [src_id.get(wd, unk if unk is not None else -1) for wd in words]
    keep = [b for b in range(len(texts)) if (tids[b] >= 0).all()]   # (unknown words: below)
    with torch.no_grad():
        ref = net(torch.from_numpy(tids[keep]).long(), torch.from_numpy(lengths[keep]).long())
    probs = m.predict(ids[keep], lengths[keep])
    assert record("vocabulary renumbered", np.abs(probs - ref.numpy()).max()) <= TOL
    # the command line reads raw text with it, as trained (maxlen 6, pre)
    r = seqcls_cli("predict", str(out), "-k", "2", "-", stdin="\n".join(texts[i] for i in keep)
                   + "\n")
    assert r.returncode == 0, r.stderr
    for line, p in zip(r.stdout.splitlines(), probs):
        f = line.split()
        got = {f[0][len("__label__"):]: float(f[1]), f[2][len("__label__"):]: float(f[3])}
        assert abs(got["pos"] - p[1]) < 1e-4 and abs(got["neg"] - p[0]) < 1e-4, line
    info = seqcls_cli("info", str(out)).stdout
    assert "labels: neg pos" in info and "vocabulary: %d tokens" % (2 + len(WORDS)) in info


def test_vocabulary_and_label_errors(tmp_path):
    torch.manual_seed(1)
    net = BagNet(8, 0)
    pt = tmp_path / "m.pt"
    torch.save(net.state_dict(), pt)
    spec = write_spec(tmp_path / "s.json", [{"embedding": "emb"}, {"pooling": "mean"},
                                            {"output": "fc"}])

    def vocab_file(name, obj):
        p = tmp_path / name
        with open(p, "w", encoding="utf-8") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        return p

    good = vocab_file("v.json", ["", "", "a", "b"])
    cases = [
        (["--labels", "a,b,c"], "--labels: 3 name(s) for a model of 2 classes"),
        (["--labels", "a,"], "--labels"),
        (["--vocab", vocab_file("d.json", ["", "", "a", "a"])], "tokens[3] repeats tokens[2]"),
        (["--vocab", vocab_file("n.json", {"a": -1})], "not an integer >= 0"),
        (["--vocab", vocab_file("t.json", {"a": 2, "b": 2})], "both have id 2"),
        (["--vocab", vocab_file("l.json", [1, 2])], "must hold strings"),
        (["--vocab", tmp_path / "missing.json"], "No such file"),
        (["--vocab", good, "--pad-id", "9"], "--pad-id 9 is outside the embedding's 8 rows"),
        (["--vocab", good, "--unk-id", "x"], "--unk-id must be an id or none"),
        (["--vocab", good, "--unk-id", "0"], "--pad-id and --unk-id are both 0"),
        (["--vocab", good, "--maxlen", "0"], "--maxlen 0 is outside"),
        (["--vocab", vocab_file("big.json", [""] * 2 + ["w%d" % i for i in range(10)])],
         None),   # ids beyond the 8 rows: dropped, with a note
    ]
    for extra, needle in cases:
        out = tmp_path / "x.sqcl"
        status, err = convert("convert_pytorch.py", pt, spec, out, *extra)
        if needle is None:
            assert status == 0 and "beyond the embedding's 8 rows" in err, err
            assert len(seqcls.Model.load(str(out)).vocab) == 8
            os.unlink(out)
            continue
        assert status == 2, (extra, err)
        assert needle in err, (extra, err)
        assert not out.exists()
    # a first layer that is not an embedding
    spec2 = write_spec(tmp_path / "s2.json", [{"input": 6}, {"pooling": "mean"},
                                              {"output": "fc"}])
    status, err = convert("convert_pytorch.py", pt, spec2, tmp_path / "x.sqcl", "--vocab", good)
    assert status == 2 and "--vocab needs an embedding" in err, err
    # a padding row that is not the vocabulary's
    spec3 = write_spec(tmp_path / "s3.json", [{"embedding": "emb", "padding_idx": 3},
                                              {"pooling": "mean"}, {"output": "fc"}])
    status, err = convert("convert_pytorch.py", pt, spec3, tmp_path / "x.sqcl", "--vocab", good)
    assert status == 2 and "padding_idx 3 is not the vocabulary's padding id 0" in err, err
    # tokens the tokeniser never produces: kept, with a warning
    status, err = convert("convert_pytorch.py", pt, spec, tmp_path / "y.sqcl", "--vocab",
                          vocab_file("caps.json", ["", "", "Hello", "e-mail"]))
    assert status == 0 and "2 token(s)" in err and "never be met" in err, err
