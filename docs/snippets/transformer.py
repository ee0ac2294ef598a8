# docs/architectures.md: a transformer encoder classifier, in Python.
import numpy as np
import seqcls

# rows of noise tokens 4..29 with one key token, 2 (class 1) or 3 (class 0)
rng = np.random.default_rng(7)
N, T = 512, 12
lengths = rng.integers(4, T + 1, N).astype(np.int32)
ids = rng.integers(4, 30, (N, T)).astype(np.int32)
ids[np.arange(T) >= lengths[:, None]] = 0
labels = rng.integers(0, 2, N).astype(np.int32)
ids[np.arange(N), rng.integers(0, lengths)] = np.where(labels == 1, 2, 3)

model = seqcls.Model(seed=1)
model.add_embedding(vocab=30, dim=32, padding_idx=0)
model.add_positional_encoding("sinusoidal", max_len=T, scale_input=True)
for _ in range(2):   # nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    last = model.add_transformer_encoder(heads=4, ff_dim=64)
model.add_pooling("mean")
model.add_output(1)
model.compile("adam", lr=0.005)
model.fit(ids, labels, lengths, epochs=5, verbose=0)
print("training accuracy %.3f" % model.evaluate(ids, labels, lengths).accuracy)

# the last layer's self-attention on row 0, [1, heads, T, T]: the weight each
# token receives, averaged over the heads and the queries
model.forward(ids[:1], lengths[:1], training=False)
n = lengths[0]
received = model.self_attention_weights(last)[0, :, :n, :n].mean(axis=(0, 1))
for token, weight in zip(ids[0, :n], received):
    print("token %2d  %.3f%s" % (token, weight, "  <- key" if token < 4 else ""))
