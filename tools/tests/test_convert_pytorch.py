"""PyTorch state_dict -> tools/convert_pytorch.py -> seqcls file -> Model.load:
the same outputs as torch (eval mode, packed sequences) to 1e-5."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from conftest import TOL, ragged_ids, record, run_tool, seqcls, write_spec

torch.set_num_threads(1)


def packed(rnn, x, lengths):
    T = x.shape[1]
    out, state = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    seq, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    h = state[0] if isinstance(state, tuple) else state
    return seq, h


class TutorialNet(nn.Module):
    """tests/parity/test_attention_parity.py's BiLSTM x2 + Bahdanau model."""

    def __init__(self, vocab, emb, hidden, units, dense):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.l1 = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.l2 = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.W1 = nn.Linear(2 * hidden, units)
        self.W2 = nn.Linear(2 * hidden, units)
        self.V = nn.Linear(units, 1)
        self.fc = nn.Linear(2 * hidden, dense)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(dense, 1)

    spec = [{"embedding": "emb", "padding_idx": 0},
            {"lstm": "l1", "bidirectional": True, "return_sequences": True},
            {"lstm": "l2", "bidirectional": True, "return_sequences": True},
            {"attention": "bahdanau", "W1": "W1", "W2": "W2", "V": "V"},
            {"dense": "fc", "activation": "relu"}, {"dropout": 0.5}, {"output": "out"}]

    def forward(self, ids, lengths):
        T = ids.shape[1]
        o1, _ = packed(self.l1, self.emb(ids), lengths)
        seq, h = packed(self.l2, o1, lengths)
        q = torch.cat((h[-2], h[-1]), 1)
        score = self.V(torch.tanh(self.W1(seq) + self.W2(q).unsqueeze(1))).squeeze(-1)
        mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)
        ctx = (w.unsqueeze(-1) * seq).sum(1)
        return torch.sigmoid(self.out(self.drop(torch.relu(self.fc(ctx))))), w


class BiGRUNet(nn.Module):
    """The PyTorch BiGRU tutorial model: final states of both directions."""

    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2 * hidden, 1)

    spec = [{"embedding": "embedding"}, {"gru": "rnn", "bidirectional": True},
            {"dropout": 0.5}, {"output": "fc"}]

    def forward(self, ids, lengths):
        _, h = packed(self.rnn, self.embedding(ids), lengths)
        return torch.sigmoid(self.fc(self.dropout(torch.cat((h[-2], h[-1]), 1)))), None


class StackedNet(nn.Module):
    """Two-layer nn.LSTM (one spec entry -> two seqcls layers), dense tanh,
    BatchNorm1d with trained statistics, a softmax over 4 classes."""

    def __init__(self, vocab, emb, hidden, dense, classes, kind="lstm", bi=False):
        super().__init__()
        self.e = nn.Embedding(vocab, emb, padding_idx=0)
        R = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = R(emb, hidden, num_layers=2, batch_first=True, bidirectional=bi)
        self.d = nn.Linear(hidden * (2 if bi else 1), dense)
        self.bn = nn.BatchNorm1d(dense, eps=1e-3)
        self.o = nn.Linear(dense, classes)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.5, 0.5)
        self.spec = [{"embedding": "e"}, {kind: "rnn", "num_layers": 2},
                     {"dense": "d", "activation": "tanh"},
                     {"batchnorm": "bn", "epsilon": 1e-3}, {"output": "o"}]
        self.bi = bi

    def forward(self, ids, lengths):
        _, h = packed(self.rnn, self.e(ids), lengths)
        f = torch.cat((h[-2], h[-1]), 1) if self.bi else h[-1]
        return torch.softmax(self.o(self.bn(torch.tanh(self.d(f)))), 1), None


class PoolNet(nn.Module):
    """GRU sequence -> mean over valid steps -> Linear (3 classes)."""

    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.gru = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 3)

    spec = [{"embedding": "emb"}, {"gru": "gru", "return_sequences": True, "merge": "concat"},
            {"pooling": "mean"}, {"output": "fc"}]

    def forward(self, ids, lengths):
        seq, _ = packed(self.gru, self.emb(ids), lengths)
        mean = seq.sum(1) / lengths.unsqueeze(1).float()
        return torch.softmax(self.fc(mean), 1), None


CASES = {
    "tutorial-bilstm-attention": (lambda: TutorialNet(60, 8, 6, 5, 7), 6, 9),
    "tutorial-bilstm-attention-wide": (lambda: TutorialNet(300, 16, 12, 10, 20), 5, 30),
    "tutorial-bigru": (lambda: BiGRUNet(80, 10, 9), 7, 12),
    "stacked-lstm-bn-softmax": (lambda: StackedNet(40, 6, 5, 8, 4), 6, 8),
    "stacked-bigru-bn-softmax": (lambda: StackedNet(40, 6, 5, 8, 4, "gru", True), 6, 8),
    "bigru-mean-pool": (lambda: PoolNet(30, 5, 4), 5, 7),
}


