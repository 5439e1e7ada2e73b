"""A plain NumPy reference of the default experiment, stepped in a Python loop — the way
existing simulators run — for the benchmark's like-for-like speed ratio.

The same model as the compiled loop: the `latent` env's arrivals, position-based clicks,
drift and boredom (`envs/latent.py`; item churn and leaving users, off by default, are not
modelled), and the neural agent's two-tower ensemble with the same replay
buffer, bootstrap weights, BCE loss, AdamW update and ε-greedy slates (`agents/neural.py`,
`agents/exploration/epsilon_greedy.py`). The world and the initial network weights are taken
from the JAX version, so both start identical; random draws come from NumPy's generator.
`tests/test_reference.py` checks click probabilities and a first gradient step against JAX.
Each step is vectorised over its users (NumPy matmuls), as a careful NumPy author would write
it: like the compiled agent it keeps the item embeddings between training rounds, trains the
item tower on the batch's rows only and finds the top k by partition (O(N), not a sort); what
it lacks is compilation, fusion and batching over simulations.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def examination(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)


class LatentWorld:
    """The `latent` env's state and dynamics, from a JAX `LatentState` and `LatentParams`."""

    def __init__(self, env, state, params):
        self.spec, self.n_topics = env.spec, env.n_topics
        fields = [name for name in state.__dataclass_fields__ if name != "world"]
        self.s = {name: np.array(getattr(state, name)) for name in fields}
        self.s["user_proj"] = np.array(state.world.user_proj)
        self.p = {name: np.array(getattr(params, name)) for name in params.__dataclass_fields__
                  if name != "response"}  # fmt: skip

    def observe(self, rng):
        s, U = self.s, self.spec.users_per_step
        ids = np.argpartition(-(s["user_activity"] + rng.gumbel(size=s["user_activity"].shape)),
                              U)[:U]  # fmt: skip
        groups = s["user_groups"][ids]
        features = np.concatenate([s["user_vecs"][ids] @ s["user_proj"].T + s["user_noise"][ids],
                                   np.eye(self.spec.n_groups)[groups]], axis=1)  # fmt: skip
        return ids, features

    def attraction(self, ids, items=None):
        """σ(α⟨u, v⟩ + b)(1 − β)^m for all items [U, N], or for `items` [U, k]."""
        s, p = self.s, self.p
        users = s["user_vecs"][ids]
        if items is None:
            affinity, bias = users @ s["item_vecs"].T, s["item_bias"]
            boredom = s["boredom"][ids][:, s["item_topics"]]
        else:
            affinity = np.einsum("ud,ukd->uk", users, s["item_vecs"][items])
            bias = s["item_bias"][items]
            boredom = np.take_along_axis(s["boredom"][ids], s["item_topics"][items], axis=1)
        fatigue = np.exp(boredom * np.log1p(-p["boredom_penalty"]))
        return sigmoid(p["click_scale"] * affinity + bias) * fatigue

    def step(self, rng, ids, slates):
        s, p, k = self.s, self.p, self.spec.slate_size
        prob = examination(k) * self.attraction(ids, slates)
        clicks = (rng.random(prob.shape) < prob).astype(np.int32)
        users, shown = s["user_vecs"][ids], s["item_vecs"][slates]
        n = clicks.sum(1, keepdims=True)
        target = np.einsum("uk,ukd->ud", clicks, shown) / np.maximum(n, 1)
        drifted = users + p["drift_rate"] * (target - users)
        drifted /= np.maximum(np.linalg.norm(drifted, axis=1, keepdims=True), 1e-12)
        s["user_vecs"][ids] = np.where(n > 0, drifted, users)
        topics = np.eye(self.n_topics)[s["item_topics"][slates]].sum(1) / k
        s["boredom"][ids] = p["boredom_decay"] * s["boredom"][ids] + topics
        return clicks


