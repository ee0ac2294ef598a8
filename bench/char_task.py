#!/usr/bin/env python3
"""A character-level task before and after `--tokens char` (issue 15), and
a PyTorch model of the same shape on the same split.

The task: the language of a word among 8, from the Debian word lists
(bench/wordlang_data.py; no test word is in the training file, so only a
word's characters can tell its language).  The training file is split
once more: its last 10% is the validation file, given to every run.

  before   seqcls train with the command line's defaults (word tokens):
           every test word is unknown, the model can only guess
  after    the same plus --tokens char: a BiLSTM(64) with attention over
           the word's characters
  PyTorch  the same network (Embedding(V, 64), BiLSTM(64), Bahdanau
           attention(64) with the final states as query, Linear(128, 64)
           + ReLU, Dropout(0.3), Linear(64, 8)), the same vocabulary rule
           (characters seen at least twice, index 1 unknown), Adam lr
           0.002, gradients clipped to norm 5, batches of 32, 5 epochs,
           the epoch of the lowest validation loss kept, as the command
           line does

    /usr/bin/python3 bench/char_task.py [OUT_DIR] [PER_LANG]
    (make bench-chars; defaults build/bench/chars, 6000 words a language)
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SEQCLS = os.path.join(ROOT, "bin", "seqcls")
EPOCHS, DIM, HIDDEN, BATCH, LR, CLIP, MIN_COUNT = 5, 64, 64, 32, 0.002, 5.0, 2


def read(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, word = line.rstrip("\n").split(" ", 1)
            rows.append((label[len("__label__"):], word))
    return rows


def seqcls(out, name, *extra):
    model = os.path.join(out, name + ".sqcl")
    t0 = time.time()
    r = subprocess.run([SEQCLS, "train", "-i", os.path.join(out, "train.txt"), "-o", model,
                        "--valid", os.path.join(out, "valid.txt"), "--threads", "1", *extra],
                       capture_output=True, text=True, check=True)
    secs = time.time() - t0
    kept = [l for l in r.stdout.splitlines() if l.startswith("kept epoch")][-1]
    t = subprocess.run([SEQCLS, "test", model, os.path.join(out, "test.txt")],
                       capture_output=True, text=True, check=True)
    acc = float(re.search(r"^accuracy\t([0-9.]+)", t.stdout, re.M).group(1))
    return acc, kept, secs


def pytorch(train, valid, test, seed=1):
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    counts = {}
    for _, w in train:
        for ch in w:
            counts[ch] = counts.get(ch, 0) + 1
    chars = sorted((c for c in counts if counts[c] >= MIN_COUNT), key=lambda c: (-counts[c], c))
    index = {c: i + 2 for i, c in enumerate(chars)}        # 0 padding, 1 unknown
    labels = sorted({l for l, _ in train})
    lab = {l: i for i, l in enumerate(labels)}

    def tensors(rows):
        T = max(len(w) for _, w in rows)
        x = torch.zeros(len(rows), T, dtype=torch.long)
        for i, (_, w) in enumerate(rows):
            x[i, :len(w)] = torch.tensor([index.get(c, 1) for c in w])
        n = torch.tensor([len(w) for _, w in rows])
        y = torch.tensor([lab[l] for l, _ in rows])
        return x, n, y

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(len(index) + 2, DIM)
            self.rnn = nn.LSTM(DIM, HIDDEN, batch_first=True, bidirectional=True)
            self.W1 = nn.Linear(2 * HIDDEN, HIDDEN)
            self.W2 = nn.Linear(2 * HIDDEN, HIDDEN)
            self.V = nn.Linear(HIDDEN, 1)
            self.fc = nn.Linear(2 * HIDDEN, HIDDEN)
            self.drop = nn.Dropout(0.3)
            self.out = nn.Linear(HIDDEN, len(labels))

        def forward(self, x, n):
            T = x.shape[1]
            p = pack_padded_sequence(self.emb(x), n, batch_first=True, enforce_sorted=False)
            o, (h, _) = self.rnn(p)
            seq, _ = pad_packed_sequence(o, batch_first=True, total_length=T)
            q = torch.cat((h[-2], h[-1]), 1)
            score = self.V(torch.tanh(self.W1(seq) + self.W2(q).unsqueeze(1))).squeeze(-1)
            score = score.masked_fill(torch.arange(T).unsqueeze(0) >= n.unsqueeze(1),
                                      float("-inf"))
            ctx = (torch.softmax(score, 1).unsqueeze(-1) * seq).sum(1)
            return self.out(self.drop(torch.relu(self.fc(ctx))))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()
    xt, nt, yt = tensors(train)
    xv, nv, yv = tensors(valid)
    xs, ns, ys = tensors(test)

    def evaluate(x, n, y):
        net.eval()
        with torch.no_grad():
            z = torch.cat([net(x[i:i + 256], n[i:i + 256]) for i in range(0, len(y), 256)])
        net.train()
        return lossf(z, y).item(), (z.argmax(1) == y).float().mean().item()

    t0 = time.time()
    best, best_loss, state = -1, float("inf"), None
    for epoch in range(EPOCHS):
        order = torch.randperm(len(yt))
        for i in range(0, len(yt), BATCH):
            b = order[i:i + BATCH]
            opt.zero_grad()
            lossf(net(xt[b], nt[b]), yt[b]).backward()
            nn.utils.clip_grad_norm_(net.parameters(), CLIP)
            opt.step()
        vloss, _ = evaluate(xv, nv, yv)
        if vloss < best_loss:
            best, best_loss = epoch, vloss
            state = {k: v.clone() for k, v in net.state_dict().items()}
    secs = time.time() - t0
    net.load_state_dict(state)
    _, acc = evaluate(xs, ns, ys)
    return acc, "kept epoch %d/%d (lowest val_loss %.4f)" % (best + 1, EPOCHS, best_loss), secs


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench", "chars")
    per_lang = sys.argv[2] if len(sys.argv) > 2 else "6000"
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "wordlang_data.py"), out,
                    per_lang], check=True)
    rows = read(os.path.join(out, "train.txt"))
    cut = len(rows) * 9 // 10
    train, valid = rows[:cut], rows[cut:]
    for name, part in (("train.txt", train), ("valid.txt", valid)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.writelines("__label__%s %s\n" % r for r in part)
    test = read(os.path.join(out, "test.txt"))
    print("language of a word, 8 languages: %d train, %d validation, %d test words "
          "(no test word in training); one thread each" % (len(train), len(valid), len(test)))
    results = [("before: seqcls train (defaults, word tokens)", seqcls(out, "word")),
               ("after:  seqcls train --tokens char", seqcls(out, "char", "--tokens", "char")),
               ("PyTorch 1.13, the same network", pytorch(train, valid, test))]
    print("%-46s %9s %9s  %s" % ("", "accuracy", "time (s)", "which epoch was kept"))
    for name, (acc, kept, secs) in results:
        print("%-46s %9.4f %9.1f  %s" % (name, acc, secs, kept))


if __name__ == "__main__":
    main()
