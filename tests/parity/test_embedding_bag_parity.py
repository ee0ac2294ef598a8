"""Parity with PyTorch for the embedding bag (1.1): fastText's classifier,

    EmbeddingBag(rows, dim, mode="mean") over each step's bag of ids
    -> mean over the valid steps -> Linear(C)

and the same bag under a BiGRU with attention.  The seqcls input is
[B, T, per_step] with -1 in unused slots; PyTorch gets the same bags as
a flat id list with offsets (one bag per valid step, empty bags
included).  Logits must agree to 1e-5, the gradients of every parameter
(the bag table's rows, sparse in seqcls, dense in PyTorch) to 1e-4.
A missing torch is a failure, not a skip.
"""
import sys

import numpy as np
import torch
from torch import nn

import seqcls_ctypes as S

RNG = np.random.default_rng(7)


def bags(B, T, P, rows, lengths):
    ids = RNG.integers(0, rows, size=(B, T, P)).astype(np.int32)
    ids[RNG.random((B, T, P)) < 0.3] = -1     # unused slots
    ids[0, 1, :] = -1                          # an empty bag at a valid step
    for b in range(B):
        ids[b, lengths[b]:, :] = RNG.integers(-5, rows + 5, size=(T - lengths[b], P))
    return ids


def torch_bag_steps(bag, ids, lengths):
    """[B, T, dim] of mean bags, zero at empty bags and padding steps."""
    B, T, P = ids.shape
    flat, offsets = [], []
    for b in range(B):
        for t in range(T):
            offsets.append(len(flat))
            if t < lengths[b]:
                flat.extend(int(i) for i in ids[b, t] if i >= 0)
    out = bag(torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long))
    return out.reshape(B, T, -1)


class FastTextNet(nn.Module):
    def __init__(self, rows, dim, C):
        super().__init__()
        self.bag = nn.EmbeddingBag(rows, dim, mode="mean")
        self.out = nn.Linear(dim, C)

    def forward(self, ids, lengths):
        x = torch_bag_steps(self.bag, ids, lengths)
        L = torch.tensor(lengths, dtype=torch.float32)
        mask = (torch.arange(ids.shape[1]).unsqueeze(0) < L.unsqueeze(1)).float()
        pooled = (x * mask.unsqueeze(-1)).sum(1) / L.clamp(min=1).unsqueeze(1)
        return self.out(pooled)


def copy_into_seqcls(net, model, names):
    for tname, sname in names.items():
        value, _ = model.param(sname)
        value[...] = getattr(net, tname.split(".")[0]).state_dict()[tname.split(".", 1)[1]].numpy()


def compare(net, model, names, ids, lengths, C, what):
    logits = model.forward(ids, lengths, C)
    model.zero_grad()
    dlog = RNG.standard_normal(logits.shape).astype(np.float32)
    model.backward(dlog)
    t_logits = net(ids, lengths)
    (t_logits * torch.tensor(dlog)).sum().backward()
    err = np.max(np.abs(logits - t_logits.detach().numpy()))
    assert err < 1e-5, (what, "logits", err)
    worst = 0.0
    for tname, sname in names.items():
        mod, pname = tname.split(".", 1)
        tg = getattr(net, mod).get_parameter(pname).grad.numpy()
        _, g = model.param(sname)
        rel = np.max(np.abs(g - tg)) / max(1e-6, np.max(np.abs(tg)))
        assert rel < 1e-4, (what, sname, rel)
        worst = max(worst, rel)
    print("test_embedding_bag_parity: %s: logits max diff %.1e, gradients max rel %.1e"
          % (what, err, worst))


def fasttext_classifier():
    B, T, P, rows, dim, C = 6, 5, 7, 40, 8, 3
    lengths = np.array([5, 1, 3, 0, 5, 2], np.int32)
    ids = bags(B, T, P, rows, lengths)
    torch.manual_seed(0)
    net = FastTextNet(rows, dim, C)
    m = S.Model(1)
    m.add("embedding_bag", rows, dim, P)
    m.add("pooling", S.POOL_MEAN)
    m.add("output", C)
    names = {"bag.weight": "0.embedding_bag.weight", "out.weight": "2.output.weight",
             "out.bias": "2.output.bias"}
    copy_into_seqcls(net, m, names)
    compare(net, m, names, ids, lengths, C, "bag -> mean -> linear")


class BagGruAttention(nn.Module):
    """bag -> BiGRU (packed) -> learned-query attention -> Linear."""

    def __init__(self, rows, dim, H, units, C):
        super().__init__()
        self.bag = nn.EmbeddingBag(rows, dim, mode="mean")
        self.gru = nn.GRU(dim, H, batch_first=True, bidirectional=True)
        self.W = nn.Linear(2 * H, units)
        self.query = nn.Linear(units, 1, bias=False)
        self.out = nn.Linear(2 * H, C)

    def forward(self, ids, lengths):
        T = ids.shape[1]
        x = torch_bag_steps(self.bag, ids, lengths)
        L = torch.tensor(lengths, dtype=torch.long)
        keep = L > 0
        seq = torch.zeros(len(lengths), T, self.gru.hidden_size * 2)
        packed = nn.utils.rnn.pack_padded_sequence(x[keep], L[keep], batch_first=True,
                                                   enforce_sorted=False)
        o, _ = self.gru(packed)
        o, _ = nn.utils.rnn.pad_packed_sequence(o, batch_first=True, total_length=T)
        seq[keep] = o
        score = self.query(torch.tanh(self.W(seq))).squeeze(-1)
        mask = torch.arange(T).unsqueeze(0) < L.unsqueeze(1)
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)
        w = torch.nan_to_num(w) * mask
        return self.out((w.unsqueeze(-1) * seq).sum(1))


def bag_under_recurrent_layer():
    B, T, P, rows, dim, H, units, C = 5, 6, 4, 30, 6, 5, 4, 2
    lengths = np.array([6, 2, 0, 4, 1], np.int32)
    ids = bags(B, T, P, rows, lengths)
    torch.manual_seed(1)
    net = BagGruAttention(rows, dim, H, units, C)
    m = S.Model(2)
    m.add("embedding_bag", rows, dim, P)
    m.add("gru", H, S.BIDIRECTIONAL | S.RETURN_SEQUENCES)
    m.add("attention", S.ATTN_LEARNED_QUERY, units)
    m.add("output", C)
    names = {"bag.weight": "0.embedding_bag.weight",
             "W.weight": "2.attention.W.weight", "W.bias": "2.attention.W.bias",
             "query.weight": "2.attention.query.weight",
             "out.weight": "3.output.weight", "out.bias": "3.output.bias"}
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        for sfx in ("", "_reverse"):
            names["gru.%s_l0%s" % (k, sfx)] = "1.gru.%s_l0%s" % (k, sfx)
    copy_into_seqcls(net, m, names)
    compare(net, m, names, ids, lengths, C, "bag -> BiGRU -> attention -> linear")


if __name__ == "__main__":
    S.lib.seqcls_add_embedding_bag.restype = S.C.c_int
    S.lib.seqcls_add_embedding_bag.argtypes = [S._p, S.C.c_int, S.C.c_int, S.C.c_int, S._intp]
    fasttext_classifier()
    bag_under_recurrent_layer()
    sys.exit(0)