def tower_forward(layers, x):
    """ReLU MLP; returns the output and the activations needed for the backward pass."""
    activations = [x]
    for i, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
        activations.append(x)
    return x, activations


def tower_backward(layers, activations, grad_out):
    """Gradients [(d kernel, d bias)] of a ReLU MLP given d output."""
    grads = [None] * len(layers)
    grad = grad_out
    for i in reversed(range(len(layers))):
        if i < len(layers) - 1:
            grad = grad * (activations[i + 1] > 0)
        grads[i] = (activations[i].T @ grad, grad.sum(0))
        grad = grad @ layers[i][0].T
    return grads


def member_params(flax_params, member: int) -> dict:
    """One ensemble member's weights from the JAX agent's stacked Flax params, as NumPy."""
    tree = flax_params["params"]

    def tower(name):
        dense = [tree[name][f"Dense_{i}"] for i in range(len(tree[name]))]
        return [(np.array(d["kernel"][member]), np.array(d["bias"][member])) for d in dense]

    return {
        "user": tower("user_tower"),
        "item": tower("item_tower"),
        "item_bias": np.array(tree["item_bias"][member]),
        "position_bias": np.array(tree["position_bias"][member]),
    }


def item_embeddings(member, item_features):
    """ψ(x_i) of every item: [N, e]."""
    return tower_forward(member["item"], item_features)[0]


def catalogue_logits(member, user_features, item_features, embeddings=None):
    """Top-position logits [U, N]; from ψ of the catalogue when given (`item_embeddings`)."""
    users, _ = tower_forward(member["user"], user_features)
    items = item_embeddings(member, item_features) if embeddings is None else embeddings
    return users @ items.T + member["item_bias"] + member["position_bias"][0]


def loss_and_grads(member, batch, item_features, weights):
    """Bootstrap-weighted BCE of one member and its gradients (same as `NeuralAgent.loss`)."""
    users, user_acts = tower_forward(member["user"], batch["user_features"])
    items, item_acts = tower_forward(member["item"], item_features[batch["items"]])  # [B, e]
    logits = (np.sum(users * items, 1) + member["item_bias"][batch["items"]]
              + member["position_bias"][batch["positions"]])  # fmt: skip
    clicks, norm = batch["clicks"], max(weights.sum(), 1.0)
    loss = np.sum(weights * (softplus(logits) - clicks * logits)) / norm
    d_logits = weights * (sigmoid(logits) - clicks) / norm
    d_users = d_logits[:, None] * items
    d_items = d_logits[:, None] * users
    d_item_bias = np.zeros_like(member["item_bias"])
    np.add.at(d_item_bias, batch["items"], d_logits)
    d_position_bias = np.zeros_like(member["position_bias"])
    np.add.at(d_position_bias, batch["positions"], d_logits)
    grads = {
        "user": tower_backward(member["user"], user_acts, d_users),
        "item": tower_backward(member["item"], item_acts, d_items),
        "item_bias": d_item_bias,
        "position_bias": d_position_bias,
    }
    return loss, grads


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, list | tuple):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


class AdamW:
    """optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay) on a list of arrays."""

    def __init__(self, leaves, learning_rate, weight_decay):
        self.lr, self.wd, self.count = learning_rate, weight_decay, 0
        self.m = [np.zeros_like(x) for x in leaves]
        self.v = [np.zeros_like(x) for x in leaves]

    def step(self, leaves, grads):
        self.count += 1
        for i, (x, g) in enumerate(zip(leaves, grads, strict=True)):
            self.m[i] = 0.9 * self.m[i] + 0.1 * g
            self.v[i] = 0.999 * self.v[i] + 0.001 * g * g
            m_hat = self.m[i] / (1 - 0.9**self.count)
            v_hat = self.v[i] / (1 - 0.999**self.count)
            x -= self.lr * (m_hat / (np.sqrt(v_hat) + 1e-8) + self.wd * x)  # in place


