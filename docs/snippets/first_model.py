# docs/getting-started.md: the first model, in Python.
import os

import numpy as np
import seqcls

# Two rows of token ids, padded to 4 steps; lengths say which steps count.
ids = np.array([[5, 17, 42, 0], [7, 7, 0, 0]], dtype=np.int32)
lengths = np.array([3, 2], dtype=np.int32)
labels = np.array([1, 0], dtype=np.int32)

model = seqcls.Model(seed=42)
model.add_embedding(vocab=100, dim=16, padding_idx=0)
model.add_pooling("mean")
model.add_output(1)                       # one logit: sigmoid + binary cross-entropy

model.compile("adam", lr=0.05)
for step in range(50):
    model.train_step(ids, labels, lengths)  # or model.fit(ids, labels, lengths, epochs=...)
probs = model.predict(ids, lengths)       # numpy arrays go to C without copies
print("p(positive) =", probs[:, 0])

model.save("first_model.sqcl")
again = seqcls.Model.load("first_model.sqcl")
assert (again.predict(ids, lengths) == probs).all()
os.remove("first_model.sqcl")