class OtherAttentionNet(nn.Module):
    """BiLSTM -> learned-query attention (a bare nn.Parameter query) or Luong
    general attention (query = final states, W without bias) -> Linear."""

    def __init__(self, kind, vocab=30, emb=5, hidden=4, units=6):
        super().__init__()
        self.kind = kind
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        if kind == "learned_query":
            self.W = nn.Linear(2 * hidden, units)
            self.q = nn.Parameter(torch.randn(units))
            att = {"attention": "learned_query", "W": "W", "query": "q"}
        else:
            self.W = nn.Linear(2 * hidden, 2 * hidden, bias=False)
            att = {"attention": "general", "W": "W"}
        self.fc = nn.Linear(2 * hidden, 1)
        self.spec = [{"embedding": "emb"}, {"lstm": "rnn", "return_sequences": True}, att,
                     {"output": "fc"}]

    def forward(self, ids, lengths):
        T = ids.shape[1]
        seq, h = packed(self.rnn, self.emb(ids), lengths)
        if self.kind == "learned_query":
            score = torch.tanh(self.W(seq)) @ self.q
        else:
            q = torch.cat((h[-2], h[-1]), 1)
            score = (self.W(seq) * q.unsqueeze(1)).sum(-1)
        mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)
        ctx = (w.unsqueeze(-1) * seq).sum(1)
        return torch.sigmoid(self.fc(ctx)), w


CASES["learned-query-attention"] = (lambda: OtherAttentionNet("learned_query"), 5, 8)
CASES["general-attention"] = (lambda: OtherAttentionNet("general"), 5, 8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pytorch_parity(name, tmp_path):
    make, B, T = CASES[name]
    torch.manual_seed(hash(name) % 1000)
    net = make().eval()
    pt = tmp_path / "model.pt"
    torch.save(net.state_dict(), pt)
    spec = write_spec(tmp_path / "spec.json", net.spec)
    out = tmp_path / "model.sqcl"
    status, stdout, stderr = run_tool("convert_pytorch.py", pt, spec, out, "--strict")
    assert status == 0, stderr
    assert "warning" not in stderr, stderr

    rng = np.random.default_rng(len(name))
    ids, lengths = ragged_ids(rng, B, T, net.state_dict()[next(iter(net.state_dict()))].shape[0])
    with torch.no_grad():
        ref, w = net(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long())
    m = seqcls.Model.load(str(out))
    if w is not None:
        probs, att = m.predict(ids, lengths, return_attention=True)
        assert record("pytorch attention weights", np.abs(att - w.numpy()).max()) <= TOL
    else:
        probs = m.predict(ids, lengths)
    assert probs.shape == ref.shape
    assert record("pytorch probabilities", np.abs(probs - ref.numpy()).max()) <= TOL



class PositionalEncoding(nn.Module):
    """The PyTorch tutorial's sinusoidal table, as a buffer [max_len, 1, d]."""

    def __init__(self, d, max_len):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, 1, d)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):   # x [B, T, d]
        return x + self.pe[:x.shape[1], 0].unsqueeze(0)


