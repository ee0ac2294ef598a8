"""The PyTorch peer of bench/bench_model.c: the Keras IMDB tutorial model
(`imdb`, keys torch_model_*), the PyTorch tutorial's BiGRU (`bigru`,
keys torch_bigru_*), written as the PyTorch tutorials write them
(pack_padded_sequence for ragged batches), and issue 16's transformer
classifier (`transformer`, keys torch_transformer_*: nn.TransformerEncoder
with src_key_padding_mask for ragged batches, and for inference eval mode
under torch.inference_mode() with the nested-tensor fast path enabled, its
best); Adam, BCEWithLogitsLoss; same shapes and synthetic data.

    usage: model_torch.py imdb|bigru|transformer train|infer|infer-int8 full|imdb threads repeats

infer-int8: the model after torch.quantization.quantize_dynamic({nn.LSTM,
nn.GRU, nn.Linear}, qint8) on fbgemm if the build has it, else its default
engine (Debian's torch 1.13: onednn) -- issue 19's peer of
seqcls_model_quantize, keys torch_*_infer_int8_*.

(transformer-nested and transformer-padded: the transformer with
enable_nested_tensor True or False.)

Run with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to `threads` (as
run_model.py does): this PyTorch uses OpenBLAS, whose own threads
torch.set_num_threads does not control.
"""
import resource
import statistics
import sys
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lengths import bench_lengths

B, T, VOCAB, EMB, HID, UNITS, DENSE = 256, 500, 10000, 128, 64, 64, 20
# The BiGRU; 25000 rows is our choice of vocabulary, as in bench_model.c
# (the issue does not fix the tutorial's).
GRU_B, GRU_VOCAB, GRU_EMB, GRU_HID = 32, 25000, 200, 128
WARMUP_SKIP_S = 30


class TutorialNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB, padding_idx=0)
        self.l1 = nn.LSTM(EMB, HID, batch_first=True, bidirectional=True)
        self.l2 = nn.LSTM(2 * HID, HID, batch_first=True, bidirectional=True)
        self.W1 = nn.Linear(2 * HID, UNITS)
        self.W2 = nn.Linear(2 * HID, UNITS)
        self.V = nn.Linear(UNITS, 1)
        self.fc = nn.Linear(2 * HID, DENSE)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(DENSE, 1)

    def forward(self, ids, lengths, packed):
        x = self.emb(ids)
        if packed:
            p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            o1, _ = self.l1(p)
            o2, (h, _) = self.l2(o1)
            seq, _ = pad_packed_sequence(o2, batch_first=True, total_length=T)
        else:
            o1, _ = self.l1(x)
            seq, (h, _) = self.l2(o1)
        q = torch.cat((h[-2], h[-1]), 1)
        score = self.V(torch.tanh(self.W1(seq) + self.W2(q).unsqueeze(1))).squeeze(-1)
        if packed:
            mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
            score = score.masked_fill(~mask, float("-inf"))
        w = torch.softmax(score, dim=1)
        ctx = (w.unsqueeze(-1) * seq).sum(1)
        return self.out(self.drop(torch.relu(self.fc(ctx)))).squeeze(1)