class NeuralEpsilonGreedy:
    """The default neural agent (two-tower ensemble + ε-greedy) in NumPy."""

    def __init__(self, agent, flax_params, params, epsilon, item_features):
        self.agent, self.epsilon = agent, epsilon
        self.members = [member_params(flax_params, m) for m in range(agent.n_heads)]
        self.optimizers = [AdamW(_leaves(m), float(params.learning_rate),
                                 float(params.weight_decay)) for m in self.members]  # fmt: skip
        spec, capacity = agent.spec, agent.capacity
        self.item_features = item_features
        self.embeddings = None  # each member's ψ of the catalogue, kept between training rounds
        self.buffer = {
            "user_features": np.zeros((capacity, spec.user_feature_dim)),
            "items": np.zeros(capacity, int), "positions": np.zeros(capacity, int),
            "clicks": np.zeros(capacity), "weights": np.zeros((capacity, agent.n_heads)),
        }  # fmt: skip
        self.size = self.cursor = 0

    def act(self, rng, user_features):
        k = self.agent.spec.slate_size
        if self.embeddings is None:  # after a training round: the item tower changed
            self.embeddings = [item_embeddings(m, self.item_features) for m in self.members]
        probs = np.stack([sigmoid(catalogue_logits(m, user_features, None, e))
                          for m, e in zip(self.members, self.embeddings, strict=True)])  # fmt: skip
        mean = probs.mean(0)
        top = np.argpartition(-mean, k - 1, axis=1)[:, :k]  # the k best, unordered: O(N)
        greedy = np.take_along_axis(top, np.argsort(-np.take_along_axis(mean, top, 1), 1), 1)
        explore = rng.random(greedy.shape) < self.epsilon
        slates = greedy.copy()
        for u in np.nonzero(explore.any(1))[0]:
            kept = set(greedy[u][~explore[u]].tolist())
            # distinct uniform draws from the items not kept: k + (exploring) distinct draws
            # from all N, the first `exploring` of them that are not kept
            draws = rng.choice(mean.shape[1], k + explore[u].sum(), replace=False)
            fresh = [i for i in draws.tolist() if i not in kept][: explore[u].sum()]
            slates[u][explore[u]] = fresh
        return slates

    def update(self, rng, step, user_features, slates, clicks):
        users, k = slates.shape
        block, b = users * k, self.buffer
        rows = slice(self.cursor, self.cursor + block)
        b["user_features"][rows] = np.repeat(user_features, k, axis=0)
        b["items"][rows], b["positions"][rows] = slates.ravel(), np.tile(np.arange(k), users)
        b["clicks"][rows] = clicks.ravel()
        b["weights"][rows] = rng.random((block, self.agent.n_heads)) < 0.5
        self.cursor = (self.cursor + block) % len(b["items"])
        self.size = min(self.size + block, len(b["items"]))
        if (step + 1) % self.agent.update_every:
            return
        for _ in range(self.agent.n_updates):
            index = rng.integers(0, self.size, self.agent.batch_size)
            batch = {name: values[index] for name, values in b.items()}
            for m, (member, optimizer) in enumerate(zip(self.members, self.optimizers,
                                                        strict=True)):  # fmt: skip
                _, grads = loss_and_grads(member, batch, self.item_features, batch["weights"][:, m])
                optimizer.step(_leaves(member), _leaves(grads))
        self.embeddings = None


def simulate(world: LatentWorld, agent: NeuralEpsilonGreedy, steps: int, seed: int = 0) -> int:
    """Runs `steps` steps; returns the number of clicks."""
    rng, clicks_total = np.random.default_rng(seed), 0
    for t in range(steps):
        ids, features = world.observe(rng)
        slates = agent.act(rng, features)
        clicks = world.step(rng, ids, slates)
        agent.update(rng, t, features, slates, clicks)
        clicks_total += int(clicks.sum())
    return clicks_total