class TransformerNet(nn.Module):
    """nn.Embedding (scaled by sqrt(d) or not) + positions (the tutorial's
    sinusoidal buffer, a learned nn.Embedding or nn.Parameter, or none) ->
    nn.TransformerEncoder(batch_first=True) of `layers` layers, or one bare
    nn.TransformerEncoderLayer -> mean over the valid steps or the first
    step -> nn.Linear (sigmoid or softmax)."""

    def __init__(self, vocab=40, d=12, heads=3, ff=20, layers=2, norm_first=False,
                 activation="relu", eps=1e-5, pos="sinusoidal", scale=True, pool="mean",
                 classes=1, bare=False, max_len=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        self.scale, self.pool, self.pos_kind = scale, pool, pos
        pos_entry = {"positional": "sinusoidal" if pos == "sinusoidal" else "learned",
                     "scale_input": scale}
        if pos == "sinusoidal":
            self.pos = PositionalEncoding(d, max_len)
            pos_entry["table"] = "pos.pe"
        elif pos == "embedding":
            self.pos = nn.Embedding(max_len, d)
            pos_entry["weight"] = "pos"
        elif pos == "parameter":
            self.pos = nn.Module()   # (a bare parameter of the model would come first)
            self.pos.table = nn.Parameter(torch.randn(1, max_len, d))
            pos_entry["weight"] = "pos.table"
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.1, activation=activation,
                                           layer_norm_eps=eps, batch_first=True,
                                           norm_first=norm_first)
        self.enc = layer if bare else nn.TransformerEncoder(layer, layers,
                                                            enable_nested_tensor=False)
        with torch.no_grad():   # norms away from 1 and 0, to see them copied
            for name, p in self.enc.named_parameters():
                if "norm" in name:
                    p.uniform_(0.5, 1.5) if name.endswith("weight") else p.uniform_(-0.5, 0.5)
        self.out = nn.Linear(d, classes)
        enc_entry = {"transformer": "enc", "heads": heads, "norm_first": norm_first,
                     "activation": activation, "layer_norm_eps": eps}
        if not bare:
            enc_entry["num_layers"] = layers
        self.spec = [{"embedding": "emb"}] + ([pos_entry] if pos else []) + \
            [enc_entry, {"pooling": pool}, {"output": "out"}]

    def forward(self, ids, lengths):
        T = ids.shape[1]
        x = self.emb(ids)
        if self.scale:
            x = x * math.sqrt(x.shape[-1])
        if self.pos_kind == "sinusoidal":
            x = self.pos(x)
        elif self.pos_kind == "embedding":
            x = x + self.pos(torch.arange(T)).unsqueeze(0)
        elif self.pos_kind == "parameter":
            x = x + self.pos.table[:, :T]
        mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
        h = self.enc(x, src_key_padding_mask=~mask)
        if self.pool == "mean":
            f = (h * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(1).float()
        else:
            f = h[:, 0]
        z = self.out(f)
        return (torch.sigmoid(z) if z.shape[1] == 1 else torch.softmax(z, 1)), None


TRANSFORMERS = {
    "transformer-post-relu-sinusoidal-mean": dict(),
    "transformer-pre-gelu-learned-first": dict(norm_first=True, activation="gelu",
                                               pos="embedding", scale=False, pool="first",
                                               classes=3, layers=3),
    "transformer-post-gelu-parameter-eps": dict(activation="gelu", pos="parameter", eps=1e-3,
                                                layers=1, heads=4, d=8, ff=16),
    "transformer-bare-layer-pre-relu": dict(bare=True, norm_first=True, pos="sinusoidal",
                                            scale=False, classes=4),
    "transformer-no-positions": dict(pos=None, scale=False, layers=2, heads=2, d=6, ff=10),
}
for _name, _kw in TRANSFORMERS.items():
    CASES[_name] = ((lambda kw: lambda: TransformerNet(**kw))(_kw), 6, 16)


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformer_parity(name, tmp_path):
    # (test_pytorch_parity's cases were listed before these were added)
    test_pytorch_parity(name, tmp_path)


def transformer_files(tmp_path, net, spec=None):
    pt = tmp_path / "model.pt"
    torch.save(net.state_dict(), pt)
    return pt, write_spec(tmp_path / "spec.json", spec if spec is not None else net.spec)


@pytest.mark.parametrize("spec_change, needle", [
    (lambda s: s[2].pop("heads"), '"heads" is needed'),
    (lambda s: s[2].update(heads=5), "heads 5 does not divide d_model 12"),
    (lambda s: s[2].update(num_layers=3), "has 2 encoder layer(s), spec num_layers 3"),
    (lambda s: s[2].update(activation="tanh"), "activation must be relu or gelu"),
    (lambda s: s[2].update(transformer="nothing"), "missing key 'nothing.layers.0.self_attn"),
    (lambda s: s[1].update(table="emb.weight"), "is not the sinusoidal table"),
    (lambda s: s[1].pop("table"), 'needs "max_len" or "table"'),
    (lambda s: s[1].update(positional="rotary"), "positional must be sinusoidal or learned"),
    (lambda s: s[3].update(pooling="cls"), "pooling must be last, mean, max or first"),
])
def test_transformer_spec_errors(tmp_path, spec_change, needle):
    torch.manual_seed(0)
    net = TransformerNet()
    spec = [dict(e) for e in net.spec]
    spec_change(spec)
    pt, spec_path = transformer_files(tmp_path, net, spec)
    status, _, stderr = run_tool("convert_pytorch.py", pt, spec_path, tmp_path / "m.sqcl")
    assert status == 2, stderr
    assert needle in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "m.sqcl").exists()


def test_transformer_final_norm_is_refused(tmp_path):
    d = 8
    layer = nn.TransformerEncoderLayer(d, 2, 16, batch_first=True, norm_first=True)
    net = nn.Module()
    net.emb = nn.Embedding(20, d)
    net.enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(d))
    net.out = nn.Linear(d, 1)
    spec = [{"embedding": "emb"}, {"transformer": "enc", "heads": 2, "norm_first": True},
            {"pooling": "mean"}, {"output": "out"}]
    pt, spec_path = transformer_files(tmp_path, net, spec)
    status, _, stderr = run_tool("convert_pytorch.py", pt, spec_path, tmp_path / "m.sqcl")
    assert status == 2 and "ends with a LayerNorm" in stderr and "'enc.norm.weight'" in stderr, \
        stderr