class TutorialGRU(nn.Module):
    """Embedding -> BiGRU -> the final states of both directions -> Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(GRU_VOCAB, GRU_EMB, padding_idx=0)
        self.rnn = nn.GRU(GRU_EMB, GRU_HID, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * GRU_HID, 1)

    def forward(self, ids, lengths, packed):
        x = self.emb(ids)
        if packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(x)
        return self.fc(torch.cat((h[-2], h[-1]), 1)).squeeze(1)


TR_B, TR_T, TR_VOCAB, TR_D, TR_HEADS, TR_FF, TR_LAYERS = 64, 256, 10000, 128, 4, 512, 2


class TransformerNet(nn.Module):
    """Embedding -> 2 x nn.TransformerEncoderLayer(128, 4, 512, dropout 0.1,
    relu, post-norm, batch_first) -> mean over the valid steps -> Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(TR_VOCAB, TR_D, padding_idx=0)
        layer = nn.TransformerEncoderLayer(TR_D, TR_HEADS, TR_FF, batch_first=True)
        # enable_nested_tensor (the default, said here): in eval mode with a
        # padding mask the fast path packs the valid steps into a nested tensor
        self.enc = nn.TransformerEncoder(layer, TR_LAYERS, enable_nested_tensor=True)
        self.fc = nn.Linear(TR_D, 1)

    def forward(self, ids, lengths, packed):
        # the mask only for ragged batches: at full length PyTorch's best is
        # without one
        if packed:
            mask = torch.arange(TR_T).unsqueeze(0) < lengths.unsqueeze(1)
            h = self.enc(self.emb(ids), src_key_padding_mask=~mask)
            f = (h * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(1)
        else:
            f = self.enc(self.emb(ids)).mean(1)
        return self.fc(f).squeeze(1)


# model argument -> (key in the output, batch, vocabulary, steps, network)
MODELS = {"imdb": ("model", B, VOCAB, T, TutorialNet),
          "bigru": ("bigru", GRU_B, GRU_VOCAB, T, TutorialGRU),
          "transformer": ("transformer", TR_B, TR_VOCAB, TR_T, TransformerNet)}


def main():
    # transformer-nested / transformer-padded: the transformer with PyTorch's
    # nested tensors on or off (run_model.py measures both for inference
    # and counts the faster as PyTorch's best)
    nested = None
    if len(sys.argv) > 1 and sys.argv[1] in ("transformer-nested", "transformer-padded"):
        nested = sys.argv[1] == "transformer-nested"
        sys.argv[1] = "transformer"
    if (len(sys.argv) != 6 or sys.argv[1] not in MODELS
            or sys.argv[2] not in ("train", "infer", "infer-int8")
            or sys.argv[3] not in ("full", "imdb")):
        sys.exit("usage: model_torch.py imdb|bigru|transformer train|infer|infer-int8 full|imdb "
                 "threads repeats")
    model, mode, lens_kind = sys.argv[1], sys.argv[2], sys.argv[3]
    quantized = mode == "infer-int8"
    if quantized:
        mode = "infer"
    threads, reps = int(sys.argv[4]), int(sys.argv[5])
    name, nb, vocab, steps, Net = MODELS[model]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lens = bench_lengths(nb, steps, 238.0 if lens_kind == "imdb" else 0.0, 7)
    packed = lens_kind == "imdb"
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, vocab, (nb, steps), generator=g)
    lengths = torch.tensor(lens, dtype=torch.int64)
    ids[torch.arange(steps).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    y = torch.tensor([b & 1 for b in range(nb)], dtype=torch.float32)
    net = Net()
    if model == "transformer" and nested is not None:
        net.enc.enable_nested_tensor = nested
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    if quantized:
        if "fbgemm" in torch.backends.quantized.supported_engines:
            torch.backends.quantized.engine = "fbgemm"
        net.eval()
        net = torch.quantization.quantize_dynamic(net, {nn.LSTM, nn.GRU, nn.Linear},
                                                  dtype=torch.qint8)
    lossf = nn.BCEWithLogitsLoss()

    def step():
        if mode == "train":
            net.train()
            opt.zero_grad()
            loss = lossf(net(ids, lengths, packed), y)
            loss.backward()
            opt.step()
        else:
            net.eval()
            # the transformer: inference_mode (no autograd records at all),
            # which its fast path asks for; the recurrent models as measured
            # before, under no_grad
            with torch.inference_mode() if model == "transformer" else torch.no_grad():
                torch.sigmoid(net(ids, lengths, packed))

    # one warm-up step, unless a step takes longer than WARMUP_SKIP_S: then
    # one-time costs (Adam's state, first allocations) are far below 1% of
    # it and the first step is counted, which keeps `make bench` within an
    # hour (a ragged training step of this PyTorch build takes minutes)
    times = []
    t0 = time.perf_counter()
    step()
    first = (time.perf_counter() - t0) * 1e3
    if first > WARMUP_SKIP_S * 1e3:
        times.append(first)
        print("torch_%s_%s_%s_%dt_first_step_counted: 1" % (name, mode, lens_kind, threads))
    while len(times) < reps:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    key = "torch_%s_%s_%s_%dt" % (name, "infer_int8" if quantized else mode, lens_kind, threads)
    if nested is not None:
        key += "_nested" if nested else "_padded"
    print("%s_ms: %.1f" % (key, med))
    print("%s_seq_per_s: %.1f" % (key, nb / med * 1e3))
    print("%s_tokens: %d" % (key, sum(lens)))
    print("%s_peak_rss_mb: %.1f" % (key, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    print("%s_base_rss_mb: %.1f" % (key, rss0))


if __name__ == "__main__":
    main()
