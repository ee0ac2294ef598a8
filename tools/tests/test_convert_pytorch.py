"""PyTorch state_dict -> tools/convert_pytorch.py -> seqcls file -> Model.load:
the same outputs as torch (eval mode, packed sequences) to 1e-5."""
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

