"""Bad specs and bad weights: exit status 2, a message naming the key or the
spec entry, and no output file."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from conftest import run_tool, write_spec


def keras_npz(path, **over):
    rng = np.random.default_rng(0)
    w = {"embedding/embeddings": rng.standard_normal((20, 4)),
         "bidirectional/forward_gru/gru_cell/kernel": rng.standard_normal((4, 9)),
         "bidirectional/forward_gru/gru_cell/recurrent_kernel": rng.standard_normal((3, 9)),
         "bidirectional/forward_gru/gru_cell/bias": rng.standard_normal((2, 9)),
         "bidirectional/backward_gru/gru_cell/kernel": rng.standard_normal((4, 9)),
         "bidirectional/backward_gru/gru_cell/recurrent_kernel": rng.standard_normal((3, 9)),
         "bidirectional/backward_gru/gru_cell/bias": rng.standard_normal((2, 9)),
         "dense/kernel": rng.standard_normal((6, 1)), "dense/bias": rng.standard_normal(1)}
    for k, v in over.items():
        k = k.replace("__", "/")
        if v is None:
            del w[k]
        else:
            w[k] = v
    np.savez(path, **{k: np.asarray(v, np.float32) for k, v in w.items()})
    return path


KERAS_SPEC = [{"embedding": "embedding"}, {"gru": "bidirectional", "bidirectional": True},
              {"output": "dense"}]


def torch_pt(path):
    net = nn.ModuleDict({"emb": nn.Embedding(20, 4, padding_idx=0),
                         "rnn": nn.LSTM(4, 3, batch_first=True), "out": nn.Linear(3, 2)})
    sd = net.state_dict()
    torch.save(sd, path)
    return path, sd


TORCH_SPEC = [{"embedding": "emb"}, {"lstm": "rnn"}, {"output": "out"}]


def convert(tool, weights, spec, tmp_path):
    out = tmp_path / "m.sqcl"
    status, stdout, stderr = run_tool(tool, weights, spec, out)
    return status, stderr, out.exists()


def test_keras_good_file_converts(tmp_path):
    status, err, exists = convert("convert_keras.py", keras_npz(tmp_path / "w.npz"),
                                  write_spec(tmp_path / "s.json", KERAS_SPEC), tmp_path)
    assert status == 0 and exists, err


def test_torch_good_file_converts(tmp_path):
    pt, _ = torch_pt(tmp_path / "m.pt")
    status, err, exists = convert("convert_pytorch.py", pt,
                                  write_spec(tmp_path / "s.json", TORCH_SPEC), tmp_path)
    assert status == 0 and exists, err


@pytest.mark.parametrize("over, needle", [
    ({"dense__bias": None}, "missing key 'dense/bias'"),
    ({"bidirectional__backward_gru__gru_cell__recurrent_kernel": None},
     "missing key 'bidirectional/backward_gru/recurrent_kernel'"),
    ({"embedding__embeddings": None}, "missing key 'embedding/embeddings'"),
    ({"dense__kernel": np.zeros((5, 1))}, "'dense/kernel' gives shape (1, 5)"),
    ({"bidirectional__forward_gru__gru_cell__bias": np.zeros((9,))},
     "'bidirectional/backward_gru/gru_cell/bias' has shape (2, 9): that is reset_after=True, "
     "but key 'bidirectional/forward_gru/gru_cell/bias' has shape (9,)"),
    ({"bidirectional__forward_gru__gru_cell__recurrent_kernel": np.zeros((3, 12))},
     "'bidirectional/forward_gru/gru_cell/recurrent_kernel' has shape (3, 12), expected (3, 9)"),
    ({"bidirectional__forward_gru__gru_cell__kernel": np.zeros((5, 9))},
     "'bidirectional/forward_gru/gru_cell/kernel' gives shape (9, 5)"),
    ({"dense__bias": np.array([np.nan])}, "NaN"),
])
def test_keras_bad_weights(over, needle, tmp_path):
    status, err, exists = convert("convert_keras.py", keras_npz(tmp_path / "w.npz", **over),
                                  write_spec(tmp_path / "s.json", KERAS_SPEC), tmp_path)
    assert status == 2 and not exists
    assert needle in err, err


@pytest.mark.parametrize("spec, needle", [
    ([{"embedding": "embedding"}, {"mamba": "x"}, {"output": "dense"}],
     "unknown layer kind 'mamba'"),
    # a kind of the spec that only the PyTorch converter reads
    ([{"embedding": "embedding"}, {"transformer": "x", "heads": 2}, {"output": "dense"}],
     "this converter reads no transformer encoder"),
    ([{"embedding": "embedding"}, {"gru": "bidirectional", "bidirectional": True,
                                   "units": 3}, {"output": "dense"}], "unknown option(s) units"),
    ([{"embedding": "embedding"}, {"gru": "bidirectional", "bidirectional": False},
      {"output": "dense"}], "spec says bidirectional false"),
    ([{"embedding": "embedding"}, {"gru": "bidirectional", "reset_after": False},
      {"output": "dense"}], "reset_after=True, but the spec says reset_after=False"),
    ([{"embedding": "embedding"}, {"lstm": "bidirectional"}, {"output": "dense"}],
     "'bidirectional/forward_gru/gru_cell/recurrent_kernel' has shape (3, 9), expected (3, 12)"),
    ([{"embedding": "embedding"}, {"gru": "bidirectional"}, {"dense": "nope"}],
     "missing key 'nope/kernel'"),
    ([{"embedding": "embedding"}, {"attention": "luong"}], "attention kind must be"),
    ([{"embedding": "embedding"}, {"gru": "bidirectional", "recurrent_activation": "swish"},
      {"output": "dense"}], "recurrent_activation must be"),
    ({"not": "a list"}, "\"layers\" list"),
])
def test_keras_bad_spec(spec, needle, tmp_path):
    status, err, exists = convert("convert_keras.py", keras_npz(tmp_path / "w.npz"),
                                  write_spec(tmp_path / "s.json", spec), tmp_path)
    assert status == 2 and not exists, err
    assert needle in err, err


def test_bad_json_and_missing_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{\"embedding\": \"e\"},")
    status, err, _ = convert("convert_keras.py", keras_npz(tmp_path / "w.npz"), bad, tmp_path)
    assert status == 2 and "not valid JSON" in err
    status, err, _ = convert("convert_keras.py", tmp_path / "none.npz",
                             write_spec(tmp_path / "s.json", KERAS_SPEC), tmp_path)
    assert status == 2 and "cannot read" in err
    status, err, _ = convert("convert_pytorch.py", tmp_path / "none.pt",
                             write_spec(tmp_path / "s.json", TORCH_SPEC), tmp_path)
    assert status == 2 and "cannot read" in err


def test_unused_keys_warn_or_fail(tmp_path):
    npz = keras_npz(tmp_path / "w.npz", extra__kernel=np.zeros((2, 2)))
    spec = write_spec(tmp_path / "s.json", KERAS_SPEC)
    out = tmp_path / "m.sqcl"
    status, _, err = run_tool("convert_keras.py", npz, spec, out)
    assert status == 0 and "warning" in err and "extra/kernel" in err
    out.unlink()
    status, _, err = run_tool("convert_keras.py", npz, spec, out, "--strict")
    assert status == 2 and "extra/kernel" in err and not out.exists()


@pytest.mark.parametrize("change, needle", [
    (lambda sd: sd.pop("rnn.bias_hh_l0"), "missing key 'rnn.bias_hh_l0'"),
    (lambda sd: sd.__setitem__("out.weight", torch.zeros(2, 5)),
     "'out.weight' gives shape (2, 5) but seqcls' 2.output.weight is (2, 3)"),
    (lambda sd: sd.__setitem__("rnn.weight_hh_l0", torch.zeros(12, 4)),
     "'rnn.weight_hh_l0' has shape (12, 4), expected (16, 4)"),
    (lambda sd: sd.__setitem__("emb.weight", torch.zeros(20, 5)),
     "'rnn.weight_ih_l0' gives shape (12, 4) but seqcls' 1.lstm.weight_ih_l0 is (12, 5)"),
])
def test_torch_bad_weights(change, needle, tmp_path):
    pt, sd = torch_pt(tmp_path / "m.pt")
    change(sd)
    torch.save(sd, pt)
    status, err, exists = convert("convert_pytorch.py", pt,
                                  write_spec(tmp_path / "s.json", TORCH_SPEC), tmp_path)
    assert status == 2 and not exists
    assert needle in err, err


@pytest.mark.parametrize("spec, needle", [
    ([{"embedding": "emb"}, {"rnn": "rnn"}, {"output": "out"}], "unknown layer kind 'rnn'"),
    ([{"embedding": "emb"}, {"lstm": "rnn", "bidirectional": True}, {"output": "out"}],
     "spec says bidirectional true but key 'rnn.weight_ih_l0_reverse' is missing"),
    ([{"embedding": "emb"}, {"gru": "rnn"}, {"output": "out"}],
     "'rnn.weight_hh_l0' has shape (12, 3), expected (9, 3)"),
    ([{"embedding": "emb"}, {"lstm": "rnn", "num_layers": 2}, {"output": "out"}],
     "spec num_layers 2"),
    ([{"embedding": "emb"}, {"lstm": "lstm"}, {"output": "out"}], "missing key 'lstm.weight_ih_l0'"),
    ([{"embedding": "emb", "padding_idx": 25}, {"lstm": "rnn"}, {"output": "out"}],
     "padding_idx 25 outside"),
])
def test_torch_bad_spec(spec, needle, tmp_path):
    pt, _ = torch_pt(tmp_path / "m.pt")
    status, err, exists = convert("convert_pytorch.py", pt,
                                  write_spec(tmp_path / "s.json", spec), tmp_path)
    assert status == 2 and not exists, err
    assert needle in err, err
    assert "Traceback" not in err
