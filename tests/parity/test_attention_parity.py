"""Parity with PyTorch for the Keras/PyTorch tutorial architecture:

    Embedding(padding 0) -> BiLSTM(seq) -> BiLSTM(seq + final states)
    -> Bahdanau attention (query = cat(h[-2], h[-1])) -> Linear+ReLU
    -> Dropout -> Linear(1)

A PyTorch module written the way the tutorials write it gets the same
weights as a seqcls model; probabilities and attention weights must agree
to 1e-5, and the gradients of every parameter to 1e-4 (relative).  A
missing torch is a failure, not a skip.
"""
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqcls_ctypes as S


class TutorialNet(nn.Module):
    def __init__(self, vocab, emb, hidden, units, dense, drop):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.l1 = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.l2 = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.W1 = nn.Linear(2 * hidden, units)
        self.W2 = nn.Linear(2 * hidden, units)
        self.V = nn.Linear(units, 1)
        self.fc = nn.Linear(2 * hidden, dense)
        self.drop = nn.Dropout(drop)
        self.out = nn.Linear(dense, 1)

    def forward(self, ids, lengths):
        T = ids.shape[1]
        x = self.emb(ids)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        o1, _ = self.l1(packed)
        o2, (h, _) = self.l2(o1)
        seq, _ = pad_packed_sequence(o2, batch_first=True, total_length=T)
        q = torch.cat((h[-2], h[-1]), 1)
        score = self.V(torch.tanh(self.W1(seq) + self.W2(q).unsqueeze(1))).squeeze(-1)
        mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)
        ctx = (w.unsqueeze(-1) * seq).sum(1)
        return self.out(self.drop(torch.relu(self.fc(ctx)))), w


def torch_to_seqcls_names():
    names = {"emb.weight": "0.embedding.weight"}
    for layer, idx in (("l1", 1), ("l2", 2)):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            for suffix in ("", "_reverse"):
                names["%s.%s_l0%s" % (layer, kind, suffix)] = "%d.lstm.%s_l0%s" % (idx, kind, suffix)
    for part in ("W1", "W2", "V"):
        for kind in ("weight", "bias"):
            names["%s.%s" % (part, kind)] = "3.attention.%s.%s" % (part, kind)
    for kind in ("weight", "bias"):
        names["fc." + kind] = "4.dense." + kind
        names["out." + kind] = "6.output." + kind
    return names


def build(config, seed, drop):
    vocab, emb, hidden, units, dense = config
    m = S.Model(seed)
    m.add("embedding", vocab, emb, 0)
    m.add("lstm", hidden, S.BIDIRECTIONAL | S.RETURN_SEQUENCES)
    m.add("lstm", hidden, S.BIDIRECTIONAL | S.RETURN_SEQUENCES)
    m.add("attention", S.ATTN_BAHDANAU, units)
    m.add("dense", dense, S.ACT_RELU)
    m.add("dropout", drop)
    m.add("output", 1)
    return m


def run(config, B, T, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = config[0]
    net = TutorialNet(*config, drop=0.5)
    names = torch_to_seqcls_names()
    sq = build(config, seed, 0.5)
    sq_nodrop = build(config, seed, 0.0)   # for gradients: dropout off, deterministic
    assert sorted(names.values()) == sorted(sq.param_names()), sq.param_names()
    for tname, p in net.named_parameters():
        for model in (sq, sq_nodrop):
            v, _ = model.param(names[tname])
            v[...] = p.detach().numpy()

    lengths = rng.integers(1, T + 1, size=B).astype(np.int32)
    lengths[0] = T
    ids = rng.integers(1, vocab, size=(B, T)).astype(np.int32)
    for b in range(B):
        ids[b, lengths[b]:] = 0

    # inference: probabilities and attention weights
    net.eval()
    with torch.no_grad():
        logits, w = net(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long())
    probs, att = sq.predict(ids, lengths, 1, attention=True)
    err_p = np.abs(probs - torch.sigmoid(logits).numpy()).max()
    err_w = np.abs(att - w.numpy()).max()

    # training-mode gradients with dropout 0 on both sides
    net.drop.p = 0.0
    net.train()
    net.zero_grad()
    logits, _ = net(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long())
    r = rng.standard_normal(logits.shape).astype(np.float32)
    (logits * torch.from_numpy(r)).sum().backward()
    sq_nodrop.zero_grad()
    sq_nodrop.forward(ids, lengths, 1, training=1)
    sq_nodrop.backward(r)
    err_g = 0.0
    for tname, p in net.named_parameters():
        _, g = sq_nodrop.param(names[tname])
        ref = p.grad.numpy()
        scale = max(np.abs(ref).max(), 1e-3)
        err_g = max(err_g, np.abs(g - ref).max() / scale)
    return err_p, err_w, err_g


def main():
    torch.set_num_threads(1)
    worst = [0.0, 0.0, 0.0]
    configs = [((50, 8, 6, 5, 4), 5, 9), ((200, 16, 12, 10, 20), 8, 30), ((30, 4, 3, 7, 2), 3, 4)]
    for i, (config, B, T) in enumerate(configs):
        errs = run(config, B, T, seed=10 + i)
        worst = [max(a, b) for a, b in zip(worst, errs)]
    print("attention parity: %d configurations; max abs probability error %.2e, max abs attention "
          "error %.2e, max relative gradient error %.2e" % (len(configs), *worst))
    if worst[0] > 1e-5 or worst[1] > 1e-5 or worst[2] > 1e-4:
        print("attention parity: FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
