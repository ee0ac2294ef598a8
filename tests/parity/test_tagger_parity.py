"""Parity of per-step outputs with PyTorch 1.13: a tagger
    nn.Embedding(padding_idx=0) -> nn.LSTM / nn.GRU (bidirectional, packed
    ragged batch) -> nn.Linear at every step
trained with nn.CrossEntropyLoss(ignore_index=-100) over the padding (C > 1)
or nn.BCEWithLogitsLoss averaged over the valid steps (C = 1), against the
same weights in seqcls (seqcls_add_output after a sequence, labels [B, T]).

Logits at valid steps and the loss must agree to 1e-5 (absolute), the
gradients of every parameter to 1e-4 (relative to the tensor's largest
element), the probabilities of seqcls_predict to 1e-5 (zero at padding
steps); for the unidirectional models a stream fed the sequence in random
chunks must give PyTorch's probabilities at every step too.

Run by `make check` (check-parity).  A missing torch is a failure.
"""
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqcls_ctypes as S

TOL, GRAD_TOL = 1e-5, 1e-4
worst = {"logits": 0.0, "loss": 0.0, "grad": 0.0, "probs": 0.0, "stream": 0.0}
failures = []


def expect(what, err, tol, kind):
    worst[kind] = max(worst[kind], err)
    if not err <= tol:
        failures.append("%s: error %.3g > %.0e" % (what, err, tol))


def rel_err(a, b):
    return float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-6)


class Tagger(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.emb = torch.nn.Embedding(cfg["V"], cfg["D"], padding_idx=0)
        cls = torch.nn.LSTM if cfg["kind"] == "lstm" else torch.nn.GRU
        self.rnns = torch.nn.ModuleList()
        width = cfg["D"]
        for H in cfg["hidden"]:
            self.rnns.append(cls(width, H, batch_first=True, bidirectional=cfg["bi"]))
            width = H * (2 if cfg["bi"] else 1)
        self.out = torch.nn.Linear(width, cfg["C"])

    def forward(self, ids, lengths):
        T = ids.shape[1]
        h = self.emb(ids)
        lens = torch.tensor(lengths, dtype=torch.int64)
        for rnn in self.rnns:
            packed = pack_padded_sequence(h, lens, batch_first=True, enforce_sorted=False)
            out, _ = rnn(packed)
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return self.out(h)                      # [B, T, C]


def build(cfg, ref):
    m = S.Model(seed=3)
    m.add("embedding", cfg["V"], cfg["D"], 0)
    flags = S.RETURN_SEQUENCES | (S.BIDIRECTIONAL if cfg["bi"] else 0)
    names = {"emb.weight": "0.embedding.weight"}
    for li, H in enumerate(cfg["hidden"]):
        layer = m.add(cfg["kind"], H, flags)
        for pname, _ in ref.rnns[li].named_parameters():
            names["rnns.%d.%s" % (li, pname)] = "%d.%s.%s" % (layer, cfg["kind"], pname)
    out = m.add("output", cfg["C"])
    names["out.weight"] = "%d.output.weight" % out
    names["out.bias"] = "%d.output.bias" % out
    for tname, p in ref.named_parameters():
        m.param(names[tname])[0][...] = p.detach().numpy()
    return m, names


def run(cfg, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    B, T, V, C = cfg["B"], cfg["T"], cfg["V"], cfg["C"]
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T
    ids = rng.integers(1, V, size=(B, T)).astype(np.int32)
    labels = rng.integers(0, 2 if C == 1 else C, size=(B, T)).astype(np.int32)
    mask = np.arange(T)[None, :] < lengths[:, None]
    ids[~mask] = 0
    labels[~mask] = -100                      # ignore_index; seqcls never reads them
    ref = Tagger(cfg)
    m, names = build(cfg, ref)
    name = "%s H=%s bi=%d C=%d seed=%d" % (cfg["kind"], cfg["hidden"], cfg["bi"], C, seed)

    logits_t = ref(torch.tensor(ids, dtype=torch.int64), lengths)
    mt = torch.tensor(mask)
    if C == 1:
        per = torch.nn.functional.binary_cross_entropy_with_logits(
            logits_t[..., 0], torch.tensor(np.where(mask, labels, 0), dtype=torch.float32),
            reduction="none")
        loss_t = per[mt].mean()
    else:
        loss_t = torch.nn.CrossEntropyLoss(ignore_index=-100)(
            logits_t.reshape(-1, C), torch.tensor(labels, dtype=torch.int64).reshape(-1))
    loss_t.backward()

    m.zero_grad()
    logits = m.forward(ids, lengths, C, training=1)
    ref_logits = logits_t.detach().numpy()
    expect(name + " logits", float(np.abs(logits[mask] - ref_logits[mask]).max()), TOL, "logits")
    if np.any(logits[~mask] != 0):
        failures.append(name + ": logits at padding steps are not zero")
    loss = m.loss_backward(labels)
    expect(name + " loss", abs(loss - float(loss_t)), TOL, "loss")
    for tname, p in ref.named_parameters():
        g = m.param(names[tname])[1]
        expect("%s grad %s" % (name, names[tname]), rel_err(g, p.grad.numpy()), GRAD_TOL, "grad")

    probs = m.predict(ids, lengths, C)
    ref_p = torch.sigmoid(logits_t) if C == 1 else torch.softmax(logits_t, -1)
    ref_p = ref_p.detach().numpy()
    expect(name + " predict", float(np.abs(probs[mask] - ref_p[mask]).max()), TOL, "probs")
    if np.any(probs[~mask] != 0):
        failures.append(name + ": probabilities at padding steps are not zero")

    if not cfg["bi"]:
        for b in range(min(B, 3)):
            n, chunks, left = int(lengths[b]), [], int(lengths[b])
            while left:
                k = int(rng.integers(1, 5))
                k = min(k, left)
                chunks.append(k)
                left -= k
            got = m.stream_probs(ids[b, :n], chunks)
            expect(name + " stream", float(np.abs(got - ref_p[b, :n]).max()), TOL, "stream")


CONFIGS = [
    dict(kind="lstm", bi=True, hidden=[6], C=5, V=13, D=4, B=7, T=9),
    dict(kind="gru", bi=True, hidden=[5], C=4, V=11, D=3, B=6, T=8),
    dict(kind="lstm", bi=True, hidden=[4, 5], C=3, V=9, D=5, B=5, T=7),
    dict(kind="lstm", bi=False, hidden=[7, 4], C=6, V=12, D=4, B=6, T=10),
    dict(kind="gru", bi=False, hidden=[6], C=1, V=10, D=3, B=8, T=9),
    dict(kind="lstm", bi=True, hidden=[5], C=1, V=10, D=4, B=6, T=6),
]


def main():
    n = 0
    for cfg in CONFIGS:
        for seed in range(3):
            run(cfg, seed)
            n += 1
    print("tagger parity: %d configurations (PyTorch 1.13, CrossEntropyLoss(ignore_index) and "
          "masked BCEWithLogits on ragged batches); max abs logits error %.2g, loss %.2g, "
          "relative gradient %.2g, predict %.2g, streamed %.2g"
          % (n, worst["logits"], worst["loss"], worst["grad"], worst["probs"], worst["stream"]))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
